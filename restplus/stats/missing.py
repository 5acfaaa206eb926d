"""Missing rows: failed requests are left out of every metric, counted, and tested for dependence.

A row is **missing** when its request failed: the ``error`` column is set (the runner then leaves
``answer`` and ``correct`` null). It says nothing about the model's ability, so it is neither right
nor wrong: analyses drop it and report how many were dropped per group (``n_missing``). Tables from
older restplus versions scored such rows ``correct = False``; the ``error`` column still marks them
missing, so re-analysing an old run gives the corrected numbers.

Dropping is unbiased only when failures do not depend on the factors. Timeouts on large 200-DPI
renders, for example, would remove 200-DPI rows selectively. :func:`missingness` tests, for every
factor (and for ``modality``), whether the missing rate is the same at every level:

- two levels: Fisher's exact test on the 2x2 table (missing, answered) x level;
- three or more: Pearson's chi-square test of homogeneity on the 2xk table (scipy
  ``chi2_contingency``, no continuity correction);
- p-values are Holm-adjusted over the factors tested in one group (run/model); a factor with
  ``p_adj < alpha`` (default 0.05) gets a :class:`~restplus.errors.MissingnessWarning` naming the
  per-level rates. Visual factors are tested on image/mixed rows (they do not apply to text).

Rows are treated as independent although rows of one problem are correlated, so the test is a
screen, not an inference; it errs towards warning, which is the safe side for a bias alert.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import polars as pl

from restplus.errors import MissingnessWarning

from .multiplicity import adjust_pvalues

MISSING = "_missing"
ALPHA = 0.05
MISSINGNESS_COLUMNS = ("factor", "level", "n", "n_missing", "missing_rate", "test", "p", "p_adj")


def missing_expr(columns: Sequence[str]) -> pl.Expr:
    """True on missing rows: a failed request (``error`` set). False when the table has no ``error``."""
    if "error" in columns:
        return pl.col("error").is_not_null()
    return pl.lit(False)


def _test(counts: np.ndarray) -> tuple[str, float]:
    """(test name, p) for a k x 2 table of (missing, answered) counts per level."""
    from scipy.stats import chi2_contingency, fisher_exact

    counts = counts[counts.sum(axis=1) > 0]
    if counts.shape[0] < 2 or counts[:, 0].sum() == 0 or counts[:, 1].sum() == 0:
        return "none", float("nan")  # one level, or nothing (or everything) missing: no contrast to test
    if counts.shape[0] == 2:
        return "fisher", float(fisher_exact(counts)[1])
    return "chi2", float(chi2_contingency(counts, correction=False)[1])


def missingness_frame(raw: pl.DataFrame, factors: Sequence[str] = (), *, by: Sequence[str] = (),
                      alpha: float = ALPHA, warn: bool = True, sink: list[str] | None = None,
                      sort_key: Callable[[str], Callable[[str], Any]] | None = None) -> pl.DataFrame:
    """Missing-row counts per level of each factor and of ``modality``, with a test of equal rates.

    Reads ``modality``, ``error`` and the factor / ``by`` columns (``prompt_type == "ocr"`` rows are
    ignored: a failed transcription shows in the gate, not here). Returns one row per (by..., factor,
    level): ``n`` rows, ``n_missing``, ``missing_rate``, and per factor the ``test`` (fisher | chi2 |
    none), its ``p`` and the Holm-adjusted ``p_adj``. With ``warn=True`` a factor whose ``p_adj < alpha``
    emits a :class:`~restplus.errors.MissingnessWarning` (and the message is appended to ``sink``).
    ``sort_key(factor)`` orders a factor's levels (the public :func:`restplus.stats.missingness` passes
    the grammar order); this module does not import ``_common``, so the input normalisation
    (``prepare``) can call it.
    """
    df = raw.filter(pl.col("prompt_type").is_null() | (pl.col("prompt_type") != "ocr")) \
        if "prompt_type" in raw.columns else raw
    df = df.with_columns(missing_expr(df.columns).alias(MISSING))
    by = [b for b in by if b in df.columns]
    frames: list[pl.DataFrame] = []
    groups = df.partition_by(by, maintain_order=True, as_dict=True) if by else {(): df}
    for key, g in groups.items():
        rows: list[dict[str, Any]] = []
        tested: list[tuple[str, str, float]] = []
        for f in ["modality", *factors]:
            sub = g if f == "modality" else g.filter(pl.col("modality") != "text")
            if f not in sub.columns or sub.height == 0:
                continue
            agg = (sub.group_by(pl.col(f).cast(pl.String).alias("level"))
                   .agg(pl.len().alias("n"), pl.col(MISSING).sum().alias("n_missing"))
                   .filter(pl.col("level").is_not_null()))
            levels = sorted(agg.iter_rows(named=True), key=lambda r: (sort_key(f) if sort_key else str)(r["level"]))
            counts = np.array([[r["n_missing"], r["n"] - r["n_missing"]] for r in levels], dtype=np.int64)
            test, p = _test(counts) if counts.size else ("none", float("nan"))
            tested.append((f, test, p))
            for r in levels:
                rows.append({**dict(zip(by, key)), "factor": f, "level": r["level"], "n": int(r["n"]),
                             "n_missing": int(r["n_missing"]), "missing_rate": r["n_missing"] / r["n"],
                             "test": test, "p": p})
        adj = dict(zip([t[0] for t in tested], adjust_pvalues([t[2] for t in tested], "holm")))
        for r in rows:
            r["p_adj"] = float(adj[r["factor"]])
        frame = pl.DataFrame(rows, schema={**{b: df.schema[b] for b in by}, "factor": pl.String,
                                           "level": pl.String, "n": pl.Int64, "n_missing": pl.Int64,
                                           "missing_rate": pl.Float64, "test": pl.String, "p": pl.Float64,
                                           "p_adj": pl.Float64}) if rows else None
        if frame is None:
            continue
        frames.append(frame)
        if warn:
            where = "" if not by else " (" + ", ".join(f"{b}={v}" for b, v in zip(by, key)) + ")"
            for f, test, _ in tested:
                part = frame.filter(pl.col("factor") == f)
                p_adj = part.get_column("p_adj")[0]
                if p_adj is None or not np.isfinite(p_adj) or p_adj >= alpha:
                    continue
                rates = ", ".join(f"{r['level']} {r['n_missing']}/{r['n']}" for r in part.iter_rows(named=True))
                msg = (f"missing rows depend on {f!r}{where}: failed requests per level {rates} ({test} test, "
                       f"Holm p_adj={p_adj:.3g} < {alpha}). Missing rows are left out, so the remaining rows of "
                       f"the levels that fail more are a selected sample and the {f} effect is biased. Re-run the "
                       "run folder to retry the failed requests (they are not cached), or fix their cause "
                       "(e.g. a timeout on large images).")
                if sink is not None:
                    sink.append(msg)
                warnings.warn(msg, MissingnessWarning, stacklevel=3)
    if not frames:
        return pl.DataFrame(schema={**{b: pl.String for b in by}, "factor": pl.String, "level": pl.String,
                                    "n": pl.Int64, "n_missing": pl.Int64, "missing_rate": pl.Float64,
                                    "test": pl.String, "p": pl.Float64, "p_adj": pl.Float64})
    return pl.concat(frames, how="vertical_relaxed")
