"""Loaders: presets in JSONL/CSV/parquet, field mappings, filters, bad rows, round trip."""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pytest

from restplus.errors import ProblemError, UnknownNameError
from restplus.problems import Problem, ProblemSet, builtin_set, latex_match, load_problems, save_problems

os.environ.setdefault("HF_HUB_OFFLINE", "1")
FIX = Path(__file__).parent / "fixtures" / "problems"


def jsonl_rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (FIX / name).read_text().splitlines() if line.strip()]


@pytest.fixture
def parquet_of(tmp_path):
    def make(name: str) -> Path:
        out = tmp_path / (Path(name).stem + ".parquet")
        pl.DataFrame(jsonl_rows(name)).write_parquet(out)
        return out
    return make


def contents(ps: ProblemSet) -> list[tuple]:
    """What must not depend on the file format (source names the file, so it is left out)."""
    return [(p.problem_id, p.segments, p.answer, p.choices, p.meta) for p in ps]


# --- presets in every format -----------------------------------------------------------------

def test_mmlu_preset(parquet_of):
    ps = load_problems(FIX / "mmlu.jsonl", preset="mmlu")
    assert len(ps) == 3
    assert ps.report.dropped_by_reason == {"latex": 1} and ps.report.n_rows == 4
    p = ps[0]
    assert p.task == "mmlu" and p.answer_type == "choice" and p.answer == "B"
    assert p.choices == ("Venus", "Mars", "Jupiter", "Saturn")
    assert [s.role for s in p.segments] == ["question", "choices"]
    assert p.text_of(("choices",)) == "A. Venus\nB. Mars\nC. Jupiter\nD. Saturn"
    assert dict(p.meta) == {"subject": "astronomy"}
    assert p.source == "mmlu.jsonl:1"
    assert [q.answer for q in ps] == ["B", "C", "A"]
    for other in (load_problems(FIX / "mmlu.csv", preset="mmlu"),
                  load_problems(parquet_of("mmlu.jsonl"), preset="mmlu")):
        assert contents(other) == contents(ps)
        assert other.report.dropped_by_reason == {"latex": 1}


def test_arc_preset_maps_labels_to_letters(parquet_of):
    ps = load_problems(FIX / "arc.jsonl", preset="arc")
    assert [p.answer for p in ps] == ["C", "B", "B"]
    assert ps[1].choices == ("ruler", "balance", "thermometer", "graduated cylinder")  # labels 1-4
    assert len(ps[2].choices) == 3
    assert dict(ps[0].meta) == {"source_id": "Mercury_7175875"}
    for other in (load_problems(FIX / "arc.csv", preset="arc"),
                  load_problems(parquet_of("arc.jsonl"), preset="arc")):
        assert contents(other) == contents(ps)


def test_gsm8k_preset_reads_the_final_line(parquet_of):
    ps = load_problems(FIX / "gsm8k.jsonl", preset="gsm8k")
    assert [p.answer for p in ps] == ["72", "10", "600"]
    assert {p.answer_type for p in ps} == {"number"}
    assert ps.report.n_dropped == 0  # "$12" and "$2 and $3" are currency, not LaTeX
    for other in (load_problems(FIX / "gsm8k.csv", preset="gsm8k"),
                  load_problems(parquet_of("gsm8k.jsonl"), preset="gsm8k")):
        assert contents(other) == contents(ps)


def test_field_mapping_with_context_and_choice_columns():
    ps = load_problems(FIX / "custom.csv", fields={
        "question": "q", "answer": "gold", "context": "passage", "choices": ["opt1", "opt2", "opt3"],
        "id": "qid"}, task="demo")
    a, b = ps
    assert [s.role for s in a.segments] == ["context", "question", "choices"]
    assert a.answer == "A"          # answer given as the option text
    assert [s.role for s in b.segments] == ["question", "choices"]  # empty context cell
    assert b.answer == "B"          # answer given as a letter
    assert a.task == "demo" and dict(b.meta)["source_id"] == "c2"


