"""Factor effects on accuracy: GEE logit (default) or fixed-effects logit, clustered by problem, with a
linear-probability-model fallback when the logit is separated.

The model is ``correct ~ factors`` with treatment coding against each factor's reference level and,
with ``interactions=k``, every interaction up to order k. The headline number per level is the
*average marginal delta*: mean predicted accuracy with the factor set to the level minus set to the
reference, over the analysed rows (other factors as observed), with a delta-method CI from the
cluster-robust covariance. Odds ratios and Wald tests come from the same fit; p-values are adjusted
over the whole table (Holm by default).

Small-sample inference
----------------------
A cluster-robust covariance from G problems is itself noisy, so normal-based p-values overstate the
evidence when G is small (24 problems once gave a Holm p of 3.7e-69). For every cluster-robust fit,
the logit and the LPM fallback alike and at any G, rows use Student t with G - 1 degrees of freedom
for p and intervals, and joint tests use the Hotelling-type F = (G - q) / ((G - 1) q) * chi2 on
(q, G - q) df; ``chi2`` stays the Wald statistic. The logit is included because its sandwich has
the same small-G problem (with ``cov_type=
"auto"`` below 40 problems it is the bias-reduced Mancl-DeRouen one, which fixes the covariance's
downward bias but not its noise); with many problems t(G - 1) is the normal distribution in all but
name, so large tables are essentially unchanged. Model-based fits (one problem, ``cov_type="naive"``)
keep normal / chi2. Every row and test names its reference in ``dist`` / ``df_denom``; rationale and
details in :mod:`restplus.stats.engine.small_sample`.

Separation fallback (linear probability model)
----------------------------------------------
Offline baselines are often deterministic: the tesseract reader is always right at 200 dpi and always
wrong at 50 dpi. A level or interaction cell whose rows are all correct (or all wrong) has no finite
logit MLE, and statsmodels then returns collapsed coefficients with SEs near 0 that print as
``OR 1.00 [1.00, 1.00]`` and chi2 ``-0.00``. So:

1. :func:`restplus.stats.engine.screen.screen` records every constant level (reference included) and, with
   interactions, every constant cell of a modelled factor combination;
2. otherwise the logit is fitted and checked (:func:`restplus.stats.engine.degenerate.fit_problems`: non-finite
   or collapsed SEs, ``|z|`` huge, ``|log OR| > 10``, singular term covariance, invalid Wald chi2);
3. on separation (1) or a degenerate logit (2) the *same* design (all factors, the requested
   interactions, treatment coding, same references, same rows) is refitted as a linear probability
   model: GEE, Gaussian family, identity link, exchangeable working correlation, groups = problems,
   robust SE (bias-reduced Mancl-DeRouen below 40 problems with ``cov_type="auto"``). Deltas are the
   same average marginal contrasts, now linear in the coefficients; each row's z and p test that delta
   (t(G - 1) reference, as above); odds ratios are null; joint Wald tests (F(q, G - 1)) per factor and
   interaction term come from the LPM. The table's ``method`` reads ``"gee-lpm (separation fallback)"``
   (or ``"(degenerate-fit fallback)"``), every row and test carries the note ``"LPM fallback (...)"``
   and a warning says what was separated.
4. Where even the LPM has no usable SE (a contrast that is identical in every problem, so its sandwich
   variance is exactly 0) the row is the matched observed contrast with a cluster-bootstrap CI (zero
   width exactly when the contrast is the same in every problem) and an exact sign test over problems
   (:mod:`restplus.stats.engine.exact`). A term whose LPM covariance block is singular is Wald-tested on the
   directions that vary between problems when the estimate is 0 along the others (``df`` = their
   number); otherwise a factor's joint test is a Friedman test over problems and an interaction's is
   left out, with a note. With few problems the exact tests are honest about it: 5 problems that all
   agree give a sign-test p of 2 / 2^5 = 0.0625, never a fake 1e-300.

Why an LPM rather than a penalised (Firth) logit: statsmodels has no Firth estimator for clustered
data, and a hand-rolled one would be unreviewed numerics; the LPM is the standard econometric answer to
separation, its GEE sandwich is valid for a 0/1 outcome, and its deltas are in accuracy points, the
unit the table reports anyway. Its predictions are not confined to [0, 1]; the delta intervals are
clipped to [-1, 1].
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import polars as pl

from restplus.errors import AnalysisError, unknown_name
from restplus.schema import MODALITIES

from .._common import (
    check_gate_policy,
    ensure_single_model,
    factor_levels,
    level_orders,
    prepare,
    resolve_reference,
    table_columns,
    warn,
    z_value,
)
from ..multiplicity import adjust_pvalues, check_correction
from ..units import present_modalities
from .degenerate import fit_problems
from .design import GATE_COLUMN, Design, build_design, formula_text
from .effect_table import EFFECT_COLUMNS, TEST_COLUMNS, EffectTable
from .fit import Fit, fit_fe_logit, fit_gee, fit_gee_lpm, fit_glm, fit_ols_lpm
from .model_rows import model_rows
from .screen import screen, screen_interactions

METHODS = ("gee-logit", "fe-logit")
COV_TYPES = ("auto", "robust", "bias_reduced", "naive")
# Below this many problems the sandwich SE is too small; 'auto' switches to Mancl-DeRouen.
FEW_CLUSTERS = 40


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
    ci : interval coverage. n_boot, seed : cluster bootstrap of the exact rows of the separation
        fallback only (rows whose contrast is identical in every problem).

    Returns
    -------
    EffectTable (columns documented on the class).

    Raises
    ------
    AnalysisError when nothing can be estimated (constant outcome, no factor with two usable levels),
    naming the reason. Separation and degenerate fits switch to the linear probability model described
    in this module's docstring; left-out levels and cells are documented in :mod:`restplus.stats.engine.screen`.
    """
    sink: list[str] = []
    if method not in METHODS:
        raise unknown_name("method", method, METHODS)
    check_correction(correction)
    if cov_type not in COV_TYPES:
        raise unknown_name("cov_type", cov_type, COV_TYPES)
    if not isinstance(interactions, int) or interactions < 1:
        raise AnalysisError(f"interactions is the highest interaction order (1 = main effects only), got "
                            f"{interactions!r}.")
    check_gate_policy(gate_policy)
    z_value(ci)  # validates ci up front; the critical value itself depends on the fit (small_sample)
    df = prepare(table, factors, what="effects", extra=("model",), sink=sink)
    ensure_single_model(df, (), "effects")
    factors = list(factors)
    reference = dict(reference or {})

    mods = _modalities(df, modalities, modality_as_factor)
    df = df.filter(pl.col("modality").is_in(mods))
    levels = factor_levels(df, factors, level_orders(table, factors))
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
    scr = screen(df, all_factors, levels, ref, rows_for, sink)
    if not scr.factors:
        raise AnalysisError("nothing can be estimated: " + (" ".join(sink[-3:]) or "no factor has two levels."))
    if interactions > 1:
        screen_interactions(df, scr, ref, interactions, sink)
    elif len([f for f in scr.factors if f != "modality"]) >= 2:
        _warn_if_not_crossed(df.filter(visual_rows), [f for f in scr.factors if f != "modality"], sink)
    design = build_design(df, scr.factors, scr.levels, ref, interactions=interactions, covariate=covariate,
                          drop=scr.drop_interactions)
    design = _drop_aliased(design, sink)
    y = df.get_column("correct").cast(pl.Float64).to_numpy()
    groups = (df.get_column("problem_id").rank("dense") - 1).to_numpy().astype(np.int64)
    fit: Fit | None = None
    why = "separation"
    if not scr.separation:
        fit = _fit(method, design.X, y, groups, cov_type, sink)
        problems = fit_problems(fit, design)
        if problems:
            why = "degenerate-fit"
            shown = "; ".join(problems[:4]) + (f"; and {len(problems) - 4} more" if len(problems) > 4 else "")
            warn(f"the {fit.method} fit is degenerate ({shown}), so it is not reported: the same design is "
                 f"refitted as a linear probability model (GEE, Gaussian, identity link).", sink)
            fit = None
    else:
        shown = "; ".join(scr.separation[:4]) + (f"; and {len(scr.separation) - 4} more"
                                                 if len(scr.separation) > 4 else "")
        warn(f"separation: {shown}. The logit has no finite estimates (infinite log odds ratios), so the same "
             f"design is fitted as a linear probability model (GEE, Gaussian, identity link, exchangeable, "
             f"clustered by problem): deltas in accuracy points, no odds ratios.", sink)
    if fit is None:
        fit = _fit_lpm(method, design.X, y, groups, cov_type, sink)
        lpm_note: str | None = "LPM fallback (separation)" if why == "separation" else \
            "LPM fallback (degenerate logit fit)"
        label = f"{fit.method} ({why} fallback)"
    else:
        lpm_note, label = None, fit.method
    rows, tests = model_rows(df, design, fit, ref, has_text, lpm_note=lpm_note, n_boot=n_boot, seed=seed, ci=ci)
    frame = _finish(rows, correction)
    return EffectTable(
        frame=frame, tests=pl.DataFrame(tests, schema=_TEST_SCHEMA).select(TEST_COLUMNS), method=label,
        formula=formula_text(design.columns, ref, design.factors), correction=correction, gate_policy=policy,
        cov_type=fit.cov_type, n_obs=df.height, n_problems=int(groups.max()) + 1, n_excluded=n_excluded,
        reference=tuple((f, ref[f]) for f in all_factors), warnings=tuple(dict.fromkeys(sink)))


