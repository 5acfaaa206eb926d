"""Separation (a level or cell all right / all wrong) and degenerate fits: the LPM fallback.

The shape is the offline reader baseline: always right at 200 dpi (the reference), always wrong at
50 dpi, noisy at 100 dpi where red text costs accuracy. The logit has no finite MLE there; the table
must come from the linear probability model and never show a collapsed fit as a result.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from hypothesis import given, settings, strategies as st
from scipy.special import expit
from scipy.stats import friedmanchisquare

import restplus.stats.engine.factorial as effects_mod
from restplus.stats import AnalysisWarning, effects, simulate_table
from restplus.stats.engine.degenerate import fit_problems, joint_wald
from restplus.stats.engine.design import build_design
from restplus.stats.engine.fit import Fit

REF = {"dpi": "200", "color": "black", "size": "12"}


def reader_like(n_problems: int, seed: int, *, red_cost: float = 1.3, deterministic_100: bool = False
                ) -> pl.DataFrame:
    """dpi 200 always right, 50 always wrong; at 100 dpi a problem-specific chance, lower for red."""
    rng = np.random.default_rng(seed)
    skill = rng.normal(0.0, 1.0, n_problems)
    rows = []
    for p in range(n_problems):
        for dpi in ("200", "100", "50"):
            for color in ("black", "red"):
                for size in ("12", "10"):
                    if dpi == "200":
                        ok = True
                    elif dpi == "50":
                        ok = False
                    elif deterministic_100:
                        ok = color == "black"
                    else:
                        ok = bool(rng.random() < expit(1.2 + skill[p] - (red_cost if color == "red" else 0.0)))
                    rows.append({"problem_id": f"p{p:03d}", "modality": "image", "dpi": dpi, "color": color,
                                 "size": size, "correct": ok})
    return pl.DataFrame(rows)


def per_problem_contrast(t: pl.DataFrame, assign: list[tuple[str, str]]) -> np.ndarray:
    """Each problem's observed contrast (difference, or difference of differences) of cell means."""
    k = len(assign)
    out = []
    for _, g in t.group_by("problem_id"):
        total = 0.0
        for mask in range(1 << k):
            cond = pl.lit(True)
            for i, (f, lv) in enumerate(assign):
                cond = cond & (pl.col(f) == (lv if mask >> i & 1 else REF[f]))
            sign = -1.0 if (k - bin(mask).count("1")) % 2 else 1.0
            total += sign * g.filter(cond).get_column("correct").mean()
        out.append(total)
    return np.array(out)


def assert_honest(e, t: pl.DataFrame) -> None:
    """The invariants of any reported table: no collapsed interval passed off as a result."""
    for r in e.frame.iter_rows(named=True):
        assert r["note"], r
        assert r["p"] is not None and 0.0 <= r["p"] <= 1.0, r
        lo, hi = r["delta_ci_low"], r["delta_ci_high"]
        assert lo is not None and hi is not None and lo <= r["delta"] + 1e-12 and r["delta"] <= hi + 1e-12, r
        if hi - lo < 1e-9:  # a zero-width CI only for a contrast that is the same in every problem
            assign = list(zip(r["term"].split(":"), r["level"].split(":")))
            d = per_problem_contrast(t, assign)
            assert np.ptp(d) < 1e-12 and d[0] == pytest.approx(r["delta"], abs=1e-12), (r, d)
            assert r["z"] is None and "model SE unusable" in r["note"]
        if r["z"] is not None:
            assert math.isfinite(r["z"]) and abs(r["z"]) < 1e3, r
        # the reference distribution is named: t(G - 1) for model rows, exact for the sign-test rows
        assert (r["dist"], r["df_denom"]) == (("exact", None) if r["z"] is None else ("t(G-1)", e.n_problems - 1)), r
    for r in e.tests.iter_rows(named=True):
        if r["chi2"] is not None:
            assert math.isfinite(r["chi2"]) and r["chi2"] >= 0, r
        assert r["chi2"] is not None or r["note"], r
        assert r["p"] is None or 0.0 <= r["p"] <= 1.0, r
        if r["p"] is None:
            expected = (None, None)
        elif "not a Wald test" in (r["note"] or ""):
            expected = ("friedman" if "Friedman" in r["note"] else "exact", None)
        else:
            expected = ("F(q,G-q)", e.n_problems - r["df"])
        assert (r["dist"], r["df_denom"]) == expected, r


