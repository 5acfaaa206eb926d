"""Seeded cluster bootstrap over problems, vectorised through per-problem sufficient statistics.

Every metric restplus reports is a ratio of sums over units (or a function of a few such sums, like
Cohen's kappa). Resampling problems with replacement therefore only re-weights per-problem sums: with
``S[p, j]`` the sum of statistic ``j`` over problem ``p``'s units and ``W[b, p]`` the number of times
problem ``p`` is drawn in replicate ``b``, replicate sums are the matrix product ``W @ S``. No Python
loop runs over units or replicates, so 1M rows and B = 1000 take seconds.

Renders of one problem stay together (the cluster bootstrap), which is what makes the intervals honest
when a problem appears in many cells.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import beta as beta_dist

from restplus.errors import AnalysisError

# Index draws per block when generating weights: bounds the temporary int64 array (~64 MB).
CHUNK_CELLS = 8_000_000


@dataclass(frozen=True, slots=True)
class ClusterSums:
    """Per-problem sums: ``sums[p, g, k]`` = statistic ``k`` summed over problem ``p``'s units in group ``g``."""

    sums: np.ndarray  # (P, G, K) float64

    @property
    def n_problems(self) -> int:
        return int(self.sums.shape[0])

    def totals(self) -> np.ndarray:
        """Point-estimate sums, shape (G, K)."""
        return self.sums.sum(axis=0)


def cluster_sums(group: np.ndarray, problem: np.ndarray, stats: np.ndarray, n_groups: int,
                 n_problems: int) -> ClusterSums:
    """Aggregate unit rows to per-(problem, group) sums with one ``bincount`` per statistic.

    ``group`` and ``problem`` are integer codes per row (a unit appearing in several groups is passed
    once per group); ``stats`` is (rows, K).
    """
    flat = problem.astype(np.int64) * n_groups + group.astype(np.int64)
    size = n_problems * n_groups
    k = stats.shape[1]
    out = np.empty((size, k), dtype=np.float64)
    for j in range(k):  # K is small (tens); the loop is over statistics, never over rows
        out[:, j] = np.bincount(flat, weights=stats[:, j], minlength=size)
    return ClusterSums(out.reshape(n_problems, n_groups, k))


