"""Accuracy vs vision tokens: recovery of a planted curve and honest NaNs."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from scipy.special import expit

from restplus.errors import AnalysisError
from restplus.stats import AnalysisWarning, token_curve


def planted(a: float, b: float, text_acc: float, n_problems: int = 300, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    levels = [16, 32, 64, 128, 256, 512, 1024]
    for p in range(n_problems):
        rows.append({"problem_id": f"p{p}", "modality": "text", "correct": bool(rng.random() < text_acc),
                     "text_tokens": 100, "vision_tokens": None})
        for t in levels:
            rows.append({"problem_id": f"p{p}", "modality": "image", "text_tokens": None, "vision_tokens": t,
                         "correct": bool(rng.random() < expit(a + b * math.log(t)))})
    return pl.DataFrame(rows)


def test_planted_curve_and_tokens_to_match_text():
    a, b = -2.0, 0.6
    target = 200.0
    curve = token_curve(planted(a, b, float(expit(a + b * math.log(target)))), n_boot=200)
    assert curve.slope == pytest.approx(b, abs=0.1) and curve.slope_ci_low < b < curve.slope_ci_high
    assert curve.intercept == pytest.approx(a, abs=0.5)
    assert 130 < curve.tokens_to_match_text < 310
    assert curve.token_ratio == pytest.approx(curve.tokens_to_match_text / 100)
    assert curve.bins.height == 6 and (curve.bins.get_column("accuracy").diff().drop_nulls() > -0.1).all()
    assert curve.predict([target])[0] == pytest.approx(curve.text_accuracy, abs=0.05)


def test_text_accuracy_out_of_reach_is_nan_with_a_warning():
    a, b = -2.0, 0.3
    with pytest.warns(AnalysisWarning, match="not extrapolated"):
        curve = token_curve(planted(a, b, 0.97), n_boot=0)
    assert math.isnan(curve.tokens_to_match_text) and any("not extrapolated" in w for w in curve.warnings)


def test_flat_or_falling_curve_is_nan_with_a_warning():
    with pytest.warns(AnalysisWarning, match="does not increase"):
        curve = token_curve(planted(1.0, -0.3, 0.7), n_boot=0)
    assert math.isnan(curve.tokens_to_match_text)


def test_missing_token_column_is_an_error():
    with pytest.raises(AnalysisError, match="vision_tokens"):
        token_curve(planted(0.0, 0.5, 0.5, n_problems=5).drop("vision_tokens"))
