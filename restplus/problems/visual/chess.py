"""Chess positions from seeded random legal play: FEN as text, ``chess.svg.board`` as the drawing.

Castling rights and the en-passant square are cleared from every generated position: the drawing
cannot show them, and they change the legal-move count, so text and drawing would otherwise not
carry the same content. The side to move, which the drawing does not show either, is stated in the
question. The drawing never highlights the king in check or the last move (that would leak answers).
Questions: ``piece`` (what is on a square), ``moves`` (legal-move count), ``check`` (yes/no) and
``mate`` (the unique mate-in-one, in UCI).

Text forms (``text_form``): ``fen`` (default) or ``pieces``, a piece list such as
``White: Ke1, Qd1, Pe2; Black: Ke8, Pe7`` (pieces K Q R B N P, each side's in that order, then by
square a1 … h8). The piece list holds the placement only; the side to move, the one other thing the
answers depend on, is in the question, so both forms carry the same content and the same answers.
The drawing, the transcription gate (which asks for a FEN) and the notation in ``meta`` are the same
for both forms.
"""

from __future__ import annotations

import random
import re
from typing import Any

from ...hashing import derive_seed
from ..base import Problem
from .base import SOURCES, Drawing, Transcription, VisualSource, bad_item, visual_problem

QUESTIONS = ("piece", "moves", "check", "mate")
BOARD_PT = 288.0  # 4 inches: 800 px at 200 DPI
VIEWBOX = 390.0  # chess.svg's board with coordinates: 15 margin + 8 x 45 + 15
SQUARE = 45.0
THEMES: dict[str, dict[str, str]] = {
    "classic": {"square light": "#ffce9e", "square dark": "#d18b47"},  # chess.svg's own colours, spelt out
    "green": {"square light": "#eeeed2", "square dark": "#769656"},
    "gray": {"square light": "#dddddd", "square dark": "#999999"},
}
# python-chess ships one piece set (cburnett, in chess.svg.PIECES), so a "piece set" here is a
# recolouring of those shapes: body fill and line colour of each side. The shapes never vary.
# Each style: (white body, white lines, black body, black details).
PIECE_STYLES: dict[str, tuple[str, str, str, str]] = {
    "cburnett": ("#ffffff", "#000000", "#000000", "#ffffff"),  # as shipped
    "sepia": ("#f3e5c0", "#3b2a1a", "#3b2a1a", "#f3e5c0"),
    "low_contrast": ("#d9d9d9", "#595959", "#595959", "#d9d9d9"),
}
_LIGHT = re.compile(r"#(?:fff|ffffff|ececec)\b", re.IGNORECASE)
_DARK = re.compile(r"#(?:000|000000)\b")
_PIECE_DEF = re.compile(r'<g id="(white|black)-[a-z]+"')
PIECE_NAMES = {"p": "pawn", "n": "knight", "b": "bishop", "r": "rook", "q": "queen", "k": "king"}
TEXT_FORMS = ("fen", "pieces")
_ORDER = "KQRBNP"
_PIECE_ITEM = re.compile(r"\b([KQRBNP])([a-h][1-8])\b")
_PIECE_LIST = re.compile(r"White:\s*(?P<white>[^;\n]*);\s*Black:\s*(?P<black>[^\n]*)")
_PLACEMENT = re.compile(r"(?:[pnbrqkPNBRQK1-8]{1,8}/){7}[pnbrqkPNBRQK1-8]{1,8}")


def _chess():
    import chess  # a declared dependency; imported here so text-only users never load it

    return chess


def parse_fen(fen: str, item: str = "?", field: str = "notation"):  # -> chess.Board
    """A legal position from ``fen``; ProblemError naming the item and ``field`` otherwise."""
    chess = _chess()
    try:
        board = chess.Board(fen)
    except ValueError as exc:
        raise bad_item("chess", item, field, f"{fen!r} is not a FEN ({exc}). Give six fields, e.g. "
                       "'rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR w - - 0 1'.") from None
    if not board.is_valid():
        raise bad_item("chess", item, field, f"{fen!r} is not a legal position ({board.status()!r}); "
                       "each side needs one king and the side not to move may not be in check.")
    return board


def piece_name(piece: Any) -> str:
    return "empty" if piece is None else ("white " if piece.color else "black ") + PIECE_NAMES[piece.symbol().lower()]


