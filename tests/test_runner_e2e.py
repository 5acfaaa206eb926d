"""End to end on real adapters: built-in SoE on perturbations/smoke.yaml with the tiny Qwen2-VL (plumbing)
and with the offline reader baseline (real answers); an identical re-run makes no model call."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import polars as pl
import pytest

from restplus import models
from restplus.errors import PixelBudgetWarning
from restplus.grammar.spec import load_grid
from restplus.problems import builtin_set
from restplus.runner.evaluation import evaluate
from restplus.testing import Counting, build_tiny_qwen2vl
from restplus.variants.ondemand import VariantSet

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]


def rows_expected(n_problems: int) -> int:
    return n_problems * (1 + 8 * 2)  # smoke: 1 text cell + 8 image/mixed cells (solve + OCR)


@pytest.fixture(scope="module")
def grid():
    return load_grid(ROOT / "perturbations" / "smoke.yaml")


@pytest.mark.slow
def test_tiny_qwen2vl_plumbing(grid, tmp_path):
    n = 2  # the tiny random model is slow on a shared CPU; plumbing needs few items
    path = build_tiny_qwen2vl(tmp_path / "tiny-qwen2vl")
    model = Counting(models.load("hf", path=str(path), batch_size=8))
    vs = VariantSet(builtin_set("soe", n=n), grid, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PixelBudgetWarning)  # the tiny processor's budget; not under test
        res = evaluate(vs, model, out=tmp_path / "run", decoding={"max_tokens": 8}, progress=False)
    t = res.table
    assert t.height == rows_expected(n) and res.status == "complete"
    assert pl.read_parquet(tmp_path / "run" / "results.parquet").equals(t)
    m = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert m["model"]["fingerprint"]["adapter"] == "hf" and m["counts"]["calls"] == rows_expected(n)
    assert m["decoding"]["soe"]["max_tokens"] == 8
    img = t.filter(pl.col("modality") != "text")
    assert img["vision_tokens"].null_count() == 0 and img["vision_tokens"].min() > 0
    # what the model saw is kept: the processor's image size, the rendered size and DPI beside it
    assert img["processed_width_px"].null_count() == 0 and img["image_dpi"].null_count() == 0
    assert set(img["image_dpi"].to_list()) == {int(v) for v in img["dpi"].cast(pl.String).unique().to_list()}
    # Qwen2-VL resizes to multiples of 28 px (patch 14 x merge 2): the processed size is the processor's
    assert (img["processed_width_px"] % 28 == 0).all() and (img["processed_height_px"] % 28 == 0).all()
    area = img.with_columns(a=pl.col("processed_width_px") * pl.col("processed_height_px")).group_by("dpi").agg(
        pl.col("a").mean())
    assert dict(area.iter_rows())["200"] > dict(area.iter_rows())["50"]
    # a 200-DPI render is larger than its 50-DPI twin, so it becomes more vision tokens
    by_dpi = img.group_by("dpi").agg(pl.col("vision_tokens").mean()).sort("dpi")
    assert dict(by_dpi.iter_rows())["200"] > dict(by_dpi.iter_rows())["50"]
    assert t["tokens_in"].min() > 0 and (t["tokens_out"] <= 8).all() and t["error"].null_count() == t.height
    assert t["parse_status"].is_in(["ok", "unparsed"]).all()  # garbage text, but scored
    assert img["ocr_cer"].null_count() == 0
    model.counts.clear()
    res2 = evaluate(vs, model, out=tmp_path / "run", decoding={"max_tokens": 8}, progress=False)
    assert model.total == 0 and res2.table.drop("from_cache").equals(t.drop("from_cache"))


@pytest.mark.slow
@pytest.mark.ocr
def test_reader_baseline_real_answers(grid, tmp_path):
    n = 4
    reader = Counting(models.load("reader", concurrency=2))
    vs = VariantSet(builtin_set("soe", n=n), grid, 0)
    res = evaluate(vs, reader, out=tmp_path / "run", progress=False)
    t = res.table
    assert t.height == rows_expected(n) and reader.total == rows_expected(n)
    solve = t.filter(pl.col("prompt_type") == "solve")
    assert solve.filter(pl.col("modality") == "text")["correct"].all()  # the solver itself is exact
    clean = solve.filter((pl.col("dpi") == "200") & (pl.col("text_color") == "black"))
    assert clean.height == 2 * n and clean["correct"].mean() >= 0.75
    ocr = t.filter(pl.col("prompt_type") == "ocr")
    cer = dict(ocr.group_by("dpi").agg(pl.col("ocr_cer").mean()).iter_rows())
    assert cer["200"] < cer["50"]  # resolution shows in the gate
    assert ocr.filter(pl.col("dpi") == "200")["gate_passed"].any()  # some perfect transcriptions at 200 DPI
    # the gate is coherent with correctness: a failed 50-DPI read rarely gives a right answer
    low = solve.filter(pl.col("dpi") == "50")
    assert low["correct"].mean() <= clean["correct"].mean()
    reader.counts.clear()
    res2 = evaluate(vs, reader, out=tmp_path / "run", progress=False)
    assert reader.total == 0 and res2.counts["calls"] == 0 and res2.table["from_cache"].all()
    assert res2.table.drop("from_cache").equals(t.drop("from_cache"))
