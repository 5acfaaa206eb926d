"""generate(): run folder layout, resume, refusal of mismatches, agreement with on-demand access."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings, strategies as st

import restplus.render as render
from restplus.errors import (
    CacheMismatchError,
    FolderLockedError,
    ProblemError,
    RepairWarning,
    SpecError,
    UnknownNameError,
)
from restplus.grammar import factors as F
from restplus.grammar.grid import Grid
from restplus.grammar.spec import load_grid
from restplus.hashing import file_sha256
from restplus.problems.base import Problem, Segment
from restplus.variants import realization
from restplus.variants.generation import generate
from restplus.variants.ondemand import VariantSet
from restplus.variants.runfolder import load_run, rows_to_table


def make_grid(**kw) -> Grid:
    return Grid(F.dpi([50, 100], reference=100), F.text_color(["black", "red"]),
                F.modality(["text", "image", "mixed"], reference="text"), **kw)


def make_problems() -> list[Problem]:
    soe = [Problem(segments=(Segment("context", f"{i}A + 2B = {7 + i} and A - B = {i - 1}."),
                             Segment("question", "Find A and B.")), answer=f"A={i}, B=1", answer_type="soe",
                   task="soe") for i in range(1, 4)]
    mcq = Problem(segments=(Segment("question", "Which colour is a clear sky?"),
                            Segment("choices", "A. red\nB. blue\nC. green\nD. grey")),
                  answer="B", answer_type="choice", task="mcq", choices=("red", "blue", "green", "grey"))
    return soe + [mcq]


REAL_REALIZE = realization.realize


class SimulatedCrash(Exception):
    pass


class CountingRealize:
    """Wraps the real realize() to count calls, optionally failing after ``fail_after`` calls."""

    def __init__(self, fail_after: int | None = None):
        self.calls, self.fail_after = 0, fail_after

    def __call__(self, *a, **kw):
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise SimulatedCrash(f"simulated crash after {self.calls} renders")
        self.calls += 1
        return REAL_REALIZE(*a, **kw)


@pytest.fixture(scope="module")
def run1(tmp_path_factory):
    out = tmp_path_factory.mktemp("gen") / "run"
    return generate(make_problems(), make_grid(), seed=7, out=out, progress=False, chunk_size=5)


def folder_bytes(root: Path) -> dict[str, bytes]:
    """Every file's bytes; the manifest without its git commit (the tree may be committed meanwhile)."""
    out = {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
    m = json.loads(out.pop("manifest.json"))
    m.pop("git_commit")
    out["manifest.json"] = json.dumps(m, sort_keys=True).encode()
    return out


def test_generate_writes_the_documented_folder(run1):
    root = run1.path
    for name in ("manifest.json", "grid.yaml", "problems.jsonl", "variants.parquet"):
        assert (root / name).is_file(), name
    assert not (root / "parts").exists()  # merged and removed
    m = json.loads((root / "manifest.json").read_text())
    grid, problems = make_grid(), make_problems()
    assert m["status"] == "complete" and m["seed"] == 7 and m["spec_hash"] == grid.spec_hash
    assert m["counts"]["variants"] == len(problems) * grid.n_cells == 36
    assert m["counts"]["by_modality"] == {"text": 4, "image": 16, "mixed": 16}
    assert m["fonts"]["DejaVu Sans"] == render.resolve_font("DejaVu Sans").sha256
    assert {"pillow", "freetype2", "raqm", "harfbuzz"} <= set(m["render_env"]) and m["python"]
    assert load_grid(root / "grid.yaml").spec_hash == grid.spec_hash
    assert [p.problem_id for p in run1.problems] == [p.problem_id for p in problems]

    t = run1.table()
    assert t.height == 36 and t["variant_id"].n_unique() == 36
    assert {"dpi", "text_color", "seed", "image_sha256", "pixel_sha256", "rendered_text", "contrast_ratio",
            "x_height_px", "image_width_px", "image_height_px", "image_dpi", "provenance"} <= set(t.columns)
    text = t.filter(pl.col("modality") == "text")
    assert text["dpi"].null_count() == 4 and text["n_images"].sum() == 0 and text["rendered_text"].null_count() == 4
    img = t.filter(pl.col("modality") != "text")
    assert set(img["dpi"].unique()) == {"50", "100"} and (img["n_images"] == 1).all()
    assert img.filter(pl.col("dpi") == "50")["image_dpi"].unique().to_list() == [50]
    # every image is on disk at the documented path with the recorded hash
    for paths, shas in zip(img["image_paths"].to_list(), img["image_sha256"].to_list(), strict=True):
        assert paths[0].startswith("images/") and file_sha256(root / paths[0]) == shas[0]
    # problem-major order, cells in grid order
    cells = [c.cell_id for c in grid.cells()]
    assert t["cell_id"].to_list() == cells * 4
    assert t["problem_id"].to_list() == [p.problem_id for p in problems for _ in cells]


def test_rerun_renders_nothing(run1, monkeypatch):
    counter = CountingRealize()
    monkeypatch.setattr(realization, "realize", counter)
    before = folder_bytes(run1.path)
    again = generate(make_problems(), make_grid(), seed=7, out=run1.path, progress=False, chunk_size=5)
    assert counter.calls == 0 and again.stats == {"rendered": 0, "skipped": 36, "repaired": []}
    assert folder_bytes(run1.path) == before


def test_crash_then_resume_renders_only_the_rest(run1, tmp_path, monkeypatch):
    out = tmp_path / "run"
    monkeypatch.setattr(realization, "realize", CountingRealize(fail_after=12))
    with pytest.raises(SimulatedCrash):
        generate(make_problems(), make_grid(), seed=7, out=out, progress=False, chunk_size=5)
    assert len(list((out / "parts").glob("chunk-*.parquet"))) == 2  # chunks 0 and 1 finished
    counter = CountingRealize()
    monkeypatch.setattr(realization, "realize", counter)
    res = generate(make_problems(), make_grid(), seed=7, out=out, progress=False, chunk_size=5)
    assert counter.calls == 36 - 10 and res.stats == {"rendered": 26, "skipped": 10, "repaired": []}
    assert folder_bytes(out) == folder_bytes(run1.path)  # identical to an uninterrupted run


@pytest.mark.parametrize("change, field", [
    ({"seed": 8}, "seed"),
    ({"grid": make_grid(name="other")}, "spec_hash"),
    ({"problems": make_problems()[:3]}, "problems_digest"),
    ({"chunk_size": 6}, "chunk_size"),
])
def test_folder_made_from_other_inputs_is_refused_with_both_values(run1, change, field):
    kw = {"problems": make_problems(), "grid": make_grid(), "seed": 7, "chunk_size": 5, **change}
    with pytest.raises(CacheMismatchError) as ei:
        generate(kw["problems"], kw["grid"], seed=kw["seed"], out=run1.path, progress=False,
                 chunk_size=kw["chunk_size"])
    msg = str(ei.value)
    old = run1.manifest[field]
    new = {"seed": 8, "chunk_size": 6, "spec_hash": make_grid(name="other").spec_hash}.get(field)
    assert field in msg and str(old) in msg
    if new is not None:
        assert str(new) in msg


def test_tampered_image_in_complete_folder_is_refused(tmp_path):
    out = tmp_path / "run"
    run = generate(make_problems()[:1], make_grid(), out=out, progress=False)
    rel = run.table().filter(pl.col("modality") == "image")["image_paths"][0][0]
    recorded = file_sha256(out / rel)
    (out / rel).write_bytes(b"not the render")
    with pytest.raises(CacheMismatchError) as ei:
        generate(make_problems()[:1], make_grid(), out=out, progress=False)
    assert recorded in str(ei.value) and file_sha256(out / rel) in str(ei.value)


def test_leftover_image_that_differs_from_the_new_render_is_refused(tmp_path, monkeypatch):
    out = tmp_path / "run"
    monkeypatch.setattr(realization, "realize", CountingRealize(fail_after=5))
    with pytest.raises(SimulatedCrash):  # chunk 0 (5 variants) done, chunk 1 not started
        generate(make_problems(), make_grid(), out=out, progress=False, chunk_size=5)
    monkeypatch.undo()
    vs = VariantSet(make_problems(), make_grid())
    target = vs[5]  # first variant of chunk 1; an image variant of problem 0
    rel = f"images/{target.problem_id}/{target.cell.cell_id}.png"
    other = vs[6].images[0].png
    (out / rel).write_bytes(other)
    with pytest.raises(CacheMismatchError) as ei:
        generate(make_problems(), make_grid(), out=out, progress=False, chunk_size=5)
    assert target.images[0].sha256 in str(ei.value) and vs[6].images[0].sha256 in str(ei.value)


def test_variantset_bytes_equal_generated_files(run1):
    vs = VariantSet(make_problems(), make_grid(), seed=7)
    rows = run1.table().to_dicts()
    assert len(vs) == len(rows)
    for i, row in enumerate(rows):
        v = vs[i]
        assert v.variant_id == row["variant_id"] and v.cell.cell_id == row["cell_id"]
        assert [(run1.path / p).read_bytes() for p in row["image_paths"]] == [im.png for im in v.images]


def test_load_run_rebuilds_full_variants(run1):
    vs = VariantSet(make_problems(), make_grid(), seed=7)
    loaded = list(load_run(run1.path).variants())
    assert len(loaded) == len(vs)
    for a, b in zip(loaded, vs, strict=True):
        assert (a.variant_id, a.cell, a.seed, a.parts, a.answer, a.answer_type) == \
            (b.variant_id, b.cell, b.seed, b.parts, b.answer, b.answer_type)
        for x, y in zip(a.images, b.images, strict=True):
            assert (x.png, x.sha256, x.pixel_sha256, x.width, x.height, x.dpi, x.rendered_text, x.roles) == \
                (y.png, y.sha256, y.pixel_sha256, y.width, y.height, y.dpi, y.rendered_text, y.roles)
            assert dict(x.covariates) == dict(y.covariates)
            assert json.dumps(dict(x.provenance), sort_keys=True) == json.dumps(dict(y.provenance), sort_keys=True)


def test_reading_a_tampered_image_is_refused_and_lookup_by_id(tmp_path):
    out = tmp_path / "run"
    run = generate(make_problems()[:1], make_grid(), out=out, progress=False)
    row = run.table().filter(pl.col("modality") == "mixed").row(0, named=True)
    assert run.variant(row["variant_id"]).images[0].sha256 == row["image_sha256"][0]
    with pytest.raises(UnknownNameError, match="Did you mean"):
        run.variant(row["variant_id"][:-1] + "x")
    (out / row["image_paths"][0]).write_bytes(b"changed")
    with pytest.raises(CacheMismatchError) as ei:
        list(load_run(out).variants())
    assert row["image_sha256"][0] in str(ei.value)


@pytest.mark.slow
def test_two_workers_give_byte_identical_output(run1, tmp_path):
    res = generate(make_problems(), make_grid(), seed=7, out=tmp_path / "w2", workers=2, progress=False,
                   chunk_size=5)
    assert res.stats == {"rendered": 36, "skipped": 0, "repaired": []}
    assert folder_bytes(tmp_path / "w2") == folder_bytes(run1.path)


def test_bad_inputs_raise_clear_errors(tmp_path):
    p = make_problems()
    with pytest.raises(ProblemError, match="unique"):
        generate(p + p[:1], make_grid(), out=tmp_path / "a", progress=False)
    with pytest.raises(SpecError, match="workers"):
        generate(p, make_grid(), out=tmp_path / "b", workers=0, progress=False)
    with pytest.raises(ProblemError, match="no problems"):
        generate([], make_grid(), out=tmp_path / "c", progress=False)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "notes.txt").write_text("x")
    with pytest.raises(CacheMismatchError, match="not empty"):
        generate(p, make_grid(), out=tmp_path / "d", progress=False)
    clash = Grid(F.factor("dpi", [50], name="answer"))
    with pytest.raises(SpecError, match="collides"):
        generate(p, clash, out=tmp_path / "e", progress=False)
    with pytest.raises(CacheMismatchError, match="not a run folder"):
        load_run(tmp_path / "d")