def mating_moves(board: Any) -> list[str]:
    out = []
    for mv in list(board.legal_moves):
        board.push(mv)
        if board.is_checkmate():
            out.append(mv.uci())
        board.pop()
    return sorted(out)


def piece_list(board: Any) -> str:
    """The placement of ``board`` as a piece list: ``White: Ke1, Pe2; Black: Ke8`` (module docstring)."""
    chess = _chess()
    sides = []
    for colour, name in ((chess.WHITE, "White"), (chess.BLACK, "Black")):
        items = sorted((_ORDER.index(pc.symbol().upper()), sq, pc.symbol().upper() + chess.square_name(sq))
                       for sq, pc in board.piece_map().items() if pc.color == colour)
        sides.append(f"{name}: " + ", ".join(x for _, _, x in items))
    return "; ".join(sides)


def parse_piece_list(text: str, white_to_move: bool = True, item: str = "?") -> str:
    """The FEN of a piece list (castling and en passant cleared, as in every generated position)."""
    chess = _chess()
    m = _PIECE_LIST.search(text)
    if m is None:
        raise bad_item("chess", item, "notation", f"{text!r} is not a piece list; write e.g. "
                       "'White: Ke1, Qd1, Pe2; Black: Ke8, Pe7' (piece letter K Q R B N P, then the square).")
    board = chess.Board(None)
    for side, colour in (("white", chess.WHITE), ("black", chess.BLACK)):
        body = m.group(side).strip().rstrip(".")
        tokens = [t.strip() for t in body.split(",") if t.strip()]
        for t in tokens:
            got = _PIECE_ITEM.fullmatch(t)
            if got is None:
                raise bad_item("chess", item, "notation", f"{t!r} in the {side} pieces is not a piece letter "
                               "(K Q R B N P) followed by a square (a1 … h8), e.g. 'Qd1'.")
            sq = chess.parse_square(got.group(2))
            if board.piece_at(sq) is not None:
                raise bad_item("chess", item, "notation", f"square {got.group(2)} is given twice in {text!r}.")
            board.set_piece_at(sq, chess.Piece.from_symbol(got.group(1) if colour else got.group(1).lower()))
    board.turn = bool(white_to_move)
    return parse_fen(board.fen(), item).fen()  # legality checked as for a FEN


def chess_problem(fen: str, question: str, *, square: str | None = None, item: str = "?",
                  theme: str = "classic", pieces: str = "cburnett", text_form: str = "fen") -> Problem:
    """One chess problem on ``fen``; the answer is computed here with the chess rules.

    text_form  ``fen`` or ``pieces`` (the text modality's notation; the answer does not depend on it)
    """
    chess = _chess()
    board = parse_fen(fen, item)
    for field, value, table in (("theme", theme, THEMES), ("pieces", pieces, PIECE_STYLES),
                                ("text_form", text_form, TEXT_FORMS)):
        if value not in table:
            from ...errors import did_you_mean

            raise bad_item("chess", item, field,
                           f"{value!r} is not one of {sorted(table)}.{did_you_mean(value, table)}")
    side = "White" if board.turn else "Black"
    if question == "piece":
        if square not in chess.SQUARE_NAMES:
            raise bad_item("chess", item, "square", f"{square!r} is not a square name (a1 … h8).")
        text = (f"Which piece is on {square}? Answer with its colour and name (e.g. 'white knight'), "
                "or 'empty'.")
        answer, atype = piece_name(board.piece_at(chess.parse_square(square))), "exact"
    elif question == "moves":
        text = f"{side} to move. How many legal moves does {side} have?"
        answer, atype = str(board.legal_moves.count()), "number"
    elif question == "check":
        text = f"{side} to move. Is {side} in check? Answer yes or no."
        answer, atype = ("yes" if board.is_check() else "no"), "exact"
    elif question == "mate":
        mates = mating_moves(board)
        if len(mates) != 1:
            raise bad_item("chess", item, "question", f"'mate' needs exactly one mate-in-one, {fen!r} has "
                           f"{len(mates)} ({mates}).")
        text = (f"{side} to move has exactly one move that gives checkmate. Give it in UCI notation "
                "(from-square then to-square, e.g. e2e4; add the piece letter for a promotion, e.g. e7e8q).")
        answer, atype = mates[0], "exact"
    else:
        from ...errors import unknown_name

        raise unknown_name("chess question", question, QUESTIONS)
    if text_form == "pieces":
        # the piece list has no side to move: a 'piece' question does not depend on it, the others state it
        context, task = f"Chess position (piece list): {piece_list(board)}", "chess_pieces"
        extra = {"text_form": "pieces"}
    else:
        context, task, extra = f"Chess position (FEN): {board.fen()}", "chess", {}
    return visual_problem("chess", board.fen(), context, text, answer, atype,
                          # the default piece style is left out, so problems made before it existed keep their meta
                          options={"theme": theme, **({"pieces": pieces} if pieces != "cburnett" else {})},
                          extra_meta={"question_type": question, **extra}, task=task)