def bootstrap_weights(n_problems: int, n_boot: int, seed: int) -> np.ndarray:
    """Problem multiplicities of ``n_boot`` resamples, shape (n_boot, n_problems), float32.

    Each replicate draws ``n_problems`` problems with replacement from ``np.random.default_rng(seed)``
    (counts are multinomial; drawn as indices and counted with one ``bincount``).
    """
    rng = np.random.default_rng(seed)
    out = np.empty((n_boot, n_problems), dtype=np.float32)
    step = max(1, CHUNK_CELLS // max(n_problems, 1))
    for start in range(0, n_boot, step):
        b = min(step, n_boot - start)
        idx = rng.integers(0, n_problems, size=(b, n_problems))
        idx += (np.arange(b) * n_problems)[:, None]
        out[start:start + b] = np.bincount(idx.ravel(), minlength=b * n_problems).reshape(b, n_problems)
    return out


def replicate_sums(cs: ClusterSums, n_boot: int, seed: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Bootstrap replicate sums, shape (n_boot, G, K): ``W @ S`` with W from :func:`bootstrap_weights`.

    Pass ``weights`` to reuse one set of resamples across calls (every scope of one analysis then
    sees the same resampled problems). float32 keeps the product fast; integer sums stay exact
    below 2**24.
    """
    p, g, k = cs.sums.shape
    w = bootstrap_weights(p, n_boot, seed) if weights is None else weights
    if w.shape != (n_boot, p):
        raise AnalysisError(f"bootstrap weights have shape {w.shape}, expected {(n_boot, p)} (one row per "
                            f"replicate, one column per problem).")
    s = cs.sums.reshape(p, g * k).astype(np.float32)
    return (w @ s).astype(np.float64).reshape(n_boot, g, k)


def percentile_ci(reps: np.ndarray, ci: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Percentile interval over axis 0, ignoring NaN replicates; also the share of NaN replicates.

    Vectorised over the remaining axes (sorting puts NaN last; each column interpolates among its
    own finite values, as ``np.nanquantile`` does, without its per-column Python loop).
    """
    lo_q, hi_q = (1 - ci) / 2, 1 - (1 - ci) / 2
    finite = np.isfinite(reps)
    n_ok = finite.sum(axis=0)
    share_nan = 1.0 - n_ok / reps.shape[0]
    srt = np.sort(np.where(finite, reps, np.nan), axis=0)

    def q(level: float) -> np.ndarray:
        pos = level * np.maximum(n_ok - 1, 0)
        lo_i = np.floor(pos).astype(np.int64)
        hi_i = np.minimum(lo_i + 1, np.maximum(n_ok - 1, 0))
        a = np.take_along_axis(srt, lo_i[None], axis=0)[0]
        b = np.take_along_axis(srt, hi_i[None], axis=0)[0]
        out = a + (b - a) * (pos - lo_i)
        return np.where(n_ok > 0, out, np.nan)

    return q(lo_q), q(hi_q), share_nan


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def kappa_from_sums(n: np.ndarray, n11: np.ndarray, n10: np.ndarray, n01: np.ndarray) -> np.ndarray:
    """Cohen's kappa of two binary raters from the 2x2 cell sums (vectorised; NaN where undefined).

    Same formula as ``statsmodels.stats.inter_rater.cohens_kappa`` on the 2x2 table; used for the
    bootstrap replicates, where calling statsmodels per replicate would loop in Python.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        n00 = n - n11 - n10 - n01
        po = (n11 + n00) / n
        p1 = (n11 + n10) / n
        p2 = (n11 + n01) / n
        pe = p1 * p2 + (1 - p1) * (1 - p2)
        out = (po - pe) / (1 - pe)
    return np.where((n > 0) & (np.abs(1 - pe) > 1e-12), out, np.nan)


def design_effect(y: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Cluster design effect of the ratio ``sum y / sum n`` per group; ``y``, ``n`` are (P, G) per-problem sums.

    The linearised cluster variance ``G/(G-1) * sum_p (y_p - R n_p)^2 / N^2`` over the binomial one
    ``R (1 - R) / N``, floored at 1 (a design effect below 1 would claim more information than
    independent units carry). Where the binomial variance is 0 (R at 0 or 1) the ratio is 0/0, so the
    worst case is taken: 1 when every problem has at most one unit in the group (units are then
    independent across problems), else ``N / G`` (every problem's units perfectly correlated).
    """
    big_n = n.sum(axis=0)
    g = (n > 0).sum(axis=0)
    r = ratio(y.sum(axis=0), big_n)
    with np.errstate(divide="ignore", invalid="ignore"):
        resid = y - np.where(np.isfinite(r), r, 0.0)[None] * n
        v = np.where(g > 1, g / np.maximum(g - 1, 1) * (resid ** 2).sum(axis=0) / big_n ** 2, np.nan)
        binom = r * (1 - r) / big_n
        deff = np.where(binom > 0, np.maximum(1.0, v / np.where(binom > 0, binom, 1.0)), np.nan)
    worst = np.where(n.max(axis=0) <= 1, 1.0, big_n / np.maximum(g, 1))
    return np.where(np.isfinite(deff), deff, np.maximum(worst, 1.0))


def clopper_pearson(x: np.ndarray, n: np.ndarray, ci: float) -> tuple[np.ndarray, np.ndarray]:
    """Clopper-Pearson (exact binomial) interval for ``x`` successes in ``n`` trials, vectorised.

    ``x`` and ``n`` may be non-integer (an effective sample size ``n / design effect`` and
    ``x = share * n``): the beta-quantile form extends continuously. Valid at x = 0 and x = n, where
    a percentile bootstrap collapses to a point.
    """
    a = (1 - ci) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = np.where(x > 0, beta_dist.ppf(a, np.maximum(x, 1e-12), n - x + 1), 0.0)
        hi = np.where(x < n, beta_dist.ppf(1 - a, x + 1, np.maximum(n - x, 1e-12)), 1.0)
    return lo, hi
