"""One p-value correction for every table of tests; hand-computed families."""

import numpy as np
import pytest

from restplus.errors import UnknownNameError
from restplus.stats.multiplicity import adjust_pvalues

P = [0.01, 0.04, float("nan"), 0.03]


@pytest.mark.parametrize("name, expected", [
    ("holm", [0.03, 0.06, np.nan, 0.06]),        # 3*0.01, max(2*0.03, 0.03), max(1*0.04, 0.06)
    ("bonferroni", [0.03, 0.12, np.nan, 0.09]),
    ("bh", [0.03, 0.04, np.nan, 0.04]),          # step-up: min over ranks of p*m/k
    ("none", P),
])
def test_adjust_over_finite_entries_only(name, expected):
    got = adjust_pvalues(P, name)
    np.testing.assert_allclose(got, expected, rtol=1e-12, equal_nan=True)


def test_unknown_correction_suggests_the_nearest():
    with pytest.raises(UnknownNameError, match="Did you mean: holm"):
        adjust_pvalues([0.1], "hlm")


def test_effects_and_mcnemar_use_it():
    import inspect

    from restplus.stats import paired
    from restplus.stats.engine import factorial

    for mod in (paired, factorial):
        src = inspect.getsource(mod)
        assert "adjust_pvalues(" in src and "multipletests" not in src


def test_holm_matches_statsmodels_on_random_families_with_ties():
    # Holm is computed locally (statsmodels' Holm branch runs gc.collect() on every call); it must
    # give multipletests' numbers exactly, ties and p-values near 1 included
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(7)
    for m in (1, 2, 5, 17, 60):
        p = np.round(rng.beta(0.4, 1.0, m), 2)  # rounding makes ties
        np.testing.assert_allclose(adjust_pvalues(p, "holm"), multipletests(p, method="holm")[1], rtol=1e-14)
