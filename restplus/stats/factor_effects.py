"""Factor effects on accuracy: GEE logit (default) or fixed-effects logit, clustered by problem.

The model is ``correct ~ factors`` with treatment coding against each factor's reference level and,
with ``interactions=k``, every interaction up to order k. The headline number per level is the
*average marginal delta*: mean predicted accuracy with the factor set to the level minus set to the
reference, over the analysed rows (other factors as observed), with a delta-method CI from the
cluster-robust covariance. Odds ratios and Wald tests come from the same fit; p-values are adjusted
over the whole table (Holm by default).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import polars as pl
from scipy.stats import norm
from statsmodels.stats.multitest import multipletests

from restplus.errors import AnalysisError, unknown_name
from restplus.schema import MODALITIES

from ._common import (check_gate_policy, ensure_single_model, factor_levels, prepare, resolve_reference,
                      table_columns, warn, z_value)
from .design import GATE_COLUMN, Design, build_design, formula_text
from .effect_table import EFFECT_COLUMNS, TEST_COLUMNS, EffectTable
from .fit import Fit, fit_fe_logit, fit_gee, fit_glm
from .marginal import MarginalCalculator, interaction_contrast, level_contrast
from .screen import fallback_row, screen, screen_interactions
from .units import present_modalities

METHODS = ("gee-logit", "fe-logit")
CORRECTIONS = {"holm": "holm", "bh": "fdr_bh", "bonferroni": "bonferroni", "none": None}
COV_TYPES = ("auto", "robust", "bias_reduced", "naive")
# Below this many problems the sandwich SE is too small; 'auto' switches to Mancl-DeRouen.
FEW_CLUSTERS = 40
# |log OR| beyond this is treated as a sign of quasi-separation.
HUGE_LOG_OR = 10.0


def effects(table: Any, factors: Sequence[str], *, reference: Mapping[str, Any] | None = None,
            interactions: int = 1, method: Literal["gee-logit", "fe-logit"] = "gee-logit",
            gate_policy: Literal["exclude", "ignore", "covariate"] = "exclude",
            correction: Literal["holm", "bh", "bonferroni", "none"] = "holm", modality_as_factor: bool = False,
            modalities: Sequence[str] | None = None,
            cov_type: Literal["auto", "robust", "bias_reduced", "naive"] = "auto", ci: float = 0.95,
            n_boot: int = 1000, seed: int = 0) -> EffectTable:
    """Estimate the effect of each factor level on accuracy.

    Parameters
    ----------
    table : long per-sample table (see :mod:`restplus.schema`); reads ``problem_id``, ``modality``,
        ``correct``, ``gate_passed`` and the factor columns. One model per call.
    factors : visual factor columns to model.
    reference : reference level per factor, e.g. ``{"dpi": "200"}``. A factor without one gets the
        first level in natural order, with a warning. ``"modality"`` may be given too.
    interactions : highest interaction order (1 = main effects only, 2 = all pairs, ...).
    method : ``"gee-logit"`` (GEE, Binomial, exchangeable working correlation, groups = problem_id,
        robust SE) or ``"fe-logit"`` (logit with problem dummies, problem-clustered SE; small tables).
    gate_policy : ``"exclude"`` drops image/mixed rows with ``gate_passed == False`` (text rows and null
        gates are kept); ``"ignore"`` keeps every row; ``"covariate"`` keeps every row and adds
        ``gate_passed`` (null counts as passed) as a covariate.
    correction : p-value adjustment over all rows: Holm, Benjamini-Hochberg (``"bh"``), Bonferroni, none.
    modality_as_factor : add ``modality`` as a factor. Its levels are ``modalities`` (default: every
        modality present, text included); reference ``"text"`` when present, else ``"image"``. Text rows
        carry no visual levels: they enter at the reference of every visual factor, and visual deltas
        are averaged over image/mixed rows only.
    modalities : rows analysed (default: image and mixed; with ``modality_as_factor`` all).
    cov_type : ``"auto"`` (robust; bias-reduced Mancl-DeRouen below 40 problems), ``"robust"``,
        ``"bias_reduced"`` or ``"naive"`` (GEE only).
    ci : interval coverage. n_boot, seed : cluster bootstrap of the separation fallback only.

    Returns
    -------
    EffectTable (columns documented on the class).

    Raises
    ------
    AnalysisError when nothing can be estimated (constant outcome, no factor with two usable levels),
    naming the reason. Degenerate parts are handled as documented in :mod:`restplus.stats.screen`.
    """
    sink: list[str] = []
    if method not in METHODS:
        raise unknown_name("method", method, METHODS)
    if correction not in CORRECTIONS:
        raise unknown_name("correction", correction, CORRECTIONS)
    if cov_type not in COV_TYPES:
        raise unknown_name("cov_type", cov_type, COV_TYPES)
    if not isinstance(interactions, int) or interactions < 1:
        raise AnalysisError(f"interactions is the highest interaction order (1 = main effects only), got "
                            f"{interactions!r}.")
    check_gate_policy(gate_policy)
    zc = z_value(ci)
    df = prepare(table, factors, what="effects", extra=("model",))
    ensure_single_model(df, (), "effects")
    factors = list(factors)
    reference = dict(reference or {})

    mods = _modalities(df, modalities, modality_as_factor)
    df = df.filter(pl.col("modality").is_in(mods))
    levels = factor_levels(df, factors)
    ref = resolve_reference(levels, {k: v for k, v in reference.items() if k != "modality"}, sink,
                            columns=table_columns(table))
    all_factors = list(factors)
    if modality_as_factor:
        mlev = [m for m in MODALITIES if m in mods]
        mref = str(reference.get("modality", "text" if "text" in mlev else mlev[0]))
        if mref not in mlev:
            raise AnalysisError(f"reference modality {mref!r} is not among the analysed modalities {mlev}.")
        levels["modality"], ref["modality"] = mlev, mref
        all_factors.append("modality")
    elif "modality" in reference:
        raise AnalysisError("reference gives 'modality' but modality_as_factor is False; set "
                            "modality_as_factor=True to estimate a modality effect.")

    df, policy, n_excluded, covariate = _apply_gate(df, gate_policy, sink)
    has_text = "text" in mods
    if has_text and factors:  # text rows enter at every visual reference (documented)
        df = df.with_columns([pl.col(f).fill_null(ref[f]) for f in factors])
    _check_outcome(df, "after gating")

    visual_rows = pl.col("modality") != "text"
    rows_for = {f: (pl.lit(True) if f == "modality" else visual_rows) for f in all_factors}
    scr = screen(df, all_factors, levels, ref, rows_for, interactions, sink)
    model_df = df
    for f, drop in scr.drop_levels.items():
        model_df = model_df.filter(~pl.col(f).is_in(drop))
    if scr.factors and model_df.get_column("correct").n_unique() < 2:
        warn("after leaving out separated levels the remaining rows are all correct (or all wrong); no model "
             "can be fitted, every level is compared directly.", sink)
        scr.fallback += [(f, lv, "constant outcome in the remaining rows") for f in scr.factors
                         for lv in scr.levels[f] if lv != ref[f]]
        scr.factors = []
    if not scr.factors and not scr.fallback:
        raise AnalysisError("nothing can be estimated: " + (" ".join(sink[-3:]) or "no factor has two levels."))

    rows: list[dict[str, Any]] = []
    tests: list[dict[str, Any]] = []
    fit: Fit | None = None
    design: Design | None = None
    n_obs, n_prob = df.height, df.get_column("problem_id").n_unique()
    if scr.factors:
        if interactions > 1:
            screen_interactions(model_df, scr, ref, interactions, sink)
        design = build_design(model_df, scr.factors, scr.levels, ref, interactions=interactions,
                              covariate=covariate, drop=scr.drop_interactions)
        design = _drop_aliased(design, sink)
        y = model_df.get_column("correct").cast(pl.Float64).to_numpy()
        groups = (model_df.get_column("problem_id").rank("dense") - 1).to_numpy().astype(np.int64)
        fit = _fit(method, design.X, y, groups, cov_type, sink)
        rows, tests = _model_rows(model_df, design, fit, ref, has_text, zc, sink)
        n_obs, n_prob = model_df.height, int(groups.max()) + 1
        for i, r in enumerate(rows):
            if r["note"] and ":" not in r["term"]:
                rows[i] = fallback_row(model_df, r["term"], r["level"], ref[r["term"]], rows_for[r["term"]],
                                       r["note"], n_boot=n_boot, seed=seed, ci=ci)
            elif r["note"]:
                r["note"] += "; interaction not estimable, only the point estimate is shown"
    for f, lv, reason in scr.fallback:
        rows.append(fallback_row(df, f, lv, ref[f], rows_for[f], reason, n_boot=n_boot, seed=seed, ci=ci))
    for f in dict.fromkeys(f for f, _, _ in scr.fallback):
        if f not in scr.factors:
            tests.append({"term": f, "df": sum(1 for g, _, _ in scr.fallback if g == f), "chi2": None, "p": None,
                          "note": "not tested jointly: separation (see the rows' exact tests)"})
    frame = _finish(rows, correction)
    return EffectTable(
        frame=frame, tests=pl.DataFrame(tests, schema=_TEST_SCHEMA),
        method=fit.method if fit else "direct comparison (no model)",
        formula=formula_text(design.columns, ref, design.factors) if design else "(no model fitted)",
        correction=correction, gate_policy=policy, cov_type=fit.cov_type if fit else "none", n_obs=n_obs,
        n_problems=n_prob, n_excluded=n_excluded, reference=tuple((f, ref[f]) for f in all_factors),
        warnings=tuple(dict.fromkeys(sink)))


_TEST_SCHEMA = {"term": pl.Utf8, "df": pl.Int64, "chi2": pl.Float64, "p": pl.Float64, "note": pl.Utf8}


def _modalities(df: pl.DataFrame, modalities: Sequence[str] | None, as_factor: bool) -> list[str]:
    if modalities is None:
        present = present_modalities(df, None)
        mods = present if as_factor else [m for m in present if m != "text"]
    else:
        mods = present_modalities(df, modalities)
    if "text" in mods and not as_factor:
        raise AnalysisError("text rows carry no visual factor levels, so they can only enter the model with "
                            "modality_as_factor=True; drop 'text' from modalities.")
    if not mods or mods == ["text"]:
        raise AnalysisError("effects needs image or mixed rows; the table has only text rows.")
    if as_factor and len(mods) < 2:
        raise AnalysisError(f"modality_as_factor=True needs at least two modalities; analysed: {mods}.")
    return mods


def _apply_gate(df: pl.DataFrame, policy: str, sink: list[str]) -> tuple[pl.DataFrame, str, int, str | None]:
    if policy == "ignore":
        return df, policy, 0, None
    if "gate_passed" not in df.columns:
        warn(f"gate_policy={policy!r} but the table has no gate_passed column: no row is gated.", sink)
        return df, "ignore (no gate_passed column)", 0, None
    if policy == "exclude":
        failed = pl.col("gate_passed").fill_null(True).not_()
        n_excluded = int(df.select(failed.sum()).item())
        return df.filter(~failed), policy, n_excluded, None
    n_null = df.filter((pl.col("modality") != "text") & pl.col("gate_passed").is_null()).height
    if n_null:
        warn(f"gate_policy='covariate': {n_null} image/mixed row(s) have gate_passed = null and count as "
             f"passed.", sink)
    df = df.with_columns(pl.col("gate_passed").fill_null(True).alias(GATE_COLUMN))
    if df.get_column(GATE_COLUMN).n_unique() < 2:
        warn("gate_policy='covariate': gate_passed is constant, so it is not added as a covariate.", sink)
        return df, policy, 0, None
    return df, policy, 0, GATE_COLUMN


def _check_outcome(df: pl.DataFrame, when: str) -> None:
    if df.height == 0:
        raise AnalysisError(f"nothing can be estimated: no rows left {when}.")
    acc = df.get_column("correct").mean()
    if acc in (0.0, 1.0):
        word = "correct" if acc == 1.0 else "wrong"
        raise AnalysisError(f"nothing can be estimated: all {df.height} rows {when} are {word}, so no factor "
                            f"changes accuracy (observed accuracy {acc:.0%}).")


def _drop_aliased(design: Design, sink: list[str]) -> Design:
    """Leave out columns that are linear combinations of earlier ones (aliased factors)."""
    xtx = design.X.T @ design.X
    tol = 1e-8 * max(1.0, float(np.abs(xtx).max()))
    if np.linalg.matrix_rank(xtx, tol=tol) == xtx.shape[0]:
        return design  # the usual case: one check, no greedy search
    keep: list[int] = []
    for j in range(xtx.shape[0]):
        trial = keep + [j]
        sub = xtx[np.ix_(trial, trial)]
        if np.linalg.matrix_rank(sub, tol=tol) == len(trial):
            keep = trial
    if len(keep) == xtx.shape[0]:
        return design
    gone = [design.columns[j] for j in range(xtx.shape[0]) if j not in keep]
    names = ", ".join(f"{c.term}={c.level}" if c.assign else c.term for c in gone)
    hint = ""
    if "modality" in design.factors and any("modality" in c.factors and len(c.factors) > 1 for c in gone):
        hint = (" (text rows carry no visual levels, so a visual factor's interaction with modality is only "
                "identified between image and mixed: use modalities=['image', 'mixed'] for it)")
    warn(f"design columns {names} are aliased with earlier columns (the factors vary together in this "
         f"table) and are left out; their effects cannot be separated{hint}.", sink)
    return Design(X=design.X[:, keep], columns=tuple(design.columns[j] for j in keep), factors=design.factors,
                  levels=design.levels, reference=design.reference, codes=design.codes)


def _fit(method: str, X: np.ndarray, y: np.ndarray, groups: np.ndarray, cov_type: str, sink: list[str]) -> Fit:
    n_clusters = int(groups.max()) + 1
    if n_clusters == 1:
        warn("a single problem: clustering is impossible, so a plain logit with model-based SE is fitted; "
             "intervals describe this problem's cells only and do not generalise to other problems.", sink)
        return fit_glm(X, y, sink)
    if method == "fe-logit":
        return fit_fe_logit(X, y, groups, sink)
    if cov_type == "auto":
        cov_type = "bias_reduced" if n_clusters < FEW_CLUSTERS else "robust"
    if n_clusters < FEW_CLUSTERS:
        warn(f"only {n_clusters} problems: cluster-robust intervals are approximate (cov_type={cov_type!r}).",
             sink)
    return fit_gee(X, y, groups, cov_type, sink)


def _model_rows(df: pl.DataFrame, design: Design, fit: Fit, ref: Mapping[str, str], has_text: bool, zc: float,
                sink: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    y = df.get_column("correct").cast(pl.Float64).to_numpy()
    pid = (df.get_column("problem_id").rank("dense") - 1).to_numpy().astype(np.int64)
    is_visual = (df.get_column("modality") != "text").to_numpy()
    fit_rows = fit.rows
    calc = MarginalCalculator(design, fit.X, fit.params, fit.cov)
    # rows averaged over: visual factors over image/mixed rows, modality over all rows; for fe-logit
    # only informative problems move (the rest contribute zero change, hence the scale factor)
    informative = np.zeros(df.height, dtype=bool)
    informative[fit_rows if fit_rows is not None else slice(None)] = True
    masks: dict[str, np.ndarray | None] = {}

    def avg_rows(visual_only: bool) -> tuple[np.ndarray | None, float, str]:
        base = is_visual if (visual_only and has_text) else np.ones(df.height, dtype=bool)
        key = "visual" if (visual_only and has_text) else "all"
        sel = base[fit_rows] if fit_rows is not None else base
        scale = (base & informative).sum() / base.sum()
        masks[key] = None if sel.all() else sel
        return masks[key], float(scale), key

    rows: list[dict[str, Any]] = []
    flagged: set[str] = set()
    se = np.sqrt(np.clip(np.diag(fit.cov), 0, None))
    for j, col in enumerate(design.columns):
        if not col.assign:
            continue
        beta, s = float(fit.params[j]), float(se[j])
        term_factors = col.factors
        visual_only = "modality" not in term_factors
        rmask, scale, key = avg_rows(visual_only)
        if len(col.assign) == 1:
            f, lv = col.assign[0]
            con = calc.contrast(level_contrast(f, lv, ref[f]), rmask, key)
        else:
            con = calc.contrast(interaction_contrast(col.assign, ref), rmask, key)
        at_level = np.ones(df.height, dtype=bool)
        at_ref = np.ones(df.height, dtype=bool)
        for f, lv in col.assign:
            codes = design.codes[f]
            at_level &= codes == design.levels[f].index(lv)
            at_ref &= codes == 0
        if visual_only and has_text:
            at_level &= is_visual
            at_ref &= is_visual
        note = None
        if abs(beta) > HUGE_LOG_OR or not math.isfinite(s) or s <= 1e-12:
            # the likelihood keeps rising along this coefficient: SEs are meaningless. Main effects
            # are replaced by the direct comparison by the caller; interactions keep only the point.
            note = f"quasi-separation in the fitted model (log OR = {beta:.1f}, SE = {s:.2g})"
            warn(f"{col.term}={col.level}: {note}; its row uses the separation fallback.", sink)
            flagged.add(col.term)
        z = beta / s if s > 1e-12 else float("nan")
        if note:
            con_lo = con_hi = z = float("nan")
        else:
            con_lo, con_hi = con.estimate - zc * con.se, con.estimate + zc * con.se
        rows.append({
            "term": col.term, "level": col.level, "reference": ":".join(ref[f] for f in term_factors),
            "n": int(at_level.sum()), "n_problems": int(np.unique(pid[at_level]).size),
            "acc_level": float(y[at_level].mean()) if at_level.any() else None,
            "acc_reference": float(y[at_ref].mean()) if at_ref.any() else None,
            "delta": con.estimate * scale, "delta_ci_low": _clip(con_lo * scale),
            "delta_ci_high": _clip(con_hi * scale), "odds_ratio": math.exp(beta),
            "or_ci_low": math.exp(beta - zc * s) if not note else None,
            "or_ci_high": math.exp(beta + zc * s) if not note else None, "z": z,
            "p": float(2 * norm.sf(abs(z))) if math.isfinite(z) else None, "note": note})
    tests = _wald_tests(design, fit, flagged)
    return rows, tests


def _clip(x: float) -> float:
    """Delta-method limits can leave [-1, 1] near the boundary; a difference of shares cannot."""
    return min(1.0, max(-1.0, x)) if math.isfinite(x) else float("nan")


def _wald_tests(design: Design, fit: Fit, flagged: set[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    terms = list(dict.fromkeys(c.term for c in design.columns if c.assign))
    p_all = len(fit.params)
    for term in terms:
        idx = design.term_columns(term)
        if term in flagged:
            out.append({"term": term, "df": len(idx), "chi2": None, "p": None,
                        "note": "not tested: quasi-separation (see the rows)"})
            continue
        R = np.zeros((len(idx), p_all))
        R[np.arange(len(idx)), idx] = 1.0
        res = fit.result.wald_test(R, scalar=True, use_f=False)
        out.append({"term": term, "df": len(idx), "chi2": float(res.statistic), "p": float(res.pvalue),
                    "note": None})
    return out


def _finish(rows: list[dict[str, Any]], correction: str) -> pl.DataFrame:
    schema = {c: pl.Float64 for c in EFFECT_COLUMNS}
    schema.update({"term": pl.Utf8, "level": pl.Utf8, "reference": pl.Utf8, "n": pl.Int64, "n_problems": pl.Int64,
                   "note": pl.Utf8})
    for r in rows:
        r.setdefault("p_adj", None)
    frame = pl.DataFrame(rows, schema=schema).select(EFFECT_COLUMNS)
    p = frame.get_column("p").to_numpy()
    ok = np.isfinite(p)
    adj = np.full(p.shape, np.nan)
    method = CORRECTIONS[correction]
    if ok.any():
        adj[ok] = multipletests(p[ok], method=method)[1] if method else p[ok]
    return frame.with_columns(pl.Series("p_adj", adj).fill_nan(None))
