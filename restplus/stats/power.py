"""Problems needed to detect an accuracy drop in a paired design (McNemar; Connor 1987).

Each problem is answered under two conditions (e.g. text vs image, or 200 vs 50 dpi). With
``p10`` = P(correct only under A) and ``p01`` = P(correct only under B), the accuracy drop is
``d = p10 - p01`` and the discordance is ``psi = p10 + p01``. Connor's normal approximation:

    n = ( z_{1-alpha/2} sqrt(psi) + z_{power} sqrt(psi - d^2) )^2 / d^2

(``z_{1-alpha}`` one-sided). One pair per problem: with several conditions per problem use the
per-condition discordance and treat the result as a lower bound.

Reference: Connor R.J. (1987), Sample size for testing differences in proportions for the paired-sample
design, Biometrics 43(1):207-211.
"""

from __future__ import annotations

import math
from typing import Literal

from scipy.stats import norm

from restplus.errors import AnalysisError

Alternative = Literal["two-sided", "one-sided"]


def _check(d: float, discordance: float, alpha: float, alternative: str) -> float:
    if alternative not in ("two-sided", "one-sided"):
        from restplus.errors import unknown_name

        raise unknown_name("alternative", alternative, ("two-sided", "one-sided"))
    if abs(d) >= 1 and abs(d) <= 100:
        raise AnalysisError(f"d={d!r} looks like percentage points; pass the drop as a share (e.g. 0.05 for "
                            f"5 points).")
    if d == 0 or not math.isfinite(d):
        raise AnalysisError(f"d must be a non-zero accuracy difference (a share in (-1, 1)), got {d!r}.")
    if not 0 < discordance <= 1:
        raise AnalysisError(f"discordance (share of problems answered correctly under exactly one condition) "
                            f"must be in (0, 1], got {discordance!r}.")
    if abs(d) > discordance:
        raise AnalysisError(f"|d| = {abs(d)} cannot exceed the discordance {discordance}: a drop of d needs at "
                            f"least d discordant problems (d = p10 - p01, discordance = p10 + p01).")
    if not 0 < alpha < 1:
        raise AnalysisError(f"alpha must be in (0, 1), got {alpha!r}.")
    return norm.ppf(1 - alpha / 2) if alternative == "two-sided" else norm.ppf(1 - alpha)


def power_paired(d: float, *, discordance: float, alpha: float = 0.05, power: float = 0.8,
                 alternative: Alternative = "two-sided") -> int:
    """Number of problems needed to detect an accuracy drop ``d`` (share, e.g. 0.05) with McNemar's test.

    ``discordance``: expected share of problems solved under exactly one of the two conditions
    (from a pilot: ``(n_a_only + n_b_only) / n_pairs`` of :func:`mcnemar_pairs`).
    """
    za = _check(d, discordance, alpha, alternative)
    if not 0 < power < 1:
        raise AnalysisError(f"power must be in (0, 1), got {power!r}.")
    zb = norm.ppf(power)
    n = (za * math.sqrt(discordance) + zb * math.sqrt(discordance - d * d)) ** 2 / (d * d)
    return int(math.ceil(n))


def mcnemar_power(n: int, d: float, *, discordance: float, alpha: float = 0.05,
                  alternative: Alternative = "two-sided") -> float:
    """Approximate power of McNemar's test with ``n`` problems (inverse of :func:`power_paired`)."""
    za = _check(d, discordance, alpha, alternative)
    if n < 1:
        raise AnalysisError(f"n must be >= 1 problem, got {n}.")
    return float(norm.cdf((math.sqrt(n) * abs(d) - za * math.sqrt(discordance)) / math.sqrt(discordance - d * d)))
