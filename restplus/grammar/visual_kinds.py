"""Factor kinds of the image-native sources (issue 16): they change the drawing, not the content.

board_theme   chess square colours (restplus.problems.visual.chess.THEMES)
piece_style   chess piece colours (restplus.problems.visual.chess.PIECE_STYLES): python-chess ships
              one piece set (cburnett), so this recolours its shapes (body and line colour per
              side); it is not a choice of piece shapes
chart_style   bar colour and gridlines (restplus.problems.visual.chart.STYLES)
layout_seed   graph node-layout seed offset: 0 is each problem's own layout, k another layout of
              the same graph (the edge set, hence every answer, is unchanged)

They resolve to render-param extras that realisation hands to the drawing; a problem of another
source ignores them (its pixels do not change). The level names are repeated here because grammar
may not import problems; tests/test_visual_sources.py checks they match the sources' tables.
"""

from __future__ import annotations

from .factors import FactorKind, _choice, _number, register_factor_kind

BOARD_THEMES = ("classic", "green", "gray")
PIECE_STYLES = ("cburnett", "sepia", "low_contrast")
CHART_STYLES = ("plain", "grid")

for _k in (
    FactorKind("board_theme", _choice("board_theme", BOARD_THEMES), lambda v: {"board_theme": v},
               description="chess board colour theme (image-native chess source only)"),
    FactorKind("piece_style", _choice("piece_style", PIECE_STYLES), lambda v: {"piece_style": v},
               description="chess piece colours, a recolouring of the one shipped piece set (chess source only)"),
    FactorKind("chart_style", _choice("chart_style", CHART_STYLES), lambda v: {"chart_style": v},
               description="bar-chart colour and gridlines (image-native chart source only)"),
    FactorKind("layout_seed", _number("layout_seed", 0, 1_000_000, integer=True), lambda v: {"layout_seed": int(v)},
               description="graph node-layout seed offset, 0 = the problem's own layout (graph source only)"),
):
    register_factor_kind(_k)
