"""Checks that a fitted model is usable before anything is reported from it.

statsmodels returns numbers for a separated or otherwise degenerate fit that look like a result but
are not (an odds ratio of 1.00 [1.00, 1.00], a Wald chi2 of -0.00). A fit, a row or a joint test is
*degenerate* when any of these holds:

- a coefficient or covariance entry is not finite, or a variance is negative;
- a standard error has collapsed: SE <= :data:`SE_FLOOR`. Sampling error of a share cannot be that
  small with any real table (it would need ~1e11 rows); a sandwich SE this small means no problem's
  score varies along the coefficient, i.e. its cells sit at 0 % or 100 % in every problem;
- ``|z| >`` :data:`Z_HUGE` (the same collapse seen through the test statistic);
- a logit coefficient is at the boundary: ``|log OR| >`` :data:`HUGE_LOG_OR` (the likelihood still rises
  along it: quasi-separation, so its SE is meaningless);
- the covariance block of a term is not positive definite (eigenvalue <= max(SE_FLOOR^2, 1e-10 x the
  largest)): a joint Wald test on it would be negative, NaN, or silently computed on fewer df
  (statsmodels drops to the rank with only a warning); or the Wald chi2 itself is negative or not finite.

For the linear probability model a singular block is tested on its varying directions when the
estimate is 0 along the others (see :func:`joint_wald`).

A Wald chi2 of exactly 0 with a positive-definite block is *not* degenerate: it means the estimates are
exactly 0 (e.g. two levels with identical accuracy in a balanced design), and p = 1 is the right answer.
What the caller does with a degenerate fit is documented in :mod:`restplus.stats.engine.factorial`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .design import Design
from .fit import Fit

SE_FLOOR = 1e-6
Z_HUGE = 1e3
HUGE_LOG_OR = 10.0
RANK_TOL = 1e-10
EST_TOL = 1e-8  # an LPM estimate this close to 0 is 0 (exactly constant cells give ~1e-15)


def coefficient_problem(beta: float, var: float, *, logit: bool) -> str | None:
    """Why one coefficient (or contrast) with variance ``var`` cannot be reported, or None."""
    if not math.isfinite(beta):
        return f"non-finite estimate ({beta})"
    if not math.isfinite(var) or var < 0:
        return f"non-finite or negative variance ({var:.3g})"
    se = math.sqrt(var)
    if se <= SE_FLOOR:
        return f"collapsed SE ({se:.2g})"
    if logit and abs(beta) > HUGE_LOG_OR:
        return f"log odds ratio {beta:.1f} at the boundary (quasi-separation)"
    if abs(beta) / se > Z_HUGE:
        return f"|z| = {abs(beta) / se:.3g}"
    return None


def column_name(design: Design, j: int) -> str:
    col = design.columns[j]
    return col.term if (col.covariate or not col.assign) else f"{col.term}={col.level}"


def fit_problems(fit: Fit, design: Design) -> list[str]:
    """Every reason the fit is degenerate: per design column (intercept and covariate included;
    fixed-effects problem dummies are nuisance parameters and not checked), then per joint test."""
    p = len(design.columns)
    beta, cov = np.asarray(fit.params[:p], dtype=float), np.asarray(fit.cov[:p, :p], dtype=float)
    out: list[str] = []
    for j in range(p):
        why = coefficient_problem(float(beta[j]), float(cov[j, j]), logit=fit.link == "logit")
        if why:
            out.append(f"{column_name(design, j)}: {why}")
    for term in dict.fromkeys(c.term for c in design.columns if c.assign):
        res = joint_wald(fit, design.term_columns(term))
        if res.problem:
            out.append(f"joint test of {term}: {res.problem}")
    return out


@dataclass(frozen=True, slots=True)
class WaldResult:
    df: int
    chi2: float | None
    p: float | None
    problem: str | None  # None = a valid test
    note: str | None = None  # set when the test is restricted to the directions that vary


def joint_wald(fit: Fit, idx: list[int], *, reduced_ok: bool = False) -> WaldResult:
    """Joint Wald test that the coefficients ``idx`` are all 0, refused (``problem`` set, no numbers)
    when the covariance block is not positive definite or the statistic is not a valid chi2.

    ``reduced_ok`` (linear probability model only): when the block is singular but the estimate is 0
    along every direction of zero variance (those contrasts are 0 and identical in every problem, so
    they carry no evidence against the null), test the remaining directions: constraint matrix
    ``Q1' R`` with ``Q1`` the eigenvectors of positive eigenvalue, ``df`` = their number. If the
    estimate is not 0 along a zero-variance direction, no Wald test exists (``problem`` is set).
    ``fit.result`` must be the statsmodels results object ``fit.params`` come from (its ``wald_test``
    reads its own params; the covariance passed is ``fit.cov``).
    """
    df = len(idx)
    beta = np.asarray(fit.params, dtype=float)
    block = np.asarray(fit.cov, dtype=float)[np.ix_(idx, idx)]
    if not np.isfinite(block).all() or not np.isfinite(beta[idx]).all():
        return WaldResult(df, None, None, "non-finite estimates or covariance")
    eig, vecs = np.linalg.eigh((block + block.T) / 2)
    tol = max(SE_FLOOR ** 2, RANK_TOL * float(max(eig.max(), 0.0)))
    null = eig <= tol
    R = np.zeros((df, len(beta)))
    R[np.arange(df), idx] = 1.0
    note = None
    if null.any():
        rank = int((~null).sum())
        off = float(np.abs(vecs[:, null].T @ beta[idx]).max())
        singular = f"the covariance of its {df} coefficient(s) is singular (rank {rank})"
        if not reduced_ok or off > EST_TOL:
            return WaldResult(df, None, None, singular)
        if rank == 0:
            return WaldResult(df, 0.0, 1.0, None, f"{singular}: every coefficient is 0 and the same in every "
                                                  f"problem, so there is no evidence against 0 (chi2 = 0, p = 1)")
        R = vecs[:, ~null].T @ R
        note = (f"{singular}: Wald test on the {rank} direction(s) that vary between problems (the others "
                f"are 0 in every problem)")
    res = fit.result.wald_test(R, cov_p=fit.cov, scalar=True, use_f=False)
    chi2, p = float(res.statistic), float(res.pvalue)
    if not (math.isfinite(chi2) and chi2 >= 0 and math.isfinite(p)):
        return WaldResult(df, None, None, f"Wald chi2 = {chi2:.3g} is not a valid statistic")
    return WaldResult(R.shape[0], chi2, p, None, note)
