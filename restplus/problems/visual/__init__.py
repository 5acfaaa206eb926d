"""Image-native sources (issue 16): chess boards, graphs and bar charts with a notation and a drawing."""

from __future__ import annotations

from . import chart, chess, graph  # noqa: F401  (registers the sources)
from .base import (
    SOURCES,
    Drawing,
    Transcription,
    VisualSource,
    drawing_kind,
    drawing_of,
    drawing_overrides,
    score_notation,
    score_transcription,
    transcription_prompt,
    visual_problem,
)
from .chart import chart_problem, generate_chart
from .chess import chess_problem, generate_chess
from .graph import generate_graph, graph_problem

__all__ = [
    "SOURCES", "Drawing", "Transcription", "VisualSource", "chart_problem", "chess_problem", "drawing_kind",
    "drawing_of", "drawing_overrides", "generate_chart", "generate_chess", "generate_graph", "graph_problem",
    "score_notation", "score_transcription", "transcription_prompt", "visual_problem",
]
