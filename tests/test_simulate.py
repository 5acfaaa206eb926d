"""simulate_table types its factor columns as a real run's results table does (issue 18): a polars Enum
of the level labels in grammar order, so analyses see the same levels, order and default reference."""

from __future__ import annotations

import polars as pl
import pytest

import restplus as rp
from restplus.errors import AnalysisError, AnalysisWarning
from restplus.grammar.grid import variant_seed
from restplus.problems import builtin_set
from restplus.runner.evaluation import evaluate
from restplus.runner.gate import reference_text
from restplus.runner.rows import to_frames
from restplus.stats import effects, simulate_table
from restplus.stats._common import factor_levels, level_orders
from restplus.testing import EchoGold
from restplus.variants.realization import realize

# grammar order differs from natural order in both factors ("50" < "100", "blue" < "red")
EFF = {"dpi": {100: 0.0, 50: -1.0}, "text_color": {"red": 0.0, "blue": -0.5}}
GRID = rp.Grid(rp.dpi([100, 50]), rp.text_color(["red", "blue"]), rp.modality(["text", "image"]))


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """A real (tiny) run of GRID: the results table as the runner writes it."""
    problems = list(builtin_set("arith", n=2))
    variants = [realize(p, GRID, c, variant_seed(0, p.problem_id, c)) for p in problems for c in GRID.cells()]
    answers = {}
    for v in variants:
        answers[f"solve:{v.answer_type}:{v.variant_id}"] = f"Answer: {v.answer}"
        if v.images:
            answers[f"ocr:{v.answer_type}:{v.variant_id}"] = reference_text([i.rendered_text for i in v.images])
    out = tmp_path_factory.mktemp("run")
    return evaluate(variants, EchoGold(answers), out=out, grid=GRID, problems=problems, progress=False).table


def test_factor_columns_have_the_dtype_of_a_real_run(real):
    sim = simulate_table(5, EFF, modalities=("text", "image"), seed=0)
    for f in EFF:
        assert isinstance(real.schema[f], pl.Enum)
        assert sim.schema[f] == real.schema[f], f
        # null on text rows in both
        assert sim.filter(pl.col("modality") == "text")[f].null_count() == 5
        assert real.filter(pl.col("modality") == "text")[f].null_count() == real.filter(
            pl.col("modality") == "text").height
    assert level_orders(sim, list(EFF)) == level_orders(real, list(EFF)) == GRID.level_labels()
    assert factor_levels(sim, list(EFF), level_orders(sim, list(EFF))) == factor_levels(
        real, list(EFF), level_orders(real, list(EFF)))


def test_effects_treat_simulated_and_run_typed_tables_identically():
    sim = simulate_table(60, EFF, modalities=("image",), seed=4)
    # the same rows typed by the runner's own writer (to_frames with the grid's level labels)
    rows = [{**r, "cell_id": f"{r['dpi']}/{r['text_color']}"} for r in sim.to_dicts()]
    typed, _ = to_frames(rows, list(EFF), external=False, levels=GRID.level_labels())
    assert typed.schema["dpi"] == sim.schema["dpi"]
    with pytest.warns(AnalysisWarning, match="dpi='100'"):  # grammar order gives the reference in both
        a = effects(sim, list(EFF))
    with pytest.warns(AnalysisWarning, match="dpi='100'"):
        b = effects(typed, list(EFF))
    key = ["term", "level"]
    fa, fb = a.frame.sort(key), b.frame.sort(key)
    assert fa.select(key).rows() == fb.select(key).rows() == [("dpi", "50"), ("text_color", "blue")]
    assert fa["delta"].to_list() == pytest.approx(fb["delta"].to_list(), abs=1e-9)
    # sensitivity: as plain strings the same table takes the natural-order reference instead
    with pytest.warns(AnalysisWarning, match="dpi='50'"):
        plain = effects(sim.with_columns(pl.col(f).cast(pl.String) for f in EFF), list(EFF))
    assert sorted(plain.frame.select(key).rows()) == [("dpi", "100"), ("text_color", "red")]


def test_levels_that_share_a_label_are_refused():
    with pytest.raises(AnalysisError, match="names one level twice"):
        simulate_table(3, {"font_size": {12: 0.0, "12": 0.5}})
