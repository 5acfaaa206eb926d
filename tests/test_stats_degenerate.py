"""Degenerate data: every case gives a clear warning and a documented fallback, or a named error."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from restplus.errors import AnalysisError
from restplus.stats import AnalysisWarning, consistency, effects, simulate_table

EFF = {"dpi": {"200": 0.0, "100": -0.4, "50": -1.0}, "font": {"sans": 0.0, "mono": -0.3}}
REF = {"dpi": "200", "font": "sans"}
SIM = dict(modalities=("image",), modality_effects={"image": 0.0}, unparsed=0.0)


@pytest.fixture(scope="module")
def base() -> pl.DataFrame:
    return simulate_table(120, EFF, seed=8, **SIM)


def set_correct(t: pl.DataFrame, where: pl.Expr, value: bool) -> pl.DataFrame:
    return t.with_columns(pl.when(where).then(pl.lit(value)).otherwise(pl.col("correct")).alias("correct"))


def assert_no_silent_nan(e) -> None:
    """Every missing number in an effect table is explained by a note."""
    for r in e.frame.iter_rows(named=True):
        gaps = [k for k in ("delta", "delta_ci_low", "delta_ci_high", "odds_ratio", "p", "p_adj")
                if r[k] is None or (isinstance(r[k], float) and math.isnan(r[k]))]
        if gaps:
            assert r["note"], (r, gaps)
    for r in e.tests.iter_rows(named=True):
        if r["p"] is None:
            assert r["note"], r


def assert_lpm(e, why: str = "separation") -> None:
    """An LPM-fallback table: labelled as such, no odds ratios, every joint chi2 a valid statistic."""
    assert e.method == f"gee-lpm ({why} fallback)"
    assert e.frame.get_column("note").str.starts_with("LPM fallback").all()
    assert e.frame.get_column("odds_ratio").is_null().all()
    for r in e.tests.iter_rows(named=True):
        assert r["chi2"] is not None and math.isfinite(r["chi2"]) and r["chi2"] >= 0 and r["p"] is not None, r


def test_non_reference_level_all_correct_switches_to_the_lpm(base):
    t = set_correct(base, pl.col("dpi") == "100", True)
    with pytest.warns(AnalysisWarning, match=r"separation: every dpi=100 row is correct"):
        e = effects(t, ["dpi", "font"], reference=REF)
    assert_lpm(e)
    r = e.frame.filter(pl.col("level") == "100").row(0, named=True)
    assert r["acc_level"] == 1.0 and r["delta"] == pytest.approx(1.0 - r["acc_reference"], abs=0.02)
    assert r["delta_ci_low"] < r["delta"] < r["delta_ci_high"] and r["p"] < 1e-6
    # nothing left the model: every level and both joint tests are there
    assert set(zip(e.frame["term"], e.frame["level"])) == {("dpi", "100"), ("dpi", "50"), ("font", "mono")}
    assert set(e.tests.get_column("term")) == {"dpi", "font"}
    assert_no_silent_nan(e)


def test_reference_level_all_correct_keeps_the_factor_in_the_lpm(base):
    t = set_correct(base, pl.col("dpi") == "200", True)
    with pytest.warns(AnalysisWarning, match=r"every dpi=200 \(the reference\) row is correct"):
        e = effects(t, ["dpi", "font"], reference=REF)
    assert_lpm(e)
    dpi = e.frame.filter(pl.col("term") == "dpi")
    assert dpi.height == 2 and (dpi.get_column("delta_ci_high") < 0).all()
    tests = {r["term"]: r for r in e.tests.iter_rows(named=True)}
    assert tests["dpi"]["df"] == 2 and tests["dpi"]["p"] < 1e-6
    assert_no_silent_nan(e)


def test_constant_interaction_cell_stays_in_the_lpm(base):
    t = set_correct(base, (pl.col("dpi") == "50") & (pl.col("font") == "mono"), False)
    with pytest.warns(AnalysisWarning, match=r"separation: cell dpi:font=50:mono is all wrong"):
        e = effects(t, ["dpi", "font"], reference=REF, interactions=2)
    assert_lpm(e)
    inter = e.frame.filter(pl.col("term") == "dpi:font")
    assert set(inter.get_column("level")) == {"100:mono", "50:mono"}
    assert inter.filter(pl.col("level") == "50:mono").get_column("delta").item() < 0
    assert {r["term"]: r["df"] for r in e.tests.iter_rows(named=True)}["dpi:font"] == 2
    assert_no_silent_nan(e)


def test_quasi_separation_found_after_the_fit_switches_to_the_lpm():
    # (200, sans) always right, (50, mono) always wrong, the other two cells mixed: no level is
    # constant, yet the logit MLE diverges along (+, -, -) (quasi-complete separation)
    rng = np.random.default_rng(0)
    rows = []
    for p in range(40):
        for dpi in ("200", "50"):
            for font in ("sans", "mono"):
                for _ in range(3):
                    ok = {("200", "sans"): True, ("50", "mono"): False}.get((dpi, font), bool(rng.random() < 0.5))
                    rows.append({"problem_id": f"p{p}", "modality": "image", "dpi": dpi, "font": font,
                                 "correct": ok})
    with pytest.warns(AnalysisWarning, match="gee-logit fit is degenerate"):
        e = effects(pl.DataFrame(rows), ["dpi", "font"], reference=REF)
    assert_lpm(e, "degenerate-fit")
    assert any("linear probability model" in w for w in e.warnings)
    assert_no_silent_nan(e)
    assert "LPM fallback (degenerate logit fit)" in e.to_markdown()


def test_single_problem_falls_back_to_plain_logit(base):
    one = base.filter(pl.col("problem_id") == base.get_column("problem_id")[0])
    rng = np.random.default_rng(1)
    one = pl.concat([one] * 8).with_columns(pl.Series("correct", rng.random(one.height * 8) < 0.6))
    with pytest.warns(AnalysisWarning, match="a single problem: clustering is impossible"):
        e = effects(one, ["dpi"], reference={"dpi": "200"})
    assert e.method == "logit" and e.cov_type == "naive" and e.n_problems == 1
    assert_no_silent_nan(e)


def test_few_problems_use_bias_reduced_covariance(base):
    few = base.filter(pl.col("problem_id").is_in(base.get_column("problem_id").unique().sort()[:20].implode()))
    with pytest.warns(AnalysisWarning, match="only 20 problems"):
        e = effects(few, ["dpi"], reference={"dpi": "200"})
    assert e.cov_type == "bias_reduced"
    robust = effects(few, ["dpi"], reference={"dpi": "200"}, cov_type="robust")
    # Mancl-DeRouen widens the intervals
    w = lambda x: (x.frame["or_ci_high"] / x.frame["or_ci_low"]).to_numpy()  # noqa: E731
    assert (w(e) > w(robust)).all()


def test_level_emptied_by_the_gate_is_left_out(base):
    t = base.with_columns(pl.when(pl.col("dpi") == "50").then(False).otherwise(pl.col("gate_passed"))
                          .alias("gate_passed"))
    with pytest.warns(AnalysisWarning, match=r"dpi: level\(s\) \['50'\] have no rows after gating"):
        e = effects(t, ["dpi", "font"], reference=REF)
    assert "50" not in e.frame.get_column("level").to_list()
    assert e.n_excluded == t.filter(pl.col("dpi") == "50").height


def test_reference_emptied_by_the_gate_drops_the_factor(base):
    t = base.with_columns(pl.when(pl.col("dpi") == "200").then(False).otherwise(pl.col("gate_passed"))
                          .alias("gate_passed"))
    with pytest.warns(AnalysisWarning, match="reference level '200' has no rows after gating"):
        e = effects(t, ["dpi", "font"], reference=REF)
    assert set(e.frame.get_column("term")) == {"font"}


def test_everything_gated_away_is_an_error(base):
    with pytest.raises(AnalysisError, match="no rows left after gating"):
        effects(base.with_columns(pl.lit(False).alias("gate_passed")), ["dpi"], reference=REF)


def test_factor_with_one_level(base):
    t = base.filter(pl.col("font") == "sans")
    with pytest.warns(AnalysisWarning, match="font: only one level"):
        e = effects(t, ["dpi", "font"], reference=REF)
    assert set(e.frame.get_column("term")) == {"dpi"}
    with pytest.raises(AnalysisError, match="nothing can be estimated"):
        effects(t, ["font"], reference={"font": "sans"})


def test_constant_outcome_is_an_error_naming_the_reason(base):
    with pytest.raises(AnalysisError, match="all .* rows after gating are correct"):
        effects(base.with_columns(pl.lit(True).alias("correct")), ["dpi"], reference=REF)


def test_aliased_factors_are_detected(base):
    t = base.with_columns(pl.col("dpi").cast(pl.String).replace({"200": "a", "100": "b", "50": "c"}).alias("size"))
    with pytest.warns(AnalysisWarning, match="aliased"):
        e = effects(t, ["dpi", "size"], reference={"dpi": "200", "size": "a"})
    assert set(e.frame.get_column("term")) == {"dpi"}
    assert_no_silent_nan(e)


def test_consistency_with_a_single_problem_has_no_interval_and_says_why():
    t = simulate_table(1, {"dpi": {"200": 0.0, "50": -1.0}}, seed=0)
    out = consistency(t, ["dpi"], n_boot=100)
    rer = out.filter((pl.col("metric") == "rer") & (pl.col("scope") == "overall") & ~pl.col("gated")).row(0, named=True)
    assert rer["ci_low"] is None and "single problem" in rer["note"]
