"""Effect-table rows and joint tests from one fitted model (logit or linear probability model).

Logit rows: delta = average marginal contrast on the probability scale (delta-method CI), odds ratio
= exp(coefficient) with its Wald interval; z/p test the delta itself (delta-method SE from the same
clustered covariance, so p and the delta CI always agree); p_coef tests the coefficient (log OR = 0),
which with interactions in the model is conditional on the other factors at reference.

LPM rows (``fit.link == "identity"``): delta = the same average marginal contrast, which for a linear
model is a linear combination of coefficients (its SE is exact, not a linearisation); z/p test that
contrast, so the row's interval and p agree; odds ratios are null (an LPM has none). A row whose
contrast SE is unusable (see :mod:`restplus.stats.engine.degenerate`) is replaced by the exact comparison of
:mod:`restplus.stats.engine.exact`; a factor's joint test on a singular covariance block likewise becomes a
Friedman (or sign) test over problems, and an interaction's is left out with a note.

Reference distributions (:mod:`restplus.stats.engine.small_sample`): for a cluster-robust fit every row's z
(an ``estimate / SE`` statistic, kept under that name) is referred to t(G - 1), for its p-value and
its delta and odds-ratio intervals alike, and every joint Wald chi2 on q restrictions to
the Hotelling-type F((G - q) / ((G - 1) q) chi2; q, G - q); a model-based fit keeps normal / chi2.
Each row and test records the reference in ``dist`` and ``df_denom``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl

from .degenerate import coefficient_problem, joint_wald
from .design import Design
from .exact import exact_joint, exact_row
from .fit import Fit
from .marginal import MarginalCalculator, interaction_contrast, level_contrast
from .small_sample import ROW_EXACT, TEST_EXACT, TEST_FRIEDMAN, Reference, reference_for


def model_rows(df: pl.DataFrame, design: Design, fit: Fit, ref: Mapping[str, str], has_text: bool, *,
               lpm_note: str | None, n_boot: int, seed: int, ci: float
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows of the effect table and of the joint tests. ``lpm_note`` (LPM fits only) is put on every row."""
    lpm = fit.link == "identity"
    dist = reference_for(fit.clusters)
    zc = dist.critical(ci)
    y = df.get_column("correct").cast(pl.Float64).to_numpy()
    pid = (df.get_column("problem_id").rank("dense") - 1).to_numpy().astype(np.int64)
    is_visual = (df.get_column("modality") != "text").to_numpy()
    fit_rows = fit.rows
    calc = MarginalCalculator(design, fit.X, fit.params, fit.cov, link=fit.link)
    # rows averaged over: visual factors over image/mixed rows, modality over all rows; for fe-logit
    # only informative problems move (the rest contribute zero change, hence the scale factor)
    informative = np.zeros(df.height, dtype=bool)
    informative[fit_rows if fit_rows is not None else slice(None)] = True

    def avg_rows(visual_only: bool) -> tuple[np.ndarray | None, float, str]:
        base = is_visual if (visual_only and has_text) else np.ones(df.height, dtype=bool)
        key = "visual" if (visual_only and has_text) else "all"
        sel = base[fit_rows] if fit_rows is not None else base
        scale = (base & informative).sum() / base.sum()
        return (None if sel.all() else sel), float(scale), key

    def rows_expr(factors: tuple[str, ...]) -> pl.Expr:
        return pl.lit(True) if "modality" in factors else (pl.col("modality") != "text")

    rows: list[dict[str, Any]] = []
    se = np.sqrt(np.clip(np.diag(fit.cov), 0, None))
    for j, col in enumerate(design.columns):
        if not col.assign:
            continue
        beta, s = float(fit.params[j]), float(se[j])
        visual_only = "modality" not in col.factors
        rmask, scale, key = avg_rows(visual_only)
        if len(col.assign) == 1:
            f, lv = col.assign[0]
            con = calc.contrast(level_contrast(f, lv, ref[f]), rmask, key)
        else:
            con = calc.contrast(interaction_contrast(col.assign, ref), rmask, key)
        if lpm:
            why = coefficient_problem(con.estimate, con.se ** 2, logit=False)
            if why:
                row = exact_row(df, col.assign, ref, rows_expr(col.factors), design.factors,
                                f"{lpm_note}; model SE unusable ({why})", n_boot=n_boot, seed=seed, ci=ci)
                rows.append({**row, "dist": None if row["p"] is None else ROW_EXACT, "df_denom": None})
                continue
        at_level = np.ones(df.height, dtype=bool)
        at_ref = np.ones(df.height, dtype=bool)
        for f, lv in col.assign:
            codes = design.codes[f]
            at_level &= codes == design.levels[f].index(lv)
            at_ref &= codes == 0
        if visual_only and has_text:
            at_level &= is_visual
            at_ref &= is_visual
        # one estimand per row: z and p test the row's delta (the AME, delta method on the same
        # clustered covariance), so p < 0.05 exactly when the delta CI excludes 0; the coefficient
        # (conditional on the other factors at reference once interactions are in) is p_coef
        z = con.estimate / con.se if con.se > 0 else float("nan")
        z_coef = beta / s if s > 0 else float("nan")
        rows.append({
            "term": col.term, "level": col.level, "reference": ":".join(ref[f] for f in col.factors),
            "n": int(at_level.sum()), "n_problems": int(np.unique(pid[at_level]).size),
            "acc_level": float(y[at_level].mean()) if at_level.any() else None,
            "acc_reference": float(y[at_ref].mean()) if at_ref.any() else None,
            "delta": con.estimate * scale, "delta_ci_low": _clip((con.estimate - zc * con.se) * scale),
            "delta_ci_high": _clip((con.estimate + zc * con.se) * scale),
            "odds_ratio": None if lpm else math.exp(beta),
            "or_ci_low": None if lpm else math.exp(beta - zc * s),
            "or_ci_high": None if lpm else math.exp(beta + zc * s), "z": z,
            "p": dist.p_row(z) if math.isfinite(z) else None,
            "p_coef": dist.p_row(z_coef) if math.isfinite(z_coef) else None,
            "dist": dist.row_dist, "df_denom": dist.df_denom, "note": lpm_note})
    return rows, _joint_tests(df, design, fit, dist, lpm_note, rows_expr)


