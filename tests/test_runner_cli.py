"""`restplus run` and `restplus rescore` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from restplus.cli import main

ROOT = Path(__file__).resolve().parents[1]
SMOKE = str(ROOT / "perturbations" / "smoke.yaml")


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    rc = main(["run", SMOKE, "--model", "always-wrong", "--problems", "soe", "--limit", "2", "--out", str(out),
               "--workers", "1", "--no-progress"])
    assert rc == 0
    return out


def test_run_from_a_spec_generates_then_evaluates(first_run, capsys):
    t = pl.read_parquet(first_run / "results.parquet")
    assert t.height == 2 * 17 and (first_run / "variants" / "variants.parquet").exists()
    m = json.loads((first_run / "manifest.json").read_text())
    assert m["status"] == "complete" and m["counts"]["calls"] == 2 * 17
    assert main(["run", SMOKE, "--model", "always-wrong", "--problems", "soe", "--limit", "2", "--out",
                 str(first_run), "--workers", "1", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "cache hits 34, model calls 0" in out and "accuracy=0.000" in out


def test_run_on_a_variants_folder_and_refusals(first_run, tmp_path, capsys):
    assert main(["run", str(first_run / "variants"), "--model", "always-wrong", "--out", str(tmp_path / "r2"),
                 "--limit", "1", "--no-progress"]) == 0
    assert pl.read_parquet(tmp_path / "r2" / "results.parquet").height == 17
    assert main(["run", SMOKE, "--model", "alwayswrong", "--out", str(tmp_path / "x"), "--no-progress"]) == 2
    assert "Did you mean: always-wrong" in capsys.readouterr().err
    # same folder, other model: refused before any call, both hashes named
    assert main(["run", str(first_run / "variants"), "--model", "reader", "--out", str(first_run), "--limit", "2",
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "model fingerprint" in err and err.count("model_fingerprint=") == 2
    assert main(["run", str(tmp_path / "missing"), "--model", "reader", "--out", str(tmp_path / "y")]) == 2
    assert "neither a spec file" in capsys.readouterr().err


def test_rescore_command(first_run, capsys):
    before = pl.read_parquet(first_run / "results.parquet")
    assert main(["rescore", str(first_run), "--threshold", "1000"]) == 0
    after = pl.read_parquet(first_run / "results.parquet")
    ocr = after.filter(pl.col("prompt_type") == "ocr")
    assert ocr["gate_passed"].all() and not before.filter(pl.col("prompt_type") == "ocr")["gate_passed"].any()
    assert "OCR gate (CER <= 1000.0)" in capsys.readouterr().out
    assert json.loads((first_run / "manifest.json").read_text())["gate"]["threshold"] == 1000.0
    # and back to a strict gate: always-wrong's transcriptions all fail it again; only the gate changed
    assert main(["rescore", str(first_run), "--threshold", "0"]) == 0
    strict = pl.read_parquet(first_run / "results.parquet")
    assert not strict.filter(pl.col("prompt_type") == "ocr")["gate_passed"].any()
    assert strict.drop("gate_passed").equals(after.drop("gate_passed"))
    assert json.loads((first_run / "manifest.json").read_text())["gate"]["threshold"] == 0.0


@pytest.mark.parametrize("cmd", ["run", "rescore"])
def test_help_has_an_example(cmd, capsys):
    with pytest.raises(SystemExit):
        main([cmd, "--help"])
    assert "Example:\n  restplus " + cmd in capsys.readouterr().out
