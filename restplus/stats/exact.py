"""Model-free comparisons over problems, used where even the linear probability model has no usable SE.

This happens when a contrast does not vary between problems at all (e.g. every problem is 100 % right
at 200 dpi and 0 % at 50 dpi in every cell): the cluster-robust variance is exactly 0 and a Wald z
would be infinite. The honest summary is then the observed contrast with its cluster-bootstrap
interval (zero width only when the contrast really is the same in every problem) and an exact test
over problems:

- a row (a level against the reference, or an interaction cell's difference of differences): sign
  test over the problems observed in every cell of the contrast, on each problem's own contrast;
- a factor's joint test: Friedman test over problems on each problem's accuracy per level (the
  multi-level version of the sign test; for two levels the sign test itself). It compares levels
  within problems and pools the other factors, which is valid for the fully crossed designs restplus
  generates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl
from scipy.stats import binomtest, friedmanchisquare

from .bootstrap import cluster_sums, percentile_ci, ratio, replicate_sums


def exact_row(df: pl.DataFrame, assign: Sequence[tuple[str, str]], reference: Mapping[str, str], rows: pl.Expr,
              note: str, *, n_boot: int, seed: int, ci: float) -> dict[str, object]:
    """Effect-table row for ``assign`` (one (factor, level) pair, or several for an interaction) from
    observed cell accuracies; ``odds_ratio`` and ``z`` are null. Columns as in :class:`EffectTable`."""
    k = len(assign)
    cond = rows
    for f, lv in assign:
        cond = cond & pl.col(f).is_in([lv, reference[f]])
    sub = df.filter(cond)
    grp = np.zeros(sub.height, dtype=np.int64)  # bit i set = factor i at its level, else at reference
    for i, (f, lv) in enumerate(assign):
        grp |= (sub.get_column(f) == lv).cast(pl.Int64).to_numpy() << i
    # difference of differences: + for the all-level cell, signs alternate with each factor at reference
    sign = np.array([-1.0 if (k - bin(g).count("1")) % 2 else 1.0 for g in range(1 << k)])
    pcode = (sub.get_column("problem_id").rank("dense") - 1).to_numpy().astype(np.int64)
    y = sub.get_column("correct").cast(pl.Float64).to_numpy()
    cs = cluster_sums(grp, pcode, np.column_stack([np.ones_like(y), y]), 1 << k, int(pcode.max()) + 1)
    tot = cs.totals()
    acc = ratio(tot[:, 1], tot[:, 0])
    est = float(acc @ sign)
    lo = hi = float("nan")
    if n_boot:
        reps = replicate_sums(cs, n_boot, seed)
        d = ratio(reps[:, :, 1], reps[:, :, 0]) @ sign
        lo_a, hi_a, _ = percentile_ci(d[:, None], ci)
        lo, hi = float(lo_a[0]), float(hi_a[0])
    per = cs.sums  # (P, 2^k, 2)
    full = (per[:, :, 0] > 0).all(axis=1)
    diff = (per[full, :, 1] / per[full, :, 0]) @ sign
    p, n_used = _sign_test(diff)
    top = (1 << k) - 1
    return {"term": ":".join(f for f, _ in assign), "level": ":".join(lv for _, lv in assign),
            "reference": ":".join(reference[f] for f, _ in assign), "n": int(tot[top, 0]),
            "n_problems": int((per[:, top, 0] > 0).sum()), "acc_level": float(acc[top]),
            "acc_reference": float(acc[0]), "delta": est, "delta_ci_low": lo, "delta_ci_high": hi,
            "odds_ratio": None, "or_ci_low": None, "or_ci_high": None, "z": None, "p": p,
            "note": f"{note}; delta = observed difference{' of differences' if k > 1 else ''} with a "
                    f"cluster-bootstrap CI, " + (f"p = exact sign test over {n_used} problems" if n_used else
                                                 "p = 1: the contrast is 0 in every problem")}


def _sign_test(diff: np.ndarray) -> tuple[float, int]:
    """Two-sided sign test of per-problem contrasts (ties dropped); p = 1 when every problem ties."""
    k_pos, k_neg = int((diff > 0).sum()), int((diff < 0).sum())
    if k_pos + k_neg == 0:
        return 1.0, 0
    return float(binomtest(k_pos, k_pos + k_neg, 0.5).pvalue), k_pos + k_neg


def exact_joint(df: pl.DataFrame, factor: str, levels: Sequence[str], rows: pl.Expr,
                why: str) -> dict[str, object]:
    """Joint-test row (``term, df, chi2, p, note``) for a factor from a Friedman test over problems on
    per-problem level accuracies (sign test for two levels; its chi2 is left null)."""
    per = (df.filter(rows & pl.col(factor).is_in(list(levels)))
           .group_by("problem_id", factor).agg(pl.col("correct").cast(pl.Float64).mean().alias("acc"))
           .pivot(on=factor, index="problem_id", values="acc").drop_nulls())
    cols = [per.get_column(lv).to_numpy() for lv in levels if lv in per.columns]
    n = per.height
    dfree = len(levels) - 1
    base = f"not a Wald test: {why}"
    if len(cols) < len(levels) or n < 2:
        return {"term": factor, "df": dfree, "chi2": None, "p": None,
                "note": f"{base}; no exact test either (fewer than 2 problems observed at every level)"}
    if len(cols) == 2:
        p, used = _sign_test(cols[1] - cols[0])
        return {"term": factor, "df": dfree, "chi2": None, "p": p,
                "note": f"{base}; p = exact sign test over {used} problems"}
    mat = np.column_stack(cols)
    if (mat == mat[:, :1]).all():  # every problem ties across levels: the statistic is 0/0
        return {"term": factor, "df": dfree, "chi2": None, "p": 1.0,
                "note": f"{base}; no problem's accuracy differs between levels (Friedman p = 1)"}
    res = friedmanchisquare(*cols)
    return {"term": factor, "df": dfree, "chi2": float(res.statistic), "p": float(res.pvalue),
            "note": f"{base}; chi2, p = Friedman test over {n} problems"}
