"""The two-operand sums set (the nano model's task) and its parse-from-text checker."""

from __future__ import annotations

import random

import pytest

import restplus as rp
from restplus.problems import sums
from restplus.problems.solvers import solve_from_text


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_items_are_two_digit_sums_with_exact_answers(seed):
    items = rp.builtin_set("sums", n=200, seed=seed)
    assert len({p.problem_id for p in items}) == 200
    ops = set()
    for p in items:
        a, op, b = p.segments[0].text.split()
        ops.add(op)
        assert sums.LOW <= int(a) <= sums.HIGH and sums.LOW <= int(b) <= sums.HIGH
        assert p.answer == str(int(a) + int(b) if op == "+" else int(a) - int(b))
        assert int(p.answer) >= 0
        assert [s.role for s in p.segments] == ["context", "question"]
        assert p.answer_type == "number" and p.task == "sums"
    assert ops == {"+", "-"}


def test_set_is_deterministic_and_prefix_stable():
    assert rp.builtin_set("sums", n=10, seed=3).problems == rp.builtin_set("sums", n=50, seed=3).problems[:10]
    assert rp.builtin_set("sums", n=20, seed=1).problems != rp.builtin_set("sums", n=20, seed=2).problems


def test_checker_solves_the_text_and_a_misread_changes_the_answer():
    for p in rp.builtin_set("sums", n=50):
        assert solve_from_text("sums", p.full_text) == p.answer
        assert solve_from_text("number", p.full_text, p) == p.answer  # the reader asks by answer type
        a, op, b = p.segments[0].text.split()
        wrong = f"{int(a) + 1} {op} {b}\n\n{sums.QUESTION}"
        assert solve_from_text("sums", wrong) != p.answer
    # whitespace is not content (OCR re-wraps), dashes are normalised, anything else is unreadable
    assert sums.solve_text("47+38 Compute the result.") == "85"
    assert sums.solve_text("47 \u2212 38\nCompute the result.") == "9"
    assert sums.solve_text("47 * 38\n\nCompute the result.") is None
    assert sums.solve_text("47 + 38") is None
    assert sums.solve_text("Liam buys 6 mugs at $9 each.") is None


def test_subtraction_never_goes_negative():
    rng = random.Random(5)
    for _ in range(2000):
        a, op, b = sums.draw(rng)
        assert sums.compute(a, op, b) >= 0


def test_reader_answers_sums_from_text_with_the_instruction(tmp_path):
    """The reader solves from the request's text parts, which include the solve instruction."""
    from restplus.models import load
    from restplus.runner.prompts import PromptSet, build_requests, decoding_for

    grid = rp.Grid(rp.modality(["text"]))
    reader = load("reader")
    problems = rp.builtin_set("sums", n=5, seed=2)
    reqs = [build_requests(rp.realize(p, grid, grid.cells()[0], 0), PromptSet(), decoding_for("sums"))["solve"]
            for p in problems]
    got = dict(reader.iter_generate(reqs))
    assert [got[i].text for i in range(5)] == [f"Answer: {p.answer}" for p in problems]
