"""Paired tests on the same problems: McNemar, Cochran's Q, and the paper's paired t-test.

All three work on consistency units (problem x condition; the text row paired with every condition,
see :mod:`restplus.stats.units`). With several conditions per problem the units of one problem are
not independent: McNemar and Cochran's Q then overstate the evidence (a warning says so). Restrict
to one condition with ``where={...}`` for a strictly valid test, or use :func:`effects`.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl
from scipy.stats import ttest_rel
from statsmodels.stats.contingency_tables import cochrans_q as sm_cochrans_q, mcnemar

from restplus.errors import AnalysisError, did_you_mean, unknown_name
from restplus.schema import level_label, match_level

from ._common import check_gate_policy, ensure_single_model, prepare, warn
from .multiplicity import adjust_pvalues, check_correction
from .units import build_units, present_modalities

# statsmodels' own rule of thumb: the chi-square approximation needs >= 25 discordant pairs
EXACT_BELOW = 25
MCNEMAR_COLUMNS = ("a", "b", "modality", "n_pairs", "n_problems", "acc_a", "acc_b", "n_a_only", "n_b_only",
                   "statistic", "p", "exact", "p_adj")


def _units(table: Any, factors: Sequence[str], modalities: Sequence[str] | None, gate_policy: str,
           where: Mapping[str, Any] | None, what: str, visual_only: bool = False) -> tuple[pl.DataFrame, list[str]]:
    check_gate_policy(gate_policy)
    if gate_policy == "covariate":
        raise AnalysisError(f"{what}: gate_policy='covariate' only applies to effects(); use 'exclude' or 'ignore'.")
    df = prepare(table, factors, what=what, extra=("model",), keep_missing=True)
    ensure_single_model(df, (), what)
    mods = present_modalities(df, modalities)
    if visual_only and modalities is None:
        mods = [m for m in mods if m != "text"]
    units = build_units(df, factors, modalities=mods)
    if gate_policy == "exclude" and units.get_column("gate_ok").null_count() < units.height:
        units = units.filter(pl.col("gate_ok"))
    for col, level in (where or {}).items():
        if col not in factors:
            raise unknown_name("factor in where", col, factors)
        units = units.filter(pl.col(col) == str(level))
    if units.height == 0:
        raise AnalysisError(f"{what}: no unit left after gating and where={dict(where or {})}.")
    return units, mods


def _dependence_warning(n_pairs: int, n_problems: int, what: str) -> None:
    if n_pairs > n_problems:
        warn(f"{what}: {n_pairs} pairs come from {n_problems} problems, so pairs are not independent and the "
             f"p-value is optimistic. Restrict to one condition with where={{...}} or use effects().")


def mcnemar_pairs(table: Any, factors: Sequence[str] = (), pairs: Sequence[tuple[Mapping[str, Any],
                  Mapping[str, Any]]] | None = None, *, modality: str | None = None,
                  modalities: Sequence[str] | None = None, where: Mapping[str, Any] | None = None,
                  gate_policy: str = "exclude", correction: str = "holm") -> pl.DataFrame:
    """McNemar tests between modalities, or between cells of one modality, on the same problems.

    ``pairs=None`` compares every pair of modalities on the same units. Otherwise each pair
    ``(a, b)`` holds two partial conditions such as ``({"dpi": "50"}, {"dpi": "200"})``: units at
    ``a`` are matched to units at ``b`` of the same problem that agree on every other factor, and the
    correctness of ``modality`` (default: each of image/mixed present) is compared. The test is
    exact (binomial) when there are fewer than 25 discordant pairs, else chi-square with continuity
    correction. p-values are adjusted over the returned rows (``correction``: holm, bh, bonferroni, none).

    Returns a polars frame with columns ``a``, ``b`` (labels), ``modality`` (null for modality
    pairs), ``n_pairs``, ``n_problems``, ``acc_a``, ``acc_b``, ``n_a_only`` (a correct, b wrong),
    ``n_b_only``, ``statistic``, ``p``, ``exact`` (bool), ``p_adj``.
    """
    check_correction(correction)
    if pairs is not None and modality is not None:
        modalities = [modality]
    units, mods = _units(table, factors, modalities, gate_policy, where, "mcnemar_pairs",
                         visual_only=pairs is not None)
    rows: list[dict[str, Any]] = []
    if pairs is None:
        for x, y in itertools.combinations(mods, 2):
            ca = units.get_column(f"correct_{x}").to_numpy()
            cb = units.get_column(f"correct_{y}").to_numpy()
            rows.append(_mcnemar_row(x, y, None, ca, cb, units.get_column("problem_id").n_unique()))
    else:
        targets = [modality] if modality else mods
        for a, b in pairs:
            keys = sorted(set(a) | set(b))
            bad = [k for k in keys if k not in factors]
            if bad:
                raise unknown_name("factor in pair", bad[0], factors)
            rest = [f for f in factors if f not in keys]
            ua = units.filter(_condition(units, a))
            ub = units.filter(_condition(units, b))
            on = ["problem_id", *rest]
            for m in targets:
                if f"correct_{m}" not in units.columns:
                    raise unknown_name("modality", m, [c.removeprefix("correct_") for c in units.columns
                                                      if c.startswith("correct_")])
                j = ua.select([*on, pl.col(f"correct_{m}").alias("_a")]).join(
                    ub.select([*on, pl.col(f"correct_{m}").alias("_b")]), on=on, how="inner")
                if j.height == 0:
                    raise AnalysisError(f"mcnemar_pairs: no problem has both {dict(a)} and {dict(b)} in modality "
                                        f"{m!r} (after gating); nothing to pair.")
                rows.append(_mcnemar_row(_label(a), _label(b), m, j.get_column("_a").to_numpy(),
                                         j.get_column("_b").to_numpy(), j.get_column("problem_id").n_unique()))
    frame = pl.DataFrame(rows, schema={"a": pl.Utf8, "b": pl.Utf8, "modality": pl.Utf8, "n_pairs": pl.Int64,
                                       "n_problems": pl.Int64, "acc_a": pl.Float64, "acc_b": pl.Float64,
                                       "n_a_only": pl.Int64, "n_b_only": pl.Int64, "statistic": pl.Float64,
                                       "p": pl.Float64, "exact": pl.Boolean})
    adj = adjust_pvalues(frame.get_column("p").to_numpy(), correction)
    return frame.with_columns(pl.Series("p_adj", adj, dtype=pl.Float64).fill_nan(None)).select(MCNEMAR_COLUMNS)


def _label(cond: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in cond.items()) or "(all)"


def _mcnemar_row(a: str, b: str, modality: str | None, ca: np.ndarray, cb: np.ndarray,
                 n_problems: int) -> dict[str, Any]:
    ca, cb = ca.astype(bool), cb.astype(bool)
    n10, n01 = int((ca & ~cb).sum()), int((~ca & cb).sum())
    n11, n00 = int((ca & cb).sum()), int((~ca & ~cb).sum())
    exact = (n10 + n01) < EXACT_BELOW
    _dependence_warning(ca.size, n_problems, f"McNemar {a} vs {b}")
    res = mcnemar(np.array([[n11, n10], [n01, n00]]), exact=exact, correction=True)
    return {"a": a, "b": b, "modality": modality, "n_pairs": int(ca.size), "n_problems": n_problems,
            "acc_a": float(ca.mean()), "acc_b": float(cb.mean()), "n_a_only": n10, "n_b_only": n01,
            "statistic": float(res.statistic), "p": float(res.pvalue), "exact": exact}


def cochran_q(table: Any, factors: Sequence[str] = (), *, modalities: Sequence[str] | None = None,
              where: Mapping[str, Any] | None = None, gate_policy: str = "exclude") -> pl.DataFrame:
    """Cochran's Q test that the modalities share one accuracy (statsmodels ``cochrans_q``).

    Returns a one-row frame: ``modalities`` (joined by ``,``), ``n_units``, ``n_problems``,
    ``statistic``, ``df``, ``p``.
    """
    units, mods = _units(table, factors, modalities, gate_policy, where, "cochran_q")
    if len(mods) < 3:
        warn(f"cochran_q with {len(mods)} modalities is McNemar without continuity correction; "
             f"mcnemar_pairs() gives the exact version.")
    x = units.select([pl.col(f"correct_{m}").cast(pl.Int8) for m in mods]).to_numpy()
    n_problems = units.get_column("problem_id").n_unique()
    _dependence_warning(x.shape[0], n_problems, "Cochran's Q")
    res = sm_cochrans_q(x)
    return pl.DataFrame({"modalities": [",".join(mods)], "n_units": [x.shape[0]], "n_problems": [n_problems],
                         "statistic": [float(res.statistic)], "df": [int(res.df)], "p": [float(res.pvalue)]})


def paired_ttest(table: Any, factors: Sequence[str] = (), *, a: str = "text", b: str = "image",
                 where: Mapping[str, Any] | None = None, gate_policy: str = "exclude") -> pl.DataFrame:
    """The paper's comparison: paired t-test (scipy ``ttest_rel``) on per-problem accuracies.

    Each problem's accuracy in modality ``a`` and ``b`` is the mean over its units; the test pairs
    problems. Returns one row: ``a``, ``b``, ``n_problems``, ``mean_a``, ``mean_b``, ``mean_diff``
    (a - b), ``t``, ``df``, ``p``.
    """
    units, mods = _units(table, factors, None, gate_policy, where, "paired_ttest")
    for m in (a, b):
        if m not in mods:
            raise unknown_name("modality", m, mods)
    per = units.group_by("problem_id").agg(pl.col(f"correct_{a}").cast(pl.Float64).mean().alias("a"),
                                           pl.col(f"correct_{b}").cast(pl.Float64).mean().alias("b"))
    if per.height < 2:
        raise AnalysisError(f"paired_ttest needs at least 2 problems; found {per.height}.")
    xa, xb = per.get_column("a").to_numpy(), per.get_column("b").to_numpy()
    if np.allclose(xa - xb, (xa - xb)[0]):
        raise AnalysisError("paired_ttest: the per-problem differences are all equal (zero variance); the "
                            "t statistic is undefined. Use mcnemar_pairs() instead.")
    res = ttest_rel(xa, xb)
    return pl.DataFrame({"a": [a], "b": [b], "n_problems": [per.height], "mean_a": [float(xa.mean())],
                         "mean_b": [float(xb.mean())], "mean_diff": [float((xa - xb).mean())],
                         "t": [float(res.statistic)], "df": [int(per.height - 1)], "p": [float(res.pvalue)]})


def _condition(units: pl.DataFrame, cond: dict[str, Any]) -> pl.Expr:
    """Rows matching a condition written as the spec wrote its levels (``{"dpi": 50}`` or ``"50"``)."""
    exprs = []
    for k, v in cond.items():
        labels = [str(x) for x in units.get_column(k).drop_nulls().unique().to_list()]
        lab = match_level(v, labels)
        if lab is None:
            raise AnalysisError(f"pair level {level_label(v)!r} of factor {k!r} is not among its levels "
                                f"{sorted(labels)}.{did_you_mean(str(level_label(v)), labels)}")
        exprs.append(pl.col(k) == lab)
    return pl.all_horizontal(exprs or [pl.lit(True)])