def _random_position(rng: random.Random, plies: int):
    chess = _chess()
    board = chess.Board()
    for _ in range(plies):
        moves = list(board.legal_moves)
        if not moves:
            break
        board.push(rng.choice(moves))
    return _cleared(board)


def _cleared(board: Any):
    # A fresh board from the placement: no move stack, no castling rights, no en-passant square.
    chess = _chess()
    out = chess.Board(None)
    out.set_piece_map(board.piece_map())
    out.turn = board.turn
    out.fullmove_number = board.fullmove_number
    return out


def _mate_position(rng: random.Random):
    # Random games until a position with exactly one mating move; random play finds them within a
    # few games (late, material-rich positions with exposed kings).
    chess = _chess()
    for _ in range(500):
        board = chess.Board()
        for _ in range(rng.randint(20, 120)):
            moves = list(board.legal_moves)
            if not moves:
                break
            board.push(rng.choice(moves))
            pos = _cleared(board)
            if pos.is_valid() and not pos.is_game_over() and len(mating_moves(pos)) == 1:
                return pos
    raise bad_item("chess", "?", "question", "no mate-in-one position in 500 random games; "
                   "use another seed.")  # pragma: no cover - never seen


def generate_chess(n: int, seed: int = 0, text_form: str = "fen") -> tuple[Problem, ...]:
    """``n`` chess problems; item i depends only on (seed, i) and cycles through QUESTIONS.

    ``text_form="pieces"`` gives the same positions and questions (same answers) as a piece list.
    """
    chess = _chess()
    out = []
    for i in range(n):
        rng = random.Random(derive_seed(int(seed), "chess", i))
        q = QUESTIONS[i % len(QUESTIONS)]
        want_check = rng.random() < 0.5  # otherwise almost every 'check' answer would be "no"
        while True:
            board = _mate_position(rng) if q == "mate" else _random_position(rng, rng.randint(6, 60))
            if board.is_valid() and not board.is_game_over() and (q != "check" or board.is_check() == want_check):
                break
        square = None
        if q == "piece":
            occupied = sorted(board.piece_map())
            sq = rng.choice(occupied) if rng.random() < 0.75 else rng.randrange(64)
            square = chess.square_name(sq)
        out.append(chess_problem(board.fen(), q, square=square, item=f"chess[{i}]", text_form=text_form))
    return tuple(out)


def draw_chess(notation: str, options: dict[str, Any], font_family: str, font_path: str) -> Drawing:
    """``chess.svg.board`` of the FEN: white at the bottom, coordinates drawn as paths (no fonts).

    Covariates: the square size in pixels, the WCAG contrast of light against dark squares, and of
    each side's piece body against the square colour it is hardest to see on (white on light squares,
    black on dark ones).
    """
    import chess.svg

    board = parse_fen(notation)
    theme, pieces = options.get("theme", "classic"), options.get("pieces", "cburnett")
    for field, value, table in (("theme", theme, THEMES), ("pieces", pieces, PIECE_STYLES)):
        if value not in table:
            raise bad_item("chess", notation, field, f"{value!r} is not one of {sorted(table)}.")
    colors = THEMES[theme]
    svg = _restyle(chess.svg.board(board, coordinates=True, colors=colors, size=None), PIECE_STYLES[pieces])
    # size=None leaves the size open; the rasteriser sets the pixel size from BOARD_PT and the DPI.
    svg = svg.replace("<svg ", f'<svg width="{BOARD_PT}pt" height="{BOARD_PT}pt" ', 1)
    light, dark = colors["square light"], colors["square dark"]
    white_body, _, black_body, _ = PIECE_STYLES[pieces]
    return Drawing(svg=svg, width_pt=BOARD_PT, height_pt=BOARD_PT, px_measures=(("square_px", SQUARE / VIEWBOX),),
                   contrasts=(("square_contrast", light, dark), ("white_piece_contrast", white_body, light),
                              ("black_piece_contrast", black_body, dark)))


