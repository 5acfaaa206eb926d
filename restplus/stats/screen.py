"""Degenerate-data screening for :func:`effects`, and the fallback used for separated levels.

Documented fallbacks (each announced with an :class:`AnalysisWarning` and kept in the table):

- a level with no rows (after gating) is left out; a factor whose reference has no rows, or with a
  single level left, is dropped from the model;
- a non-reference level whose rows are all correct (or all wrong) separates the logit (its log odds
  ratio is infinite). Its rows are left out of the model and its effect row is computed directly:
  delta = observed accuracy difference with a cluster-bootstrap CI over problems, odds ratio inf
  (or 0), p from an exact sign test over problems (level vs reference accuracy per problem);
- when the reference level itself is all correct (or all wrong) every contrast of that factor is
  infinite on the log-odds scale: the factor leaves the model and all its levels get that fallback;
- an interaction cell that is empty (fractional design, gating) or constant is left out of the model;
- the analysis raises :class:`AnalysisError` only when nothing at all can be estimated.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from scipy.stats import binomtest

from ._common import warn
from .bootstrap import cluster_sums, percentile_ci, ratio, replicate_sums


@dataclass
class Screen:
    """Outcome of screening (mutable while built, then read by ``effects``)."""

    factors: list[str]
    levels: dict[str, list[str]]
    fallback: list[tuple[str, str, str]] = field(default_factory=list)  # (factor, level, reason)
    drop_levels: dict[str, list[str]] = field(default_factory=dict)  # rows to leave out of the model
    drop_interactions: list[dict[str, str]] = field(default_factory=list)


def _level_stats(df: pl.DataFrame, f: str, rows: pl.Expr) -> dict[str, tuple[int, float]]:
    agg = df.filter(rows).group_by(f).agg(pl.len().alias("n"), pl.col("correct").mean().alias("acc"))
    return {r[f]: (int(r["n"]), float(r["acc"])) for r in agg.iter_rows(named=True)}


def screen(df: pl.DataFrame, factors: Sequence[str], levels: Mapping[str, Sequence[str]],
           reference: Mapping[str, str], rows_for: Mapping[str, pl.Expr], interactions: int,
           sink: list[str]) -> Screen:
    out = Screen(factors=[], levels={})
    for f in factors:
        stats = _level_stats(df, f, rows_for[f])
        ref = reference[f]
        absent = [lv for lv in levels[f] if lv not in stats]
        if absent and ref not in absent:
            warn(f"{f}: level(s) {absent} have no rows after gating; left out.", sink)
        present = [lv for lv in levels[f] if lv in stats]
        if ref not in stats:
            warn(f"{f}: the reference level {ref!r} has no rows after gating, so no contrast can be formed; "
                 f"factor dropped. Choose another reference (reference={{{f!r}: ...}}) or gate_policy='ignore'.",
                 sink)
            continue
        if len(present) < 2:
            warn(f"{f}: only one level ({ref!r}) is present; nothing to estimate, factor dropped.", sink)
            continue
        ref_acc = stats[ref][1]
        if ref_acc in (0.0, 1.0):
            word = "correct" if ref_acc == 1.0 else "wrong"
            warn(f"{f}: every row at the reference {ref!r} is {word} (separation: infinite log odds ratios); "
                 f"the factor leaves the model and its levels are compared directly (observed delta, "
                 f"cluster-bootstrap CI, exact sign test).", sink)
            out.fallback += [(f, lv, f"separation: reference all {word}") for lv in present if lv != ref]
            continue
        kept = [ref]
        for lv in present:
            if lv == ref:
                continue
            acc = stats[lv][1]
            if acc in (0.0, 1.0):
                word = "correct" if acc == 1.0 else "wrong"
                warn(f"{f}={lv}: every row is {word} (separation); its rows leave the model and it is compared "
                     f"with the reference directly (observed delta, cluster-bootstrap CI, exact sign test).", sink)
                out.fallback.append((f, lv, f"separation: level all {word}"))
                out.drop_levels.setdefault(f, []).append(lv)
            else:
                kept.append(lv)
        if len(kept) < 2:
            continue
        out.factors.append(f)
        out.levels[f] = kept
    return out


def screen_interactions(df: pl.DataFrame, scr: Screen, reference: Mapping[str, str], interactions: int,
                        sink: list[str]) -> None:
    """Mark empty or constant interaction cells (non-reference level combinations) for removal."""
    for order in range(2, interactions + 1):
        for combo in itertools.combinations(scr.factors, order):
            agg = df.group_by(list(combo)).agg(pl.len().alias("n"), pl.col("correct").mean().alias("acc"))
            seen = {tuple(r[f] for f in combo): (r["n"], r["acc"]) for r in agg.iter_rows(named=True)}
            empty, constant = [], []
            for lv in itertools.product(*[[x for x in scr.levels[f] if x != reference[f]] for f in combo]):
                n_acc = seen.get(lv)
                if n_acc is None:
                    empty.append(lv)
                elif n_acc[1] in (0.0, 1.0):
                    constant.append(lv)
                else:
                    continue
                scr.drop_interactions.append(dict(zip(combo, lv)))
            name = ":".join(combo)
            if empty:
                warn(f"interaction {name}: {len(empty)} level combination(s) have no rows (e.g. "
                     f"{':'.join(empty[0])}); their interaction terms are left out.", sink)
            if constant:
                warn(f"interaction {name}: {len(constant)} level combination(s) are all correct or all wrong "
                     f"(e.g. {':'.join(constant[0])}); their interaction terms are left out (separation).", sink)


def fallback_row(df: pl.DataFrame, f: str, level: str, ref: str, rows: pl.Expr, reason: str, *,
                 n_boot: int, seed: int, ci: float) -> dict[str, object]:
    """Direct comparison of a separated level with the reference (see module docstring)."""
    sub = df.filter(rows & pl.col(f).is_in([level, ref]))
    pcode = (sub.get_column("problem_id").rank("dense") - 1).to_numpy().astype(np.int64)
    grp = (sub.get_column(f) == level).cast(pl.Int64).to_numpy()  # 1 = level, 0 = reference
    y = sub.get_column("correct").cast(pl.Float64).to_numpy()
    cs = cluster_sums(grp, pcode, np.column_stack([np.ones_like(y), y]), 2, int(pcode.max()) + 1)
    tot = cs.totals()
    acc_ref, acc_lv = tot[0, 1] / tot[0, 0], tot[1, 1] / tot[1, 0]
    lo = hi = float("nan")
    if n_boot:
        reps = replicate_sums(cs, n_boot, seed)
        d = ratio(reps[:, 1, 1], reps[:, 1, 0]) - ratio(reps[:, 0, 1], reps[:, 0, 0])
        lo_a, hi_a, _ = percentile_ci(d[:, None], ci)
        lo, hi = float(lo_a[0]), float(hi_a[0])
    # exact sign test over problems observed at both level and reference
    per = cs.sums  # (P, 2, 2)
    both = (per[:, 0, 0] > 0) & (per[:, 1, 0] > 0)
    diff = per[both, 1, 1] / per[both, 1, 0] - per[both, 0, 1] / per[both, 0, 0]
    k_pos, k_neg = int((diff > 0).sum()), int((diff < 0).sum())
    p = float(binomtest(k_pos, k_pos + k_neg, 0.5).pvalue) if k_pos + k_neg else 1.0
    with np.errstate(divide="ignore", invalid="ignore"):  # inf/finite = inf, 0/0 and inf/inf = NaN
        odds = float(np.divide(_odds(acc_lv), _odds(acc_ref)))
    return {"term": f, "level": level, "reference": ref, "n": int(tot[1, 0]),
            "n_problems": int((per[:, 1, 0] > 0).sum()), "acc_level": float(acc_lv), "acc_reference": float(acc_ref),
            "delta": float(acc_lv - acc_ref), "delta_ci_low": lo, "delta_ci_high": hi, "odds_ratio": odds,
            "or_ci_low": None, "or_ci_high": None, "z": None, "p": p,
            "note": f"{reason}; delta = observed difference with cluster-bootstrap CI, OR from observed "
                    f"accuracies, p = exact sign test over {k_pos + k_neg} problems"}


def _odds(acc: float) -> float:
    with np.errstate(divide="ignore"):
        return float(np.divide(acc, 1.0 - acc)) if acc < 1.0 else float("inf")