@pytest.fixture(scope="module")
def reader() -> pl.DataFrame:
    return reader_like(40, seed=1)


def test_reader_shape_uses_the_lpm_and_keeps_every_factor_and_interaction(reader):
    with pytest.warns(AnalysisWarning, match=r"separation: .*every dpi=200 \(the reference\) row is correct"):
        e = effects(reader, ["dpi", "color"], reference=REF, interactions=2)
    assert e.method == "gee-lpm (separation fallback)" and e.cov_type == "robust"
    assert any("linear probability model" in w for w in e.warnings)
    assert e.frame.get_column("note").str.starts_with("LPM fallback (separation)").all()
    assert e.frame.select(pl.col("odds_ratio", "or_ci_low", "or_ci_high").is_null().all()).row(0) == (True,) * 3
    keys = set(zip(e.frame.get_column("term"), e.frame.get_column("level")))
    assert keys == {("dpi", "50"), ("dpi", "100"), ("color", "red"), ("dpi:color", "50:red"),
                    ("dpi:color", "100:red")}
    tests = {r["term"]: r for r in e.tests.iter_rows(named=True)}
    assert set(tests) == {"dpi", "color", "dpi:color"}
    assert tests["dpi"]["p"] < 0.01
    assert_honest(e, reader)
    # 50 vs 200 is -100 points in every problem: reported as such, with an exact test over 40 problems
    d50 = e.frame.filter(pl.col("level") == "50").row(0, named=True)
    assert d50["delta"] == -1.0 and d50["p"] < 1e-10 and "sign test over 40 problems" in d50["note"]
    # the planted red-at-100-dpi cost is found, with a real interval
    i100 = e.frame.filter(pl.col("level") == "100:red").row(0, named=True)
    assert i100["delta_ci_high"] < 0 < i100["delta_ci_high"] - i100["delta_ci_low"]
    assert i100["delta"] == pytest.approx(per_problem_contrast(reader, [("dpi", "100"), ("color", "red")]).mean(),
                                          abs=1e-9)
    assert "LPM fallback" in e.to_markdown() and "gee-lpm" in str(e)


def test_lpm_matches_statsmodels_gee_gaussian_on_the_same_design(reader):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        e = effects(reader, ["dpi", "color"], reference=REF, interactions=2, correction="none")
        pdf = reader.to_pandas().assign(correct=lambda d: d.correct.astype(float))
        res = smf.gee("correct ~ C(dpi, Treatment('200')) * C(color, Treatment('black'))", groups="problem_id",
                      data=pdf, family=sm.families.Gaussian(), cov_struct=sm.cov_struct.Exchangeable()).fit()
    rows = {(r["term"], r["level"]): r for r in e.frame.iter_rows(named=True)}
    name = "C(dpi, Treatment('200'))[T.100]:C(color, Treatment('black'))[T.red]"
    # an LPM interaction contrast is its coefficient: same estimate, same robust z
    assert rows[("dpi:color", "100:red")]["delta"] == pytest.approx(res.params[name], abs=1e-9)
    assert rows[("dpi:color", "100:red")]["z"] == pytest.approx(res.tvalues[name], rel=1e-6)
    # the colour row is the average marginal contrast over the data (predict with colour set)
    ame = res.predict(pdf.assign(color="red")).mean() - res.predict(pdf.assign(color="black")).mean()
    assert rows[("color", "red")]["delta"] == pytest.approx(ame, abs=1e-9)
    # the interaction's joint test: the 50:red coefficient is 0 in every problem (zero variance), so the
    # Wald test runs on the direction that varies, i.e. the 100:red coefficient alone
    test = e.tests.filter(pl.col("term") == "dpi:color").row(0, named=True)
    assert test["df"] == 1 and test["chi2"] == pytest.approx(res.tvalues[name] ** 2, rel=1e-6)
    assert "vary between problems" in test["note"]


