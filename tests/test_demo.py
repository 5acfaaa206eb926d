"""A reduced demo end to end through the CLI: a broken demo fails CI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_quick_demo_through_cli(tmp_path):
    out, runs = tmp_path / "out", tmp_path / "runs"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_THREAD_LIMIT": "1"}
    proc = subprocess.run([sys.executable, "-m", "restplus", "demo", "--quick", "--no-progress", "--out", str(out),
                           "--runs", str(runs)], capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = (out / "summary.md").read_text()
    assert "## Grid `rest_plus`" in summary and "## Grid `dpi_colour_size`" in summary
    assert "RER (%)" in summary and "Consistency (all units, ungated)" in summary
    for name in ("rest_plus", "dpi_colour_size"):
        assert (out / f"contact_{name}.png").stat().st_size > 10_000
        assert (out / name / "effects.csv").exists() and (out / name / "consistency.tex").exists()
        assert (out / name / "fig_marginal.png").exists()
        assert (out / name / "gated" / "summary.md").exists()
    figures = json.loads((out / "key_figures.json").read_text())
    rest = figures["grids"]["rest_plus"]
    # The reader reads text perfectly: text accuracy is 1, and 50 DPI (8 px glyphs) hurts.
    assert rest["accuracy_by_modality"]["text"] == 1.0
    d50 = next(r for r in rest["dpi_effects"] if str(r["level"]) == "50")
    assert d50["delta"] < -0.3 and d50["delta_ci_high"] < 0
    # The nano-vs-reader study runs when trained weights are committed, and says it was skipped otherwise.
    from restplus.cli.demo_nano import nano_available

    if nano_available():
        assert set(figures["nano"]["models"]) == {"restplus-nano", "reader:tesseract"}
        assert "## The embedded MLLM: `restplus-nano` beside the reader" in summary
    else:
        assert "models/restplus-nano" in figures["nano"]["skipped"]
        assert "Skipped: no trained weights are committed" in summary
    # A second run reuses every rendered variant and every cached response: zero model calls.
    again = subprocess.run([sys.executable, "-m", "restplus", "demo", "--quick", "--no-progress", "--out",
                            str(out), "--runs", str(runs)], capture_output=True, text=True, env=env, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    figures2 = json.loads((out / "key_figures.json").read_text())
    assert all(g["calls"] == 0 for g in figures2["grids"].values())
    if "models" in figures2["nano"]:
        assert set(figures2["nano"]["calls"].values()) == {0}