@pytest.mark.slow
def test_script_without_main_guard_gets_a_clear_error(tmp_path):
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    script = tmp_path / "unguarded.py"
    script.write_text(
        "from restplus.grammar import factors as F\nfrom restplus.variants.generation import generate\n"
        "from restplus.grammar.grid import Grid\n"
        "from restplus.problems.base import Problem, Segment\n"
        "ps = [Problem(segments=(Segment('question', f'What is {i} + 1?'),), answer=str(i + 1), "
        "answer_type='number') for i in range(4)]\n"
        f"generate(ps, Grid(F.dpi([50])), out={str(tmp_path / 'run')!r}, workers=2, progress=False, chunk_size=1)\n")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=root, timeout=120,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})
    assert proc.returncode != 0
    assert "GenerateError" in proc.stderr and 'if __name__ == "__main__"' in proc.stderr


@pytest.mark.slow
def test_resume_with_two_workers_matches_an_uninterrupted_run(run1, tmp_path, monkeypatch):
    out = tmp_path / "run"
    monkeypatch.setattr(realization, "realize", CountingRealize(fail_after=12))
    with pytest.raises(SimulatedCrash):
        generate(make_problems(), make_grid(), seed=7, out=out, progress=False, chunk_size=5)
    monkeypatch.undo()
    res = generate(make_problems(), make_grid(), seed=7, out=out, workers=2, progress=False, chunk_size=5)
    assert res.stats == {"rendered": 26, "skipped": 10, "repaired": []}
    assert folder_bytes(out) == folder_bytes(run1.path)


