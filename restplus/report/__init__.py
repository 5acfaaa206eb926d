"""Report: tables (CSV / Markdown / LaTeX), plots and summaries of an analysis."""

from __future__ import annotations

from .write import consistency_table, write_effects, write_report

__all__ = ['consistency_table', 'write_effects', 'write_report']