_TEST_SCHEMA = {"term": pl.Utf8, "df": pl.Int64, "chi2": pl.Float64, "p": pl.Float64, "dist": pl.Utf8,
                "df_denom": pl.Int64, "note": pl.Utf8}


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
    return fit_gee(X, y, groups, _resolve_cov(cov_type, n_clusters, sink), sink)


def _fit_lpm(method: str, X: np.ndarray, y: np.ndarray, groups: np.ndarray, cov_type: str,
             sink: list[str]) -> Fit:
    """The separation fallback: the same design as a linear probability model (module docstring)."""
    n_clusters = int(groups.max()) + 1
    if n_clusters == 1:
        warn("a single problem: clustering is impossible, so the linear probability model is fitted by least "
             "squares with HC1 SE; intervals describe this problem's cells only.", sink)
        return fit_ols_lpm(X, y, sink)
    if method == "fe-logit":
        warn("method='fe-logit' was requested; the fallback is the population-averaged GEE linear probability "
             "model (clustered by problem) in either case.", sink)
    return fit_gee_lpm(X, y, groups, _resolve_cov(cov_type, n_clusters, sink), sink)


def _resolve_cov(cov_type: str, n_clusters: int, sink: list[str]) -> str:
    """'auto' → bias-reduced below FEW_CLUSTERS problems, else robust; warn when clusters are few."""
    if cov_type == "auto":
        cov_type = "bias_reduced" if n_clusters < FEW_CLUSTERS else "robust"
    if n_clusters < FEW_CLUSTERS:
        warn(_few_clusters(n_clusters, cov_type), sink)
    return cov_type


