"""Degenerate-data screening for :func:`effects`: what can enter the model, and is the logit separated?

What is left out (each announced with an :class:`AnalysisWarning`):

- a level with no rows (after gating); a factor whose reference has no rows, or with a single level
  left (no contrast can be formed);
- an interaction cell (a combination of non-reference levels) with no rows (fractional design,
  gating): its interaction column would be all zeros.

What is *kept* but recorded as separation (``Screen.separation``): a level of a modelled factor
(reference included) whose rows are all correct or all wrong, and, with ``interactions >= 2``, any
cell of a modelled factor combination (reference levels included) that is all correct or all wrong.
Such data have no finite logit MLE (the log odds ratios are infinite; a GEE "fit" returns collapsed
coefficients with zero SEs). :func:`effects` then fits the same design as a linear probability model
(see :mod:`restplus.stats.engine.factorial`); nothing is dropped, so the separated factor keeps its rows,
its joint test and its interactions.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl

from .._common import warn


@dataclass
class Screen:
    """Outcome of screening (mutable while built, then read by ``effects``)."""

    factors: list[str]
    levels: dict[str, list[str]]
    separation: list[str] = field(default_factory=list)  # human-readable: which level/cell is constant
    drop_interactions: list[dict[str, str]] = field(default_factory=list)  # empty cells only


def _level_stats(df: pl.DataFrame, f: str, rows: pl.Expr) -> dict[str, tuple[int, float]]:
    agg = df.filter(rows).group_by(f).agg(pl.len().alias("n"), pl.col("correct").mean().alias("acc"))
    return {r[f]: (int(r["n"]), float(r["acc"])) for r in agg.iter_rows(named=True)}


def _word(acc: float) -> str:
    return "correct" if acc == 1.0 else "wrong"


def screen(df: pl.DataFrame, factors: Sequence[str], levels: Mapping[str, Sequence[str]],
           reference: Mapping[str, str], rows_for: Mapping[str, pl.Expr], sink: list[str]) -> Screen:
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
        for lv in present:
            acc = stats[lv][1]
            if acc in (0.0, 1.0):
                tag = " (the reference)" if lv == ref else ""
                out.separation.append(f"every {f}={lv}{tag} row is {_word(acc)}")
        out.factors.append(f)
        out.levels[f] = present
    return out


def screen_interactions(df: pl.DataFrame, scr: Screen, reference: Mapping[str, str], interactions: int,
                        sink: list[str]) -> None:
    """Drop empty non-reference cells; record constant cells (any levels) as separation. Cells are
    counted over every modelled row (text rows sit in the all-reference cell), as the model sees them."""
    for order in range(2, interactions + 1):
        for combo in itertools.combinations(scr.factors, order):
            agg = df.group_by(list(combo)).agg(pl.len().alias("n"), pl.col("correct").mean().alias("acc"))
            seen = {tuple(r[f] for f in combo): (r["n"], r["acc"]) for r in agg.iter_rows(named=True)}
            empty = [lv for lv in itertools.product(*[[x for x in scr.levels[f] if x != reference[f]]
                                                      for f in combo]) if lv not in seen]
            scr.drop_interactions += [dict(zip(combo, lv)) for lv in empty]
            name = ":".join(combo)
            if empty:
                warn(f"interaction {name}: {len(empty)} level combination(s) have no rows (e.g. "
                     f"{':'.join(empty[0])}); their interaction terms are left out.", sink)
            constant = [(lv, acc) for lv in itertools.product(*[scr.levels[f] for f in combo])
                        if (acc := seen.get(lv, (0, 0.5))[1]) in (0.0, 1.0)]
            if constant:
                lv, acc = constant[0]
                more = f" and {len(constant) - 1} more" if len(constant) > 1 else ""
                scr.separation.append(f"cell {name}={':'.join(lv)} is all {_word(acc)}{more}")
