"""Paired-design power: Connor's formula checked against a simulation of McNemar's test."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chi2
from statsmodels.stats.contingency_tables import mcnemar

from restplus.errors import AnalysisError
from restplus.stats import mcnemar_power, power_paired


def simulated_power(n: int, d: float, discordance: float, alpha: float = 0.05, sims: int = 4000) -> float:
    """Share of simulated paired experiments in which McNemar (asymptotic, uncorrected) rejects."""
    rng = np.random.default_rng(7)
    p10, p01 = (discordance + d) / 2, (discordance - d) / 2
    counts = rng.multinomial(n, [p10, p01, 1 - discordance], size=sims)
    b, c = counts[:, 0], counts[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = np.where(b + c > 0, (b - c) ** 2 / (b + c), 0.0)
    # the vectorised statistic is statsmodels' mcnemar(exact=False, correction=False)
    ref = mcnemar(np.array([[0, b[0]], [c[0], 0]]), exact=False, correction=False).statistic
    assert stat[0] == pytest.approx(ref)
    return float((chi2.sf(stat, 1) < alpha).mean())


@pytest.mark.parametrize("d,discordance", [(0.10, 0.30), (0.05, 0.20), (0.15, 0.25)])
def test_required_n_reaches_the_target_power_in_simulation(d, discordance):
    n = power_paired(d, discordance=discordance, power=0.8)
    assert 0.76 <= simulated_power(n, d, discordance) <= 0.86
    # and a third of that sample is clearly underpowered
    assert simulated_power(n // 3, d, discordance) < 0.5


def test_power_function_inverts_the_sample_size():
    n = power_paired(0.08, discordance=0.3, power=0.9, alpha=0.01)
    assert mcnemar_power(n, 0.08, discordance=0.3, alpha=0.01) >= 0.9
    assert mcnemar_power(n - 1, 0.08, discordance=0.3, alpha=0.01) < 0.9
    # smaller drops need more problems; one-sided needs fewer
    assert power_paired(0.04, discordance=0.3) > power_paired(0.08, discordance=0.3)
    assert power_paired(0.08, discordance=0.3, alternative="one-sided") < power_paired(0.08, discordance=0.3)


@pytest.mark.parametrize("kwargs,match", [
    ({"d": 5, "discordance": 0.3}, "percentage points"),
    ({"d": 0.4, "discordance": 0.3}, "cannot exceed the discordance"),
    ({"d": 0.0, "discordance": 0.3}, "non-zero"),
    ({"d": 0.1, "discordance": 0.0}, "discordance"),
    ({"d": 0.1, "discordance": 0.3, "alpha": 1.5}, "alpha"),
    ({"d": 0.1, "discordance": 0.3, "power": 1.0}, "power"),
])
def test_invalid_inputs_are_explained(kwargs, match):
    with pytest.raises(AnalysisError, match=match):
        power_paired(**kwargs)
