"""The effects engine: design matrices, GEE / FE / GLM fits, marginal deltas, small-sample and exact
tests, the effect table."""

from __future__ import annotations

from .effect_table import EffectTable
from .factorial import effects

__all__ = ['EffectTable', 'effects']
