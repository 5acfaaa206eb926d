"""The data and analysis commands end to end on a tiny run: generate, contact-sheet, show, export,
run (reader), analyse, report — and their one-line errors."""

from __future__ import annotations

import polars as pl
import pytest
from PIL import Image

from restplus.cli import main


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    variants = root / "variants"
    assert main(["generate", "perturbations/smoke.yaml", "--problems", "soe", "--n", "3", "--out", str(variants),
                 "--no-progress"]) == 0
    run = root / "reader"
    assert main(["run", str(variants), "--model", "reader", "--out", str(run), "--no-progress", "--workers", "2"]) == 0
    return root, variants, run


def test_generate_writes_every_variant(tiny_run):
    _, variants, _ = tiny_run
    table = pl.read_parquet(variants / "variants.parquet")
    assert table.height == 3 * 9 and table["variant_id"].n_unique() == 27


def test_contact_sheet_and_show(tiny_run, tmp_path, capsys):
    _, variants, _ = tiny_run
    first = pl.read_parquet(variants / "variants.parquet")["problem_id"][0]
    assert main(["contact-sheet", str(variants), "--problem", "0", "--out", str(tmp_path / "s.png")]) == 0
    assert main(["show", "2A + 3B = 12", "--spec", "perturbations/smoke.yaml", "--out", str(tmp_path / "t.png")]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "s.png").stat().st_size > 5000 and (tmp_path / "t.png").stat().st_size > 5000
    # each printed size is the PNG's own, index 0 is the run's first problem, show renders all 9 cells
    for name, want in (("s.png", "{w}x{h} px)"), ("t.png", "{w}x{h} px")):
        with Image.open(tmp_path / name) as im:
            assert im.format == "PNG" and want.format(w=im.width, h=im.height) in out
    assert f"s.png: 9 variants of problem {first}, 1 page(s)" in out
    assert f"{tmp_path / 't.png'}: 9 variants," in out
    assert main(["contact-sheet", str(variants), "--problem", "soe-nope", "--out", str(tmp_path / "x.png")]) == 2
    assert "Unknown problem id 'soe-nope'" in capsys.readouterr().err


@pytest.mark.parametrize("fmt,name", [("hf-parquet", "x.parquet"), ("vlmevalkit", "x.tsv"), ("lmms-eval", "task")])
def test_export_formats(tiny_run, tmp_path, fmt, name):
    _, variants, _ = tiny_run
    assert main(["export", str(variants), "--to", fmt, "--out", str(tmp_path / name)]) == 0
    table = pl.read_parquet(variants / "variants.parquet")
    ids = table["variant_id"].to_list()
    if fmt == "hf-parquet":  # every variant, in run order
        assert pl.read_parquet(tmp_path / name)["variant_id"].to_list() == ids
    elif fmt == "vlmevalkit":  # one row per variant with an image (image and mixed cells)
        tsv = pl.read_csv(tmp_path / name, separator="\t", infer_schema=False)
        with_images = table.filter(pl.col("modality") != "text")["variant_id"].to_list()
        assert tsv["variant_id"].to_list() == with_images and len(with_images) == 3 * 8
    else:  # the task folder: YAML, hooks and the data parquet holding every variant
        task = tmp_path / name
        assert (task / "restplus.yaml").is_file() and (task / "utils.py").is_file()
        assert pl.read_parquet(task / "restplus.parquet")["variant_id"].to_list() == ids


def test_export_unknown_format_suggests(tiny_run, tmp_path, capsys):
    _, variants, _ = tiny_run
    assert main(["export", str(variants), "--to", "vlmevalkt", "--out", str(tmp_path / "x")]) == 2
    assert "Did you mean: vlmevalkit" in capsys.readouterr().err


def test_analyse_and_report(tiny_run, tmp_path, capsys):
    _, _, run = tiny_run
    assert main(["analyse", str(run), "--gate-policy", "ignore"]) == 0
    out = capsys.readouterr().out
    assert "RER" in out and "dpi=" in out and "restplus report" in out
    assert main(["report", str(run), "--out", str(tmp_path / "rep"), "--gate-policy", "ignore"]) == 0
    summary = (tmp_path / "rep" / "summary.md").read_text()
    assert "## Consistency" in summary and (tmp_path / "rep" / "effects.tex").exists()


def test_report_rejects_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    assert "not an evaluated run folder" in capsys.readouterr().err