def _restyle(svg: str, style: tuple[str, str, str, str]) -> str:
    """Recolour the piece definitions (``<defs>``) of a chess.svg board; squares are left alone."""
    if style == PIECE_STYLES["cburnett"]:
        return svg  # the shipped colours: the SVG stays byte-identical to chess.svg's
    start, end = svg.index("<defs>"), svg.index("</defs>")
    defs = svg[start:end]
    marks = [m.start() for m in _PIECE_DEF.finditer(defs)] + [len(defs)]
    out = [defs[:marks[0]]]
    for a, b in zip(marks, marks[1:]):
        chunk = defs[a:b]
        # white pieces: light is the body, dark the lines; black pieces: dark is the body, light the
        # details. Placeholders first, so a new colour is never matched again as an old one.
        light, dark = (style[0], style[1]) if chunk.startswith('<g id="white-') else (style[3], style[2])
        chunk = _DARK.sub("@DARK@", _LIGHT.sub("@LIGHT@", chunk))
        out.append(chunk.replace("@LIGHT@", light).replace("@DARK@", dark))
    return svg[:start] + "".join(out) + svg[end:]


def placement(fen: str) -> list[str]:
    """The 64 squares a8…h1 of a FEN placement field, '.' for empty."""
    out: list[str] = []
    for ch in fen.split()[0]:
        if ch.isdigit():
            out.extend("." * int(ch))
        elif ch != "/":
            out.append(ch)
    return out


def transcribe_chess(gold: str, text: str) -> Transcription:
    """Per-square equality of the first FEN placement in ``text`` against the gold position."""
    found = _PLACEMENT.search(text.replace(" /", "/").replace("/ ", "/"))
    if not found:
        return Transcription(0.0, False, "no FEN piece placement found in the transcription")
    got, want = placement(found.group(0)), placement(gold)
    if len(got) != 64:
        return Transcription(0.0, False, f"placement {found.group(0)!r} has {len(got)} squares, not 64")
    chess = _chess()
    wrong = [f"{chess.SQUARE_NAMES[chess.square_mirror(i)]}: {g} for {w}"
             for i, (g, w) in enumerate(zip(got, want)) if g != w]
    score = 1.0 - len(wrong) / 64.0
    return Transcription(round(score, 6), not wrong, "; ".join(wrong[:5]))


SOURCES.register("chess", VisualSource(
    "chess", draw_chess, transcribe_chess,
    "Transcribe the chess board in the image as the piece-placement field of a FEN (ranks 8 to 1, separated "
    "by '/', upper case for White, digits for runs of empty squares). Reply with the FEN only.",
    (("board_theme", "theme"), ("piece_style", "pieces")),
    "per-square equality of the first FEN piece placement in the reply: the fraction of the 64 squares right"))


_FEN = re.compile(r"(?:[pnbrqkPNBRQK1-8]{1,8}/){7}[pnbrqkPNBRQK1-8]{1,8} [wb] \S+ \S+ \d+ \d+")


def _pieces_fen(text: str, question: str) -> str:
    from ...errors import RestplusError

    if question != "piece":
        return parse_piece_list(text, white_to_move="Black to move" not in text)
    try:
        return parse_piece_list(text, white_to_move=True)
    except RestplusError:
        return parse_piece_list(text, white_to_move=False)


def solve_text(text: str) -> str | None:
    """The reader baseline's answer from a (transcribed) FEN or piece list and question; None if unreadable."""
    from ...errors import RestplusError

    found = _FEN.search(text)
    sq = re.search(r"piece is on ([a-h][1-8])\?", text)
    q = ("piece" if sq else "mate" if "checkmate" in text else "check" if "in check?" in text
         else "moves" if "legal moves" in text else None)
    if q is None:
        return None
    try:
        if found is not None:
            fen = found.group(0)
        elif _PIECE_LIST.search(text):
            # the side to move is stated in every question that depends on it; a 'piece' question does
            # not state it, and either side that makes the position legal gives the same answer
            fen = _pieces_fen(text, q)
        else:
            return None
        return chess_problem(fen, q, square=sq.group(1) if sq else None).answer
    except RestplusError:
        return None