def test_separated_factor_joint_test_is_friedman_when_the_lpm_covariance_is_singular(reader):
    e = effects(reader, ["dpi", "color"], reference=REF, interactions=2)
    test = e.tests.filter(pl.col("term") == "dpi").row(0, named=True)
    assert "Friedman" in test["note"] and "singular" in test["note"]
    acc = reader.group_by("problem_id", "dpi").agg(pl.col("correct").cast(pl.Float64).mean()).pivot(
        on="dpi", index="problem_id", values="correct")
    ref = friedmanchisquare(acc["200"].to_numpy(), acc["100"].to_numpy(), acc["50"].to_numpy())
    assert test["chi2"] == pytest.approx(ref.statistic) and test["p"] == pytest.approx(ref.pvalue)
    assert test["p"] < 1e-10 and test["df"] == 2


def test_more_factors_main_effects_only(reader):
    e = effects(reader, ["dpi", "color", "size"], reference=REF)
    assert e.method == "gee-lpm (separation fallback)"
    tests = {r["term"]: r for r in e.tests.iter_rows(named=True)}
    assert tests["dpi"]["p"] < 0.01 and tests["size"]["p"] > 0.01  # size is a null factor
    assert_honest(e, reader)


def test_few_problems_use_bias_reduced_lpm_and_exact_rows_are_honest_about_it():
    t = reader_like(5, seed=2)
    with pytest.warns(AnalysisWarning, match="only 5 problems"):
        e = effects(t, ["dpi", "color", "size"], reference=REF, interactions=2)
    assert e.cov_type == "bias_reduced"
    assert_honest(e, t)
    d50 = e.frame.filter(pl.col("level") == "50").row(0, named=True)
    assert d50["p"] == pytest.approx(2 * 0.5 ** 5)  # the exact floor with 5 problems, not a fake 1e-300


def test_fractional_design_exact_rows_compare_matched_cells():
    # colours only rendered at 200 dpi, where red = black in every problem; 50 dpi (black only) always
    # wrong. Pooled, red looks +50 points better than black; matched, it is exactly 0.
    rows = []
    rng = np.random.default_rng(3)
    for p in range(30):
        good = bool(rng.random() < 0.8)
        for rep in range(2):
            rows += [{"problem_id": f"p{p}", "modality": "image", "dpi": "200", "color": c, "correct": good}
                     for c in ("black", "red")]
            rows.append({"problem_id": f"p{p}", "modality": "image", "dpi": "50", "color": "black", "correct": False})
    t = pl.DataFrame(rows)
    e = effects(t, ["dpi", "color"], reference={"dpi": "200", "color": "black"})
    red = e.frame.filter(pl.col("term") == "color").row(0, named=True)
    assert red["acc_level"] - red["acc_reference"] > 0.3  # the confounded pooled comparison
    assert red["delta"] == 0.0 and red["delta_ci_low"] == red["delta_ci_high"] == 0.0 and red["p"] == 1.0
    assert "matched" in red["note"]


# --- degenerate fits are detected, never reported ------------------------------------------------------

def collapsed(fit_fn):
    """Wrap a back end so its covariance collapses (SEs ~1e-10), as statsmodels does on separation."""
    def fit(*args, **kwargs):
        f = fit_fn(*args, **kwargs)
        return dataclasses.replace(f, cov=f.cov * 1e-20)
    return fit


def test_collapsed_logit_is_detected_and_refitted_as_lpm(monkeypatch):
    t = simulate_table(60, {"dpi": {"200": 0.0, "50": -1.0}, "color": {"black": 0.0, "red": -0.4}}, seed=4,
                       modalities=("image",), unparsed=0.0)
    ref = {"dpi": "200", "color": "black"}
    clean = effects(t, ["dpi", "color"], reference=ref)
    assert clean.method == "gee-logit" and clean.frame.get_column("note").is_null().all()
    monkeypatch.setattr(effects_mod, "fit_gee", collapsed(effects_mod.fit_gee))
    with pytest.warns(AnalysisWarning, match=r"gee-logit fit is degenerate \(Intercept: collapsed SE"):
        e = effects(t, ["dpi", "color"], reference=ref)
    assert e.method == "gee-lpm (degenerate-fit fallback)"
    assert e.frame.get_column("note").str.starts_with("LPM fallback (degenerate logit fit)").all()
    assert e.frame.get_column("odds_ratio").is_null().all()
    assert_honest(e, t)
    # the LPM deltas agree with the (valid) logit deltas of the unpatched fit to within sampling noise
    for a, b in zip(e.frame.get_column("delta"), clean.frame.get_column("delta")):
        assert a == pytest.approx(b, abs=0.03)