def test_analyse_reference_override_as_the_spec_wrote_it(tiny_run, tmp_path, capsys):
    _, _, run = tiny_run
    tex = tmp_path / "eff.tex"
    # 50.0 is the spec's int level 50 written as a float: matched, not refused
    assert main(["analyse", str(run), "--gate-policy", "ignore", "--reference", "dpi=50.0", "--latex", str(tex)]) == 0
    latex = tex.read_text()
    assert "200" in latex and "50" in latex
    capsys.readouterr()
    assert main(["analyse", str(run), "--gate-policy", "ignore", "--reference", "dip=50"]) == 2
    assert "Did you mean: dpi" in capsys.readouterr().err
    assert main(["analyse", str(run), "--reference", "dpi"]) == 2
    assert "FACTOR=LEVEL" in capsys.readouterr().err
    assert main(["analyse", str(run), "--gate-policy", "ignore", "--reference", "dpi=75"]) == 2
    assert "75" in capsys.readouterr().err


def test_report_reference_override_changes_the_rows(tiny_run, tmp_path):
    _, _, run = tiny_run
    assert main(["report", str(run), "--out", str(tmp_path / "a"), "--gate-policy", "ignore",
                 "--reference", "dpi=50"]) == 0
    rows = pl.read_csv(tmp_path / "a" / "effects.csv")
    dpi = rows.filter(pl.col("term") == "dpi")
    assert dpi["level"].cast(pl.Utf8).to_list() == ["200"] and dpi["reference"].cast(pl.Utf8).to_list() == ["50"]


def test_warnings_are_one_line_each_and_shown_once(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    script = (
        "import warnings\n"
        "from restplus.cli import app\n"
        "from restplus.cli.base import Command\n"
        "from restplus.errors import AnalysisWarning\n"
        "def run(args):\n"
        "    warnings.warn('level 50 has no rows', AnalysisWarning)\n"
        "    warnings.warn('level 50 has no rows', AnalysisWarning)  # the same, from another line\n"
        "    warnings.warn('another one', UserWarning)\n"
        "    return 0\n"
        "app.COMMANDS['fake'] = Command('fake', 'h', 'e', lambda p: None, run)\n"
        "raise SystemExit(app.main(['fake']))\n")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=root,
                       env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == ["restplus fake: warning: level 50 has no rows [AnalysisWarning]",
                                     "restplus fake: warning: another one [UserWarning]"]


def test_analyse_fits_80_columns_and_shows_the_numbers(tiny_run, tmp_path):
    """The real CLI in a subprocess with COLUMNS=80: every line of stdout and stderr fits, and the
    printed deltas and RER are those of rp.effects / rp.consistency on the same run."""
    import os
    import subprocess
    import sys

    import restplus as rp
    from restplus.stats import _format as fmt

    _, _, run = tiny_run
    env = {**os.environ, "COLUMNS": "80", "PYTHONPATH": os.pathsep.join(sys.path)}
    again = tmp_path / "again"
    assert main(["rescore", str(run), "--out", str(again), "--threshold", "0.5"]) == 0
    done = subprocess.run([sys.executable, "-m", "restplus", "analyse", str(run), str(again), "--gate-policy",
                           "ignore", "--interactions", "2"], capture_output=True, text=True, env=env, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr
    lines = (done.stdout + done.stderr).splitlines()
    assert max(len(ln) for ln in lines) <= 80, [ln for ln in lines if len(ln) > 80]
    runs = rp.read_runs([run, again])
    name = runs.table["run"][0]
    eff = rp.effects(runs.table.filter(pl.col("run") == name), runs.factors, reference=runs.reference,
                     interactions=2, gate_policy="ignore")
    d = eff.frame.filter((pl.col("term") == "dpi")).row(0, named=True)
    shown = fmt.interval(d["delta"], d["delta_ci_low"], d["delta_ci_high"], 1, 100.0)
    assert any(f"dpi={d['level']} vs {d['reference']}" in ln and shown in ln for ln in lines)
    rer = rp.consistency(runs.table, runs.factors, by=["run", "model"]).filter(
        (pl.col("scope") == "overall") & (pl.col("metric") == "rer") & ~pl.col("gated") & (pl.col("run") == name))
    r = rer.row(0, named=True)
    assert any(ln.strip().startswith("RER") and fmt.interval(r["value"], r["ci_low"], r["ci_high"], 1, 100.0) in ln
               for ln in lines)
    assert sum(ln.startswith("== ") for ln in lines) == 2  # two runs, two blocks
    assert "interactions (difference of differences)" in done.stdout and "restplus report" in done.stdout
