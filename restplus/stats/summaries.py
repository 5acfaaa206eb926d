"""Grouped accuracy with cluster-bootstrap CIs, and OCR-gate pass rates per cell."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl
from statsmodels.stats.proportion import proportion_confint

from restplus.errors import AnalysisError

from ._common import (
    check_factors,
    check_gate_policy,
    ensure_single_model,
    level_orders,
    order_key,
    prepare,
    to_polars,
    warn,
)
from .bootstrap import cluster_sums, percentile_ci, ratio, replicate_sums
from .missing import ALPHA, MISSING, missingness_frame


def accuracy_table(table: Any, by: Sequence[str], *, modalities: Sequence[str] | None = None,
                   gate_policy: str = "exclude", n_boot: int = 1000, seed: int = 0, ci: float = 0.95) -> pl.DataFrame:
    """Accuracy per group of rows (e.g. ``by=["dpi", "font"]`` for an interaction plot).

    Rows are those of ``modalities`` (default image and mixed), gated per ``gate_policy``
    ("exclude" drops ``gate_passed == False``; "ignore" keeps all). The interval is a cluster
    bootstrap over problems. Returns a polars frame with the ``by`` columns, ``modality``, ``n``,
    ``n_problems``, ``accuracy``, ``ci_low``, ``ci_high``, ``n_missing`` (rows of the group whose request
    failed, left out of ``n``; see :mod:`restplus.stats.missing`), sorted in the grammar's level order (natural order
    for tables without one).
    """
    check_gate_policy(gate_policy)
    by = [b for b in by if b != "modality"]
    extra = [b for b in by if b in ("model", "run")]
    df = prepare(table, [b for b in by if b not in ("model", "run")], what="accuracy_table", extra=extra,
                 keep_missing=True)
    ensure_single_model(df, by, "accuracy_table")
    mods = list(modalities) if modalities is not None else ["image", "mixed"]
    df = df.filter(pl.col("modality").is_in(mods))
    # Missing rows (failed requests) are counted per group before gating, then left out.
    missing = df.filter(pl.col(MISSING)).group_by([*by, "modality"]).agg(pl.len().alias("n_missing"))
    df = df.filter(~pl.col(MISSING)).drop(MISSING)
    if gate_policy == "exclude" and "gate_passed" in df.columns:
        df = df.filter(pl.col("gate_passed").fill_null(True))
    if df.height == 0:
        raise AnalysisError(f"accuracy_table: no {mods} rows (after gating).")
    keys = [*by, "modality"]
    groups = df.select(keys).unique()
    orders = level_orders(table, keys)
    ranks = [order_key(orders.get(k)) for k in keys]
    order = sorted(groups.iter_rows(), key=lambda r: tuple(k(v) for k, v in zip(ranks, r)))
    groups = pl.DataFrame(order, schema=groups.schema, orient="row").with_row_index("_g")
    df = df.join(groups, on=keys, how="left", nulls_equal=True)
    code = df.get_column("_g").to_numpy().astype(np.int64)
    pcode = (df.get_column("problem_id").rank("dense") - 1).to_numpy().astype(np.int64)
    y = df.get_column("correct").cast(pl.Float64).to_numpy()
    cs = cluster_sums(code, pcode, np.column_stack([np.ones_like(y), y]), groups.height, int(pcode.max()) + 1)
    tot = cs.totals()
    if n_boot:
        reps = replicate_sums(cs, n_boot, seed)
        lo, hi, _ = percentile_ci(ratio(reps[:, :, 1], reps[:, :, 0]), ci)
    else:
        lo = hi = np.full(groups.height, np.nan)
    n_prob = (cs.sums[:, :, 0] > 0).sum(axis=0)
    out = groups.drop("_g").with_columns(
        pl.Series("n", tot[:, 0].astype(np.int64)), pl.Series("n_problems", n_prob.astype(np.int64)),
        pl.Series("accuracy", ratio(tot[:, 1], tot[:, 0])), pl.Series("ci_low", lo).fill_nan(None),
        pl.Series("ci_high", hi).fill_nan(None))
    out = out.join(missing, on=keys, how="left", maintain_order="left", nulls_equal=True)
    return out.with_columns(pl.col("n_missing").fill_null(0).cast(pl.Int64))


def gate_summary(table: Any, factors: Sequence[str] = (), *, by: Sequence[str] = (), ci: float = 0.95) -> pl.DataFrame:
    """OCR-gate pass rate per cell and modality (image/mixed rows with a non-null ``gate_passed``).

    Within one cell each problem contributes one row, so rows are independent and the Wilson interval
    (statsmodels ``proportion_confint``) applies. Returns the ``by`` columns, the factor columns,
    ``modality``, ``n``, ``n_passed``, ``pass_rate``, ``ci_low``, ``ci_high``, ``n_ocr_missing`` (rows whose
    OCR request failed: they fail the gate, so gated analyses drop them, but they are left out of ``n`` and
    the pass rate, which measures reading); an extra row per modality with null factor levels gives the
    overall rate.
    """
    raw = to_polars(table)
    if "gate_passed" not in raw.columns:
        raise AnalysisError("gate_summary needs a gate_passed column (the OCR gate result per image row); the "
                            "table has none.")
    factors = check_factors(raw, factors)
    df = prepare(raw, factors, what="gate_summary", extra=[*by, *(["ocr_cer"] if "ocr_cer" in raw.columns else [])],
                 keep_missing=True)
    ensure_single_model(df, by, "gate_summary")
    df = df.filter((pl.col("modality") != "text") & pl.col("gate_passed").is_not_null())
    if df.height == 0:
        warn("gate_summary: no image/mixed row has a gate result.")
    # A failed OCR request fails the gate (gated analyses drop the row) but says nothing about reading:
    # it is counted in n_ocr_missing and left out of the pass rate. Without an ocr_cer column it cannot be
    # told from a failed transcription. A failed solve request (missing row) still has a gate result.
    ocr_failed = (pl.col("ocr_cer").is_null() & ~pl.col("gate_passed")) if "ocr_cer" in df.columns else pl.lit(False)
    df = df.with_columns(ocr_failed.alias("_ocr_failed"))
    keys = [*by, *factors, "modality"]
    ok = ~pl.col("_ocr_failed")
    agg = [ok.sum().cast(pl.Int64).alias("n"), pl.col("gate_passed").filter(ok).cast(pl.Int64).sum().alias("n_passed"),
           pl.col("_ocr_failed").sum().cast(pl.Int64).alias("n_ocr_missing")]
    cells = df.group_by(keys).agg(agg)
    overall = df.group_by([*by, "modality"]).agg(agg).with_columns([pl.lit(None, dtype=pl.Utf8).alias(f)
                                                                    for f in factors]).select(cells.columns)
    out = pl.concat([cells, overall])
    orders = level_orders(raw, keys)
    ranks = {k: order_key(orders.get(k)) for k in keys}
    order = sorted(out.iter_rows(named=True), key=lambda r: tuple(
        (1, ()) if r[k] is None else (0, ranks[k](r[k])) for k in keys))
    out = pl.DataFrame(order, schema=out.schema)
    n, k = out.get_column("n").to_numpy(), out.get_column("n_passed").to_numpy()
    lo, hi = proportion_confint(k, n, alpha=1 - ci, method="wilson") if n.size else (np.array([]), np.array([]))
    return out.select([*by, *factors, "modality", "n", "n_passed"]).with_columns(
        pl.Series("pass_rate", np.where(n > 0, k / np.maximum(n, 1), np.nan)).fill_nan(None),
        pl.Series("ci_low", np.asarray(lo, dtype=float)).fill_nan(None),
        pl.Series("ci_high", np.asarray(hi, dtype=float)).fill_nan(None), out.get_column("n_ocr_missing"))


def missingness(table: Any, factors: Sequence[str] = (), *, by: Sequence[str] = (), alpha: float = ALPHA,
                warn: bool = True) -> pl.DataFrame:
    """Failed requests (missing rows) per level of each factor and of ``modality``, with a test of equal
    missing rates and a :class:`~restplus.errors.MissingnessWarning` where they differ.

    Returns one row per (by..., factor, level): ``n``, ``n_missing``, ``missing_rate``, ``test``
    (fisher | chi2 | none), ``p`` and the Holm-adjusted ``p_adj``. The rule is documented in
    :mod:`restplus.stats.missing`; every analysis applies it to its input.
    """
    raw = to_polars(table)
    factors = check_factors(raw, factors)
    orders = level_orders(table, [*factors, "modality"])
    return missingness_frame(raw, factors, by=by, alpha=alpha, warn=warn,
                             sort_key=lambda f: order_key(orders.get(f)))
