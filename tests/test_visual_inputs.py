"""Image-native inputs: the chess piece-list text form, and items loaded from files with load_problems."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import chess
import networkx as nx
import pytest

import restplus as rp
from restplus.errors import ProblemError
from restplus.problems import solve_from_text
from restplus.problems.visual import drawing_of, score_transcription
from restplus.problems.visual.chess import parse_piece_list, placement
from restplus.render.fonts import resolve_font

ROOT = Path(__file__).resolve().parent.parent


def _font():
    f = resolve_font("DejaVu Sans")
    return f.family, f.path


# --- piece list ----------------------------------------------------------------------------------------

def _read_piece_list(text: str) -> list[str]:
    """The 64 squares a8 … h1 from a piece list, parsed here by hand (not by restplus)."""
    squares = ["."] * 64
    body = text.split("Chess position (piece list): ", 1)[1].split("\n", 1)[0]
    for side in body.split("; "):
        colour, items = side.split(": ")
        for it in items.split(", "):
            letter, file, rank = it[0], it[1], int(it[2])
            squares[(8 - rank) * 8 + "abcdefgh".index(file)] = letter if colour == "White" else letter.lower()
    return squares


def test_piece_list_form_same_positions_answers_and_drawings():
    fen_items, list_items = rp.builtin_set("chess", 12), rp.builtin_set("chess_pieces", 12)
    for a, b in zip(fen_items, list_items):
        fen = dict(a.meta)["notation"]
        assert b.answer == a.answer and dict(b.meta)["notation"] == fen and b.task == "chess_pieces"
        assert a.segments[1] == b.segments[1] and fen not in b.full_text and "/" not in b.segments[0].text
        assert _read_piece_list(b.full_text) == placement(fen)
        # the side to move is in every question whose answer depends on it
        q = dict(b.meta)["question_type"]
        if q != "piece":
            side = "White" if chess.Board(fen).turn else "Black"
            assert b.segments[1].text.startswith(f"{side} to move")
        assert drawing_of(a, *_font()).svg == drawing_of(b, *_font()).svg
        assert score_transcription(b, fen.split()[0]).passed  # the gate still asks for a FEN
    assert len({p.problem_id for p in (*fen_items, *list_items)}) == 24


def test_piece_list_is_solved_from_its_text_and_a_misread_changes_the_answer():
    items = rp.builtin_set("chess_pieces")
    assert all(solve_from_text(p.answer_type, p.full_text) == p.answer for p in items)
    moves = next(p for p in items if dict(p.meta)["question_type"] == "moves")
    first_pawn = re.search(r"P[a-h][1-8], ", moves.full_text).group(0)
    fewer = moves.full_text.replace(first_pawn, "", 1)  # one white pawn lost in reading
    got = solve_from_text("chess_pieces", fewer)
    board = chess.Board(parse_piece_list(fewer, white_to_move=True))
    assert got == str(board.legal_moves.count()) and got != moves.answer


def test_bad_piece_lists_name_the_field():
    with pytest.raises(ProblemError, match=r"field 'notation'.*'Xe1' in the white pieces"):
        parse_piece_list("White: Xe1, Ke2; Black: Ke8")
    with pytest.raises(ProblemError, match=r"square e2 is given twice"):
        parse_piece_list("White: Ke1, Pe2, Qe2; Black: Ke8")
    with pytest.raises(ProblemError, match=r"not a legal position"):
        parse_piece_list("White: Qd1; Black: Ke8")  # no white king
    with pytest.raises(ProblemError, match=r"field 'text_form': 'list' is not one of"):
        rp.problems.visual.chess_problem(chess.STARTING_FEN, "moves", text_form="list")


# --- loading from files --------------------------------------------------------------------------------

def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_load_chess_graph_chart_rows_with_answers_computed(tmp_path):
    fen = "6k1/5ppp/8/8/8/8/5PPP/R5K1 w - - 0 1"  # back-rank mate: Ra8#
    chess_rows = [{"id": "m1", "fen": fen, "question": "mate"},
                  {"id": "m2", "fen": fen, "question": "piece", "square": "a1", "text_form": "pieces"},
                  {"id": "m3", "fen": fen, "question": "moves", "answer": str(chess.Board(fen).legal_moves.count())}]
    cs = rp.load_problems(_write(tmp_path / "c.jsonl", chess_rows), preset="chess")
    assert [p.answer for p in cs] == ["a1a8", "white rook", chess.Board(fen).legal_moves.count().__str__()]
    assert [dict(p.meta)["source_id"] for p in cs] == ["m1", "m2", "m3"] and cs[0].source == "c.jsonl:1"
    assert cs[1].task == "chess_pieces" and "White: Kg1, Ra1" in cs[1].full_text

    graph_rows = [{"edges": "A-B, B-C, D-E", "nodes": "A, B, C, D, E, F", "question": q, "a": "A", "b": "C"}
                  for q in ("degree", "path", "distance", "edges", "components")]
    gs = rp.load_problems(_write(tmp_path / "g.jsonl", graph_rows), preset="graph")
    g = nx.Graph([("A", "B"), ("B", "C"), ("D", "E")])
    g.add_node("F")
    assert [p.answer for p in gs] == [str(g.degree["A"]), "yes", str(nx.shortest_path_length(g, "A", "C")),
                                      str(g.number_of_edges()), str(nx.number_connected_components(g))]
    # the layout seed is derived from the content: the same edge list draws the same way in any file
    again = rp.load_problems(_write(tmp_path / "g2.jsonl", graph_rows[:1]), preset="graph")
    assert drawing_of(again[0], *_font()).svg == drawing_of(gs[0], *_font()).svg

    chart_rows = [{"table": {"apples": 5, "pears": 9, "figs": 2}, "question": "largest"},
                  {"table": [["apples", 5], ["pears", 9]], "question": "difference", "x": "apples", "y": "pears"},
                  {"table": "apples | 5\npears | 9", "question": "value", "x": "pears", "style": "grid"}]
    ts = rp.load_problems(_write(tmp_path / "t.jsonl", chart_rows), preset="chart")
    assert [p.answer for p in ts] == ["pears", "-4", "9"]
    assert json.loads(dict(ts[2].meta)["drawing_options"]) == {"style": "grid"}


@pytest.mark.parametrize("preset,row,field,message", [
    ("chess", {"fen": "8/8/8/8/8/8/8/8 w - - 0 1", "question": "moves"}, "fen", "not a legal position"),
    ("chess", {"fen": "rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNX w - - 0 1", "question": "moves"}, "fen",
     "is not a FEN"),
    ("chess", {"fen": chess.STARTING_FEN, "question": "piece", "square": "i9"}, "square", "not a square"),
    ("chess", {"fen": chess.STARTING_FEN, "question": "moves", "answer": "21"}, "answer", "gives '20'"),
    ("chess", {"fen": chess.STARTING_FEN, "questoin": "moves"}, "questoin", "Did you mean: question"),
    ("graph", {"edges": "A-B, C-D", "question": "distance", "a": "A", "b": "C"}, "b", "disconnected"),
    ("graph", {"edges": "A-B, B-A", "question": "edges"}, "edges[1]", "given twice"),
    ("graph", {"edges": "A-B, B-Z", "nodes": "A, B", "question": "edges"}, "edges[1]", "two different nodes"),
    ("graph", {"edges": "AB-C", "question": "edges"}, "nodes", "single capital letters"),
    ("chart", {"table": {}, "question": "largest"}, "table", "0 row(s)"),
    ("chart", {"table": "", "question": "largest"}, "table", "missing"),
    ("chart", {"table": {"a": 1, "b": 1}, "question": "largest"}, "table", "values repeat"),
    ("chart", {"table": {"a": 1, "b": "two"}, "question": "largest"}, "table[1]", "must be an integer"),
    ("chart", {"table": {"a": 1, "b": 2}, "question": "value", "x": "c"}, "x", "not in the table"),
])
def test_bad_rows_name_file_line_and_field(tmp_path, preset, row, field, message):
    path = _write(tmp_path / "bad.jsonl", [row])
    with pytest.raises(ProblemError) as info:
        rp.load_problems(path, preset=preset)
    assert f"bad.jsonl, line 1, field {field!r}" in str(info.value) and message in str(info.value)
    skipped = rp.load_problems(path, preset=preset, on_error="skip")
    assert len(skipped) == 0 and skipped.report.errors[0].field == field  # listed, never silently dropped


def test_visual_preset_refuses_field_mappings(tmp_path):
    path = _write(tmp_path / "c.jsonl", [{"fen": chess.STARTING_FEN, "question": "moves"}])
    with pytest.raises(ProblemError, match="computes the answer"):
        rp.load_problems(path, preset="chess", answer_type="number")


def test_cli_generate_from_a_chess_file(tmp_path):
    path = _write(tmp_path / "c.jsonl", [{"fen": chess.STARTING_FEN, "question": "moves"}])
    spec = str(ROOT / "perturbations" / "visual_sources.yaml")
    r = subprocess.run([sys.executable, "-m", "restplus", "generate", spec,
                        "--problems", str(path), "--problems-preset", "chess", "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    n_cells = rp.load_grid(ROOT / "perturbations" / "visual_sources.yaml").n_cells
    assert f"{n_cells} variants (1 problems x {n_cells} cells)" in r.stdout
