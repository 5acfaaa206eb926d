"""Reader-baseline solvers: right from a clean reading, never right from a misreading."""

from __future__ import annotations

import pytest

from restplus.errors import UnknownNameError
from restplus.problems import Problem, Segment, arith, builtin_names, builtin_set, mcq, soe, solve_from_text

# The text sources' solvers recognise their templates from the text alone and catch every misread
# digit; the image-native sources (chess, graph, chart) are solved by task only and tested below.
VISUAL = ("chart", "chess", "chess_pieces", "graph")
ALL = [p for name in builtin_names() if name not in VISUAL for p in builtin_set(name)]


def test_every_builtin_item_is_solved_from_its_clean_text():
    assert len(ALL) == 550  # soe 150, arith 100, mcq 100, sums 200
    every = [p for name in builtin_names() for p in builtin_set(name)]
    assert {p.task for p in every} == set(builtin_names())
    wrong = [p.problem_id for p in every if solve_from_text(p.task, p.full_text, p) != p.answer]
    assert wrong == []


def test_a_misread_fen_or_edge_gives_another_answer_or_none():
    chess_item = next(p for p in builtin_set("chess") if dict(p.meta)["question_type"] == "moves")
    fen = dict(chess_item.meta)["notation"]
    board = fen.split()[0]
    broken = chess_item.full_text.replace(board, board.replace("K", "Q", 1) if "K" in board else board)
    assert solve_from_text("chess", broken) is None  # no white king: not a legal position
    g = next(p for p in builtin_set("graph") if dict(p.meta)["question_type"] == "edges")
    edges_line = next(line for line in g.full_text.splitlines() if line.startswith("Edges: "))
    fewer = g.full_text.replace(edges_line, edges_line.rsplit(", ", 1)[0])
    assert solve_from_text("graph", fewer) == str(int(g.answer) - 1)


def test_clean_text_is_solved_without_the_problem_and_by_answer_type():
    # Without the problem the solver must recognise the template from the text alone (the runner
    # tags the reader's requests by answer type, so image-native sources must be found this way too).
    for p in ALL + [p for name in VISUAL for p in builtin_set(name)]:
        assert solve_from_text(p.answer_type, p.full_text) == p.answer


def decisive_digit_positions(p: Problem) -> list[int]:
    """Digits whose misreading must change the answer. For arithmetic and conversion MCQs a
    misread *distractor* rightly leaves the answer unchanged, so only the stem and the gold
    option count there; for everything else every digit counts."""
    text = p.full_text
    digits = [i for i, c in enumerate(text) if c.isdigit()]
    if p.task != "mcq" or dict(p.meta)["template"] not in ("add", "sub", "mul", "unit"):
        return digits
    stem_end = len(p.text_of(("question",)))
    gold_line = f"{p.answer}. {p.choices['ABCD'.index(p.answer)]}"
    start = text.index("\n" + gold_line) + 1
    return [i for i in digits if i < stem_end or start <= i < start + len(gold_line)]


def test_a_misread_digit_gives_a_wrong_answer_or_none():
    n_none = n_total = 0
    for p in ALL:
        text = p.full_text
        positions = decisive_digit_positions(p)
        assert positions, p.problem_id
        for i in positions:
            shift = i % 9 + 1  # varies the wrong digit over 1..9 away from the right one
            misread = text[:i] + str((int(text[i]) + shift) % 10) + text[i + 1:]
            got = solve_from_text(p.task, misread, p)
            assert got != p.answer, (p.problem_id, misread)
            n_total += 1
            n_none += got is None
    # Both outcomes occur: misreadings are caught (None) or lead to a different answer.
    assert 0 < n_none < n_total


def test_a_misread_distractor_of_an_arithmetic_mcq_keeps_the_right_answer():
    p = next(p for p in builtin_set("mcq") if dict(p.meta)["template"] == "add")
    wrong_letter = next(k for k in "ABCD" if k != p.answer)
    line = f"{wrong_letter}. {p.choices['ABCD'.index(wrong_letter)]}"
    misread = p.full_text.replace(line, f"{wrong_letter}. 7")
    assert solve_from_text("mcq", misread, p) == p.answer


# --- SoE parsing ---------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("2A + 3B = 12\nA - B = 1\n\nSolve the system for A and B.", "A=3, B=2"),
    ("2A+3B=12\n  A -  B = 1", "A=3, B=2"),                      # spacing is free
    ("2A + 3B = 12\nA = B + 1", "A=3, B=2"),                     # terms on both sides
    ("2A \u2212 B = 4\nA + B = 5", "A=3, B=2"),                  # unicode minus from OCR
    ("2A + 4B = 12\nA + 2B = 6", None),                          # singular (dependent)
    ("A + B = 2\nA + B = 3", None),                              # inconsistent
    ("2A + 3B = 12", None),                                      # under-determined
    ("2A + 3B = 1Z\nA - B = 1", None),                           # unreadable equation line
    ("2A + 3B = 12\nA - B = 1\n\nSolve the system for A and C.", None),  # question disagrees
    ("no equations here", None),
])
def test_soe_solve_text(text, expected):
    assert soe.solve_text(text) == expected


def test_soe_non_integer_solution_is_canonical():
    assert soe.solve_text("2A = 7\nB = 1") == "A=3.5, B=1"


# --- other solvers ---------------------------------------------------------------------------

def test_arith_tolerates_rewrapping_but_not_misread_words():
    p = next(p for p in builtin_set("arith") if dict(p.meta)["template"] == "change")
    rewrapped = p.full_text.replace(" ", "\n", 3).replace("\n\n", " ")
    assert solve_from_text("arith", rewrapped) == p.answer
    assert solve_from_text("arith", p.full_text.replace("bill", "biII")) is None


def test_arith_division_by_a_misread_zero_is_none():
    p = next(p for p in builtin_set("arith") if dict(p.meta)["template"] == "pages")
    per_day = p.full_text.split("reads ")[1].split(" ")[0]
    assert solve_from_text("arith", p.full_text.replace(f"reads {per_day} ", "reads 0 "), p) is None


def test_mcq_needs_all_option_lines():
    p = builtin_set("mcq")[0]
    stem, options = mcq.split_options(p.full_text)
    assert options == list(p.choices) and stem == p.text_of(("question",))
    without_c = "\n".join(ln for ln in p.full_text.split("\n") if not ln.startswith("C."))
    assert solve_from_text("mcq", without_c, p) is None


def test_items_without_a_checker_are_not_answered():
    mmlu_like = Problem((Segment("question", "Which gas do plants absorb?"),
                         Segment("choices", "A. Oxygen\nB. Carbon dioxide\nC. Helium\nD. Neon")),
                        answer="B", answer_type="choice", task="mmlu",
                        choices=("Oxygen", "Carbon dioxide", "Helium", "Neon"))
    assert solve_from_text("choice", mmlu_like.full_text, mmlu_like) is None
    assert solve_from_text("number", "Natalia sold clips to 48 of her friends in April.") is None
    assert solve_from_text("exact", "anything") is None


def test_unknown_solver_name_suggests():
    with pytest.raises(UnknownNameError, match="Did you mean: arith"):
        solve_from_text("arth", "1 + 1")
    with pytest.raises(UnknownNameError, match="Did you mean: pages"):
        arith.solve_text("x", template="page")