def test_in_memory_rows_and_hf_dataset():
    datasets = pytest.importorskip("datasets")
    rows = jsonl_rows("gsm8k.jsonl")
    from_list = load_problems(rows, preset="gsm8k")
    ds = datasets.Dataset.from_list(jsonl_rows("arc.jsonl"))
    from_ds = load_problems(ds, preset="arc", name="ai2_arc[test]")
    assert [p.answer for p in from_list] == ["72", "10", "600"]
    assert contents(from_ds) == contents(load_problems(FIX / "arc.jsonl", preset="arc"))
    assert from_ds.report.source == "ai2_arc[test]"


def test_plain_numeric_answers_are_canonicalised():
    ps = load_problems([{"q": "How many?", "a": "1,234.50"}, {"q": "How few?", "a": 3}],
                       fields={"question": "q", "answer": "a"}, answer_type="number")
    assert [p.answer for p in ps] == ["1234.5", "3"]


# --- filters --------------------------------------------------------------------------------

def test_length_and_latex_filters_are_configurable_and_reported():
    rows = [{"question": "Short question?", "answer": "x"},
            {"question": "Long " + "word " * 200, "answer": "x"},
            {"question": "Compute \\(x^2\\) here.", "answer": "x"},
            {"question": "It costs $5 and $10 in total.", "answer": "x"}]
    fields = {"question": "question", "answer": "answer"}
    ps = load_problems(rows, fields=fields)
    assert len(ps) == 2 and ps.report.dropped_by_reason == {"latex": 1, "too_long": 1}
    assert dict(ps.report.settings) == {"max_chars": 800, "drop_latex": True}
    assert "2 of 4 rows loaded" in ps.report.summary()
    assert len(load_problems(rows, fields=fields, max_chars=None, drop_latex=False)) == 4
    assert len(load_problems(rows, fields=fields, max_chars=10_000)) == 3


@pytest.mark.parametrize(("text", "is_latex"), [
    ("$x^2 + 1$", True), ("$$E = mc^2$$", True), ("\\frac{1}{2}", True), ("\\(a\\)", True),
    ("\\[ y \\]", True), ("\\begin{align} x \\end{align}", True), ("x_{i}", True),
    ("\\sqrt 2", True), ("$5 and $10", False), ("It costs $3.50, not $4.", False),
    ("Plain text with (parentheses) and [brackets].", False), ("C:\\new folder", False),
])
def test_latex_detection(text, is_latex):
    assert (latex_match(text) is not None) == is_latex


# --- bad input ------------------------------------------------------------------------------

BAD_MMLU = [  # (line, field, message fragment)
    (2, "question", "missing field 'question'"),
    (3, "answer", "wrong type"),
    (5, "answer", "answer not among the choices"),
    (6, "question", "empty question"),
    (7, "question", "duplicate problem"),
    (8, "(row)", "not valid JSON"),
    (9, "choices", "wrong type"),
]


def test_bad_rows_raise_naming_file_line_and_field():
    with pytest.raises(ProblemError) as exc:
        load_problems(FIX / "bad_mmlu.jsonl", preset="mmlu")
    msg = str(exc.value)
    assert "bad_mmlu.jsonl, line 2, field 'question'" in msg and "on_error='skip'" in msg


def test_skip_mode_keeps_valid_rows_and_reports_each_bad_one():
    ps = load_problems(FIX / "bad_mmlu.jsonl", preset="mmlu", on_error="skip")
    assert [p.source for p in ps] == ["bad_mmlu.jsonl:1", "bad_mmlu.jsonl:10"]
    got = [(e.line, e.field) for e in ps.report.errors]
    assert got == [(line, field) for line, field, _ in BAD_MMLU]
    for err, (_, _, fragment) in zip(ps.report.errors, BAD_MMLU):
        assert fragment in err.message
        assert str(err).startswith(str(FIX / "bad_mmlu.jsonl"))
    assert ps.report.dropped_by_reason == {"invalid": 7}


@pytest.mark.parametrize(("file", "preset", "line", "field", "fragment"), [
    ("bad_arc.jsonl", "arc", 2, "id", "duplicate id 'Q1': already on line 1"),
    ("bad_arc.jsonl", "arc", 3, "answer", "answer not among the choices: 'E'"),
    ("bad_arc.jsonl", "arc", 4, "choices", "'ant' appears more than once"),
    ("bad_gsm8k.csv", "gsm8k", 4, "answer", "'#### <number>'"),   # a record starting on line 4
    ("bad_gsm8k.csv", "gsm8k", 5, "answer", "not a valid 'number' answer"),
])
def test_more_bad_rows(file, preset, line, field, fragment):
    errors = load_problems(FIX / file, preset=preset, on_error="skip").report.errors
    match = [e for e in errors if e.line == line]
    assert len(match) == 1 and match[0].field == field and fragment in match[0].message


