"""Model-free comparisons over problems, used where even the linear probability model has no usable SE.

This happens when a contrast does not vary between problems at all (e.g. every problem is 100 % right
at 200 dpi and 0 % at 50 dpi in every cell): the cluster-robust variance is exactly 0 and a Wald z
would be infinite. The honest summary is then the observed contrast, its cluster-bootstrap interval
(zero width only when the contrast really is the same in every problem) and an exact test over
problems.

Contrasts are *matched*: within each problem they compare cells that agree on every other modelled
factor (the strata), so a fractional design (e.g. colours rendered only at 200 dpi) is not confounded
by what else differs between the compared rows. Per problem, the contrast is the mean over its complete
strata; the table's delta is the mean over problems.

- a row (a level against the reference, or an interaction cell's difference of differences): sign
  test over problems on each problem's own contrast;
- a factor's joint test: Friedman test over problems on each problem's matched accuracy per level (the
  multi-level version of the sign test; for two levels the sign test itself).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl
from scipy.stats import binomtest, friedmanchisquare

from ..bootstrap import bootstrap_weights, percentile_ci


def _matched(df: pl.DataFrame, cell: pl.Expr, n_cells: int, strata: Sequence[str]) -> pl.DataFrame:
    """Per (problem, stratum): accuracy in each cell ``"0" .. str(n_cells - 1)``; incomplete blocks dropped."""
    keys = ["problem_id", *strata]
    acc = (df.with_columns(cell.cast(pl.Utf8).alias("_cell"))
           .group_by(*keys, "_cell").agg(pl.col("correct").cast(pl.Float64).mean().alias("acc")))
    wide = acc.pivot(on="_cell", index=keys, values="acc")
    names = [str(c) for c in range(n_cells)]
    if any(c not in wide.columns for c in names):
        return wide.clear().select(keys)
    return wide.drop_nulls(names).select(*keys, *names)


def exact_row(df: pl.DataFrame, assign: Sequence[tuple[str, str]], reference: Mapping[str, str], rows: pl.Expr,
              strata: Sequence[str], note: str, *, n_boot: int, seed: int, ci: float) -> dict[str, object]:
    """Effect-table row for ``assign`` (one (factor, level) pair, or several for an interaction) from
    matched observed cell accuracies; ``odds_ratio`` and ``z`` are null. Columns as in :class:`EffectTable`."""
    k = len(assign)
    cond = rows
    for f, lv in assign:
        cond = cond & pl.col(f).is_in([lv, reference[f]])
    sub = df.filter(cond)
    # cell code: bit i set = factor i at its level, else at reference
    cell = pl.sum_horizontal([(pl.col(f) == lv).cast(pl.Int64) * (1 << i) for i, (f, lv) in enumerate(assign)])
    # difference of differences: + for the all-level cell, signs alternate with each factor at reference
    sign = [-1.0 if (k - bin(g).count("1")) % 2 else 1.0 for g in range(1 << k)]
    wide = _matched(sub, cell, 1 << k, [s for s in strata if s not in dict(assign)])
    per = (wide.with_columns(pl.sum_horizontal([pl.col(str(g)) * sign[g] for g in range(1 << k)]).alias("_d"))
           .group_by("problem_id").agg(pl.col("_d").mean()))
    d = per.get_column("_d").to_numpy() if per.height else np.zeros(0)
    top = (1 << k) - 1
    codes = sub.select(cell.alias("_c")).get_column("_c").to_numpy()
    y = sub.get_column("correct").cast(pl.Float64).to_numpy()
    at_top, at_ref = codes == top, codes == 0
    out: dict[str, object] = {
        "term": ":".join(f for f, _ in assign), "level": ":".join(lv for _, lv in assign),
        "reference": ":".join(reference[f] for f, _ in assign), "n": int(at_top.sum()),
        "n_problems": int(sub.filter(pl.Series(at_top)).get_column("problem_id").n_unique()),
        "acc_level": float(y[at_top].mean()) if at_top.any() else None,
        "acc_reference": float(y[at_ref].mean()) if at_ref.any() else None,
        "delta": None, "delta_ci_low": None, "delta_ci_high": None, "odds_ratio": None, "or_ci_low": None,
        "or_ci_high": None, "z": None, "p": None}
    if d.size == 0:
        return {**out, "note": f"{note}; no problem is observed in every cell of this contrast, so nothing is "
                               f"reported"}
    lo = hi = float("nan")
    if n_boot:
        w = bootstrap_weights(d.size, n_boot, seed)  # rows sum to the number of problems
        lo_a, hi_a, _ = percentile_ci((w @ d / d.size)[:, None], ci)
        lo, hi = float(lo_a[0]), float(hi_a[0])
    p, n_used = _sign_test(d)
    test = f"p = exact sign test over {n_used} problems" if n_used else "p = 1: the contrast is 0 in every problem"
    return {**out, "delta": float(d.mean()), "delta_ci_low": lo, "delta_ci_high": hi, "p": p,
            "note": f"{note}; delta = matched observed difference{' of differences' if k > 1 else ''} over "
                    f"{d.size} problems with {'a cluster-bootstrap CI' if n_boot else 'no CI (n_boot=0)'}, {test}"}


def _sign_test(diff: np.ndarray) -> tuple[float, int]:
    """Two-sided sign test of per-problem contrasts (ties dropped); p = 1 when every problem ties."""
    k_pos, k_neg = int((diff > 0).sum()), int((diff < 0).sum())
    if k_pos + k_neg == 0:
        return 1.0, 0
    return float(binomtest(k_pos, k_pos + k_neg, 0.5).pvalue), k_pos + k_neg


def exact_joint(df: pl.DataFrame, factor: str, levels: Sequence[str], rows: pl.Expr, strata: Sequence[str],
                why: str) -> dict[str, object]:
    """Joint-test row (``term, df, chi2, p, note``) for a factor from a Friedman test over problems on
    per-problem matched level accuracies (sign test for two levels; its chi2 is left null)."""
    levels = list(levels)
    sub = df.filter(rows & pl.col(factor).is_in(levels))
    code = pl.col(factor).replace_strict({lv: i for i, lv in enumerate(levels)}, return_dtype=pl.Int64)
    wide = _matched(sub, code, len(levels), [s for s in strata if s != factor])
    names = [str(i) for i in range(len(levels))]
    per = wide.group_by("problem_id").agg([pl.col(c).mean() for c in names]) if wide.height else wide
    dfree = len(levels) - 1
    base = f"not a Wald test: {why}"
    if per.height < 2:
        return {"term": factor, "df": dfree, "chi2": None, "p": None,
                "note": f"{base}; no exact test either (fewer than 2 problems observed at every level)"}
    mat = per.select(names).to_numpy()
    if len(levels) == 2:
        p, used = _sign_test(mat[:, 1] - mat[:, 0])
        return {"term": factor, "df": dfree, "chi2": None, "p": p,
                "note": f"{base}; p = exact sign test over {used} problems" if used else
                        f"{base}; p = 1: no problem's accuracy differs between the levels"}
    if (mat == mat[:, :1]).all():  # every problem ties across levels: the statistic is 0/0
        return {"term": factor, "df": dfree, "chi2": None, "p": 1.0,
                "note": f"{base}; no problem's accuracy differs between levels (Friedman p = 1)"}
    res = friedmanchisquare(*mat.T)
    return {"term": factor, "df": dfree, "chi2": float(res.statistic), "p": float(res.pvalue),
            "note": f"{base}; chi2, p = Friedman test over {per.height} problems (matched level accuracies)"}