def _few_clusters(n: int, cov_type: str) -> str:
    ref = (f"p-values and intervals use t({n - 1}) and joint tests F(q, {n} - q)" if cov_type != "naive" else
           "model-based (naive) SE use the normal reference")
    return (f"only {n} problems: cluster-robust inference is approximate (cov_type={cov_type!r}); {ref}, "
            f"see restplus.stats.engine.small_sample.")


def _finish(rows: list[dict[str, Any]], correction: str) -> pl.DataFrame:
    schema = {c: pl.Float64 for c in EFFECT_COLUMNS}
    schema.update({"term": pl.Utf8, "level": pl.Utf8, "reference": pl.Utf8, "n": pl.Int64, "n_problems": pl.Int64,
                   "dist": pl.Utf8, "df_denom": pl.Int64, "note": pl.Utf8})
    for r in rows:
        r.setdefault("p_adj", None)
        r.setdefault("p_coef", None)  # exact rows have no coefficient
        r.setdefault("p_coef_adj", None)
    frame = pl.DataFrame(rows, schema=schema).select(EFFECT_COLUMNS)
    adj = adjust_pvalues(frame.get_column("p").to_numpy(), correction)
    adj_coef = adjust_pvalues(frame.get_column("p_coef").to_numpy(), correction)
    return frame.with_columns(pl.Series("p_adj", adj).fill_nan(None),
                              pl.Series("p_coef_adj", adj_coef).fill_nan(None))


def _warn_if_not_crossed(df: pl.DataFrame, factors: list[str], sink: list[str]) -> None:
    """Main effects on a design that is not fully crossed (a union such as REST+, a fraction) can
    absorb interactions from another part of the design into an arm's contrasts; say so."""
    seen = df.select(factors).unique().height
    full = 1
    for f in factors:
        full *= df.get_column(f).n_unique()
    if seen < full:
        warn(f"the factors {factors} are not fully crossed ({seen} of {full} level combinations are observed, "
             "e.g. a union or fractional design): a main-effects model can move an interaction present in one "
             "part of the design into another part's contrasts. Fit interactions=2 (estimable interactions "
             "are kept, aliased ones dropped) and compare.", sink)