def test_parquet_errors_name_the_row(parquet_of):
    path = parquet_of("bad_arc.jsonl")
    with pytest.raises(ProblemError, match=r"bad_arc.parquet, row 2, field 'id'"):
        load_problems(path, preset="arc")


def test_missing_column_suggests_the_nearest():
    with pytest.raises(ProblemError, match="missing field 'questoin'.*Did you mean: question"):
        load_problems(FIX / "mmlu.jsonl", preset="mmlu", fields={"question": "questoin"})


@pytest.mark.parametrize(("kwargs", "error", "fragment"), [
    ({"preset": "mmlu2"}, UnknownNameError, "Did you mean: mmlu"),
    ({"fields": {"qestion": "q", "answer": "a"}}, ProblemError, "Did you mean: question"),
    ({"fields": {"question": "q"}}, ProblemError, "must map 'answer'"),
    ({"preset": "mmlu", "on_error": "skp"}, ProblemError, "Did you mean: skip"),
    ({"preset": "mmlu", "answer_type": "number"}, ProblemError, "does not fit the mapping"),
    ({"preset": "mmlu", "answer_format": "idx"}, UnknownNameError, "Did you mean: index"),
    ({"answer_type": "number"}, ProblemError, "carry their own answer_type"),
    ({"preset": "restplus", "fields": {"question": "q"}}, ProblemError, "takes no fields"),
])
def test_bad_arguments(kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        load_problems(FIX / "mmlu.jsonl", **kwargs)


def test_bad_sources(tmp_path):
    with pytest.raises(ProblemError, match="does not exist"):
        load_problems(tmp_path / "nope.jsonl", preset="mmlu")
    (tmp_path / "x.txt").write_text("{}")
    with pytest.raises(ProblemError, match=r"pass format= \(CLI: --format\) as one of jsonl, json, csv, tsv"):
        load_problems(tmp_path / "x.txt", preset="mmlu")
    assert len(load_problems(tmp_path / "x.txt", preset="mmlu", format="jsonl", on_error="skip")) == 0
    with pytest.raises(ProblemError, match="cannot load problems from a dict"):
        load_problems({"question": "q"}, preset="mmlu")


def test_csv_row_with_extra_cells(tmp_path):
    f = tmp_path / "extra.csv"
    f.write_text("question,answer\nHow many?,#### 3\nHow few?,#### 2,surplus\n")
    with pytest.raises(ProblemError, match="extra.csv, line 3.*3 cells but the header has 2"):
        load_problems(f, preset="gsm8k")


# --- own format round trip ------------------------------------------------------------------

def test_save_and_load_round_trip(tmp_path):
    problems = [*builtin_set("soe", n=5), *builtin_set("arith", n=5), *builtin_set("mcq", n=5),
                *load_problems(FIX / "arc.jsonl", preset="arc")]
    path = save_problems(problems, tmp_path / "sub" / "all.jsonl")
    back = load_problems(path)
    assert list(back) == problems
    assert back.report.n_loaded == len(problems) and back.report.n_dropped == 0
    assert all(isinstance(p, Problem) for p in back)


def test_own_format_errors(tmp_path):
    f = tmp_path / "own.jsonl"
    good = builtin_set("soe", n=1)[0].to_dict()
    f.write_text(json.dumps(good) + "\n" + json.dumps({"question": "q", "answer": "a"}) + "\n"
                 + json.dumps({**good, "answer_type": "numbr"}) + "\n" + json.dumps(good) + "\n")
    ps = load_problems(f, on_error="skip")
    assert len(ps) == 1
    assert [(e.line, e.field) for e in ps.report.errors] == [(2, "segments"), (3, "segments"),
                                                            (4, "problem_id")]
    assert "pass preset= (CLI: --problems-preset) or fields= (CLI: --fields)" in ps.report.errors[0].message
    assert "Did you mean: number" in ps.report.errors[1].message
    with pytest.raises(ProblemError, match="not a Problem"):
        save_problems([good], tmp_path / "x.jsonl")
