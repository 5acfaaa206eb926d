"""Minimal counterfactuals on a hand-built grid."""

from __future__ import annotations

import itertools

import polars as pl
import pytest

from restplus.errors import AnalysisError, UnknownNameError
from restplus.stats import counterfactuals, minimal_counterfactual

FACTORS = ["dpi", "font", "color"]
REF = {"dpi": "200", "font": "sans", "color": "black"}
LEVELS = {"dpi": ["200", "50"], "font": ["sans", "mono"], "color": ["black", "red"]}


def grid(wrong: set[tuple[str, str, str]], drop: set[tuple[str, str, str]] = frozenset(), pid: str = "p1"):
    rows = []
    for cell in itertools.product(*LEVELS.values()):
        if cell in drop:
            continue
        rows.append({"problem_id": pid, "modality": "image", **dict(zip(FACTORS, cell)), "correct": cell not in wrong,
                     "gate_passed": True})
    return rows


def test_single_factor_explains_the_failure():
    # mono breaks the problem on its own; dpi and colour do not
    wrong = {c for c in itertools.product(*LEVELS.values()) if c[1] == "mono"}
    t = pl.DataFrame(grid(wrong))
    cf = minimal_counterfactual(t, FACTORS, REF, "p1", {"dpi": "50", "font": "mono", "color": "red"})
    assert cf.minimal_sets == ((("font", "mono"),),) and cf.size == 1 and cf.n_untested_smaller == 0
    assert cf.off_reference == (("dpi", "50"), ("font", "mono"), ("color", "red"))
    assert "font=mono" in str(cf)


def test_only_the_combination_fails_and_ties_are_all_reported():
    # every pair of changes fails, no single change does: three minimal sets of size 2
    wrong = {c for c in itertools.product(*LEVELS.values()) if sum(a != b for a, b in zip(c, REF.values())) >= 2}
    t = pl.DataFrame(grid(wrong))
    cf = minimal_counterfactual(t, FACTORS, REF, "p1", {"dpi": "50", "font": "mono", "color": "red"})
    assert cf.size == 2 and len(cf.minimal_sets) == 3
    assert (("dpi", "50"), ("font", "mono")) in cf.minimal_sets


def test_fractional_grid_reports_untested_smaller_subsets():
    wrong = {("50", "mono", "black"), ("50", "sans", "black")}
    t = pl.DataFrame(grid(wrong, drop={("200", "mono", "black")}))
    cf = minimal_counterfactual(t, FACTORS, REF, "p1", {"dpi": "50", "font": "mono", "color": "black"})
    assert cf.minimal_sets == ((("dpi", "50"),),) and cf.n_untested_smaller == 0
    t2 = pl.DataFrame(grid({("50", "mono", "black")}, drop={("200", "mono", "black")}))
    cf2 = minimal_counterfactual(t2, FACTORS, REF, "p1", {"dpi": "50", "font": "mono", "color": "black"})
    assert cf2.size == 2 and cf2.n_untested_smaller == 1  # font=mono alone was never rendered


@pytest.mark.parametrize("wrong,condition,match", [
    (set(), {"dpi": "50", "font": "mono", "color": "red"}, "is correct; nothing to explain"),
    ({("200", "sans", "black"), ("50", "mono", "red")}, {"dpi": "50", "font": "mono", "color": "red"},
     "already wrong at the reference"),
    ({("50", "mono", "red")}, {"dpi": "50", "font": "mono"}, "missing"),
])
def test_refusals(wrong, condition, match):
    with pytest.raises(AnalysisError, match=match):
        minimal_counterfactual(pl.DataFrame(grid(wrong)), FACTORS, REF, "p1", condition)


def test_missing_reference_cell_and_unknown_factor():
    t = pl.DataFrame(grid({("50", "mono", "red")}, drop={("200", "sans", "black")}))
    with pytest.raises(AnalysisError, match="reference cell"):
        minimal_counterfactual(t, FACTORS, REF, "p1", {"dpi": "50", "font": "mono", "color": "red"})
    with pytest.raises(UnknownNameError, match="Did you mean: color"):
        minimal_counterfactual(t, FACTORS, REF, "p1", {"dpi": "50", "font": "mono", "colour": "red"})


def test_batch_version_agrees_with_single_calls():
    wrong1 = {c for c in itertools.product(*LEVELS.values()) if c[1] == "mono"}
    wrong2 = {("50", "mono", "red"), ("50", "sans", "red")}
    t = pl.DataFrame(grid(wrong1, pid="p1") + grid(wrong2, pid="p2") + grid({("200", "sans", "black")}, pid="p3"))
    out = counterfactuals(t, FACTORS, REF)
    assert set(out.get_column("problem_id")) == {"p1", "p2"}  # p3 is wrong at reference: not explainable
    assert out.height == len(wrong1) + len(wrong2)
    for r in out.iter_rows(named=True):
        cond = dict(kv.split("=") for kv in r["condition"].split(", "))
        cf = minimal_counterfactual(t, FACTORS, REF, r["problem_id"], cond)
        assert r["size"] == cf.size
        assert r["minimal_sets"] == " | ".join(", ".join(f"{f}={v}" for f, v in s) for s in cf.minimal_sets)
