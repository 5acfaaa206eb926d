"""Small-sample inference for cluster-robust fits: t(G - 1) rows, F(q, G - 1) joint tests, labelled.

Expected values are computed independently: the z / chi2 from statsmodels' own GEE on the same formula,
the reference distributions from scipy.stats.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from hypothesis import given, settings, strategies as st
from scipy.special import expit
from scipy.stats import chi2 as chi2_dist, f as f_dist, norm, t as t_dist

from restplus.errors import AnalysisError
from restplus.stats import effects, simulate_table
from restplus.stats.engine.small_sample import Reference

REF = {"dpi": "200", "color": "black", "font": "sans"}
FONTS = ("sans", "mono", "serif")


def separated(n_problems: int, seed: int, *, reps: int = 3, red: float = 0.0, slope_sd: float = 0.8,
              fonts: tuple[str, ...] = ("sans",), dpi50_always_wrong: bool = True) -> pl.DataFrame:
    """dpi 50 always wrong (separation: the LPM fallback); at 200 dpi a problem-specific chance, shifted
    by ``red`` (plus a problem-specific red slope) for red text and by a random amount per font."""
    rng = np.random.default_rng(seed)
    u, slope = rng.normal(0, 1, n_problems), rng.normal(0, slope_sd, n_problems)
    font_eff = {f: (0.0 if i == 0 else rng.normal(0, 0.5)) for i, f in enumerate(fonts)}
    rows = []
    for p in range(n_problems):
        for dpi in ("200", "50"):
            for color in ("black", "red"):
                for font in fonts:
                    eta = 0.5 + u[p] + font_eff[font] + ((red + slope[p]) if color == "red" else 0.0)
                    if dpi == "50":
                        eta = -np.inf if dpi50_always_wrong else eta - 1.0
                    for _ in range(reps):
                        rows.append((f"p{p:03d}", "image", dpi, color, font, bool(rng.random() < expit(eta))))
    return pl.DataFrame(rows, schema=["problem_id", "modality", "dpi", "color", "font", "correct"], orient="row")


def quiet_effects(t: pl.DataFrame, factors: list[str], **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return effects(t, factors, reference={f: REF[f] for f in factors}, **kw)


def sm_gee(t: pl.DataFrame, formula: str, family, cov_type: str):
    pdf = t.to_pandas().assign(correct=lambda d: d.correct.astype(float))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return smf.gee(formula, groups="problem_id", data=pdf, family=family,
                       cov_struct=sm.cov_struct.Exchangeable()).fit(cov_type=cov_type)


def row(e, term: str, level: str) -> dict:
    return e.frame.filter((pl.col("term") == term) & (pl.col("level") == level)).row(0, named=True)


def test_lpm_row_with_6_problems_uses_t5_for_p_and_interval():
    t = separated(6, seed=1, red=-0.8)
    e = quiet_effects(t, ["dpi", "color"], correction="none")
    assert e.method == "gee-lpm (separation fallback)" and e.cov_type == "bias_reduced"
    r = row(e, "color", "red")
    assert r["dist"] == "t(G-1)" and r["df_denom"] == 5
    res = sm_gee(t, "correct ~ C(dpi, Treatment('200')) + C(color, Treatment('black'))", sm.families.Gaussian(),
                 "bias_reduced")
    name = "C(color, Treatment('black'))[T.red]"
    # a main-effects LPM's average contrast is its coefficient: same estimate and z as statsmodels
    assert r["delta"] == pytest.approx(res.params[name], abs=1e-9)
    assert r["z"] == pytest.approx(res.tvalues[name], rel=1e-6)
    assert r["p"] == pytest.approx(2 * t_dist.sf(abs(res.tvalues[name]), 5), rel=1e-9)
    assert r["p"] > 2 * norm.sf(abs(r["z"])) * 1.2  # t(5) is far from normal here
    half = t_dist.ppf(0.975, 5) * res.bse[name]
    assert -1 < r["delta_ci_low"] and r["delta_ci_high"] < 1  # not clipped, so comparable
    assert (r["delta_ci_low"], r["delta_ci_high"]) == pytest.approx((r["delta"] - half, r["delta"] + half), rel=1e-6)


def test_lpm_with_200_problems_is_essentially_normal():
    t = separated(200, seed=2, red=-0.4, reps=1)
    e = quiet_effects(t, ["dpi", "color"], correction="none")
    assert e.method.startswith("gee-lpm") and e.cov_type == "robust"
    z975 = norm.ppf(0.975)
    for r in e.frame.iter_rows(named=True):
        assert r["dist"] == "t(G-1)" and r["df_denom"] == 199
        p_normal = 2 * norm.sf(abs(r["z"]))
        assert abs(r["p"] - p_normal) < 0.01 and r["p"] >= p_normal
        half = (r["delta_ci_high"] - r["delta_ci_low"]) / 2
        assert half / (z975 * abs(r["delta"] / r["z"])) == pytest.approx(1.0, abs=0.01)


def test_two_df_joint_test_with_8_problems_is_f_2_7():
    t = separated(8, seed=3, fonts=FONTS, red=-0.5)
    e = quiet_effects(t, ["dpi", "color", "font"], correction="none")
    assert e.method.startswith("gee-lpm")
    test = e.tests.filter(pl.col("term") == "font").row(0, named=True)
    # Hotelling-type reference: F = (G - q) / ((G - 1) q) * W on (q, G - q) = (2, 6)
    assert test["df"] == 2 and test["dist"] == "F(q,G-q)" and test["df_denom"] == 6
    res = sm_gee(t, "correct ~ C(dpi, Treatment('200')) + C(color, Treatment('black')) + "
                    "C(font, Treatment('sans'))", sm.families.Gaussian(), "bias_reduced")
    names = list(res.params.index)
    R = np.zeros((2, len(names)))
    for i, lv in enumerate(("mono", "serif")):
        R[i, names.index(f"C(font, Treatment('sans'))[T.{lv}]")] = 1.0
    wald = float(res.wald_test(R, scalar=True, use_f=False).statistic)
    assert test["chi2"] == pytest.approx(wald, rel=1e-6)  # chi2 stays the Wald statistic
    assert test["p"] == pytest.approx(f_dist.sf(6 / (7 * 2) * wald, 2, 6), rel=1e-9)
    assert test["p"] > f_dist.sf(wald / 2, 2, 7)  # more cautious than W / q on (q, G - 1)
    assert test["p"] > chi2_dist.sf(wald, 2)


@pytest.mark.slow
@pytest.mark.parametrize("n_problems, cov_type, n_sims, t_max, normal_min", [(6, "robust", 200, 0.08, 0.09),
                                                                              (10, "auto", 100, 0.10, 0.0)])
def test_null_rejection_with_few_problems_is_honest_under_t(n_problems, cov_type, n_sims, t_max, normal_min):
    """color has no average effect (problem-specific slopes around 0); dpi is separated, so every table
    is an LPM fallback with few clusters. The plain sandwich with 6 problems is where the reference
    matters most: normal p-values reject about twice as often as they should."""
    rej_t, rej_normal = [], []
    for s in range(n_sims):
        e = quiet_effects(separated(n_problems, seed=s), ["dpi", "color"], cov_type=cov_type, n_boot=0)
        r = row(e, "color", "red")
        assert e.method.startswith("gee-lpm") and r["dist"] == "t(G-1)" and r["df_denom"] == n_problems - 1
        rej_t.append(r["p"] < 0.05)
        rej_normal.append(2 * norm.sf(abs(r["z"])) < 0.05)
    rate_t, rate_normal = float(np.mean(rej_t)), float(np.mean(rej_normal))
    # measured: 6 problems, robust: t 0.04, normal 0.11 (600 sims: 0.06 vs 0.13); 10 problems, auto
    # (bias-reduced): t 0.05, normal 0.06
    assert rate_t <= t_max and rate_t <= rate_normal and rate_normal >= normal_min, (rate_t, rate_normal)


def test_logit_path_uses_t_and_f_as_well():
    t = separated(12, seed=4, fonts=FONTS, red=-0.6, dpi50_always_wrong=False)
    e = quiet_effects(t, ["dpi", "color", "font"], correction="none")
    assert e.method == "gee-logit" and e.cov_type == "bias_reduced"
    res = sm_gee(t, "correct ~ C(dpi, Treatment('200')) + C(color, Treatment('black')) + "
                    "C(font, Treatment('sans'))", sm.families.Binomial(), "bias_reduced")
    r = row(e, "color", "red")
    name = "C(color, Treatment('black'))[T.red]"
    assert r["dist"] == "t(G-1)" and r["df_denom"] == 11
    assert r["p_coef"] == pytest.approx(2 * t_dist.sf(abs(res.tvalues[name]), 11), rel=1e-6)
    assert r["p"] == pytest.approx(2 * t_dist.sf(abs(r["z"]), 11), rel=1e-9)  # p tests the delta
    q = t_dist.ppf(0.975, 11)
    beta, se = res.params[name], res.bse[name]
    assert (r["or_ci_low"], r["or_ci_high"]) == pytest.approx((np.exp(beta - q * se), np.exp(beta + q * se)), rel=1e-6)
    for test in e.tests.iter_rows(named=True):
        q = test["df"]
        assert test["dist"] == "F(q,G-q)" and test["df_denom"] == 12 - q
        assert test["p"] == pytest.approx(f_dist.sf((12 - q) / (11 * q) * test["chi2"], q, 12 - q), rel=1e-9)


def test_model_based_covariances_keep_the_normal_reference():
    t = separated(12, seed=5, fonts=FONTS, dpi50_always_wrong=False)
    naive = quiet_effects(t, ["dpi", "color"], cov_type="naive", correction="none")
    for r in naive.frame.iter_rows(named=True):
        assert r["dist"] == "normal" and r["df_denom"] is None
        assert r["p"] == pytest.approx(2 * norm.sf(abs(r["z"])), rel=1e-12)
    for test in naive.tests.iter_rows(named=True):
        assert test["dist"] == "chi2" and test["df_denom"] is None
        assert test["p"] == pytest.approx(chi2_dist.sf(test["chi2"], test["df"]), rel=1e-9)
    one = simulate_table(1, {"dpi": {"200": 0.0, "50": -1.0}}, seed=6, modalities=("image",), unparsed=0.0)
    one = pl.concat([one] * 20).with_columns(pl.Series("correct", np.random.default_rng(6).random(40) < 0.6))
    single = quiet_effects(one, ["dpi"])
    assert single.method == "logit" and single.frame.get_column("dist").to_list() == ["normal"]


def test_fe_logit_takes_df_from_the_informative_problems():
    t = separated(15, seed=7, dpi50_always_wrong=False, reps=4)
    informative = t.group_by("problem_id").agg(pl.col("correct").mean().alias("a")).filter(
        (pl.col("a") > 0) & (pl.col("a") < 1)).height
    e = quiet_effects(t, ["dpi", "color"], method="fe-logit")
    assert e.frame.get_column("df_denom").to_list() == [informative - 1] * e.frame.height
    assert e.tests.get_column("df_denom").to_list() == [informative - q for q in e.tests.get_column("df")]


def test_exact_rows_and_tests_are_labelled():
    # the reader shape: 200 dpi always right, 50 always wrong, 100 noisy (red worse). The 50-vs-200
    # contrast is -1 in every problem, so its row is the exact comparison (sign test)
    t = separated(9, seed=8, red=-1.0)
    t = pl.concat([t.with_columns(pl.lit(True).alias("correct")).filter(pl.col("dpi") == "50")
                   .with_columns(pl.lit("200").alias("dpi")),
                   t.filter(pl.col("dpi") == "50"),
                   t.filter(pl.col("dpi") == "200").with_columns(pl.lit("100").alias("dpi"))])
    e = quiet_effects(t, ["dpi", "color"], interactions=2, n_boot=100)
    d50 = row(e, "dpi", "50")
    assert d50["z"] is None and d50["dist"] == "exact" and d50["df_denom"] is None
    assert d50["p"] == pytest.approx(2 * 0.5 ** 9)
    i100 = row(e, "dpi:color", "100:red")
    assert i100["z"] is not None and i100["dist"] == "t(G-1)" and i100["df_denom"] == 8
    tests = {r["term"]: r for r in e.tests.iter_rows(named=True)}
    assert tests["dpi"]["dist"] == "friedman" and tests["dpi"]["chi2"] is not None
    q = tests["dpi:color"]["df"]
    assert tests["dpi:color"]["dist"] == "F(q,G-q)" and tests["dpi:color"]["df_denom"] == 9 - q


def test_renderings_name_the_reference():
    t = separated(8, seed=3, fonts=FONTS, red=-0.5)
    e = quiet_effects(t, ["dpi", "color", "font"])
    md, text, tex = e.to_markdown(), str(e), e.tests_to_latex()
    assert "t(7) reference" in md and "t(7) reference" in text
    assert "F(2, 6)" in md and "F(1, 7)" in text and "F(2, 6)" in tex
    back = pl.read_csv(io.StringIO(e.to_csv()))
    assert set(back.get_column("dist")) == {"t(G-1)"} and set(back.get_column("df_denom")) == {7}


@settings(database=None, derandomize=True, max_examples=40, deadline=None)
@given(z=st.floats(-30, 30), df=st.one_of(st.none(), st.integers(1, 500)), ci=st.floats(0.5, 0.999))
def test_reference_is_one_family(z, df, ci):
    ref = Reference(df)
    # a 1-df joint test is the square of a row's statistic: F(1, v) = t(v)^2 and chi2(1) = z^2
    assert ref.p_joint(z * z, 1) == pytest.approx(ref.p_row(z), rel=1e-6, abs=1e-300)
    # the Hotelling-type reference is never less cautious than W / q on (q, G - 1)
    if df is not None and df + 1 > 3:
        w = z * z * 3
        assert ref.p_joint(w, 3) >= f_dist.sf(w / 3, 3, df) - 1e-12
    # the row's interval and its p agree: |z| at the critical value is p = 1 - ci
    assert ref.p_row(ref.critical(ci)) == pytest.approx(1 - ci, rel=1e-6)
    if df is not None:  # t is wider than the normal, and tends to it
        assert ref.critical(ci) >= Reference(None).critical(ci)
        assert Reference(10 ** 6).critical(ci) == pytest.approx(Reference(None).critical(ci), rel=1e-5)


def test_reference_needs_two_clusters():
    with pytest.raises(AnalysisError, match="at least 2 clusters"):
        Reference(0)