@pytest.mark.slow
def test_two_workers_refuse_a_leftover_image_that_differs(tmp_path, monkeypatch):
    out = tmp_path / "run"
    monkeypatch.setattr(realization, "realize", CountingRealize(fail_after=5))
    with pytest.raises(SimulatedCrash):
        generate(make_problems(), make_grid(), out=out, progress=False, chunk_size=5)
    monkeypatch.undo()
    vs = VariantSet(make_problems(), make_grid())
    target = vs[5]  # first variant of chunk 1: rendered by whichever process claims that chunk
    (out / f"images/{target.problem_id}/{target.cell.cell_id}.png").write_bytes(vs[6].images[0].png)
    with pytest.raises(CacheMismatchError) as ei:
        generate(make_problems(), make_grid(), out=out, workers=2, progress=False, chunk_size=5)
    assert target.images[0].sha256 in str(ei.value) and vs[6].images[0].sha256 in str(ei.value)
    assert not (out / "variants.parquet").exists() and not list(out.glob(".*.tmp"))  # no half-merged table


def _same_rows(a: pa.Table, b: pa.Table) -> bool:
    # json.dumps spells NaN, infinities and -0.0 distinctly, so equal strings mean equal values
    return a.schema.equals(b.schema) and json.dumps(a.to_pylist()) == json.dumps(b.to_pylist())


