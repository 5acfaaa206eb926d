"""The one p-value correction every table of tests uses (effects, McNemar pairs, ...).

Names are the ones users type (``holm``, ``bh``, ``bonferroni``, ``none``); statsmodels'
``multipletests`` does the arithmetic. Non-finite p-values (a degenerate or untestable row) are
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


def adjust_pvalues(p: np.ndarray | list[float], correction: str) -> np.ndarray:
    """Adjusted p-values over the finite entries of ``p`` (NaN stays NaN), in input order."""
    method = CORRECTIONS[check_correction(correction)]
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method=method)[1] if method else p[ok]
    return out
