"""Consistency metrics on hand-built tables, identities on random tables, bootstrap behaviour."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings, strategies as st
from statsmodels.stats.inter_rater import cohens_kappa, fleiss_kappa

from restplus.errors import AnalysisError, UnknownNameError
from restplus.stats import AnalysisWarning, consistency, simulate_table
from restplus.stats.bootstrap import kappa_from_sums
from restplus.stats.metrics import _fleiss_from_sums


def row(pid, modality, dpi, answer, gold, gate=None, prompt_type="solve"):
    return {"problem_id": pid, "prompt_type": prompt_type, "modality": modality, "dpi": dpi, "answer": answer,
            "correct": answer == gold, "gate_passed": gate}


def hand_table() -> pl.DataFrame:
    rows = [
        # p1: gold 4. (p1,200) all "4" and correct; (p1,50) image wrong, mixed unparsed
        row("p1", "text", None, "4", "4"),
        row("p1", "image", "200", "4", "4", True), row("p1", "mixed", "200", "4", "4", True),
        row("p1", "image", "50", "5", "4", True), row("p1", "mixed", "50", None, "4", True),
        # p2: gold 3. (p2,200) all "7": consistent but wrong; (p2,50) only image right (gate fails)
        row("p2", "text", None, "7", "3"),
        row("p2", "image", "200", "7", "3", True), row("p2", "mixed", "200", "7", "3", True),
        row("p2", "image", "50", "3", "3", False), row("p2", "mixed", "50", "2", "3", True),
        # p3: gold 1. text unparsed; (p3,200) all unparsed: NOT equivalent; (p3,50) image+mixed right
        row("p3", "text", None, None, "1"),
        row("p3", "image", "200", None, "1", True), row("p3", "mixed", "200", None, "1", True),
        row("p3", "image", "50", "1", "1", True), row("p3", "mixed", "50", "1", "1", True),
        # an OCR prompt row must be ignored
        row("p3", "image", "50", "garbage", "1", True, prompt_type="ocr"),
    ]
    return pl.DataFrame(rows)


def value(frame, metric, scope="overall", level=None, gated=False):
    sel = frame.filter((pl.col("metric") == metric) & (pl.col("scope") == scope) & (pl.col("gated") == gated))
    if level is not None:
        sel = sel.filter(pl.col("level") == level)
    assert sel.height == 1, (metric, scope, level, gated, sel)
    return sel.row(0, named=True)


@pytest.fixture(scope="module")
def hand() -> pl.DataFrame:
    return consistency(hand_table(), ["dpi"], n_boot=200, seed=1)


# Expected values worked out by hand from the comments in hand_table (6 units: 3 problems x 2 dpi).
HAND_OVERALL = {"rer": 2 / 6, "mmc": 4 / 6, "all_correct": 1 / 6, "cfr": 3 / 4, "acc_text": 2 / 6,
                "acc_image": 3 / 6, "acc_mixed": 2 / 6, "agree_text_image": 2 / 6, "agree_image_mixed": 3 / 6,
                "kappa_text_image": 0.0, "gate_pass": 5 / 6}


@pytest.mark.parametrize("metric,expected", sorted(HAND_OVERALL.items()))
def test_overall_metrics_match_hand_computation(hand, metric, expected):
    assert value(hand, metric)["value"] == pytest.approx(expected)


@pytest.mark.parametrize("level,metric,expected", [
    ("200", "rer", 2 / 3), ("200", "mmc", 1 / 3), ("200", "all_correct", 1 / 3), ("200", "cfr", 0.0),
    ("50", "rer", 0.0), ("50", "mmc", 1.0), ("50", "all_correct", 0.0), ("50", "cfr", 1.0),
])
def test_per_level_metrics(hand, level, metric, expected):
    r = value(hand, metric, scope="factor", level=level)
    assert r["value"] == pytest.approx(expected)
    assert r["factor"] == "dpi"


def test_cfr_denominator_counts_only_units_solved_somewhere(hand):
    r = value(hand, "cfr")
    assert (r["n_units"], r["n_problems"]) == (4, 3)
    assert value(hand, "rer")["n_units"] == 6


def test_gated_metrics_drop_the_unit_whose_gate_failed(hand):
    # (p2,50) fails the gate: 5 units remain, its RER/MMC contributions (0 / 1) leave
    assert value(hand, "rer", gated=True)["value"] == pytest.approx(2 / 5)
    assert value(hand, "mmc", gated=True)["value"] == pytest.approx(3 / 5)
    assert value(hand, "cfr", gated=True)["value"] == pytest.approx(2 / 3)
    assert hand.filter(pl.col("gated") & (pl.col("metric") == "gate_pass")).height == 0


def test_cell_scope_equals_factor_scope_for_one_factor(hand):
    cell = value(hand, "rer", scope="cell", level="50")
    assert cell["value"] == value(hand, "rer", scope="factor", level="50")["value"]


def test_intervals_contain_estimate_and_are_seeded(hand):
    again = consistency(hand_table(), ["dpi"], n_boot=200, seed=1)
    other = consistency(hand_table(), ["dpi"], n_boot=200, seed=2)
    assert again.equals(hand)
    assert not other.equals(hand)
    rows = hand.filter(pl.col("ci_low").is_not_null())
    assert rows.height > 20
    assert (rows.get_column("ci_low") <= rows.get_column("value") + 1e-12).all()
    assert (rows.get_column("value") <= rows.get_column("ci_high") + 1e-12).all()


def test_bootstrap_interval_width_shrinks_with_more_problems():
    eff = {"dpi": {"200": 0.0, "50": -1.0}}
    small = consistency(simulate_table(40, eff, seed=1), ["dpi"], n_boot=300, scopes=["overall"], gated="ungated")
    big = consistency(simulate_table(640, eff, seed=1), ["dpi"], n_boot=300, scopes=["overall"], gated="ungated")
    w_small = value(small, "rer")["ci_high"] - value(small, "rer")["ci_low"]
    w_big = value(big, "rer")["ci_high"] - value(big, "rer")["ci_low"]
    # sqrt(16) = 4x more problems -> about 4x narrower; allow generous slack
    assert 2.5 < w_small / w_big < 6.5


def test_by_model_splits_and_mixed_models_without_by_are_refused():
    eff = {"dpi": {"200": 0.0, "50": -1.0}}
    two = pl.concat([simulate_table(30, eff, seed=1, model="a"), simulate_table(30, eff, seed=2, model="b")])
    with pytest.raises(AnalysisError, match="mixes 2 models"):
        consistency(two, ["dpi"], n_boot=0)
    out = consistency(two, ["dpi"], by=["model"], n_boot=0)
    alone = consistency(two.filter(pl.col("model") == "b"), ["dpi"], n_boot=0)
    b = out.filter(pl.col("model") == "b").drop("model")
    assert b.select("metric", "value").equals(alone.select("metric", "value"))


def test_duplicate_rows_name_the_unit():
    t = hand_table()
    with pytest.raises(AnalysisError, match=r"more than one image row.*p1"):
        consistency(pl.concat([t, t.filter((pl.col("problem_id") == "p1") & (pl.col("modality") == "image"))]),
                    ["dpi"], n_boot=0)


def test_incomplete_units_are_dropped_with_a_warning():
    t = hand_table().filter(~((pl.col("problem_id") == "p1") & (pl.col("modality") == "mixed")
                              & (pl.col("dpi") == "50")))
    with pytest.warns(AnalysisWarning, match="1 of 6 unit"):
        out = consistency(t, ["dpi"], n_boot=0)
    assert value(out, "rer")["n_units"] == 5


def test_input_validation_messages():
    t = hand_table()
    with pytest.raises(UnknownNameError, match="Did you mean: dpi"):
        consistency(t, ["dpii"], n_boot=0)
    with pytest.raises(AnalysisError, match="fill_null"):
        consistency(t.with_columns(pl.when(pl.col("modality") == "image").then(None).otherwise(pl.col("dpi"))
                                   .alias("dpi")), ["dpi"], n_boot=0)
    with pytest.raises(AnalysisError, match="correct = null"):
        consistency(t.with_columns(pl.lit(None, dtype=pl.Boolean).alias("correct")), ["dpi"], n_boot=0)
    with pytest.raises(AnalysisError, match="at least two"):
        consistency(t.filter(pl.col("modality") == "image"), ["dpi"], n_boot=0)
    with pytest.raises(AnalysisError, match="factors must be a list"):
        consistency(t, "dpi", n_boot=0)


def test_pandas_input_gives_the_same_result(hand):
    out = consistency(hand_table().to_pandas(), ["dpi"], n_boot=200, seed=1)
    assert out.equals(hand)


def test_no_factors_plain_rest_table():
    t = hand_table().filter(pl.col("dpi").is_null() | (pl.col("dpi") == "200")).drop("dpi")
    out = consistency(t, [], n_boot=0)
    assert value(out, "rer")["value"] == pytest.approx(2 / 3)
    assert set(out.get_column("scope").unique()) == {"overall"}


def test_fleiss_kappa_three_modalities_matches_statsmodels():
    t = simulate_table(60, {"dpi": {"200": 0.0, "50": -1.0}}, seed=5)
    out = consistency(t, ["dpi"], n_boot=0, scopes=["overall"], gated="ungated")
    # by hand: per unit (problem x dpi), how many of text / image / mixed are correct
    text = t.filter(pl.col("modality") == "text").select("problem_id", pl.col("correct").alias("c_text"))
    vis = t.filter(pl.col("modality") != "text").pivot(on="modality", index=["problem_id", "dpi"], values="correct")
    units = vis.join(text, on="problem_id")
    k = (units["c_text"].cast(int) + units["image"].cast(int) + units["mixed"].cast(int)).to_numpy()
    assert value(out, "fleiss_kappa")["value"] == pytest.approx(fleiss_kappa(np.column_stack([k, 3 - k])))
    # vectorised replicate formula agrees with statsmodels on random count tables
    rng = np.random.default_rng(0)
    for _ in range(20):
        k = rng.integers(0, 4, size=50)
        sm = fleiss_kappa(np.column_stack([k, 3 - k]))
        ours = _fleiss_from_sums(np.array(50.0), np.array(float(k.sum())), np.array(float((k * k).sum())), 3)
        assert float(ours) == pytest.approx(sm)


def test_vectorised_kappa_matches_statsmodels():
    rng = np.random.default_rng(0)
    for _ in range(50):
        n11, n10, n01, n00 = rng.integers(1, 30, size=4)
        n = n11 + n10 + n01 + n00
        expected = cohens_kappa(np.array([[n11, n10], [n01, n00]]), return_results=False)
        got = kappa_from_sums(np.array(float(n)), np.array(float(n11)), np.array(float(n10)), np.array(float(n01)))
        assert float(got) == pytest.approx(expected)


def test_constant_correctness_gives_undefined_kappa_with_a_note():
    t = hand_table().with_columns(pl.lit(True).alias("correct"))
    out = consistency(t, ["dpi"], n_boot=50)
    r = value(out, "kappa_text_image")
    assert r["value"] is None and "kappa undefined" in r["note"]


# --- identities on random tables ------------------------------------------------------------------

answers = st.sampled_from(["a", "b", "c", None])


@st.composite
def random_tables(draw):
    n_prob = draw(st.integers(1, 6))
    n_cond = draw(st.integers(1, 3))
    rows = []
    for p in range(n_prob):
        gold = "a"
        rows.append(row(f"p{p}", "text", None, draw(answers), gold))
        for c in range(n_cond):
            for m in ("image", "mixed"):
                rows.append(row(f"p{p}", m, str(c), draw(answers), gold, draw(st.booleans())))
    return pl.DataFrame(rows)


@pytest.mark.filterwarnings("ignore::restplus.stats.AnalysisWarning")  # e.g. no unit passes the gate
@settings(database=None, derandomize=True, max_examples=60, deadline=None)
@given(random_tables())
def test_identities_on_random_tables(t):
    out = consistency(t, ["dpi"], n_boot=0)
    for (scope, level, gated), grp in out.group_by(["scope", "level", "gated"]):
        v = {r["metric"]: r["value"] for r in grp.iter_rows(named=True)}
        mmc, allc, rer = v["mmc"], v["all_correct"], v["rer"]
        assert rer >= allc - 1e-12  # all correct => every answer equals gold => identical
        assert allc <= min(v["acc_text"], v["acc_image"], v["acc_mixed"]) + 1e-12
        assert mmc >= max(v["acc_text"], v["acc_image"], v["acc_mixed"]) - 1e-12
        if mmc > 0:
            assert v["cfr"] == pytest.approx((mmc - allc) / mmc)
        else:
            assert v["cfr"] is None


def test_vectorised_percentiles_match_numpy_nanquantile():
    from restplus.stats.bootstrap import bootstrap_weights, percentile_ci

    rng = np.random.default_rng(3)
    reps = rng.normal(size=(500, 7))
    reps[rng.random(reps.shape) < 0.1] = np.nan
    reps[:, 3] = np.nan  # an all-NaN column stays NaN
    lo, hi, share = percentile_ci(reps, 0.9)
    with np.errstate(all="ignore"), __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("ignore", RuntimeWarning)
        np.testing.assert_allclose(lo, np.nanquantile(reps, 0.05, axis=0), equal_nan=True)
        np.testing.assert_allclose(hi, np.nanquantile(reps, 0.95, axis=0), equal_nan=True)
    assert share[3] == 1.0 and 0.05 < share[0] < 0.15
    w = bootstrap_weights(40, 300, seed=9)
    assert w.shape == (300, 40) and (w.sum(axis=1) == 40).all()
    assert np.array_equal(w, bootstrap_weights(40, 300, seed=9))
    assert abs(w.mean() - 1.0) < 1e-9 and 0.8 < w.var() < 1.2  # multinomial(n, 1/n): variance ~ 1


def test_a_table_without_the_text_baseline_needs_explicit_modalities():
    visual = hand_table().filter(pl.col("modality") != "text")
    with pytest.raises(AnalysisError, match=r"no text rows.*modalities=\['image', 'mixed'\]"):
        consistency(visual, ["dpi"], n_boot=0)
    out = consistency(visual, ["dpi"], modalities=["image", "mixed"], n_boot=0, scopes=["overall"], gated="ungated")
    # image vs mixed: 3 of the 6 units answer alike (p1,200; p2,200; p3,50; unparsed p3,200 is not alike)
    rer = out.filter((pl.col("metric") == "rer") & (pl.col("scope") == "overall"))["value"].to_list()
    assert rer == [pytest.approx(1 - 3 / 6)]
