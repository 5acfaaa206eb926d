"""Image-native sources (issue 16): answers checked independently, drawings parsed back, gates, errors."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from collections import deque
from pathlib import Path

import chess
import pytest

import restplus as rp
from restplus.errors import ProblemError
from restplus.problems.visual import (
    chart_problem,
    chess_problem,
    drawing_of,
    generate_chart,
    generate_chess,
    generate_graph,
    graph_problem,
    score_transcription,
    transcription_prompt,
)
from restplus.problems.visual.chess import placement
from restplus.render.fonts import resolve_font

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "perturbations" / "visual_sources.yaml"
NAMES = {"p": "pawn", "n": "knight", "b": "bishop", "r": "rook", "q": "queen", "k": "king"}


def meta(p, key):
    return dict(p.meta)[key]


def _font():
    f = resolve_font("DejaVu Sans")
    return f.family, f.path


# --- chess ---------------------------------------------------------------------------------------------

def test_chess_answers_recomputed_with_the_rules():
    probs = generate_chess(12, seed=3)
    assert {meta(p, "question_type") for p in probs} == {"piece", "moves", "check", "mate"}
    for p in probs:
        fen = meta(p, "notation")
        board = chess.Board(fen)
        assert board.is_valid() and board.castling_rights == 0 and board.ep_square is None
        assert p.segments[0].text.endswith(fen)  # the text form is the notation
        q = meta(p, "question_type")
        if q == "piece":
            sq = re.search(r"on ([a-h][1-8])\?", p.segments[1].text).group(1)
            # read the square from the FEN string by hand, not through python-chess
            cell = placement(fen)[(8 - int(sq[1])) * 8 + "abcdefgh".index(sq[0])]
            want = "empty" if cell == "." else ("white " if cell.isupper() else "black ") + NAMES[cell.lower()]
            assert p.answer == want
        elif q == "moves":
            assert p.answer == str(sum(1 for _ in board.generate_legal_moves()))
        elif q == "check":
            king = board.king(board.turn)
            assert p.answer == ("yes" if board.is_attacked_by(not board.turn, king) else "no")
        else:
            mates = []
            for mv in list(board.legal_moves):
                board.push(mv)
                if board.is_check() and not any(True for _ in board.generate_legal_moves()):
                    mates.append(mv.uci())
                board.pop()
            assert mates == [p.answer]


def test_check_questions_are_not_all_no():
    answers = [p.answer for p in generate_chess(40, seed=0) if meta(p, "question_type") == "check"]
    assert "yes" in answers and "no" in answers


def test_chess_drawing_parsed_back_matches_the_fen():
    for p in generate_chess(4, seed=1):
        d = drawing_of(p, *_font())
        squares = ["."] * 64
        for name, x, y in re.findall(r'<use href="#(\w+-\w+)"[^>]*translate\((\d+), (\d+)\)', d.svg):
            colour, piece = name.split("-")
            file, rank_from_top = (int(x) - 15) // 45, (int(y) - 15) // 45
            sym = {v: k for k, v in NAMES.items()}[piece]
            squares[rank_from_top * 8 + file] = sym.upper() if colour == "white" else sym
        assert squares == placement(meta(p, "notation"))
        assert "check" not in d.svg.split("</defs>", 1)[1]  # no check highlight leaks the answer


def test_chess_generation_is_seeded():
    a, b = generate_chess(4, seed=5), generate_chess(4, seed=5)
    assert [p.problem_id for p in a] == [p.problem_id for p in b]
    assert [p.problem_id for p in generate_chess(4, seed=6)] != [p.problem_id for p in a]


# --- graph ---------------------------------------------------------------------------------------------

def _bfs(nodes, edges, a):
    adj = {v: set() for v in nodes}
    for u, v in edges:
        adj[u].add(v)
        adj[v].add(u)
    dist, todo = {a: 0}, deque([a])
    while todo:
        u = todo.popleft()
        for w in adj[u]:
            if w not in dist:
                dist[w] = dist[u] + 1
                todo.append(w)
    return dist, adj


def _parse(notation):
    lines = dict(line.split(": ", 1) for line in notation.splitlines())
    nodes = lines["Nodes"].split(", ")
    edges = [tuple(e.split("-")) for e in lines["Edges"].split(", ") if e]
    return nodes, edges


def test_graph_answers_recomputed_with_bfs():
    probs = generate_graph(15, seed=2)
    assert {meta(p, "question_type") for p in probs} == {"degree", "path", "distance", "edges", "components"}
    for p in probs:
        nodes, edges = _parse(meta(p, "notation"))
        q, text = meta(p, "question_type"), p.segments[1].text
        ab = re.findall(r"node ([A-Z])", text)
        if q == "degree":
            assert p.answer == str(sum(ab[0] in e for e in edges))
        elif q == "path":
            assert p.answer == ("yes" if ab[1] in _bfs(nodes, edges, ab[0])[0] else "no")
        elif q == "distance":
            assert p.answer == str(_bfs(nodes, edges, ab[0])[0][ab[1]])
        elif q == "edges":
            assert p.answer == str(len(edges))
        else:
            seen, comps = set(), 0
            for v in nodes:
                if v not in seen:
                    comps += 1
                    seen |= set(_bfs(nodes, edges, v)[0])
            assert p.answer == str(comps)


def test_graph_drawing_parsed_back_matches_the_edge_list():
    for p in generate_graph(5, seed=4):
        d = drawing_of(p, *_font())
        centres = {m[0]: (float(m[1]), float(m[2]))
                   for m in re.findall(r'<circle id="node-(\w)" cx="([\d.]+)" cy="([\d.]+)"', d.svg)}
        at = {xy: v for v, xy in centres.items()}
        drawn = set()
        for x1, y1, x2, y2 in re.findall(r'<line x1="([\d.]+)" y1="([\d.]+)" x2="([\d.]+)" y2="([\d.]+)"', d.svg):
            drawn.add(tuple(sorted((at[(float(x1), float(y1))], at[(float(x2), float(y2))]))))
        nodes, edges = _parse(meta(p, "notation"))
        assert sorted(centres) == sorted(nodes) and drawn == {tuple(sorted(e)) for e in edges}
        labels = re.findall(r">([A-Z])</text>", d.svg)
        assert sorted(labels) == sorted(nodes)


# --- chart ---------------------------------------------------------------------------------------------

def test_chart_answers_recomputed_from_the_table():
    probs = generate_chart(8, seed=1)
    assert {meta(p, "question_type") for p in probs} == {"largest", "smallest", "value", "difference"}
    for p in probs:
        rows = dict((c, int(v)) for c, v in (line.split(" | ") for line in meta(p, "notation").splitlines()[1:]))
        q, text = meta(p, "question_type"), p.segments[1].text
        if q == "largest":
            assert p.answer == sorted(rows, key=lambda c: -rows[c])[0]
        elif q == "smallest":
            assert p.answer == sorted(rows, key=lambda c: rows[c])[0]
        elif q == "value":
            assert p.answer == str(rows[re.search(r"value of (\w+)\?", text).group(1)])
        else:
            x, y = re.search(r"value of (\w+) minus the value of (\w+)\?", text).groups()
            assert p.answer == str(rows[x] - rows[y])


def test_chart_drawing_parsed_back_matches_the_table():
    for p in generate_chart(3, seed=5):
        svg = drawing_of(p, *_font()).svg
        rows = [int(line.split(" | ")[1]) for line in meta(p, "notation").splitlines()[1:]]
        bars = []
        for k in range(3, 3 + len(rows)):  # patch_1/2 are the figure and axes backgrounds
            d = re.search(rf'<g id="patch_{k}">\s*<path d="([^"]*)"', svg).group(1)
            ys = [float(v) for v in re.findall(r"[ML] [\d.]+ ([\d.]+)", d)]
            bars.append(max(ys) - min(ys))
        # bar heights in the drawing are proportional to the table's values, in order
        assert [b / bars[0] for b in bars] == pytest.approx([v / rows[0] for v in rows], rel=1e-4)


def test_chart_svg_has_one_bar_and_label_per_row_and_no_date():
    p = generate_chart(1, seed=0)[0]
    svg = drawing_of(p, *_font()).svg
    n = len(meta(p, "notation").splitlines()) - 1
    # patches: figure and axes backgrounds, the bars, four spines
    assert len(re.findall(r'<g id="patch_\d+">', svg)) == 2 + n + 4
    assert "dc:date" not in svg and "<text" not in svg  # text is outlines: no font lookup when rasterising


# --- transcription gate --------------------------------------------------------------------------------

def test_chess_transcription_perfect_passes_one_square_fails():
    p = generate_chess(1, seed=0)[0]
    fen = meta(p, "notation")
    ok = score_transcription(p, f"Here it is: {fen}")
    assert ok.passed and ok.score == 1.0
    squares = placement(fen)
    i = next(i for i, s in enumerate(squares) if s == ".")
    squares[i] = "Q"
    bad_fen = "/".join(re.sub(r"\.+", lambda m: str(len(m.group(0))), "".join(squares[r * 8:r * 8 + 8]))
                       for r in range(8))
    bad = score_transcription(p, bad_fen)
    assert not bad.passed and bad.score == pytest.approx(63 / 64) and "Q for ." in bad.detail
    assert not score_transcription(p, "I cannot see a board").passed
    assert "FEN" in transcription_prompt(p)


def test_graph_transcription_f1():
    p = generate_graph(1, seed=0)[0]
    _, edges = _parse(meta(p, "notation"))
    text = ", ".join(f"{b}-{a}" for a, b in reversed(edges))  # order and direction do not matter
    assert score_transcription(p, text).passed
    missing = score_transcription(p, ", ".join(f"{a}-{b}" for a, b in edges[1:]))
    assert not missing.passed and missing.score == pytest.approx(2 * (len(edges) - 1) / (2 * len(edges) - 1))
    assert "missing" in missing.detail


def test_chart_transcription_cell_accuracy():
    p = generate_chart(1, seed=0)[0]
    table = meta(p, "notation")
    assert score_transcription(p, table).passed
    lines = table.splitlines()
    c, v = lines[1].split(" | ")
    wrong = score_transcription(p, "\n".join([lines[0], f"{c} | {int(v) + 1}", *lines[2:]]))
    assert not wrong.passed and wrong.score == pytest.approx((len(lines) - 2) / (len(lines) - 1))


def test_the_notation_itself_is_a_perfect_transcription():
    for name in ("chess", "graph", "chart"):
        for p in rp.builtin_set(name, 6, seed=7):
            assert score_transcription(p, dict(p.meta)["notation"]).passed, (name, p.problem_id)
    g = generate_graph(1, seed=0)[0]
    assert not score_transcription(g, "Nodes: A, B, C").passed  # a node list has no edges


def test_text_problems_have_no_transcription():
    with pytest.raises(ProblemError, match="text source"):
        score_transcription(rp.builtin_set("mcq", 1)[0], "x")


# --- bad input -----------------------------------------------------------------------------------------

def test_bad_inputs_name_item_and_field():
    with pytest.raises(ProblemError, match=r"chess item 'pos7', field 'notation'.*not a FEN"):
        chess_problem("rnbqkbnr/pppp/8 w", "moves", item="pos7")
    with pytest.raises(ProblemError, match=r"chess item 'pos8', field 'notation'.*not a legal position"):
        chess_problem("8/8/8/8/8/8/8/8 w - - 0 1", "moves", item="pos8")  # no kings
    with pytest.raises(ProblemError, match=r"graph item 'g1', field 'a'.*'Z' is not in the graph"):
        graph_problem(("A", "B"), (("A", "B"),), "degree", a="Z", item="g1")
    with pytest.raises(ProblemError, match=r"graph item 'g2', field 'b'.*disconnected"):
        graph_problem(("A", "B", "C"), (("A", "B"),), "distance", a="A", b="C", item="g2")
    with pytest.raises(ProblemError, match=r"chart item 't1', field 'table'.*0 row"):
        chart_problem((), "largest", item="t1")
    with pytest.raises(ProblemError, match=r"chess item 'p', field 'square'"):
        chess_problem(chess.STARTING_FEN, "piece", square="z9", item="p")


# --- realisation, determinism, CLI ---------------------------------------------------------------------

def _grid():
    return rp.load_grid(SPEC)


REF = {"dpi": 200, "blur": 0, "board_theme": "classic", "piece_style": "cburnett", "chart_style": "plain",
       "layout_seed": 0}


def _cell(grid, modality, **levels):
    """The cell with ``modality`` and the given levels, every other visual factor at its reference."""
    want = {**REF, **levels, "modality": modality}
    for c in grid.cells():
        lv = c.as_dict()
        if modality == "text" and lv.get("modality") == "text" or all(lv.get(k) == v for k, v in want.items()):
            return c
    raise AssertionError(f"no cell {want}")


def test_modalities_text_notation_image_drawing_mixed_drawing_plus_question():
    grid = _grid()
    p = generate_chess(1, seed=0)[0]
    text = rp.realize(p, grid, _cell(grid, "text"), 1)
    assert not text.images and meta(p, "notation") in text.parts[0].text
    img = rp.realize(p, grid, _cell(grid, "image"), 1)
    assert len(img.images) == 2 and img.images[0].rendered_text == meta(p, "notation")
    # the question, rendered as text (line-wrapped)
    assert img.images[1].rendered_text.split() == p.segments[1].text.split()
    mixed = rp.realize(p, grid, _cell(grid, "mixed"), 1)
    assert len(mixed.images) == 1 and mixed.images[0].png == img.images[0].png
    assert [type(x).__name__ for x in mixed.parts] == ["ImagePart", "TextPart"]
    assert mixed.parts[1].text == p.segments[1].text
    low = rp.realize(p, grid, _cell(grid, "image", dpi=50), 1).images[0]
    assert (low.width, img.images[0].width) == (200, 800)
    assert dict(low.covariates)["square_px"] == pytest.approx(200 * 45 / 390, abs=1e-3)
    blurred = rp.realize(p, grid, _cell(grid, "image", blur=1.5), 1).images[0]
    assert blurred.pixel_sha256 != img.images[0].pixel_sha256
    assert [s["step"] for s in dict(blurred.provenance)["steps"]] == ["blur"]


_PROBE = """
import json, restplus as rp
grid = rp.load_grid({spec!r})
cell = [c for c in grid.cells() if c.as_dict().get("dpi") == 100 and c.as_dict()["modality"] == "image"][0]
out = {{}}
for name in ("chess", "graph", "chart"):
    p = rp.builtin_set(name, 1, seed=2)[0]
    out[name] = [i.sha256 for i in rp.realize(p, grid, cell, 9).images]