def _clip(x: float) -> float:
    """Delta-method limits can leave [-1, 1] near the boundary; a difference of shares cannot."""
    return min(1.0, max(-1.0, x)) if math.isfinite(x) else float("nan")


def _joint_tests(df: pl.DataFrame, design: Design, fit: Fit, dist: Reference, lpm_note: str | None,
                 rows_expr: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    prefix = f"{lpm_note}; " if lpm_note else ""
    for term in dict.fromkeys(c.term for c in design.columns if c.assign):
        idx = design.term_columns(term)
        res = joint_wald(fit, idx, reduced_ok=lpm_note is not None)
        if res.problem is None:
            note = "; ".join(x for x in (lpm_note, res.note) if x) or None
            # joint_wald's own p is chi2-based; the reference of this fit decides (chi2 or F = chi2 / q)
            p, kind, df_denom = dist.joint(float(res.chi2), res.df)  # type: ignore[arg-type]
            out.append({"term": term, "df": res.df, "chi2": res.chi2, "p": p, "dist": kind,
                        "df_denom": df_denom, "note": note})
        elif term in design.factors:
            kept = [lv for lv in design.levels[term] if lv == design.reference[term]
                    or design.index({term: lv}) is not None]
            row = exact_joint(df, term, kept, rows_expr((term,)), design.factors, f"{res.problem}")
            kind = None if row["p"] is None else (TEST_EXACT if row["chi2"] is None else TEST_FRIEDMAN)
            out.append({**row, "dist": kind, "df_denom": None, "note": prefix + str(row["note"])})
        else:
            out.append({"term": term, "df": res.df, "chi2": None, "p": None, "dist": None, "df_denom": None,
                        "note": f"{prefix}not tested jointly: {res.problem}; see the rows"})
    return out
