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

# Rows of W generated per block: bounds memory at CHUNK x n_problems weights.
CHUNK = 128


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


def replicate_sums(cs: ClusterSums, n_boot: int, seed: int) -> np.ndarray:
    """Bootstrap replicate sums, shape (n_boot, G, K), from ``np.random.default_rng(seed)``.

    Each replicate draws ``P`` problems with replacement (multinomial counts). float32 keeps the
    matrix product fast; sums of integer counts stay exact below 2**24.
    """
    p, g, k = cs.sums.shape
    rng = np.random.default_rng(seed)
    s = cs.sums.reshape(p, g * k).astype(np.float32)
    out = np.empty((n_boot, g * k), dtype=np.float64)
    probs = np.full(p, 1.0 / p)
    for start in range(0, n_boot, CHUNK):
        b = min(CHUNK, n_boot - start)
        w = rng.multinomial(p, probs, size=b).astype(np.float32)
        out[start:start + b] = w @ s
    return out.reshape(n_boot, g, k)


def percentile_ci(reps: np.ndarray, ci: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Percentile interval over axis 0, ignoring NaN replicates; also the share of NaN replicates."""
    lo_q, hi_q = (1 - ci) / 2, 1 - (1 - ci) / 2
    finite = np.isfinite(reps)
    share_nan = 1.0 - finite.mean(axis=0)
    with np.errstate(all="ignore"):
        safe = np.where(finite, reps, np.nan)
        all_nan = ~finite.any(axis=0)
        # nanquantile warns on all-NaN slices; fill them and blank afterwards
        safe[:, all_nan] = 0.0
        lo = np.nanquantile(safe, lo_q, axis=0)
        hi = np.nanquantile(safe, hi_q, axis=0)
    lo[all_nan] = np.nan
    hi[all_nan] = np.nan
    return lo, hi, share_nan


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
