"""The data and analysis commands end to end on a tiny run: generate, contact-sheet, show, export,
run (reader), analyse, report — and their one-line errors."""

from __future__ import annotations

import polars as pl
import pytest

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
    assert main(["contact-sheet", str(variants), "--problem", "0", "--out", str(tmp_path / "s.png")]) == 0
    assert main(["show", "2A + 3B = 12", "--spec", "perturbations/smoke.yaml", "--out", str(tmp_path / "t.png")]) == 0
    assert (tmp_path / "s.png").stat().st_size > 5000 and (tmp_path / "t.png").stat().st_size > 5000
    assert main(["contact-sheet", str(variants), "--problem", "soe-nope", "--out", str(tmp_path / "x.png")]) == 2
    assert "Unknown problem id 'soe-nope'" in capsys.readouterr().err


@pytest.mark.parametrize("fmt,name", [("hf-parquet", "x.parquet"), ("vlmevalkit", "x.tsv"), ("lmms-eval", "task")])
def test_export_formats(tiny_run, tmp_path, fmt, name):
    _, variants, _ = tiny_run
    assert main(["export", str(variants), "--to", fmt, "--out", str(tmp_path / name)]) == 0
    assert (tmp_path / name).exists()


def test_export_unknown_format_suggests(tiny_run, tmp_path, capsys):
    _, variants, _ = tiny_run
    assert main(["export", str(variants), "--to", "vlmevalkt", "--out", str(tmp_path / "x")]) == 2
    assert "Did you mean: vlmevalkit" in capsys.readouterr().err


def test_analyse_and_report(tiny_run, tmp_path, capsys):
    _, _, run = tiny_run
    assert main(["analyse", str(run), "--gate-policy", "ignore"]) == 0
    out = capsys.readouterr().out
    assert "EffectTable" in out and "dpi" in out and "rer" in out
    assert main(["report", str(run), "--out", str(tmp_path / "rep"), "--gate-policy", "ignore"]) == 0
    summary = (tmp_path / "rep" / "summary.md").read_text()
    assert "## Consistency" in summary and (tmp_path / "rep" / "effects.tex").exists()


def test_report_rejects_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    assert "not an evaluated run folder" in capsys.readouterr().err
