"""The demo's nano-vs-reader study, run with a tiny random Qwen2-VL in place of the trained weights.

The plumbing is what is tested: both models on the same variants, one report with a row per model,
gated and ungated, vision tokens that follow DPI, and a per-layer modality-gap curve from real
hidden states. The trained model's own figures are bench/nano.py's job.
"""

from __future__ import annotations

import polars as pl
import pytest

import restplus as rp
from restplus.cli.demo import GATE_NORMALIZATION
from restplus.cli.demo_nano import nano_available, nano_section, run_nano_study
from restplus.models import load
from restplus.testing.tiny import build_tiny_qwen2vl


@pytest.mark.slow
def test_study_runs_both_models_and_measures_the_gap(tmp_path):
    model_dir = build_tiny_qwen2vl(tmp_path / "tiny")
    assert nano_available(model_dir)
    grid = rp.Grid(rp.dpi([50, 200], reference=200), rp.modality(["text", "image", "mixed"], reference="text"),
                   name="nano_test")
    key = run_nano_study(grid, n_problems=3, seed=0, workers=1, reader=load("reader"), out=tmp_path / "out",
                         runs=tmp_path / "runs", gate_threshold=0.0, normalization=GATE_NORMALIZATION,
                         progress=False, model_dir=model_dir, n_boot=50, max_tokens=12)
    table = pl.read_parquet(tmp_path / "out" / "results.parquet")
    assert set(table["model"]) == {"restplus-nano", "reader:tesseract"}
    # both models saw exactly the same variants
    per_model = table.group_by("model").agg(pl.col("variant_id").unique().sort())
    assert per_model["variant_id"][0].to_list() == per_model["variant_id"][1].to_list()
    nano = table.filter((pl.col("model") == "restplus-nano") & pl.col("vision_tokens").is_not_null())
    tokens = dict(nano.group_by("dpi").agg(pl.col("vision_tokens").mean()).iter_rows())
    assert tokens["50"] < tokens["200"] / 4
    # the reader solves the text variants of sums exactly; the random model is scored, not assumed
    assert key["models"]["reader:tesseract"]["accuracy_by_modality"]["text"] == 1.0
    assert set(key["models"]) == {"restplus-nano", "reader:tesseract"}
    cons = pl.read_csv(tmp_path / "out" / "consistency_ungated.csv")
    assert set(cons["model"]) == {"restplus-nano", "reader:tesseract"}
    # gated: a random model transcribes nothing exactly, so only the reader keeps units
    gated = pl.read_csv(tmp_path / "out" / "consistency.csv")
    assert set(gated["model"]) == {"reader:tesseract"}
    assert key["models"]["restplus-nano"]["ungated"]["rer"] == 0.0  # never right: no unit is consistent
    assert "gated" not in key["models"]["restplus-nano"]
    assert key["models"]["restplus-nano"]["ocr_pass_rate"] == 0.0
    curves = pl.read_csv(tmp_path / "out" / "gap_curves.csv")
    assert curves["layer"].to_list() == list(range(3))  # embeddings + 2 layers of the tiny model
    assert curves["n_items"].to_list() == [3] * 3
    assert (tmp_path / "out" / "gap_curves.png").stat().st_size > 5_000
    text = nano_section(key)
    assert "| restplus-nano |" in text and "| reader:tesseract |" in text and "not a stand-in" in text
    assert key["params_m"] < 1.0 and key["calls"]["nano"] > 0 and key["calls"]["reader"] > 0


def test_demo_says_when_the_nano_weights_are_missing(tmp_path):
    assert not nano_available(tmp_path)
