"""The one p-value correction every table of tests uses (effects, McNemar pairs, ...).

Names are the ones users type (``holm``, ``bh``, ``bonferroni``, ``none``); statsmodels'
``multipletests`` does the arithmetic, except Holm's (below). Non-finite p-values (a degenerate or untestable row) are
left out of the family and stay NaN, so one untestable contrast never changes the others'.
"""

from __future__ import annotations

import numpy as np
from statsmodels.stats.multitest import multipletests

from ..errors import unknown_name

CORRECTIONS: dict[str, str | None] = {"holm": "holm", "bh": "fdr_bh", "bonferroni": "bonferroni", "none": None}


def check_correction(correction: str) -> str:
    """Return ``correction`` if it is a known name; else an UnknownNameError with did-you-mean."""
    if correction not in CORRECTIONS:
        raise unknown_name("correction", correction, CORRECTIONS)
    return correction


def _holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment: sorted p_(1) <= ... <= p_(m) become the running maximum of
    (m - k + 1) p_(k), capped at 1 (what ``multipletests(method="holm")`` returns). Done here because
    statsmodels' Holm branch calls ``gc.collect()`` on every call: 0.1 s or more in a large process,
    which was 80 % of an ``effects()`` call on a small table and dominated the Monte Carlo bench."""
    order = np.argsort(p, kind="stable")
    m = p.size
    adj = np.minimum(1.0, np.maximum.accumulate(p[order] * np.arange(m, 0, -1)))
    out = np.empty(m)
    out[order] = adj
    return out


def adjust_pvalues(p: np.ndarray | list[float], correction: str) -> np.ndarray:
    """Adjusted p-values over the finite entries of ``p`` (NaN stays NaN), in input order."""
    method = CORRECTIONS[check_correction(correction)]
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        if method == "holm":
            out[ok] = _holm(p[ok])
        else:
            out[ok] = multipletests(p[ok], method=method)[1] if method else p[ok]
    return out
