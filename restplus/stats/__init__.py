"""Factorial analysis of the long per-sample table: consistency metrics, factor effects, paired
tests, vision-token curves, power and minimal counterfactuals.

Everything here reads a plain table (polars, pandas or pyarrow) with the columns documented in
:mod:`restplus.schema`; nothing imports the model adapters or the renderer, so tables built elsewhere
work the same way.
"""

from __future__ import annotations

from ..errors import AnalysisWarning
from .counterfactual import Counterfactual, counterfactuals, minimal_counterfactual
from .engine.effect_table import EffectTable
from .engine.factorial import effects
from .metrics import consistency
from .paired import cochran_q, mcnemar_pairs, paired_ttest
from .power import mcnemar_power, power_paired
from .simulate import simulate_table
from .summaries import accuracy_table, gate_summary, missingness
from .tokens import TokenCurve, token_curve

__all__ = [
    "AnalysisWarning", "Counterfactual", "EffectTable", "TokenCurve", "accuracy_table", "cochran_q",
    "consistency", "counterfactuals", "effects", "gate_summary", "mcnemar_pairs", "mcnemar_power",
    "minimal_counterfactual", "missingness", "paired_ttest", "power_paired", "simulate_table", "token_curve",
]
