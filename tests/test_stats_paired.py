"""McNemar, Cochran's Q and the paired t-test on hand-built tables."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.stats import binomtest, chi2, ttest_rel

from restplus.errors import AnalysisError, UnknownNameError
from restplus.stats import AnalysisWarning, cochran_q, mcnemar_pairs, paired_ttest


def table_from_units(units: list[tuple[bool, bool, bool]], dpi: str = "200") -> pl.DataFrame:
    """One problem per unit: (text, image, mixed) correctness."""
    rows = []
    for i, (t, im, mx) in enumerate(units):
        pid = f"p{i:03d}"
        rows.append({"problem_id": pid, "modality": "text", "dpi": None, "answer": "a" if t else "x", "correct": t})
        rows.append({"problem_id": pid, "modality": "image", "dpi": dpi, "answer": "a" if im else "x",
                     "correct": im, "gate_passed": True})
        rows.append({"problem_id": pid, "modality": "mixed", "dpi": dpi, "answer": "a" if mx else "x",
                     "correct": mx, "gate_passed": True})
    return pl.DataFrame(rows)


SMALL = ([(True, False, True)] * 10 + [(False, True, True)] * 3 + [(True, True, True)] * 20
         + [(False, False, False)] * 7)


def test_mcnemar_small_discordance_is_exact_binomial():
    out = mcnemar_pairs(table_from_units(SMALL), ["dpi"], correction="none")
    r = out.filter((pl.col("a") == "text") & (pl.col("b") == "image")).row(0, named=True)
    assert (r["n_a_only"], r["n_b_only"], r["n_pairs"], r["n_problems"]) == (10, 3, 40, 40)
    assert r["exact"] is True
    assert r["p"] == pytest.approx(binomtest(3, 13, 0.5).pvalue)
    assert r["acc_a"] == pytest.approx(30 / 40) and r["acc_b"] == pytest.approx(23 / 40)


def test_mcnemar_large_discordance_uses_corrected_chi_square():
    units = [(True, False, True)] * 30 + [(False, True, True)] * 12 + [(True, True, True)] * 10
    r = mcnemar_pairs(table_from_units(units), ["dpi"]).filter(pl.col("b") == "image").row(0, named=True)
    stat = (abs(30 - 12) - 1) ** 2 / 42
    assert r["exact"] is False
    assert r["statistic"] == pytest.approx(stat) and r["p"] == pytest.approx(chi2.sf(stat, 1))


def test_holm_adjustment_over_the_three_modality_pairs():
    out = mcnemar_pairs(table_from_units(SMALL), ["dpi"])
    p, adj = out.get_column("p").to_numpy(), out.get_column("p_adj").to_numpy()
    order = np.argsort(p)
    expected = np.minimum(1, np.maximum.accumulate(p[order] * np.array([3, 2, 1])))
    np.testing.assert_allclose(adj[order], expected)


def grid_table() -> pl.DataFrame:
    """Image rows only: 30 problems x dpi {200, 50} x font {sans, mono}; 50 dpi breaks 'sans' items."""
    rows = []
    for i in range(30):
        for dpi in ("200", "50"):
            for font in ("sans", "mono"):
                ok = not (dpi == "50" and (font == "sans" or i < 5))
                rows.append({"problem_id": f"p{i}", "modality": "image", "dpi": dpi, "font": font, "correct": ok,
                             "answer": "a"})
    return pl.DataFrame(rows)


def test_cell_pairs_are_matched_on_the_other_factors():
    with pytest.warns(AnalysisWarning, match="not independent"):
        out = mcnemar_pairs(grid_table(), ["dpi", "font"], [({"dpi": "50"}, {"dpi": "200"})])
    r = out.row(0, named=True)
    # 60 pairs (30 problems x 2 fonts); 50 dpi wrong in 30 (sans) + 5 (mono) units, never right alone
    assert (r["n_pairs"], r["n_problems"], r["n_a_only"], r["n_b_only"]) == (60, 30, 0, 35)
    assert r["modality"] == "image" and r["a"] == "dpi=50" and r["b"] == "dpi=200"
    one = mcnemar_pairs(grid_table(), ["dpi", "font"], [({"dpi": "50"}, {"dpi": "200"})], where={"font": "mono"})
    assert one.row(0, named=True)["n_b_only"] == 5 and one.row(0, named=True)["exact"] is True
    assert one.row(0, named=True)["p"] == pytest.approx(binomtest(0, 5, 0.5).pvalue)


def test_unknown_names_in_pairs():
    with pytest.raises(UnknownNameError, match="Did you mean: dpi"):
        mcnemar_pairs(grid_table(), ["dpi", "font"], [({"dpj": "50"}, {"dpi": "200"})])
    with pytest.raises(UnknownNameError, match="exclude"):
        mcnemar_pairs(grid_table(), ["dpi", "font"], gate_policy="exlcude")


def test_cochran_q_matches_the_textbook_formula():
    out = cochran_q(table_from_units(SMALL), ["dpi"]).row(0, named=True)
    x = np.array(SMALL, dtype=float)
    k, col, row = x.shape[1], x.sum(0), x.sum(1)
    q = (k - 1) * (k * (col ** 2).sum() - col.sum() ** 2) / (k * row.sum() - (row ** 2).sum())
    assert out["statistic"] == pytest.approx(q) and out["df"] == 2
    assert out["p"] == pytest.approx(chi2.sf(q, 2)) and out["n_units"] == 40


def test_paired_ttest_on_per_problem_accuracy():
    t = pl.concat([table_from_units(SMALL[:20], dpi="200"), table_from_units(SMALL[:20], dpi="50")
                   .with_columns(pl.when(pl.col("modality") == "image").then(~pl.col("correct"))
                                 .otherwise(pl.col("correct")).alias("correct"))
                   .filter(pl.col("modality") != "text")])
    out = paired_ttest(t, ["dpi"], a="text", b="image").row(0, named=True)
    text = np.array([u[0] for u in SMALL[:20]], dtype=float)
    image = np.array([(u[1] + (not u[1])) / 2 for u in SMALL[:20]])  # one right, one wrong: always 0.5
    res = ttest_rel(text, image)
    assert out["t"] == pytest.approx(res.statistic) and out["p"] == pytest.approx(res.pvalue)
    assert out["n_problems"] == 20 and out["df"] == 19


def test_paired_ttest_refuses_zero_variance():
    same = table_from_units([(True, True, True)] * 5 + [(False, False, False)] * 5)
    with pytest.raises(AnalysisError, match="zero variance"):
        paired_ttest(same, ["dpi"])
