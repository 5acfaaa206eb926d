"""Consistency metrics of the REST paper (RER, CFR, MMC, per-modality accuracy, agreement, kappa).

Definitions (per unit = problem x visual condition, the text row paired with every condition):

- ``acc_<m>``: share of units whose ``m`` answer is correct.
- ``rer``: render-equivalence rate, share of units whose answers are identical in every modality,
  right or wrong. Extracted answer strings are compared; an unparsed answer (null) equals nothing.
- ``mmc``: max modal coverage, share of units solved in at least one modality.
- ``all_correct``: share of units solved in every modality.
- ``cfr``: cross-modality failure rate, among units solved in >= 1 modality the share not solved in
  all (units wrong everywhere are excluded). Identity: cfr = (mmc - all_correct) / mmc.
- ``agree_<a>_<b>``: share of units whose ``a`` and ``b`` answers are identical (non-null).
- ``kappa_<a>_<b>``: Cohen's kappa between the correctness of ``a`` and ``b``.
- ``fleiss_kappa``: Fleiss' kappa of correctness across all compared modalities (>= 3 only).
- ``gate_pass``: share of units passing the OCR gate (ungated rows only).
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import polars as pl
from statsmodels.stats.inter_rater import cohens_kappa, fleiss_kappa

from restplus.errors import AnalysisError, unknown_name

from ._common import ensure_single_model, level_orders, order_key, prepare, warn
from .bootstrap import (
    bootstrap_weights,
    clopper_pearson,
    cluster_sums,
    design_effect,
    kappa_from_sums,
    percentile_ci,
    ratio,
    replicate_sums,
)
from .units import build_units, present_modalities

Scope = Literal["overall", "factor", "cell"]
SCOPES = ("overall", "factor", "cell")
GATED_CHOICES = ("both", "gated", "ungated")
METRIC_COLUMNS = ("scope", "within", "factor", "level", "metric", "value", "ci_low", "ci_high", "n_units",
                  "n_problems", "n_missing", "gated", "note")


def consistency(table: Any, factors: Sequence[str] = (), *, by: Sequence[str] = (),
                modalities: Sequence[str] | None = None, scopes: Sequence[str] = SCOPES,
                gated: Literal["both", "gated", "ungated"] = "both", n_boot: int = 1000, seed: int = 0,
                ci: float = 0.95) -> pl.DataFrame:
    """Consistency metrics overall, per factor level and per cell, with cluster-bootstrap CIs.

    Parameters
    ----------
    table : the long per-sample table (polars/pandas/pyarrow), see :mod:`restplus.schema`. Reads
        ``problem_id``, ``modality``, ``answer``, ``correct``, ``gate_passed`` (optional), the factor
        columns and the ``by`` columns. ``prompt_type == "ocr"`` rows are ignored.
    factors : visual factor columns; a condition is the tuple of their levels. ``[]`` for a plain
        REST table (one image per problem and modality).
    by : columns that split the table into independent analyses (e.g. ``["model"]``).
    modalities : modalities compared (default: all present, in text/image/mixed order; the text
        baseline must then be among them). At least two.
    scopes : any of ``"overall"``, ``"factor"`` (each level of each factor), ``"cell"`` (each condition).
    gated : ``"both"`` (default), ``"gated"`` (gate-passed units only, as in the paper) or ``"ungated"``.
    n_boot : bootstrap replicates (0 disables CIs). seed : seed of ``np.random.default_rng``.
    ci : interval coverage.

    Returns
    -------
    polars.DataFrame, one row per (by..., scope, factor, level, metric, gated):

    - the ``by`` columns;
    - ``scope``: ``overall`` | ``factor`` | ``cell``;
    - ``within``: for ``factor`` rows of a design that is not fully crossed (a union such as REST+),
      the cells every level of the factor is summarised over, e.g. ``"arm font×dpi"``: conditions
      where the factor varies with the other factors at that arm's own levels, so the levels are
      compared over the same cells. Null when that is every cell;
    - ``factor``: factor name (scope factor), the factors joined by ``:`` (cell), null (overall);
    - ``level``: the level (factor), levels joined by ``:`` (cell), null (overall);
    - ``metric``: see the module docstring;
    - ``value``: point estimate (a share in [0, 1]; kappa in [-1, 1]);
    - ``ci_low``, ``ci_high``: percentile interval from a cluster bootstrap over ``problem_id``
      (problems resampled with replacement, the same resamples for every row of one ``by`` group);
    - ``n_units``: units in the metric's denominator (for ``cfr``: units solved in >= 1 modality);
    - ``n_problems``: problems contributing to that denominator;
    - ``n_missing``: units of that scope and level left out because a request failed in one of the
      compared modalities (a missing row, see :mod:`restplus.stats.missing`); not in ``n_units``;
    - ``gated``: whether only gate-passed units were used;
    - ``note``: null, or why a value or interval is missing (e.g. a single problem, kappa undefined).
    """
    if n_boot < 0:
        raise AnalysisError(f"n_boot must be >= 0 (0 disables the bootstrap), got {n_boot}.")
    bad = [s for s in scopes if s not in SCOPES]
    if bad:
        raise unknown_name("scope", bad[0], SCOPES)
    if gated not in GATED_CHOICES:
        raise unknown_name("gated choice", gated, GATED_CHOICES)
    by = [str(b) for b in by]
    df = prepare(table, factors, what="consistency", need_answer=True, extra=["model", *by], keep_missing=True)
    orders = level_orders(table, factors)
    ensure_single_model(df, by, "consistency")
    factors = list(factors)
    mods = present_modalities(df, modalities)
    if modalities is None and "text" not in mods and len(mods) >= 2:
        # The paper's RER compares each rendering with the text baseline; a table without text rows
        # (e.g. a visual-factor filter dropped them) would silently give image-vs-mixed figures.
        raise AnalysisError(
            f"the table has no text rows, so RER/CFR/MMC would compare only {'/'.join(mods)}. Keep the text "
            f"baseline rows, or pass modalities={mods} to compare only those, explicitly.")
    if len(mods) < 2:
        raise AnalysisError(f"consistency compares modalities, but only {mods} are present; RER, CFR and "
                            f"MMC need at least two of text/image/mixed.")
    sink: list[str] = []
    lost: list[pl.DataFrame] = []
    units = build_units(df, factors, by=by, modalities=mods, sink=sink, missing_sink=lost)
    has_gate = units.get_column("gate_ok").null_count() < units.height
    passes = {"both": (False, True), "gated": (True,), "ungated": (False,)}[gated]
    if not has_gate and True in passes:
        if gated == "gated":
            raise AnalysisError("gated='gated' needs a gate_passed column; the table has none. "
                                "Use gated='ungated'.")
        warn("the table has no gate_passed column: only ungated metrics are reported.", sink)
        passes = (False,)
    parts: list[pl.DataFrame] = []
    groups = units.partition_by(by, maintain_order=True, as_dict=True) if by else {(): units}
    for key, u in groups.items():
        # one problem coding and one set of resamples per group: gated and ungated rows, and every
        # scope, are computed on the same bootstrap draws of problems
        pcode = (u.get_column("problem_id").rank("dense") - 1).to_numpy().astype(np.int64)
        n_prob = int(pcode.max()) + 1
        weights = bootstrap_weights(n_prob, n_boot, seed) if n_boot else None
        for gated_flag in passes:
            mask = u.get_column("gate_ok").fill_null(True).to_numpy() if gated_flag else np.ones(u.height, bool)
            if not mask.any():
                warn(f"no unit passes the gate{_key_text(by, key)}: gated metrics are empty.", sink)
                continue
            uu = u.filter(pl.Series(mask))
            frame = _metrics_for(uu, pcode[mask], n_prob, weights, factors, mods, scopes, gated_flag, has_gate,
                                 ci, orders)
            for b, v in zip(by, key):
                frame = frame.with_columns(pl.lit(v).alias(b))
            parts.append(frame)
    if not parts:
        raise AnalysisError("no unit is left to compute consistency metrics on (all failed the gate?).")
    out = pl.concat(parts, how="vertical_relaxed")
    out = _with_missing(out, lost[0] if lost else None, by, factors, scopes)
    return out.select([*by, *METRIC_COLUMNS])


def _with_missing(out: pl.DataFrame, lost: pl.DataFrame | None, by: list[str], factors: list[str],
                  scopes: Sequence[str]) -> pl.DataFrame:
    """``n_missing``: units of each (by, scope, factor, level) left out for a failed request."""
    on = [*by, "scope", "factor", "level"]
    if lost is None or lost.height == 0:
        return out.with_columns(pl.lit(0, dtype=pl.Int64).alias("n_missing"))
    parts = []
    if "overall" in scopes:
        parts.append(lost.group_by(by).agg(pl.len().alias("n_missing")).with_columns(
            pl.lit("overall").alias("scope"), pl.lit(None, dtype=pl.Utf8).alias("factor"),
            pl.lit(None, dtype=pl.Utf8).alias("level")) if by else pl.DataFrame(
            {"n_missing": [lost.height], "scope": ["overall"], "factor": [None], "level": [None]},
            schema={"n_missing": pl.UInt32, "scope": pl.Utf8, "factor": pl.Utf8, "level": pl.Utf8}))
    if "factor" in scopes:
        for f in factors:
            parts.append(lost.group_by([*by, f]).agg(pl.len().alias("n_missing")).with_columns(
                pl.lit("factor").alias("scope"), pl.lit(f).alias("factor"), pl.col(f).cast(pl.Utf8).alias("level")))
    if "cell" in scopes and factors:
        parts.append(lost.group_by([*by, *factors]).agg(pl.len().alias("n_missing")).with_columns(
            pl.lit("cell").alias("scope"), pl.lit(":".join(factors)).alias("factor"),
            pl.concat_str([pl.col(f).cast(pl.Utf8) for f in factors], separator=":").alias("level")))
    if not parts:
        return out.with_columns(pl.lit(0, dtype=pl.Int64).alias("n_missing"))
    counts = pl.concat([p.select([*on, pl.col("n_missing").cast(pl.Int64)]) for p in parts], how="vertical_relaxed")
    counts = counts.with_columns([pl.col(b).cast(out.schema[b]) for b in by])
    return out.join(counts, on=on, how="left", maintain_order="left", nulls_equal=True).with_columns(
        pl.col("n_missing").fill_null(0))


def _key_text(by: Sequence[str], key: tuple[Any, ...]) -> str:
    return "" if not by else " for " + ", ".join(f"{b}={v!r}" for b, v in zip(by, key))


def _stats_layout(mods: list[str]) -> tuple[list[str], list[tuple[str, str, tuple[str, ...]]]]:
    """Names of per-unit statistics and the metrics built from them: (metric, kind, stat names)."""
    pairs = list(itertools.combinations(mods, 2))
    stats = ["n", *[f"c_{m}" for m in mods], "eq", "any", "all", "any_not_all", "gate",
             "ncorr", "ncorr2"]
    metrics: list[tuple[str, str, tuple[str, ...]]] = [(f"acc_{m}", "ratio", (f"c_{m}", "n")) for m in mods]
    metrics += [("rer", "ratio", ("eq", "n")), ("cfr", "ratio", ("any_not_all", "any")),
                ("mmc", "ratio", ("any", "n")), ("all_correct", "ratio", ("all", "n"))]
    for a, b in pairs:
        stats += [f"agree_{a}_{b}", f"n11_{a}_{b}", f"n10_{a}_{b}", f"n01_{a}_{b}"]
        metrics.append((f"agree_{a}_{b}", "ratio", (f"agree_{a}_{b}", "n")))
        metrics.append((f"kappa_{a}_{b}", "kappa", ("n", f"n11_{a}_{b}", f"n10_{a}_{b}", f"n01_{a}_{b}")))
    if len(mods) >= 3:
        metrics.append(("fleiss_kappa", "fleiss", ("n", "ncorr", "ncorr2")))
    return stats, metrics


def _unit_stats(u: pl.DataFrame, mods: list[str], names: list[str]) -> np.ndarray:
    c = {m: pl.col(f"correct_{m}") for m in mods}
    a = {m: pl.col(f"answer_{m}") for m in mods}
    first = a[mods[0]]
    eq = pl.all_horizontal([a[m].is_not_null() for m in mods] + [a[m] == first for m in mods[1:]])
    any_c = pl.any_horizontal(list(c.values()))
    all_c = pl.all_horizontal(list(c.values()))
    ncorr = pl.sum_horizontal([c[m].cast(pl.Int32) for m in mods])
    exprs: dict[str, pl.Expr] = {"n": pl.lit(1), "eq": eq, "any": any_c, "all": all_c,
                                 "any_not_all": any_c & ~all_c, "gate": pl.col("gate_ok").fill_null(True),
                                 "ncorr": ncorr, "ncorr2": ncorr * ncorr}
    for m in mods:
        exprs[f"c_{m}"] = c[m]
    for x, y in itertools.combinations(mods, 2):
        exprs[f"agree_{x}_{y}"] = (a[x] == a[y]).fill_null(False)
        exprs[f"n11_{x}_{y}"] = c[x] & c[y]
        exprs[f"n10_{x}_{y}"] = c[x] & ~c[y]
        exprs[f"n01_{x}_{y}"] = ~c[x] & c[y]
    return u.select([exprs[n].cast(pl.Float64).alias(n) for n in names]).to_numpy()


def _matched_cells(u: pl.DataFrame, factors: list[str], factor: str, n_levels: int) -> np.ndarray:
    """Units whose condition has every level of ``factor`` observed with the other factors as they are.

    In a fully crossed grid that is every unit. In a union design (REST+: ``font x dpi`` union a colour
    arm) it is the arm(s) where ``factor`` varies, other factors at that arm's own levels, so each
    level of the factor is summarised over the same cells (pooling every cell with DejaVu Sans, the
    reference font, would mix the colour arm into it and not into Kalam).
    """
    others = [f for f in factors if f != factor]
    if not others:
        return np.ones(u.height, dtype=bool)
    lines = u.select([*others, factor]).unique().group_by(others).agg(pl.col(factor).n_unique().alias("_k"))
    full = lines.filter(pl.col("_k") == n_levels).select(others).with_columns(pl.lit(True).alias("_keep"))
    if full.height == 0:  # no matched line at all: summarise over every cell (as before), see `within`
        return np.ones(u.height, dtype=bool)
    keep = u.select(others).join(full, on=others, how="left", maintain_order="left").get_column("_keep")
    return keep.fill_null(False).to_numpy()


def _within(u: pl.DataFrame, factors: list[str], codes: np.ndarray) -> str | None:
    """Name of the cells a per-level row summarises: null for every cell, else ``"arm a×b"``."""
    if (codes >= 0).all():
        return None
    kept = u.filter(pl.Series(codes >= 0)).select(factors)
    varying = [f for f in factors if kept.get_column(f).n_unique() > 1]
    return "arm " + "×".join(varying)


def _scope_codes(u: pl.DataFrame, factors: list[str], scope: str, factor: str | None,
                 orders: dict[str, list[str]]) -> tuple[np.ndarray, list[tuple[str | None, str | None]]]:
    """Group code per unit and the (factor, level) label of each group."""
    if scope == "overall":
        return np.zeros(u.height, dtype=np.int64), [(None, None)]
    if scope == "factor":
        assert factor is not None
        levels = sorted(u.get_column(factor).unique().to_list(), key=order_key(orders.get(factor)))
        codes = u.get_column(factor).replace_strict({lv: i for i, lv in enumerate(levels)},
                                                    return_dtype=pl.Int64).to_numpy()
        keep = _matched_cells(u, factors, factor, len(levels))
        return np.where(keep, codes, -1), [(factor, lv) for lv in levels]
    keys = [order_key(orders.get(f)) for f in factors]
    rows = sorted(u.select(factors).unique().iter_rows(), key=lambda r: tuple(k(v) for k, v in zip(keys, r)))
    cells = pl.DataFrame(rows, schema={f: pl.Utf8 for f in factors}, orient="row").with_row_index("_cell")
    codes = u.join(cells, on=factors, how="left", maintain_order="left").get_column("_cell").to_numpy()
    name = ":".join(factors)
    labels = [(name, ":".join(str(v) for v in row)) for row in cells.select(factors).iter_rows()]
    return codes.astype(np.int64), labels


def _metrics_for(u: pl.DataFrame, pcode: np.ndarray, n_prob: int, weights: np.ndarray | None, factors: list[str],
                 mods: list[str], scopes: Sequence[str], gated: bool, has_gate: bool, ci: float,
                 orders: dict[str, list[str]]) -> pl.DataFrame:
    names, metrics = _stats_layout(mods)
    if not gated and has_gate:
        metrics = [*metrics, ("gate_pass", "ratio", ("gate", "n"))]
    idx = {n: i for i, n in enumerate(names)}
    stats = _unit_stats(u, mods, names)
    n_boot = 0 if weights is None else weights.shape[0]
    plan: list[tuple[str, str | None]] = []
    if "overall" in scopes:
        plan.append(("overall", None))
    if "factor" in scopes:
        plan += [("factor", f) for f in factors]
    if "cell" in scopes and factors:
        plan.append(("cell", None))
    rows: list[dict[str, Any]] = []
    for scope, factor in plan:
        codes, labels = _scope_codes(u, factors, scope, factor, orders)
        within = _within(u, factors, codes) if scope == "factor" else None
        keep = codes >= 0
        cs = cluster_sums(codes[keep], pcode[keep], stats[keep], len(labels), n_prob)
        tot = cs.totals()  # (G, K)
        present = cs.sums > 0  # (P, G, K): which problems contribute to each sum
        reps = replicate_sums(cs, n_boot, 0, weights=weights) if weights is not None else None
        for metric, kind, args in metrics:
            cols = [idx[a] for a in args]
            point = _metric_values(kind, tot[None, :, cols], len(mods))[0]
            if kind == "kappa":
                point = _statsmodels_kappa(tot[:, cols])
            elif kind == "fleiss":
                point = _statsmodels_fleiss(u, mods, codes, len(labels), point)
            den_col = cols[1] if kind == "ratio" else cols[0]
            n_units = tot[:, den_col]
            n_problems = present[:, :, den_col].sum(axis=0)
            boundary: np.ndarray = np.zeros(len(labels), dtype=bool)
            n_eff = np.full(len(labels), np.nan)
            if reps is not None:
                lo, hi, share_nan = percentile_ci(_metric_values(kind, reps[:, :, cols], len(mods)), ci)
                if kind == "ratio":
                    lo, hi, boundary, n_eff = _boundary_interval(cs.sums[:, :, cols[0]], cs.sums[:, :, cols[1]],
                                                                 point, lo, hi, ci)
            else:
                lo = hi = np.full(len(labels), np.nan)
                share_nan = np.zeros(len(labels))
            for g, (fac, lev) in enumerate(labels):
                note = _note(kind, point[g], n_units[g], n_problems[g], share_nan[g], n_boot)
                if boundary[g] and n_problems[g] > 1:
                    why = (f"value {point[g]:g} at the boundary" if point[g] in (0.0, 1.0) else
                           "one unit per problem" if n_eff[g] == n_units[g] and n_units[g] == n_problems[g]
                           else "bootstrap distribution degenerate")
                    extra = (f"{why}: Clopper-Pearson interval on the effective sample size n_eff = {n_eff[g]:.1f} "
                             f"(n_units / cluster design effect {n_units[g] / n_eff[g]:.2f})")
                    note = extra if note is None else f"{note}; {extra}"
                ok_ci = n_problems[g] > 1 and np.isfinite(point[g])
                rows.append({"scope": scope, "within": within, "factor": fac, "level": lev, "metric": metric,
                             "value": float(point[g]), "ci_low": float(lo[g]) if ok_ci else None,
                             "ci_high": float(hi[g]) if ok_ci else None, "n_units": int(n_units[g]),
                             "n_problems": int(n_problems[g]), "gated": gated, "note": note})
    frame = pl.DataFrame(rows, schema={"scope": pl.Utf8, "within": pl.Utf8, "factor": pl.Utf8, "level": pl.Utf8,
                                       "metric": pl.Utf8, "value": pl.Float64, "ci_low": pl.Float64,
                                       "ci_high": pl.Float64, "n_units": pl.Int64, "n_problems": pl.Int64,
                                       "gated": pl.Boolean, "note": pl.Utf8})
    return frame.with_columns(pl.col("value").fill_nan(None), pl.col("ci_low").fill_nan(None),
                              pl.col("ci_high").fill_nan(None))


def _boundary_interval(y: np.ndarray, n: np.ndarray, point: np.ndarray, lo: np.ndarray, hi: np.ndarray, ci: float
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Replace percentile intervals that cannot cover: a share at 0 or 1, or a degenerate bootstrap.

    A percentile bootstrap of a share observed at 0 (no problem in the cell solved it) returns
    [0, 0] whatever the true rate; with 15 problems and a true all-correct rate of 0.05 that happens
    in a third of samples. There the interval is Clopper-Pearson on the clustered effective sample
    size ``n_eff = n_units / design effect`` (:func:`restplus.stats.bootstrap.design_effect`), which
    is valid at the boundary and, per cell, uses n_eff = n_problems exactly (one unit per problem).
    Every problem contributing at most one unit (a cell) is treated the same way: the count is then
    binomial and the exact interval holds its coverage where the percentile bootstrap does not.
    Returns (lo, hi, replaced, n_eff); ``y`` and ``n`` are (P, G) per-problem numerator/denominator sums.
    """
    n_eff = n.sum(axis=0) / design_effect(y, n)
    with np.errstate(invalid="ignore"):
        # one unit per problem (every cell): the count is exactly binomial, and the exact interval
        # covers where the percentile bootstrap of 15 problems runs at 0.85-0.92
        single = n.max(axis=0) <= 1
        replaced = np.isfinite(point) & ((point <= 0) | (point >= 1) | ~(hi - lo > 1e-12) | single)
    if replaced.any():
        x = np.where(np.isfinite(point), point, 0.0) * n_eff
        c_lo, c_hi = clopper_pearson(x, n_eff, ci)
        lo, hi = np.where(replaced, c_lo, lo), np.where(replaced, c_hi, hi)
    return lo, hi, replaced, n_eff


