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


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_rescore_command(first_run, capsys):
    before_files = _tree(first_run)
    before = pl.read_parquet(first_run / "results.parquet")
    assert main(["rescore", str(first_run), "--threshold", "1000"]) == 0
    # a new, named run beside the original; the original folder is byte-identical
    loose = first_run.with_name(first_run.name + ".rescored-cer1000")
    assert _tree(first_run) == before_files
    after = pl.read_parquet(loose / "results.parquet")
    ocr = after.filter(pl.col("prompt_type") == "ocr")
    assert ocr["gate_passed"].all() and not before.filter(pl.col("prompt_type") == "ocr")["gate_passed"].any()
    out = capsys.readouterr().out
    assert "OCR gate (CER <= 1000.0)" in out and str(loose) in out
    m0, m1 = (json.loads((f / "manifest.json").read_text()) for f in (first_run, loose))
    assert m1["gate"]["threshold"] == 1000.0 and m1["rescored_from"]["run_id"] == m0["run_id"]
    assert m1["run_id"] != m0["run_id"] and set(after["run_id"]) == {m1["run_id"]}
    assert set(after["run"]) == {m1["run_name"]} == {m0["run_name"] + ".rescored-cer1000"}
    # only the gate (and the run's identity) changed
    same = [c for c in after.columns if c not in ("gate_passed", "run", "run_id")]
    assert after.select(same).equals(before.select(same))
    # an explicit --out and --name; the run folder itself is refused as --out
    strict = first_run.parent / "strict"
    assert main(["rescore", str(first_run), "--threshold", "0", "--out", str(strict), "--name", "strict"]) == 0
    t = pl.read_parquet(strict / "results.parquet")
    assert not t.filter(pl.col("prompt_type") == "ocr")["gate_passed"].any() and set(t["run"]) == {"strict"}
    assert main(["rescore", str(first_run), "--threshold", "0", "--out", str(first_run)]) == 2
    assert "never overwrites" in capsys.readouterr().err
    assert _tree(first_run) == before_files


@pytest.mark.parametrize("cmd", ["run", "rescore"])
def test_help_has_an_example(cmd, capsys):
    with pytest.raises(SystemExit):
        main([cmd, "--help"])
    assert "Example:\n  restplus " + cmd in capsys.readouterr().out
