"""Average marginal contrasts on the probability scale, with delta-method standard errors.

For a setting s (some factors fixed at levels), the average predicted accuracy over rows R is

    mu_s = mean_{i in R} sigmoid(x_i' M_s beta),

whose gradient in beta is ``M_s X_R' sigmoid'(eta_s) / |R|`` (analytic, so the cost is two mat-vec
products over the data per setting). A contrast is a signed sum of such means, e.g. level minus
reference, or for an interaction the difference of differences. Its variance is g' V g with V the
(cluster-robust) covariance of beta.

For the linear probability model (``link="identity"``) the prediction is ``x_i' M_s beta`` itself, so
mu_s is linear in beta with gradient ``M_s X_R' 1 / |R|``; predictions are not clipped to [0, 1]
(clipping would make the contrast non-linear and its delta-method SE wrong).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from restplus.errors import AnalysisError

from .design import Design


@dataclass(frozen=True, slots=True)
class Contrast:
    estimate: float
    se: float


class MarginalCalculator:
    """Contrasts of average predictions for one fitted model.

    ``X`` may carry extra columns after the design's (problem dummies of the fixed-effects logit);
    they are left unchanged by every setting. ``rows`` selects the rows averaged over.
    """

    def __init__(self, design: Design, X: np.ndarray, beta: np.ndarray, cov: np.ndarray,
                 link: str = "logit") -> None:
        if link not in ("logit", "identity"):
            raise AnalysisError(f"MarginalCalculator link must be 'logit' or 'identity', got {link!r}.")
        self.link = link
        self.design = design
        self.X = X
        self.beta = beta
        self.cov = cov
        self._p = len(design.columns)
        self._cache: dict[tuple[object, ...], tuple[float, np.ndarray]] = {}
        self._subsets: dict[str, np.ndarray] = {}

    def _full_m(self, setting: Mapping[str, str]) -> np.ndarray:
        m = self.design.setting_matrix(setting)
        extra = self.X.shape[1] - self._p
        if extra == 0:
            return m
        full = np.eye(self.X.shape[1])
        full[: self._p, : self._p] = m
        return full

    def mean(self, setting: Mapping[str, str], rows: np.ndarray | None, rows_key: str) -> tuple[float, np.ndarray]:
        """Average predicted probability under ``setting`` and its gradient in beta."""
        key = (rows_key, tuple(sorted(setting.items())))
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        m = self._full_m(setting)
        if rows is None:
            X = self.X
        else:  # copy the row subset once per key, not once per setting
            X = self._subsets.get(rows_key)
            if X is None:
                X = self._subsets[rows_key] = self.X[rows]
        eta = X @ (m @ self.beta)
        if self.link == "identity":
            prob, dens = eta, np.ones_like(eta)
        else:
            prob = expit(eta)
            dens = prob * (1.0 - prob)
        n = X.shape[0]
        grad = m.T @ (X.T @ dens) / n
        out = (float(prob.mean()), grad)
        self._cache[key] = out
        return out

    def contrast(self, terms: Sequence[tuple[float, Mapping[str, str]]], rows: np.ndarray | None,
                 rows_key: str) -> Contrast:
        est = 0.0
        grad = np.zeros(self.X.shape[1])
        for weight, setting in terms:
            mu, g = self.mean(setting, rows, rows_key)
            est += weight * mu
            grad += weight * g
        var = float(grad @ self.cov @ grad)
        # g'Vg >= 0 in exact arithmetic; round-off in V (of order eps x its largest entry) can leave it a
        # hair below 0 when V is singular along g (a contrast with no between-problem variation): that
        # is a variance of 0, not NaN
        if var < 0 and -var <= 1e-12 * float(np.abs(self.cov).max()) * float(np.abs(grad).sum()) ** 2:
            var = 0.0
        return Contrast(est, float(np.sqrt(var)) if var >= 0 else float("nan"))


def level_contrast(factor: str, level: str, reference: str) -> list[tuple[float, dict[str, str]]]:
    """Level minus reference, other factors as observed."""
    return [(1.0, {factor: level}), (-1.0, {factor: reference})]


def interaction_contrast(assign: Sequence[tuple[str, str]], reference: Mapping[str, str]
                         ) -> list[tuple[float, dict[str, str]]]:
    """Difference of differences: sum over subsets S of the term's factors set to their levels (the
    rest at reference) with sign (-1)^(k - |S|). For two factors: p11 - p10 - p01 + p00."""
    k = len(assign)
    out: list[tuple[float, dict[str, str]]] = []
    for mask in range(1 << k):
        setting = {f: (lv if mask >> i & 1 else reference[f]) for i, (f, lv) in enumerate(assign)}
        sign = -1.0 if (k - bin(mask).count("1")) % 2 else 1.0
        out.append((sign, setting))
    return out