def _metric_values(kind: str, s: np.ndarray, n_mods: int) -> np.ndarray:
    """Metric from sums; ``s`` is (R, G, len(args)) for R replicates (or 1 for the point)."""
    if kind == "ratio":
        return ratio(s[..., 0], s[..., 1])
    if kind == "kappa":
        return kappa_from_sums(s[..., 0], s[..., 1], s[..., 2], s[..., 3])
    # Fleiss' kappa from sums of k (correct count) and k^2 over units; M raters per unit
    return _fleiss_from_sums(s[..., 0], s[..., 1], s[..., 2], n_mods)


def _fleiss_from_sums(n: np.ndarray, k: np.ndarray, k2: np.ndarray, m: int) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        # per unit: sum_j n_ij^2 = k^2 + (m - k)^2 = m^2 - 2mk + 2k^2
        sq = m * m * n - 2 * m * k + 2 * k2
        p_bar = (sq - m * n) / (m * (m - 1) * n)
        p1 = k / (m * n)
        pe = p1 ** 2 + (1 - p1) ** 2
        out = (p_bar - pe) / (1 - pe)
    return np.where((n > 0) & (np.abs(1 - pe) > 1e-12), out, np.nan)


def _statsmodels_kappa(tot: np.ndarray) -> np.ndarray:
    out = np.full(tot.shape[0], np.nan)
    for g, (n, n11, n10, n01) in enumerate(tot):
        tab = np.array([[n11, n10], [n01, n - n11 - n10 - n01]])
        p1, p2 = (n11 + n10) / n if n else 0, (n11 + n01) / n if n else 0
        if n == 0 or (p1 in (0.0, 1.0) and p2 == p1):
            continue  # undefined: both raters constant in the same category (pe == 1)
        out[g] = cohens_kappa(tab, return_results=False)
    return out


def _statsmodels_fleiss(u: pl.DataFrame, mods: list[str], codes: np.ndarray, n_groups: int,
                        vectorised: np.ndarray) -> np.ndarray:
    k = u.select(pl.sum_horizontal([pl.col(f"correct_{m}").cast(pl.Int32) for m in mods])).to_series().to_numpy()
    m = len(mods)
    out = np.full(n_groups, np.nan)
    for g in range(n_groups):
        kk = k[codes == g]
        if kk.size == 0 or not np.isfinite(vectorised[g]):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out[g] = fleiss_kappa(np.column_stack([kk, m - kk]), method="fleiss")
    return out


def _note(kind: str, value: float, n_units: float, n_problems: int, share_nan: float, n_boot: int) -> str | None:
    if n_units == 0:
        return "no units in the denominator"
    if not np.isfinite(value):
        return ("kappa undefined: correctness is constant in both modalities" if kind in ("kappa", "fleiss")
                else "undefined")
    if n_problems <= 1:
        return "single problem: no cluster-bootstrap interval"
    if n_boot == 0:
        return "n_boot=0: no interval"
    if share_nan > 0.05:
        return f"{share_nan:.0%} of bootstrap replicates undefined; interval from the rest"
    return None
