"""Model back ends for :func:`restplus.stats.engine.factorial`: GEE logit, plain logit, fixed-effects logit,
and the linear probability model (LPM) used when the logit is separated or degenerate.

Each returns a :class:`Fit` holding the coefficient vector, the covariance used for every interval
and test, the statsmodels results object (for ``wald_test``) and, for a cluster-robust covariance, the number
of clusters (which sets the t / F reference of :mod:`restplus.stats.engine.small_sample`).
Warnings statsmodels raises while fitting (convergence, singular matrices) are collected into the table's
warnings, never swallowed.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import statsmodels.api as sm

from restplus.errors import AnalysisError

from .._common import warn

# A dense problem-dummy matrix above this many cells is refused (memory) in favour of GEE.
FE_MAX_CELLS = 40_000_000


@dataclass(frozen=True, slots=True)
class Fit:
    params: np.ndarray
    cov: np.ndarray
    X: np.ndarray  # design the params belong to (fe-logit: factor columns + problem dummies)
    rows: np.ndarray | None  # indices of the analysed rows used in the fit (None = all)
    result: Any
    method: str
    cov_type: str
    link: str = "logit"  # "logit" or "identity" (LPM): how marginal predictions are formed
    # clusters behind a cluster-robust covariance (None: model-based covariance); rows and joint tests
    # are referred to t / F with clusters - 1 df (restplus.stats.engine.small_sample)
    clusters: int | None = None


def _clusters(groups: np.ndarray, cov_type: str) -> int | None:
    """Cluster count behind a GEE sandwich covariance; None for the model-based ('naive') one."""
    return None if cov_type == "naive" else int(np.unique(groups).size)


def _collect(caught: list[warnings.WarningMessage], sink: list[str], where: str) -> None:
    seen: set[str] = set()
    for w in caught:
        msg = str(w.message).strip().splitlines()[0] if str(w.message).strip() else type(w.message).__name__
        if msg in seen:
            continue
        seen.add(msg)
        warn(f"{where}: statsmodels warned {type(w.message).__name__}: {msg}", sink)


def _gee(X: np.ndarray, y: np.ndarray, groups: np.ndarray, cov_type: str, sink: list[str], *, family: Any,
         method: str, link: str, label: str) -> Fit:
    """GEE with an exchangeable working correlation, clusters = problems (shared by both GEE fits)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = sm.GEE(y, X, groups=groups, family=family, cov_struct=sm.cov_struct.Exchangeable())
        res = model.fit(cov_type=cov_type)
    _collect(caught, sink, label)
    return Fit(np.asarray(res.params), np.asarray(res.cov_params()), X, None, res, method, cov_type, link,
               _clusters(groups, cov_type))


def fit_gee(X: np.ndarray, y: np.ndarray, groups: np.ndarray, cov_type: str, sink: list[str]) -> Fit:
    """Population-averaged logit: GEE, Binomial family, exchangeable working correlation, clusters =
    problems. ``cov_type``: 'robust' (sandwich), 'bias_reduced' (Mancl-DeRouen, for few clusters) or
    'naive' (model-based)."""
    return _gee(X, y, groups, cov_type, sink, family=sm.families.Binomial(), method="gee-logit", link="logit",
                label="GEE fit")


def fit_glm(X: np.ndarray, y: np.ndarray, sink: list[str]) -> Fit:
    """Plain logit with model-based SE (used only when there is a single problem: no clustering)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = sm.GLM(y, X, family=sm.families.Binomial()).fit()
    _collect(caught, sink, "logit fit")
    return Fit(np.asarray(res.params), np.asarray(res.cov_params()), X, None, res, "logit", "naive")


def fit_fe_logit(X: np.ndarray, y: np.ndarray, groups: np.ndarray, sink: list[str]) -> Fit:
    """Logit with one dummy per problem and problem-clustered SE.

    Problems whose rows are all correct (or all wrong) carry no within-problem information: their
    fixed effect is infinite. They are left out of the fit; their predicted accuracy does not move
    with any factor, so marginal contrasts count them as zero change (see ``effects``).
    """
    n_groups = int(groups.max()) + 1
    sums = np.bincount(groups, weights=y, minlength=n_groups)
    sizes = np.bincount(groups, minlength=n_groups)
    informative = (sums > 0) & (sums < sizes)
    rows = np.flatnonzero(informative[groups])
    k = int(informative.sum())
    if k < 2:
        raise AnalysisError(
            f"method='fe-logit' needs at least 2 problems whose answers vary across cells; found {k}. "
            f"Use method='gee-logit'."
        )
    if rows.size * k > FE_MAX_CELLS:
        raise AnalysisError(
            f"method='fe-logit' would build a {rows.size} x {k} dummy matrix (> {FE_MAX_CELLS:,} cells). "
            f"Use method='gee-logit' (the default), which handles any number of problems."
        )
    dropped = n_groups - k
    if dropped:
        warn(f"fe-logit: {dropped} problem(s) are correct (or wrong) in every analysed row; their fixed "
             f"effects are infinite, so they are left out of the fit and count as zero change in the "
             f"marginal deltas.", sink)
    code = np.cumsum(informative) - 1  # informative problem -> 0..k-1
    g = code[groups[rows]]
    dummies = np.zeros((rows.size, k - 1))
    sel = g > 0  # problem 0 is absorbed by the intercept
    dummies[np.flatnonzero(sel), g[sel] - 1] = 1.0
    Xf = np.hstack([X[rows], dummies])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = sm.GLM(y[rows], Xf, family=sm.families.Binomial()).fit(
            cov_type="cluster", cov_kwds={"groups": g})
    _collect(caught, sink, "fe-logit fit")
    return Fit(np.asarray(res.params), np.asarray(res.cov_params()), Xf, rows, res, "fe-logit", "cluster",
               clusters=k)


def fit_gee_lpm(X: np.ndarray, y: np.ndarray, groups: np.ndarray, cov_type: str, sink: list[str]) -> Fit:
    """Linear probability model: GEE, Gaussian family, identity link, exchangeable working correlation,
    clusters = problems. Used when the logit MLE does not exist (separation): least squares has a
    finite solution for any 0/1 outcome, and the sandwich covariance (``cov_type`` 'robust' or
    'bias_reduced') is valid under the heteroscedasticity a 0/1 outcome implies."""
    return _gee(X, y, groups, cov_type, sink, family=sm.families.Gaussian(), method="gee-lpm", link="identity",
                label="GEE LPM fit")


def fit_ols_lpm(X: np.ndarray, y: np.ndarray, sink: list[str]) -> Fit:
    """Linear probability model by least squares with HC1 (White) covariance: the single-problem
    counterpart of :func:`fit_gee_lpm` (no clusters to be robust over)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = sm.GLM(y, X, family=sm.families.Gaussian()).fit(cov_type="HC1")
    _collect(caught, sink, "LPM fit")
    return Fit(np.asarray(res.params), np.asarray(res.cov_params()), X, None, res, "lpm", "HC1", "identity")