ROW_SCHEMA = pa.schema([("s", pa.string()), ("f", pa.float64()), ("i", pa.int64()), ("j", pa.int32()),
                        ("l", pa.list_(pa.string()))])


@pytest.mark.parametrize("row", [
    {"s": "quote \" backslash \\ newline \n nul \x00 line-sep \u2028 emoji \U0001f642", "f": 0.1,
     "i": 2**63 - 1, "j": -(2**31), "l": ["", "x"]},
    {"s": None, "f": float("nan"), "i": -(2**63), "j": None, "l": []},
    {"f": float("-inf"), "l": None},  # missing keys are null
    {"s": "", "f": 5e-324, "i": 0, "j": 1, "l": ["\t"], "extra": "ignored"},
    {"f": 3, "i": None},  # an int in a float column
    {"f": -0.0},
])
def test_rows_to_table_matches_from_pylist_on_edge_cases(row):
    assert _same_rows(rows_to_table([row], ROW_SCHEMA), pa.Table.from_pylist([row], schema=ROW_SCHEMA))


TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)  # no lone surrogates: not UTF-8


@settings(database=None, derandomize=True, max_examples=60)
@given(st.lists(st.fixed_dictionaries({
    "s": st.none() | TEXT, "f": st.none() | st.floats(), "i": st.none() | st.integers(-(2**63), 2**63 - 1),
    "j": st.none() | st.integers(-(2**31), 2**31 - 1), "l": st.none() | st.lists(TEXT, max_size=3)}), max_size=8))
