"""Consistency intervals at the boundary and per cell (issue 20, item 1)."""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.stats import beta

from restplus.stats import consistency, simulate_table
from restplus.stats.bootstrap import clopper_pearson, design_effect

RARE = {"dpi": {"200": 0.0, "50": -2.7}, "text_color": {"black": 0.0, "yellow": -1.2}}


def _cell(m: pl.DataFrame, level: str, metric: str) -> dict:
    return m.filter((pl.col("scope") == "cell") & (pl.col("level") == level) & (pl.col("metric") == metric)
                    ).row(0, named=True)


def test_zero_share_in_a_cell_gets_a_clopper_pearson_interval_with_a_note():
    for seed in range(40):  # find a sample where the rare cell has all-correct 0/15
        t = simulate_table(15, RARE, intercept=2.5, seed=seed)
        m = consistency(t, list(RARE), gated="ungated", n_boot=200, seed=seed)
        r = _cell(m, "50:yellow", "all_correct")
        if r["value"] == 0.0:
            break
    assert r["value"] == 0.0
    assert r["ci_low"] == 0.0 and r["ci_high"] > 0.1  # not the percentile bootstrap's [0, 0]
    # one unit per problem in a cell: exactly Clopper-Pearson on n = 15
    assert abs(r["ci_high"] - beta.ppf(0.975, 1, 15)) < 1e-9
    assert "boundary" in r["note"] and "Clopper-Pearson" in r["note"] and "n_eff = 15.0" in r["note"]


def test_pooled_scopes_keep_the_bootstrap_unless_at_the_boundary():
    t = simulate_table(30, RARE, intercept=1.0, seed=3)
    m = consistency(t, list(RARE), gated="ungated", n_boot=200, seed=0)
    overall = m.filter((pl.col("scope") == "overall") & (pl.col("metric") == "rer")).row(0, named=True)
    assert 0 < overall["value"] < 1 and overall["note"] is None


def test_design_effect_worst_case_at_the_boundary():
    # 3 problems x 4 units, all zero: variance unknowable, so n_eff falls back to the problem count
    y = np.zeros((3, 1))
    n = np.full((3, 1), 4.0)
    assert design_effect(y, n)[0] == 4.0
    # one unit per problem: design effect 1
    assert design_effect(np.zeros((5, 1)), np.ones((5, 1)))[0] == 1.0
    # perfectly clustered units (each problem all right or all wrong): deff close to the cluster size
    y = np.array([[4.0], [0.0], [4.0], [0.0]])
    n = np.full((4, 1), 4.0)
    assert 3.9 < design_effect(y, n)[0] <= 16 / 4 * 4 / 3 + 1e-9


def test_clopper_pearson_matches_the_beta_quantiles():
    lo, hi = clopper_pearson(np.array([0.0, 3.0, 10.0]), np.array([10.0, 10.0, 10.0]), 0.95)
    assert lo[0] == 0.0 and hi[2] == 1.0
    assert abs(lo[1] - beta.ppf(0.025, 3, 8)) < 1e-12 and abs(hi[1] - beta.ppf(0.975, 4, 7)) < 1e-12
    assert abs(hi[0] - beta.ppf(0.975, 1, 10)) < 1e-12


def test_effect_rows_p_and_ci_agree_with_interactions():
    """Issue 20 item 3: p tests the row's delta (AME), so p < 0.05 exactly when the 95 % CI excludes 0;
    the conditional coefficient test is p_coef."""
    import warnings

    from restplus.stats import AnalysisWarning, effects

    eff = {"dpi": {"200": 0.0, "100": -0.5, "50": -1.2}, "color": {"black": 0.0, "red": 0.3, "blue": -0.4}}
    seen_coef_differs = False
    for seed in range(3):
        t = simulate_table(30, eff, modalities=("image", "mixed"), seed=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AnalysisWarning)
            tab = effects(t, ["dpi", "color"], reference={"dpi": "200", "color": "black"}, interactions=2,
                          correction="holm")
        for r in tab.frame.iter_rows(named=True):
            excludes = r["delta_ci_low"] > 0 or r["delta_ci_high"] < 0
            assert excludes == (r["p"] < 0.05), r
            assert r["p_coef"] is not None and r["p_coef_adj"] >= r["p_coef"] - 1e-15
            seen_coef_differs |= abs(r["p"] - r["p_coef"]) > 1e-3
    assert seen_coef_differs  # the two tests are different estimands with interactions


def test_union_design_per_level_rows_are_scoped_to_the_arm():
    """Issue 20 item 2, on the REST+ grid: font levels are compared over the font x dpi arm only."""
    from pathlib import Path

    from restplus.grammar.spec import load_grid
    from restplus.stats.simulate import restrict_to_grid

    grid = load_grid(Path(__file__).resolve().parents[1] / "perturbations" / "rest_plus.yaml")
    visual = ["font", "dpi", "text_color"]
    eff = {"font": {"DejaVu Sans": 0.0, "Liberation Mono": -0.2, "Kalam": -0.6},
           "dpi": {"50": -1.5, "100": -0.3, "200": 0.0},
           "text_color": {"black": 0.0, "red": 0.2, "green": 0.2, "blue": 0.2, "yellow": 0.4}}
    full = simulate_table(24, eff, seed=5)
    t = restrict_to_grid(full, grid)
    assert 0 < t.height < full.height  # the union design drops the crossed-only combinations
    m = consistency(t, visual, scopes=["factor"], gated="ungated", n_boot=50)
    font = m.filter((pl.col("factor") == "font") & (pl.col("metric") == "rer"))
    assert set(font.get_column("within")) == {"arm font×dpi"}
    # every font level over the same 3 dpi cells (colour black) x 24 problems
    assert font.get_column("n_units").to_list() == [3 * 24] * 3
    color = m.filter((pl.col("factor") == "text_color") & (pl.col("metric") == "rer"))
    assert set(color.get_column("within")) == {"arm text_color"}
    assert color.get_column("n_units").to_list() == [24] * 5
    # the scoped DejaVu Sans value is the font x dpi arm's own (black cells only)
    arm = t.filter((pl.col("text_color") == "black") | pl.col("text_color").is_null())
    own = consistency(arm, ["font", "dpi"], scopes=["factor"], gated="ungated", n_boot=0)
    ref = own.filter((pl.col("factor") == "font") & (pl.col("level") == "DejaVu Sans") & (pl.col("metric") == "rer"))
    got = font.filter(pl.col("level") == "DejaVu Sans")
    assert got["value"][0] == ref["value"][0] and ref["within"][0] is None  # crossed: no scope name
