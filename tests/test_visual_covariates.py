"""Image-native sources: the piece_style factor and the physical covariates each drawing records."""

from __future__ import annotations

import io
import math
import re

import chess
import chess.svg
import numpy as np
import pytest
from PIL import Image

import restplus as rp
from restplus.grammar.visual_kinds import PIECE_STYLES as KIND_LEVELS
from restplus.problems.visual import drawing_of
from restplus.problems.visual.chess import PIECE_STYLES, THEMES, chess_problem, placement
from restplus.render.fonts import resolve_font

NAMES = {"p": "pawn", "n": "knight", "b": "bishop", "r": "rook", "q": "queen", "k": "king"}


def _font():
    f = resolve_font("DejaVu Sans")
    return f.family, f.path


def _grid(**factors):
    return rp.Grid.from_dict({"restplus_spec": 1, "factors": {"dpi": {"levels": [100]}, **factors,
                                                              "modality": {"levels": ["text", "mixed"]}}})


def _luminance(hex_colour: str) -> float:
    # WCAG relative luminance, written out here so the covariate is checked against the definition
    def ch(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * ch(r) + 0.7152 * ch(g) + 0.0722 * ch(b)


def _wcag(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _squares_from_svg(svg: str) -> list[str]:
    squares = ["."] * 64
    for name, x, y in re.findall(r'<use href="#(\w+-\w+)"[^>]*translate\((\d+), (\d+)\)', svg):
        colour, piece = name.split("-")
        sym = {v: k for k, v in NAMES.items()}[piece]
        squares[(int(y) - 15) // 45 * 8 + (int(x) - 15) // 45] = sym.upper() if colour == "white" else sym
    return squares


# --- piece_style ---------------------------------------------------------------------------------------

def test_piece_style_levels_match_the_source_table():
    assert set(KIND_LEVELS) == set(PIECE_STYLES)


def test_piece_style_recolours_the_pieces_and_keeps_the_position():
    fen = "r3k2r/pppq1ppp/2n1bn2/3pp3/3PP3/2N1BN2/PPPQ1PPP/R3K2R w - - 0 9"
    p = chess_problem(fen, "check")
    shipped = chess.svg.board(chess.Board(fen), coordinates=True, colors=THEMES["classic"], size=None)
    ref = drawing_of(p, *_font()).svg
    assert ref.replace('<svg width="288.0pt" height="288.0pt" ', "<svg ", 1) == shipped  # cburnett as shipped
    for style, (white_body, white_line, black_body, black_detail) in PIECE_STYLES.items():
        svg = drawing_of(p, *_font(), {"pieces": style}).svg
        assert _squares_from_svg(svg) == placement(fen)  # the content never changes
        defs, board = svg.split("</defs>", 1)
        assert board == ref.split("</defs>", 1)[1]  # squares, coordinates and piece positions untouched
        white = re.search(r'<g id="white-queen".*?(?=<g id="(?:white|black)-|\Z)', defs, re.S).group(0)
        black = re.search(r'<g id="black-queen".*?(?=<g id="(?:white|black)-|\Z)', defs, re.S).group(0)
        if style != "cburnett":
            assert white_body in white and white_line in white and "#fff\"" not in white
            assert black_body in black and black_detail in black and '"#000"' not in black
    with pytest.raises(rp.RestplusError, match=r"chess item 'x', field 'pieces': 'plastic'"):
        chess_problem(fen, "check", item="x", pieces="plastic")


def test_piece_style_factor_changes_chess_pixels_only():
    grid = _grid(piece_style={"levels": list(KIND_LEVELS)})
    mixed = [c for c in grid.cells() if c.modality == "mixed"]
    for name in ("chess", "graph", "chart"):
        p = rp.builtin_set(name, 1, seed=4)[0]
        shas = {rp.realize(p, grid, c, 0).images[0].sha256 for c in mixed}
        assert len(shas) == (len(KIND_LEVELS) if name == "chess" else 1), name


# --- covariates ----------------------------------------------------------------------------------------

def test_chess_covariates_square_size_and_contrasts():
    grid = _grid(board_theme={"levels": ["classic", "green"]}, piece_style={"levels": ["cburnett", "low_contrast"]})
    p = rp.builtin_set("chess", 1)[0]
    for c in grid.cells():
        if c.modality != "mixed":
            continue
        lv = c.as_dict()
        img = rp.realize(p, grid, c, 0).images[0]
        cov = dict(img.covariates)
        light, dark = THEMES[lv["board_theme"]]["square light"], THEMES[lv["board_theme"]]["square dark"]
        white_body, _, black_body, _ = PIECE_STYLES[lv["piece_style"]]
        assert cov["square_px"] == pytest.approx(img.width * 45 / 390, abs=1e-3)
        assert cov["square_contrast"] == pytest.approx(_wcag(light, dark), abs=1e-3)
        assert cov["white_piece_contrast"] == pytest.approx(_wcag(white_body, light), abs=1e-3)
        assert cov["black_piece_contrast"] == pytest.approx(_wcag(black_body, dark), abs=1e-3)
        # and the drawn light square really has that colour (a8 is light: top-left, inside the margin)
        px = img.width / 390
        at = Image.open(io.BytesIO(img.png)).convert("RGB").getpixel((int(20 * px), int(20 * px)))
        assert "#%02x%02x%02x" % at == light


def test_graph_min_node_distance_from_the_svg():
    grid = _grid(layout_seed={"levels": [0, 1]})
    p = rp.builtin_set("graph", 1, seed=2)[0]
    for c in grid.cells():
        if c.modality != "mixed":
            continue
        img = rp.realize(p, grid, c, 0).images[0]
        d = drawing_of(p, *_font(), {"layout_offset": c.as_dict()["layout_seed"]})
        found = re.findall(r'<circle id="node-\w" cx="([\d.]+)" cy="([\d.]+)"', d.svg)
        centres = [(float(x), float(y)) for x, y in found]
        closest = min(math.dist(a, b) for i, a in enumerate(centres) for b in centres[i + 1:])
        cov = dict(img.covariates)
        assert cov["min_node_distance_px"] == pytest.approx(closest * img.width / 288, abs=1e-3)
        assert cov["node_diameter_px"] == pytest.approx(28 * img.width / 288, abs=1e-3)


def test_chart_bar_width_measured_on_the_pixels():
    grid = _grid(chart_style={"levels": ["plain", "grid"]})
    p = rp.builtin_set("chart", 1, seed=1)[0]
    n_bars = len(dict(p.meta)["notation"].splitlines()) - 1
    from restplus.problems.visual.chart import STYLES

    for c in grid.cells():
        if c.modality != "mixed":
            continue
        style = STYLES[c.as_dict()["chart_style"]]
        img = rp.realize(p, grid, c, 0).images[0]
        cov = dict(img.covariates)
        pix = np.asarray(Image.open(io.BytesIO(img.png)).convert("RGB")).astype(int)
        want = np.array([int(style["color"][i:i + 2], 16) for i in (1, 3, 5)])
        is_bar = (np.abs(pix - want).sum(axis=2) <= 6)
        row = is_bar[np.nonzero(is_bar.sum(axis=1))[0].max() - 3]  # just above the x axis: every bar is there
        edges = np.diff(np.concatenate([[0], row.astype(int), [0]]))
        widths = np.nonzero(edges == -1)[0] - np.nonzero(edges == 1)[0]
        assert len(widths) == n_bars
        assert all(abs(w - cov["bar_width_px"]) <= 2 for w in widths), (widths, cov["bar_width_px"])
        assert cov["bar_contrast"] == pytest.approx(_wcag(style["color"], "#ffffff"), abs=1e-3)
        assert isinstance(cov["bar_width_px"], float)