def test_rows_to_table_matches_from_pylist(rows):
    assert _same_rows(rows_to_table(rows, ROW_SCHEMA), pa.Table.from_pylist(rows, schema=ROW_SCHEMA))


def test_generate_does_not_import_pandas(tmp_path):
    # pyarrow imports pandas on any conversion of Python objects; rows_to_table avoids that, which
    # saves every generate process (and each spawned worker) the import.
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    code = ("import sys\nfrom restplus.grammar import factors as F\nfrom restplus.variants.generation import generate\n"
            "from restplus.grammar.grid import Grid\nfrom restplus.problems.base import Problem, Segment\n"
            "ps = [Problem(segments=(Segment('question', 'What is 1 + 1?'),), answer='2', answer_type='number')]\n"
            f"generate(ps, Grid(F.dpi([50])), out={str(tmp_path / 'run')!r}, progress=False)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pandas'))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


# ------------------------------------------------------------------ run safety: damaged parts, one writer
def test_truncated_part_is_rebuilt_and_the_result_equals_an_uninterrupted_run(run1, tmp_path, monkeypatch):
    out = tmp_path / "run"
    monkeypatch.setattr(realization, "realize", CountingRealize(fail_after=12))
    with pytest.raises(SimulatedCrash):
        generate(make_problems(), make_grid(), seed=7, out=out, progress=False, chunk_size=5)
    part = out / "parts" / "chunk-000001.parquet"
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])  # cut short, as by a full disk
    counter = CountingRealize()
    monkeypatch.setattr(realization, "realize", counter)
    with pytest.warns(RepairWarning, match="chunk-000001.parquet is damaged"):
        res = generate(make_problems(), make_grid(), seed=7, out=out, progress=False, chunk_size=5)
    assert counter.calls == 36 - 5  # chunk 0 kept, chunk 1 rendered again with the rest
    assert res.stats["repaired"] == [str(part)]
    assert folder_bytes(out) == folder_bytes(run1.path)


def test_damaged_table_of_a_complete_folder_is_rebuilt(run1, tmp_path):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(run1.path, out)
    table = out / "variants.parquet"
    table.write_bytes(table.read_bytes()[:100])
    with pytest.warns(RepairWarning, match="variants.parquet is damaged"):
        generate(make_problems(), make_grid(), seed=7, out=out, progress=False, chunk_size=5)
    assert folder_bytes(out) == folder_bytes(run1.path)


def test_a_damaged_manifest_is_a_clear_error(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "manifest.json").write_text('{"status": "comp')
    with pytest.raises(CacheMismatchError, match=r"manifest.json is not valid JSON.*Delete the folder"):
        generate(make_problems(), make_grid(), seed=7, out=out, progress=False)


def test_a_second_writer_is_refused_at_once_naming_the_holder(tmp_path):
    import os

    from restplus.atomic import folder_lock

    out = tmp_path / "run"
    with folder_lock(out, "evaluate"), pytest.raises(FolderLockedError) as ei:
        generate(make_problems(), make_grid(), seed=7, out=out, progress=False)
    assert f"process {os.getpid()}" in str(ei.value) and "evaluate" in str(ei.value)
    assert not (out / "manifest.json").exists()  # refused before writing anything
    # released: the folder is usable again, and the lock file does not count as foreign content
    res = generate(make_problems(), make_grid(), seed=7, out=out, progress=False)
    assert res.stats["rendered"] == 36