print(json.dumps(out))
"""


def test_drawings_are_byte_deterministic_across_processes():
    code = _PROBE.format(spec=str(SPEC))
    runs = [json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                      cwd=ROOT).stdout) for _ in range(2)]
    assert runs[0] == runs[1]
    grid = _grid()
    cell = _cell(grid, "image", dpi=100)
    here = {n: [i.sha256 for i in rp.realize(rp.builtin_set(n, 1, seed=2)[0], grid, cell, 9).images]
            for n in ("chess", "graph", "chart")}
    assert here == runs[0]
    assert len({h for v in here.values() for h in v}) == 6


def test_builtin_names_and_contact_sheet(tmp_path):
    assert {"chess", "graph", "chart"} <= set(rp.builtin_names())
    grid = _grid()
    for name in ("chess", "graph", "chart"):
        p = rp.builtin_set(name, 1)[0]
        vs = [rp.realize(p, grid, c, 0) for c in grid.cells()]
        sheet = rp.contact_sheet(vs, tmp_path / f"{name}.png")
        assert (tmp_path / f"{name}.png").exists() and sheet.size[0] > 400
        assert hashlib.sha256((tmp_path / f"{name}.png").read_bytes()).hexdigest()


def test_cli_generate_on_the_visual_spec(tmp_path):
    out = tmp_path / "vis"
    r = subprocess.run([sys.executable, "-m", "restplus", "generate", str(SPEC), "--problems", "chess,graph",
                        "--n", "4", "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    n_cells = _grid().n_cells
    assert f"{8 * n_cells} variants" in r.stdout
    assert len(list(out.rglob("*.png"))) >= 8 * (n_cells - 1)  # every non-text cell has a drawing


def test_source_factor_kinds_change_only_their_own_source():
    from restplus.grammar.visual_kinds import BOARD_THEMES, CHART_STYLES
    from restplus.problems.visual.chart import STYLES
    from restplus.problems.visual.chess import THEMES

    assert set(BOARD_THEMES) == set(THEMES) and set(CHART_STYLES) == set(STYLES)
    grid = _grid()
    arms = {"board_theme": "green", "piece_style": "low_contrast", "chart_style": "grid", "layout_seed": 1}
    owner = {"board_theme": "chess", "piece_style": "chess", "chart_style": "chart", "layout_seed": "graph"}
    for name in ("chess", "graph", "chart"):
        p = rp.builtin_set(name, 1, seed=1)[0]
        ref = rp.realize(p, grid, _cell(grid, "mixed"), 0).images[0].sha256
        for factor_name, level in arms.items():
            got = rp.realize(p, grid, _cell(grid, "mixed", **{factor_name: level}), 0).images[0].sha256
            assert (got != ref) == (owner[factor_name] == name), (name, factor_name)
    green = drawing_of(rp.builtin_set("chess", 1)[0], *_font(), {"theme": "green"}).svg
    assert "#769656" in green


def test_bad_source_factor_level_is_a_spec_error():
    with pytest.raises(rp.RestplusError, match="factors.board_theme: Unknown board_theme level 'purple'"):
        rp.Grid.from_dict({"restplus_spec": 1, "factors": {"board_theme": {"levels": ["classic", "purple"]}}})


def test_readme_visual_example_runs(tmp_path):
    text = (ROOT / "README.md").read_text()
    section = text.split("## Image-native sources", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    code = code.replace('"perturbations/', f'"{ROOT}/perturbations/').replace('"chess_sheet.png"',
                                                                             f'"{tmp_path}/s.png"')
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                       env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr
    assert "score=1.0, passed=True" in r.stdout and (tmp_path / "s.png").exists()


# --- modality-gap triples ------------------------------------------------------------------------------

class _ItemAdapter:
    """Same vector for the image and text pass of an item (by its id): similarity 1 when pairs line up."""

    name = "item"

    def hidden_states(self, request, layers=None):
        import numpy as np

        from restplus.models.hf_states import HiddenStates

        kind, item = request.tag.split(":", 1)
        vec = np.random.default_rng(int(hashlib.sha256(item.encode()).hexdigest()[:8], 16)).normal(size=(2, 8))
        arr = np.repeat(vec[:, None, :], 6, axis=1).astype(np.float32)
        on, off = np.ones(6, dtype=bool), np.zeros(6, dtype=bool)
        img = kind == "gap-image"
        return HiddenStates(arr, (0, 1), on if img else off, off if img else on, np.arange(6))


def test_visual_gap_triples_feed_measure_gap():
    from restplus.gap.measure import measure_gap
    from restplus.gap.visual import visual_gap_pairs

    grid = _grid()
    probs = [*rp.builtin_set("chess", 2), *rp.builtin_set("graph", 2)]
    drawings, written = visual_gap_pairs(probs, grid, seed=0)
    ref = _cell(grid, "image")
    for p, d, w in zip(probs, drawings, written):
        notation = meta(p, "notation")
        assert d.text_parts == (notation,) == w.text_parts
        assert d.images[0].png == rp.realize(p, grid, ref, rp.variant_seed(0, p.problem_id, ref)).images[0].png
        assert d.images[0].sha256 != w.images[0].sha256
    with pytest.raises(rp.RestplusError, match="text source"):
        visual_gap_pairs(rp.builtin_set("soe", 1), grid)
    res = measure_gap(_ItemAdapter(), drawings, n_boot=50)
    assert res.curves["n_items"].to_list() == [len(probs)] * 2
    assert res.curves["cos_mean"].to_list() == pytest.approx([1.0, 1.0])
    assert res.curves["t2i_r1"].to_list() == pytest.approx([1.0, 1.0])


def test_visual_problems_round_trip_through_dict_and_still_draw():
    grid = _grid()
    for name in ("chess", "graph", "chart"):
        p = rp.builtin_set(name, 1, seed=4)[0]
        q = rp.Problem.from_dict(json.loads(json.dumps(p.to_dict())))
        assert q == p
        c = _cell(grid, "mixed", dpi=50)
        assert rp.realize(q, grid, c, 3).images[0].png == rp.realize(p, grid, c, 3).images[0].png
