"""One level representation from spec to effect table.

A level has one label (``restplus.schema.level_label``) and one order (the spec's), decided in the
grammar and carried by the results table as a polars Enum. A reference may be written as the spec
wrote it (``12``, ``12.0`` or ``"12"``). Float, int and string levels go through generate -> run ->
effects here with a model whose accuracy really depends on the factor.
"""

from __future__ import annotations

import warnings

import polars as pl
import pytest

import restplus as rp
from restplus.errors import AnalysisError, SpecError
from restplus.schema import level_label, match_level
from restplus.stats._common import resolve_reference
from restplus.testing import EchoGold


def test_level_label_is_one_rule():
    assert [level_label(v) for v in (12, 12.0, "12", 0.1, 2.5, None)] == ["12", "12", "12", "0.1", "2.5", None]
    assert level_label(True) == "true" and level_label("DejaVu Sans") == "DejaVu Sans"
    assert match_level(12.0, ["8", "12"]) == "12"
    assert match_level("12.0", ["8.0", "12.0"]) == "12.0"  # a table written by another tool
    assert match_level(12, ["8.0", "12.0"]) == "12.0"
    assert match_level("13", ["8", "12"]) is None and match_level("red", ["red", "blue"]) == "red"


def test_the_issue_reproduction_works():
    """resolve_reference({'font_size': ['8.0', '12.0']}, {'font_size': 12.0}) used to raise."""
    assert resolve_reference({"font_size": ["8.0", "12.0"]}, {"font_size": 12.0}) == {"font_size": "12.0"}
    assert resolve_reference({"font_size": ["8", "12"]}, {"font_size": 12.0}) == {"font_size": "12"}
    with pytest.raises(AnalysisError, match="Did you mean"):
        resolve_reference({"font": ["Kalam", "DejaVu Sans"]}, {"font": "Kalm"})


def test_equal_numbers_are_one_level_in_the_grammar():
    with pytest.raises(SpecError, match="12 and 12.0 are one level"):
        rp.font_size([8, 12, 12.0], reference=8)
    g = rp.Grid(rp.font_size([8.0, 12.0], reference=12.0), rp.dpi([100]))
    assert {c.labels()["font_size"] for c in g.cells() if c.modality != "text"} == {"8", "12"}
    assert g.level_labels() == {"font_size": ["8", "12"], "dpi": ["100"]}


@pytest.mark.parametrize("kind,levels,reference,given", [
    ("font_size", [16.0, 6.0, 11.5], 16.0, [16, "16", 16.0]),  # floats, in a non-sorted spec order
    ("font_size", [16, 6, 11], 16, [16.0, "16"]),              # ints
    ("font", ["Kalam", "DejaVu Sans"], "DejaVu Sans", ["DejaVu Sans"]),  # strings
])
def test_levels_through_generate_run_effects(tmp_path, kind, levels, reference, given):
    grid = rp.Grid(rp.factor(kind, levels, reference=reference), rp.dpi([100]))
    problems = rp.builtin_set("arith", n=12, seed=5)
    run = rp.generate(problems, grid, seed=1, out=tmp_path / "variants", progress=False)
    # the model fails on non-reference levels for two problems in three: a real effect of the factor
    ref_label = level_label(reference)
    pindex = {p.problem_id: i for i, p in enumerate(problems)}
    truth = {}
    for v in run.variants():
        wrong = v.cell.labels().get(kind) not in (None, ref_label) and pindex[v.problem_id] % 3 != 0
        truth[v.variant_id] = "999999" if wrong else v.answer

    def answer(request) -> str:
        kind_, _, vid = request.tag.split(":", 2)
        return truth[vid]

    model = EchoGold(answer_fn=answer, template="Answer: {answer}")
    res = rp.evaluate(run, model, out=tmp_path / "run", progress=False)
    table = pl.read_parquet(tmp_path / "run" / "results.parquet")

    # the grammar's order and labels reach the table
    dt = table.schema[kind]
    assert isinstance(dt, pl.Enum) and dt.categories.to_list() == [level_label(v) for v in levels]
    assert set(table.filter(pl.col("modality") != "text")[kind].cast(pl.String)) == set(dt.categories)
    assert res.table.schema[kind] == dt
    # what the model saw is kept: the DPI as rendered, the processed size where the adapter knows it
    img = table.filter(pl.col("modality") != "text")
    assert img["image_dpi"].to_list() == [100] * img.height
    assert {"processed_width_px", "processed_height_px"} <= set(table.columns)

    for ref in given:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rp.AnalysisWarning)
            eff = rp.effects(table, [kind], reference={kind: ref}, gate_policy="ignore")
        rows = eff.frame.filter(pl.col("term") == kind)
        # every non-reference level, in spec order, against the reference label
        assert rows["level"].to_list() == [level_label(v) for v in levels if v != reference]
        assert set(rows["reference"].to_list()) == {ref_label}
        assert (rows["delta"] < -0.4).all(), rows  # 2/3 of problems fail off the reference
    acc = rp.accuracy_table(table, [kind], gate_policy="ignore", n_boot=0)
    assert acc.filter(pl.col("modality") == "image")[kind].to_list() == [level_label(v) for v in levels]