def test_collapsed_lpm_rows_and_tests_fall_back_to_exact_comparisons(monkeypatch, reader):
    monkeypatch.setattr(effects_mod, "fit_gee_lpm", collapsed(effects_mod.fit_gee_lpm))
    e = effects(reader, ["dpi", "color"], reference=REF)
    assert e.frame.get_column("z").is_null().all()
    assert e.frame.get_column("note").str.contains("model SE unusable").all()
    for r in e.tests.iter_rows(named=True):
        assert r["note"] and "not a Wald test" in r["note"]
    tests = {r["term"]: r for r in e.tests.iter_rows(named=True)}
    assert tests["dpi"]["p"] < 1e-10 and "Friedman" in tests["dpi"]["note"]
    assert "sign test" in tests["color"]["note"]  # two levels: the sign test is the exact joint test


def test_fit_problems_names_every_kind_of_degeneracy():
    t = reader_like(10, seed=5)
    design = build_design(t, ["dpi"], {"dpi": ["200", "100", "50"]}, {"dpi": "200"})
    p = design.X.shape[1]

    class Result:  # stands in for a statsmodels result: only its Wald statistic matters here
        def __init__(self, chi2: float) -> None:
            self.chi2 = chi2

        def wald_test(self, R, cov_p, scalar, use_f):
            return SimpleNamespace(statistic=self.chi2, pvalue=0.5)

    def fit(params, cov, link="logit", chi2=1.0):
        return Fit(np.asarray(params, float), np.asarray(cov, float), design.X, None, Result(chi2), "x", "robust",
                   link)

    ok_cov = np.diag([0.04] * p)
    cases = [
        (fit([0.5, np.nan, -1.0], ok_cov), "dpi=100: non-finite estimate"),
        (fit([0.5, -0.4, -1.0], np.diag([0.04, -0.01, 0.04])), "dpi=100: non-finite or negative variance"),
        (fit([0.5, -0.4, -1.0], np.diag([0.04, 1e-16, 0.04])), "dpi=100: collapsed SE"),
        (fit([0.5, -0.4, -25.0], np.diag([0.04, 0.04, 9.0])), "dpi=50: log odds ratio -25.0 at the boundary"),
        (fit([0.5, -0.4, -5.0], np.diag([0.04, 0.04, 1e-11])), "dpi=50: |z| = "),
        (fit([0.5, -0.4, -1.0], ok_cov, chi2=-1e-17), "joint test of dpi: Wald chi2 = -1e-17 is not a valid"),
        (fit([0.5, -0.4, -1.0], ok_cov, chi2=float("nan")), "joint test of dpi: Wald chi2 = nan is not a valid"),
    ]
    assert fit_problems(fit([0.5, -0.4, -1.0], ok_cov), design) == []  # a sound fit passes
    for f, expected in cases:
        assert any(expected in why for why in fit_problems(f, design)), (expected, fit_problems(f, design))
    # an LPM coefficient far from 0 is not a boundary problem; a singular joint block still is
    lpm = fit([0.9, -0.4, -0.9], np.array([[0.01, 0, 0], [0, 0.01, 0.01], [0, 0.01, 0.01]]), link="identity")
    assert fit_problems(lpm, design) == ["joint test of dpi: the covariance of its 2 coefficient(s) is singular "
                                         "(rank 1)"]
    res = joint_wald(lpm, design.term_columns("dpi"), reduced_ok=True)
    assert res.chi2 is None and res.problem  # the zero-variance direction (1, -1) has estimate 0.5, not 0


@settings(database=None, derandomize=True, max_examples=12, deadline=None)
@given(n_problems=st.integers(6, 25), seed=st.integers(0, 10_000), red_cost=st.floats(0.0, 2.0),
       interactions=st.sampled_from([1, 2]), deterministic=st.booleans())
def test_separated_tables_are_always_reported_honestly(n_problems, seed, red_cost, interactions, deterministic):
    t = reader_like(n_problems, seed, red_cost=red_cost, deterministic_100=deterministic)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AnalysisWarning)
        e = effects(t, ["dpi", "color"], reference=REF, interactions=interactions, n_boot=200)
    assert e.method.startswith("gee-lpm")
    assert_honest(e, t)
    assert set(e.tests.get_column("term")) == ({"dpi", "color", "dpi:color"} if interactions == 2 else
                                               {"dpi", "color"})
