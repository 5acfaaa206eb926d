"""Modality-gap math on hand-made matrices: cosine, retrieval, derangement, bootstrap, curves, correlation."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings, strategies as st

from restplus.errors import AnalysisError
from restplus.gap.extract import LayerMeans
from restplus.gap.measure import (
    CURVE_COLUMNS,
    FewModelsWarning,
    bootstrap_mean_ci,
    cosine_matrix,
    derangement,
    gap_correlation,
    gap_curves,
    gap_summary,
    recall_at_k,
)


def _means(image: np.ndarray, text: np.ndarray, model: str = "m") -> LayerMeans:
    n, n_layers = image.shape[:2]
    return LayerMeans(model, tuple(f"i{k}" for k in range(n)), tuple(range(n_layers)), image.astype(np.float32),
                      text.astype(np.float32), np.ones(n, dtype=np.int64), np.ones(n, dtype=np.int64))


# ---------------------------------------------------------------- cosine and retrieval by hand

def test_cosine_matrix_by_hand():
    img = np.array([[1.0, 0.0], [0.0, 2.0]])
    txt = np.array([[1.0, 1.0], [3.0, 0.0], [0.0, -1.0]])
    expected = np.array([[1 / math.sqrt(2), 1.0, 0.0], [1 / math.sqrt(2), 0.0, -1.0]])
    np.testing.assert_allclose(cosine_matrix(img, txt), expected, atol=1e-12)


def test_cosine_rejects_zero_vectors():
    with pytest.raises(AnalysisError, match=r"rows \[1\] are zero"):
        cosine_matrix(np.array([[1.0, 0.0], [0.0, 0.0]]), np.eye(2))


# rows = images, columns = texts, diagonal = true pairs. Ranks worked out by hand:
# i2t: row0 true .9 beaten by .95 -> rank 1; row1 true .8 -> rank 0; row2 true .7 beaten by .85 -> rank 1
# t2i: col0 true .9 -> rank 0; col1 true .8 beaten by .85 -> rank 1; col2 true .7 vs .95, .3 -> rank 1
SIM = np.array([[0.90, 0.10, 0.95],
                [0.20, 0.80, 0.30],
                [0.10, 0.85, 0.70]])
SIM_T2I_DIFF = np.array([[0.9, 0.1, 0.2],   # i2t ranks 0, 0, 2 ; t2i ranks 0, 0, 0
                         [0.0, 0.8, 0.5],
                         [0.7, 0.75, 0.6]])


@pytest.mark.parametrize("sim, k, i2t, t2i", [
    (SIM, 1, 1 / 3, 1 / 3),
    (SIM, 2, 1.0, 1.0),
    (SIM_T2I_DIFF, 1, 2 / 3, 1.0),
    (SIM_T2I_DIFF, 2, 2 / 3, 1.0),
    (SIM_T2I_DIFF, 3, 1.0, 1.0),
    (SIM_T2I_DIFF.T, 1, 1.0, 2 / 3),     # transposing swaps the directions
    (np.ones((4, 4)), 1, 0.0, 0.0),      # all tied: ties count against the item
    (np.ones((4, 4)), 4, 1.0, 1.0),      # k = n: every item is trivially retrieved
    (np.eye(3), 1, 1.0, 1.0),
])
def test_recall_at_k_table(sim, k, i2t, t2i):
    got = recall_at_k(sim, k)
    assert got == pytest.approx((i2t, t2i))


def test_recall_rejects_non_square_and_bad_k():
    with pytest.raises(AnalysisError, match="square"):
        recall_at_k(np.ones((2, 3)), 1)
    with pytest.raises(AnalysisError, match="k >= 1"):
        recall_at_k(np.eye(2), 0)


# ---------------------------------------------------------------- derangement and bootstrap

@settings(database=None, derandomize=True, max_examples=40)
@given(n=st.integers(2, 60), seed=st.integers(0, 2**32 - 1))
def test_derangement_is_a_fixed_point_free_permutation(n, seed):
    perm = derangement(n, seed)
    assert sorted(perm.tolist()) == list(range(n))
    assert not np.any(perm == np.arange(n))
    assert np.array_equal(perm, derangement(n, seed))  # seeded, not global RNG


def test_derangement_needs_two_items():
    with pytest.raises(AnalysisError, match="at least 2"):
        derangement(1, 0)
    assert derangement(2, 5).tolist() == [1, 0]  # the only derangement of 2 items


def test_bootstrap_ci_is_seeded_and_brackets_the_mean():
    rng = np.random.default_rng(3)
    v = rng.normal(size=(40, 3)) + np.array([0.0, 1.0, 5.0])
    lo, hi = bootstrap_mean_ci(v, n_boot=300, seed=11)
    lo2, hi2 = bootstrap_mean_ci(v, n_boot=300, seed=11)
    np.testing.assert_array_equal(lo, lo2)
    np.testing.assert_array_equal(hi, hi2)
    mean = v.mean(axis=0)
    assert np.all(lo < mean) and np.all(mean < hi) and lo.shape == (3,)
    const_lo, const_hi = bootstrap_mean_ci(np.full((10, 2), 0.25), n_boot=50, seed=0)
    np.testing.assert_allclose(const_lo, 0.25)
    np.testing.assert_allclose(const_hi, 0.25)
    nan_lo, _ = bootstrap_mean_ci(v, n_boot=0, seed=0)
    assert np.all(np.isnan(nan_lo))


# ---------------------------------------------------------------- per-layer curves

def test_identical_embeddings_give_similarity_one_and_perfect_retrieval():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(12, 4, 16))
    curves = gap_curves(_means(emb, emb.copy()), n_boot=200)
    assert curves.columns == list(CURVE_COLUMNS) and curves.height == 4
    for col in ("cos_mean", "cos_ci_low", "cos_ci_high", "i2t_r1", "i2t_r5", "t2i_r1", "t2i_r5"):
        np.testing.assert_allclose(curves[col].to_numpy(), 1.0, atol=1e-6, err_msg=col)
    assert (curves["cos_shuffled"] < 0.9).all()  # random 16-d vectors are far from each other
    assert curves["layer"].to_list() == [0, 1, 2, 3] and curves["n_items"].to_list() == [12] * 4


def test_shuffled_pairs_score_lower_than_true_pairs():
    rng = np.random.default_rng(1)
    img = rng.normal(size=(20, 3, 32))
    # text = image + noise whose size grows with depth: paired similarity falls but stays above shuffled
    noise = rng.normal(size=img.shape) * np.array([0.2, 0.6, 1.0])[None, :, None]
    curves = gap_curves(_means(img, img + noise), n_boot=200, seed=4)
    cos, shuf = curves["cos_mean"].to_numpy(), curves["cos_shuffled"].to_numpy()
    assert np.all(cos > shuf + 0.3)
    assert cos[0] > cos[1] > cos[2]
    assert np.all(curves["cos_ci_low"].to_numpy() <= cos) and np.all(cos <= curves["cos_ci_high"].to_numpy())
    summary = gap_summary(curves)
    assert summary["cos_max_layer"].to_list() == [0]
    assert summary["cos_max"][0] == pytest.approx(cos[0])


def test_curves_by_hand_two_items():
    # 2 items, 1 layer, 2-d: image (1,0),(0,1); text (1,1),(0,1).
    # paired cos: 1/sqrt2 and 1 -> mean (1/sqrt2 + 1)/2; shuffled (only derangement): cos(i0,t1)=0,
    # cos(i1,t0)=1/sqrt2 -> mean 1/(2 sqrt2). i2t: row0 true .707 vs 0 -> hit; row1 true 1 vs .707 -> hit.
    # t2i: col0 true .707 vs .707 (tie) -> miss; col1 true 1 vs 0 -> hit.
    img = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    txt = np.array([[[1.0, 1.0]], [[0.0, 1.0]]])
    row = gap_curves(_means(img, txt), n_boot=0).row(0, named=True)
    r = 1 / math.sqrt(2)
    assert row["cos_mean"] == pytest.approx((r + 1) / 2)
    assert row["cos_shuffled"] == pytest.approx(r / 2)
    assert (row["i2t_r1"], row["t2i_r1"], row["i2t_r5"], row["t2i_r5"]) == pytest.approx((1.0, 0.5, 1.0, 1.0))
    assert math.isnan(row["cos_ci_low"])


def test_summary_per_model_and_argmax_layer():
    curves = pl.DataFrame({
        "model": ["a"] * 3 + ["b"] * 3, "layer": [0, 1, 2] * 2,
        "cos_mean": [0.1, 0.5, 0.3, 0.2, 0.2, 0.4], "cos_ci_low": [0.0, 0.4, 0.2, 0.1, 0.1, 0.3],
        "cos_ci_high": [0.2, 0.6, 0.4, 0.3, 0.3, 0.5], "cos_shuffled": [0.05, 0.45, 0.0, 0.1, 0.0, 0.35],
        "i2t_r1": [0.1, 0.2, 0.9, 0.3, 0.3, 0.1], "i2t_r5": [1.0] * 6, "t2i_r1": [0.5, 0.1, 0.1, 0.0, 0.7, 0.7],
        "t2i_r5": [1.0] * 6, "n_items": [10] * 6})
    s = gap_summary(curves)
    a, b = s.row(0, named=True), s.row(1, named=True)
    assert (a["model"], a["cos_max"], a["cos_max_layer"]) == ("a", 0.5, 1)
    assert (a["cos_ci_low"], a["cos_ci_high"], a["cos_shuffled"]) == (0.4, 0.6, 0.45)
    assert (a["cos_gain_max"], a["cos_gain_max_layer"]) == pytest.approx((0.3, 2))  # 0.3 - 0.0 at layer 2
    assert (a["i2t_r1_max_layer"], a["t2i_r1_max_layer"], a["n_layers"], a["n_items"]) == (2, 0, 3, 10)
    assert (b["cos_max"], b["cos_max_layer"], b["t2i_r1_max_layer"]) == (0.4, 2, 1)  # tie -> lowest layer


# ---------------------------------------------------------------- correlation with RER

# x = [1..5], y = [2, 4, 5, 4, 5]. By hand: Sxy = 6, Sxx = 10, Syy = 6 -> r = 6/sqrt(60), R² = 0.6,
# slope 0.6, intercept 4 - 0.6*3 = 2.2. Ranks of y: [1, 2.5, 4.5, 2.5, 4.5] -> rho = 7/sqrt(90).
SIM5 = {"m1": 1.0, "m2": 2.0, "m3": 3.0, "m4": 4.0, "m5": 5.0}
RER5 = {"m1": 2.0, "m2": 4.0, "m3": 5.0, "m4": 4.0, "m5": 5.0}


def test_correlation_by_hand_five_models_has_no_caveat():
    with warnings.catch_warnings():
        warnings.simplefilter("error", FewModelsWarning)
        c = gap_correlation(SIM5, RER5)
    assert c.n_models == 5 and c.caveat is None
    assert c.pearson_r == pytest.approx(6 / math.sqrt(60))
    assert c.r2 == pytest.approx(0.6)
    assert (c.slope, c.intercept) == pytest.approx((0.6, 2.2))
    assert c.spearman_rho == pytest.approx(7 / math.sqrt(90))
    assert 0 < c.pearson_p < 1 and c.models == ("m1", "m2", "m3", "m4", "m5")
    # exact two-sided permutation p: share of the 120 orderings of y with |rho| >= observed (by enumeration)
    ry = np.array([1, 2.5, 4.5, 2.5, 4.5])
    rhos = [np.corrcoef([1, 2, 3, 4, 5], ry[list(p)])[0, 1] for p in itertools.permutations(range(5))]
    assert c.spearman_p == pytest.approx(np.mean(np.abs(rhos) >= 7 / math.sqrt(90) - 1e-12))


def test_spearman_p_is_exact_for_a_perfect_ranking_of_three():
    # 2 of the 6 orderings give |rho| = 1 -> p = 1/3 (scipy's t approximation would give 0)
    with pytest.warns(FewModelsWarning):
        c = gap_correlation({"a": 1.0, "b": 2.0, "c": 3.0}, {"a": 0.1, "b": 0.5, "c": 0.7})
    assert c.spearman_rho == pytest.approx(1.0) and c.spearman_p == pytest.approx(1 / 3)


def test_correlation_from_summary_frame_excludes_models_without_rer():
    summary = pl.DataFrame({"model": list(SIM5) + ["extra"], "cos_max": list(SIM5.values()) + [9.0]})
    c = gap_correlation(summary, RER5)
    assert c.excluded == ("extra",) and c.n_models == 5
    assert c.r2 == pytest.approx(0.6)


def test_fewer_than_five_models_warns_and_sets_caveat():
    sim = {k: SIM5[k] for k in ("m1", "m2", "m3", "m4")}
    rer = {k: RER5[k] for k in sim}
    with pytest.warns(FewModelsWarning, match="only 4 models"):
        c = gap_correlation(sim, rer)
    assert c.caveat is not None and "only 4 models" in c.caveat and c.to_dict()["caveat"] == c.caveat
    # x = [1,2,3,4], y = [2,4,5,4]: Sxy = 3.5, Sxx = 5, Syy = 4.75 -> r = 3.5 / sqrt(23.75)
    assert c.pearson_r == pytest.approx(3.5 / math.sqrt(23.75))


@pytest.mark.parametrize("sim, rer, match", [
    ({"a": 1.0, "b": 2.0}, {"a": 0.1, "b": 0.2}, "at least 3 models"),
    ({"alpha": 1.0, "b": 2.0, "c": 3.0}, {"alpah": 0.1, "b": 0.2, "c": 0.3}, "Did you mean: alpha"),
    ({"a": 1.0, "b": 1.0, "c": 1.0}, {"a": 0.1, "b": 0.2, "c": 0.3}, "similarity is identical"),
    ({"a": 1.0, "b": 2.0, "c": 3.0}, {"a": 0.5, "b": 0.5, "c": 0.5}, "RER is identical"),
])
def test_correlation_errors(sim, rer, match):
    with pytest.raises(AnalysisError, match=match):
        gap_correlation(sim, rer)


def test_correlation_unknown_metric_suggests():
    with pytest.raises(AnalysisError, match="cos_max"):
        gap_correlation(pl.DataFrame({"model": ["a"], "cos_max": [1.0]}), {"a": 1.0}, metric="cos_mx")
