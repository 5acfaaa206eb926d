"""Real data from the command line: ``restplus generate --problems FILE --preset/--fields/...``.

Fixture files are built here from the published column shapes of MMLU (``cais/mmlu``; and the
``question,A,B,C,D,answer`` CSV), ARC (``allenai/ai2_arc`` and AI2's original nested JSONL) and
GSM8K. Every bad-file case must end as one line naming the file (and the line, for text files).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import polars as pl
import pytest

from restplus.cli import main
from restplus.cli.app import build_parser
from restplus.cli.problemfile import parse_fields
from restplus.errors import ProblemError
from restplus.grammar.spec import load_grid
from restplus.problems import PRESETS, load_problems
from restplus.variants.runfolder import load_run

MMLU = [
    {"question": "Which planet is known as the Red Planet?", "subject": "astronomy",
     "choices": ["Venus", "Mars", "Jupiter", "Saturn"], "answer": 1},
    {"question": "What is the chemical symbol for sodium?", "subject": "chemistry",
     "choices": ["S", "So", "Na", "Sd"], "answer": 2},
    {"question": "How many sides has a hexagon?", "subject": "mathematics",
     "choices": ["6", "5", "8", "7"], "answer": 0},
]
ARC_HF = [
    {"id": "Mercury_7175875", "question": "Which tool is best for measuring the mass of a rock?",
     "choices": {"text": ["ruler", "balance", "thermometer", "graduated cylinder"], "label": ["A", "B", "C", "D"]},
     "answerKey": "B"},
    {"id": "NYSEDREGENTS_2015_4_8", "question": "Which of these is a source of light?",
     "choices": {"text": ["moon", "sun", "mirror"], "label": ["1", "2", "3"]}, "answerKey": "2"},
]
ARC_AI2 = [  # AI2's own files: the stem and the choices sit inside "question"
    {"id": "Mercury_SC_415702", "question": {
        "stem": "George wants to warm his hands quickly by rubbing them. "
                "Which skin surface will produce the most heat?",
        "choices": [{"text": "dry palms", "label": "A"}, {"text": "wet palms", "label": "B"},
                    {"text": "palms covered with oil", "label": "C"},
                    {"text": "palms covered with lotion", "label": "D"}]}, "answerKey": "A"},
    {"id": "MCAS_2000_4_6", "question": {
        "stem": "Which part of a plant takes in water from the soil?",
        "choices": [{"text": "leaf", "label": "A"}, {"text": "root", "label": "B"}, {"text": "flower", "label": "C"}]},
     "answerKey": "B"},
]
GSM8K = [
    {"question": "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
                 "How many clips did Natalia sell altogether in April and May?",
     "answer": "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips.\n#### 72"},
    {"question": "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. "
                 "How much did she earn?",
     "answer": "Weng earns 12/60 = $<<12/60=0.2>>0.2 per minute.\nShe earned 0.2 x 50 = $<<0.2*50=10>>10.\n#### 10"},
]


def letter(i: int) -> str:
    return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[i]


def arc_expected(rows: list[dict]) -> list[tuple[str, tuple[str, ...]]]:
    out = []
    for r in rows:
        if isinstance(r["question"], dict):
            options = r["question"]["choices"]
            texts, labels = [c["text"] for c in options], [c["label"] for c in options]
        else:
            texts, labels = r["choices"]["text"], r["choices"]["label"]
        out.append((letter(labels.index(r["answerKey"])), tuple(texts)))
    return out


def write_jsonl(path: Path, rows: list[dict], bom: bool = False) -> Path:
    text = "".join(json.dumps(r) + "\n" for r in rows)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return path


def write_csv(path: Path, rows: list[dict], bom: bool = False, sep: str = ",") -> Path:
    # polars quotes as Excel does; list cells become JSON text, as the loader documents for CSV.
    table = pl.DataFrame([{k: json.dumps(v) if isinstance(v, list) else v for k, v in r.items()} for r in rows])
    body = table.write_csv(separator=sep)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + body.encode())
    return path


@pytest.fixture
def spec(tmp_path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text("restplus_spec: 1\nfactors:\n  dpi: {levels: [50, 100], reference: 100}\n")
    return path


def generate(spec: Path, problems: Path, out: Path, *options: str) -> int:
    return main(["generate", str(spec), "--problems", str(problems), "--out", str(out), "--no-progress", *options])


# --- presets end to end ---------------------------------------------------------------------

def mmlu_expected():
    return [(letter(r["answer"]), tuple(r["choices"])) for r in MMLU]


CASES = {  # name -> (file builder, CLI options, load_problems keywords, expected (answer, choices) per row)
    "mmlu-jsonl": (lambda d: write_jsonl(d / "mmlu.jsonl", MMLU), ["--preset", "mmlu"], {"preset": "mmlu"},
                   mmlu_expected()),
    "mmlu-parquet": (lambda d: _parquet(d / "mmlu.parquet", MMLU), ["--preset", "mmlu"], {"preset": "mmlu"},
                     mmlu_expected()),
    "mmlu-excel-csv": (lambda d: write_csv(d / "mmlu.csv", MMLU, bom=True), ["--preset", "mmlu"],
                       {"preset": "mmlu"}, mmlu_expected()),
    "mmlu-abcd-columns": (
        lambda d: write_csv(d / "mmlu_abcd.csv", [
            {"question": r["question"], **{letter(i): c for i, c in enumerate(r["choices"])},
             "answer": letter(r["answer"])} for r in MMLU]),
        ["--fields", "question=question,choices=A+B+C+D,answer=answer"],
        {"fields": {"question": "question", "choices": ("A", "B", "C", "D"), "answer": "answer"}}, mmlu_expected()),
    "arc-hf-jsonl": (lambda d: write_jsonl(d / "arc.jsonl", ARC_HF), ["--preset", "arc"], {"preset": "arc"},
                     arc_expected(ARC_HF)),
    "arc-ai2-jsonl": (lambda d: write_jsonl(d / "ARC-Challenge-Test.jsonl", ARC_AI2), ["--preset", "arc"],
                      {"preset": "arc"}, arc_expected(ARC_AI2)),
    "arc-json-array": (lambda d: _text(d / "arc.json", json.dumps(ARC_HF, indent=2)), ["--preset", "arc"],
                       {"preset": "arc"}, arc_expected(ARC_HF)),
    "gsm8k-jsonl": (lambda d: write_jsonl(d / "gsm8k.jsonl", GSM8K, bom=True), ["--preset", "gsm8k"],
                    {"preset": "gsm8k"}, [(r["answer"].rsplit("####", 1)[1].strip(), ()) for r in GSM8K]),
    "gsm8k-tsv": (lambda d: write_csv(d / "gsm8k.tsv", GSM8K, sep="\t"), ["--preset", "gsm8k"],
                  {"preset": "gsm8k"}, [(r["answer"].rsplit("####", 1)[1].strip(), ()) for r in GSM8K]),
}


def _parquet(path: Path, rows: list[dict]) -> Path:
    pl.DataFrame(rows).write_parquet(path)
    return path


def _text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("case", sorted(CASES))
def test_dataset_shapes_load_from_the_cli(case, tmp_path, spec, capsys):
    build, options, kwargs, expected = CASES[case]
    path = build(tmp_path)
    out = tmp_path / "run"
    assert generate(spec, path, out, *options) == 0
    captured = capsys.readouterr()
    assert f"{path}: {len(expected)} of {len(expected)} rows loaded; dropped: none" in captured.err
    run = load_run(out)
    assert [(p.answer, p.choices) for p in run.problems] == expected
    # the CLI options mean exactly the Python keywords: the same problems, ids and all
    assert run.problems == list(load_problems(path, **kwargs))
    n_cells = load_grid(spec).n_cells
    assert pl.read_parquet(out / "variants.parquet").height == len(expected) * n_cells
    assert f"{len(expected)} problems x {n_cells} cells" in captured.out


def test_bom_is_stripped_not_a_column_name(tmp_path):
    plain = load_problems(write_csv(tmp_path / "a.csv", GSM8K), preset="gsm8k")
    excel = load_problems(write_csv(tmp_path / "b.csv", GSM8K, bom=True), preset="gsm8k")
    assert [p.segments for p in excel] == [p.segments for p in plain] and len(plain) == len(GSM8K)


def test_every_other_option_reaches_load_problems(tmp_path, spec, capsys):
    rows = [{"q": "What is 2 + 2?", "a": "4", "topic": "sums"},
            {"q": "Compute \\(x^2\\) for x = 3.", "a": "9", "topic": "powers"},
            {"q": "How many legs " + "has a spider " * 10 + "?", "a": "8", "topic": "animals"}]
    path = _text(tmp_path / "data.txt", "".join(json.dumps(r) + "\n" for r in rows))
    opts = ["--format", "jsonl", "--fields", "question=q,answer=a,meta=topic", "--answer-type", "number",
            "--task", "sums", "--max-chars", "60"]
    assert generate(spec, path, tmp_path / "a", *opts) == 0
    assert "1 of 3 rows loaded; dropped: latex=1, too_long=1" in capsys.readouterr().err
    kept = load_run(tmp_path / "a").problems
    got = [(p.answer, p.answer_type, p.task, dict(p.meta)) for p in kept]
    assert got == [("4", "number", "sums", {"topic": "sums"})]
    assert generate(spec, path, tmp_path / "b", *opts[:-2], "--max-chars", "none", "--keep-latex") == 0
    assert len(load_run(tmp_path / "b").problems) == 3


def test_on_error_skip_lists_the_skipped_rows(tmp_path, spec, capsys):
    rows = [MMLU[0], {**MMLU[1], "answer": 7}, {k: v for k, v in MMLU[2].items() if k != "question"}]
    path = write_jsonl(tmp_path / "mixed.jsonl", rows)
    assert generate(spec, path, tmp_path / "stop", "--preset", "mmlu") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{path}, line 2, field 'answer'" in err and "--on-error skip" in err
    assert generate(spec, path, tmp_path / "run", "--preset", "mmlu", "--on-error", "skip") == 0
    err = capsys.readouterr().err
    assert "1 of 3 rows loaded; dropped: invalid=2" in err
    assert f"skipped {path}, line 2, field 'answer'" in err and f"skipped {path}, line 3, field 'question'" in err
    assert len(load_run(tmp_path / "run").problems) == 1


@pytest.mark.parametrize(("options", "fragment"), [
    (["--preset", "mmlu2"], "Did you mean: mmlu"),
    (["--on-error", "skp"], "Did you mean: skip"),
    (["--preset", "mmlu", "--answer-format", "idx"], "Did you mean: index"),
    (["--fields", "qestion=question,answer=answer"], "Did you mean: question"),
    (["--fields", "question=question,answer"], "is not LOGICAL=COLUMN"),
    (["--fields", "question=question,answer=answer,choices=A++B"], "is not LOGICAL=COLUMN"),
    (["--fields", "question=q,question=r,answer=a"], "maps 'question' twice"),
    (["--fields", '{"question": "q"'], "not a valid JSON object"),
    (["--format", "jsnl"], "Did you mean: jsonl"),
    (["--answer-type", "number"], "given without preset= (CLI: --problems-preset) or fields= (CLI: --fields)"),
    ([], "pass preset= (CLI: --problems-preset) or fields= (CLI: --fields)"),  # MMLU rows read as restplus rows
])
def test_bad_options_are_one_line_with_a_fix(options, fragment, tmp_path, spec, capsys):
    path = write_jsonl(tmp_path / "mmlu.jsonl", MMLU)
    assert generate(spec, path, tmp_path / "run", *options) == 2
    err = capsys.readouterr().err
    assert err.startswith("restplus generate: error: ") and err.count("\n") == 1 and fragment in err
    assert not (tmp_path / "run").exists()  # refused before any rendering


def test_file_options_with_a_built_in_set_are_refused(spec, tmp_path, capsys):
    assert main(["generate", str(spec), "--problems", "soe", "--n", "2", "--preset", "gsm8k", "--on-error", "skip",
                 "--out", str(tmp_path / "r"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "--problems-preset, --on-error: only for a problem file, but --problems 'soe' is not a file" in err


def test_max_chars_must_be_a_positive_number(spec, tmp_path, capsys):
    path = write_jsonl(tmp_path / "g.jsonl", GSM8K)
    with pytest.raises(SystemExit):
        generate(spec, path, tmp_path / "r", "--preset", "gsm8k", "--max-chars", "0")
    assert "must be at least 1" in capsys.readouterr().err


def test_help_names_every_preset():
    sub = build_parser()._subparsers._group_actions[0].choices["generate"]  # noqa: SLF001
    text = sub.format_help()
    assert all(name in text for name in PRESETS) and "--on-error" in text


@pytest.mark.parametrize(("text", "fields"), [
    ("question=prompt,answer=target", {"question": "prompt", "answer": "target"}),
    (" question = prompt , answer = target ", {"question": "prompt", "answer": "target"}),
    ("question=q,choices=A+B+C,answer=a,meta=subject+level",
     {"question": "q", "choices": ("A", "B", "C"), "answer": "a", "meta": ("subject", "level")}),
    ("question=q+r,answer=a,choices=opts", {"question": "q+r", "answer": "a", "choices": "opts"}),
    ('{"question": "q,1", "answer": "a=b", "choices": ["x", "y"]}',
     {"question": "q,1", "answer": "a=b", "choices": ["x", "y"]}),
])
def test_parse_fields(text, fields):
    assert parse_fields(text) == fields


# --- bad files: one line naming the file and the line -----------------------------------------

def _real_parquet() -> bytes:
    buf = io.BytesIO()
    pl.DataFrame(GSM8K * 50).write_parquet(buf)
    return buf.getvalue()


LATIN1_CSV = "question,answer\nHow many?,#### 3\nCombien de caf\xe9s ?,#### 2\n".encode("latin-1")
LATIN1_JSONL = ('{"question": "How many?", "answer": "#### 3"}\n'
                '{"question": "Combien de caf\xe9s ?", "answer": "#### 2"}\n').encode("latin-1")
GOOD_LINE = b'{"question": "How many?", "answer": "#### 3"}\n'
OTHER_LINE = b'{"question": "How few?", "answer": "#### 1"}\n'

BAD_FILES = [  # (case, file name, content, fragments of the one-line message; {path} is the file)
    ("latin1-csv", "l1.csv", LATIN1_CSV,
     ["{path}, line 3, byte offset %d:" % LATIN1_CSV.index(b"\xe9"), "0xe9", "iconv -f latin1 -t utf-8"]),
    ("latin1-jsonl", "l1.jsonl", LATIN1_JSONL,
     ["{path}, line 2, byte offset %d:" % LATIN1_JSONL.index(b"\xe9"), "Re-encode it as UTF-8"]),
    ("latin1-tsv", "l1.tsv", LATIN1_CSV.replace(b",", b"\t"), ["{path}, line 3, byte offset", "iconv"]),
    ("utf16-csv", "u16.csv", "question,answer\r\nHow many?,#### 3\r\n".encode("utf-16"),
     ["{path}, line 1, byte offset 0:", "UTF-16", "iconv -f utf-16 -t utf-8"]),
    ("empty-jsonl", "e.jsonl", b"", ["{path} is empty (0 bytes)"]),
    ("blank-jsonl", "b.jsonl", b"\n  \n\n", ["{path} has only blank lines"]),
    ("empty-csv", "e.csv", b"", ["{path} is empty (0 bytes)"]),
    ("header-only-csv", "h.csv", b"question,answer\n", ["{path} has a header line but no data rows"]),
    ("empty-json", "e.json", b"", ["{path} is empty (0 bytes)"]),
    ("empty-json-array", "a.json", b"[]", ["{path} holds an empty array"]),
    ("truncated-jsonl", "t.jsonl", GOOD_LINE + OTHER_LINE + GOOD_LINE[:20],
     ["{path}, line 3, field '(row)': not valid JSON", "the file may be truncated"]),
    ("truncated-json", "t.json", b"[\n" + GOOD_LINE.rstrip() + b",\n" + GOOD_LINE[:25],
     ["{path}, line 3: not valid JSON", "the file may be truncated"]),
    ("json-array-as-jsonl", "arr.jsonl", b"[" + GOOD_LINE.rstrip() + b"]\n",
     ["{path}, line 1: this is one JSON array, not JSON Lines", "--format json"]),
    ("pretty-json-array-as-jsonl", "arr2.jsonl", b"[\n  " + GOOD_LINE + b"]\n",
     ["{path}, line 1: this is one JSON array"]),
    ("list-line-in-jsonl", "list.jsonl", GOOD_LINE + b'["How few?", "#### 2"]\n',
     ["{path}, line 2, field '(row)': expected a JSON object per line, got list"]),
    ("json-object-top-level", "o.json", b'{"data": [' + GOOD_LINE.rstrip() + b"]}",
     ["{path}: expected a JSON array of row objects at the top level", "'data'", "jq -c '.data[]'"]),
    ("json-scalar-top-level", "s.json", b'"hello"', ["{path}: expected a JSON array", "got str"]),
    ("empty-parquet", "e.parquet", b"", ["{path} is empty (0 bytes)"]),
    ("truncated-parquet", "t.parquet", _real_parquet()[:600], ["{path}: not a readable parquet file", "truncated"]),
    ("csv-named-parquet", "c.parquet", b"question,answer\nHow many?,#### 3\n", ["{path}: not a readable parquet file"]),
    ("duplicate-header-csv", "d.csv", b"question,answer,answer\nHow many?,#### 3,#### 4\n",
     ["{path}, line 1: the header names column 'answer' more than once"]),
    ("unclosed-quote-csv", "m.csv", b'question,answer\nHow many?,#### 3\n"How few?,#### 1\n',
     ["{path}, line 3, field '(row)': has 1 cells but the header has 2 columns"]),
]


@pytest.mark.parametrize(("name", "content", "fragments"), [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES])
def test_bad_files_fail_in_one_line_naming_file_and_line(name, content, fragments, tmp_path, spec, capsys):
    path = tmp_path / name
    path.write_bytes(content)
    wanted = [f.replace("{path}", str(path)) for f in fragments]
    with pytest.raises(ProblemError) as exc:
        load_problems(path, preset="gsm8k")
    assert all(w in str(exc.value) for w in wanted), str(exc.value)
    assert generate(spec, path, tmp_path / "stop", "--preset", "gsm8k") == 2
    err = capsys.readouterr().err
    assert err == f"restplus generate: error: {exc.value}\n" and "Traceback" not in err
    code = generate(spec, path, tmp_path / "skip", "--preset", "gsm8k", "--on-error", "skip")
    err = capsys.readouterr().err
    if "field '(row)'" in fragments[0]:  # a bad line among good ones: skipped and listed
        assert code == 0 and f"skipped {wanted[0]}" in err
    else:  # a broken file is not a few bad rows to skip but a file to fix
        assert code == 2 and err == f"restplus generate: error: {exc.value}\n"


def test_a_damaged_parquet_footer_or_page_is_an_error_not_a_crash(tmp_path):
    good = _real_parquet()
    for i, cut in enumerate((good[:8], good[4:], good[:100] + bytes(200) + good[300:])):
        path = tmp_path / f"d{i}.parquet"
        path.write_bytes(cut)
        with pytest.raises(ProblemError, match=f"{path}: not a readable parquet file"):
            load_problems(path, preset="gsm8k")


def test_readme_documents_every_option_and_its_examples_run(tmp_path, spec, capsys):
    from restplus.cli.problemfile import KEYWORDS

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert all(f"`--{k.replace('_', '-')}" in readme for k in KEYWORDS)
    files = {"gsm8k_test.jsonl": write_jsonl(tmp_path / "gsm8k_test.jsonl", GSM8K),
             "mmlu_test.jsonl": write_jsonl(tmp_path / "mmlu_test.jsonl", MMLU),
             "arc.jsonl": write_jsonl(tmp_path / "arc.jsonl", ARC_AI2),
             "mmlu.csv": write_csv(tmp_path / "mmlu.csv", [
                 {"question": r["question"], **{letter(i): c for i, c in enumerate(r["choices"])},
                  "answer": letter(r["answer"])} for r in MMLU])}
    lines = [ln.split("#")[0].split() for ln in readme.splitlines()
             if ln.startswith("    restplus generate SPEC --problems ") and "soe" not in ln]
    assert len(lines) >= 4
    for i, words in enumerate(lines):
        argv = [str(spec) if w == "SPEC" else str(files.get(w, w)) for w in words[1:]]
        argv[argv.index("--out") + 1] = str(tmp_path / f"run{i}")
        assert main([*argv, "--no-progress"]) == 0, capsys.readouterr().err
        assert len(load_run(tmp_path / f"run{i}").problems) >= 2


def test_many_skipped_rows_are_counted_not_all_printed(tmp_path, spec, capsys):
    from restplus.cli.problemfile import SHOWN_ERRORS

    bad = [{"question": f"Question {i}?", "answer": "no final line"} for i in range(SHOWN_ERRORS + 2)]
    path = write_jsonl(tmp_path / "g.jsonl", [GSM8K[0], *bad])
    assert generate(spec, path, tmp_path / "run", "--preset", "gsm8k", "--on-error", "skip") == 0
    err = capsys.readouterr().err
    assert err.count("  skipped ") == SHOWN_ERRORS and "... and 2 more skipped rows" in err
    assert f"1 of {len(bad) + 1} rows loaded; dropped: invalid={len(bad)}" in err


@pytest.mark.parametrize("command", ["run", "search"])
def test_run_and_search_take_the_same_problem_file_options(command, tmp_path, spec, capsys):
    path = write_jsonl(tmp_path / "gsm8k.jsonl", GSM8K)
    if command == "run":
        argv = ["run", str(spec), "--model", "always-wrong", "--problems", str(path), "--problems-preset", "gsm8k",
                "--limit", "2", "--out", str(tmp_path / "r"), "--no-progress", "--workers", "1"]
    else:
        space = tmp_path / "space.yaml"
        space.write_text("restplus_spec: 1\nfactors: {dpi: {range: [50, 200], reference: 200}}\n")
        argv = ["search", str(space), "--model", "always-wrong", "--problems", str(path), "--problems-preset", "gsm8k",
                "--limit", "1", "--budget", "4", "--no-minimal", "--no-sheets", "--out", str(tmp_path / "s"),
                "--no-progress", "--workers", "1"]
    assert main(argv) in (0, 1), capsys.readouterr().err
    err = capsys.readouterr().err
    assert f"{path}: {len(GSM8K)} of {len(GSM8K)} rows loaded" in err  # the load summary, as for generate
    golds = [r["answer"].rsplit("####", 1)[1].strip() for r in GSM8K[:2]]
    if command == "run":
        t = pl.read_parquet(tmp_path / "r" / "results.parquet")
        assert sorted(t["gold"].unique().to_list()) == sorted(golds)
