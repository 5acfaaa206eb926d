"""Modality gap: per-layer hidden-state similarity and retrieval between text and image forms."""

from __future__ import annotations

from .measure import GapResult, gap_correlation, gap_curves, gap_summary, measure_gap

__all__ = ['GapResult', 'gap_correlation', 'gap_curves', 'gap_summary', 'measure_gap']
