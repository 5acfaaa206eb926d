"""Arithmetic and multiple-choice generators, and the built-in set registry.

Gold answers are re-derived here from the rendered text with formulas written independently of
the generator (one per template; the exhaustiveness checks fail if a template is added without
one).
"""

from __future__ import annotations

import re
from collections import Counter
from fractions import Fraction

import pytest
from hypothesis import given, settings, strategies as st

from restplus.errors import ProblemError, UnknownNameError
from restplus.problems import (
    ProblemSet,
    arith,
    builtin_names,
    builtin_set,
    generate_arith,
    generate_mcq,
    generate_soe,
    mcq,
)

ARITH_FORMULAS = {  # numbers in reading order → answer
    "change": lambda n, price, bill: bill - n * price,
    "share": lambda total, k: Fraction(total, k),
    "savings": lambda s, w, x: s * w - x,
    "trip": lambda v1, h1, v2, h2: v1 * h1 + v2 * h2,
    "garden": lambda rows, per, dead: rows * per - dead,
    "discount": lambda p, pct: Fraction(p * (100 - pct), 100),
    "ages": lambda a, b, c: a + b + c,
    "pages": lambda pages, per_day: Fraction(pages, per_day),
}

CONVERSIONS = {("meters", "centimeters"): 100, ("kilometers", "meters"): 1000,
               ("kilograms", "grams"): 1000, ("liters", "milliliters"): 1000,
               ("hours", "minutes"): 60, ("minutes", "seconds"): 60, ("days", "hours"): 24,
               ("weeks", "days"): 7, ("feet", "inches"): 12, ("yards", "feet"): 3}


def meta(p) -> dict:
    return dict(p.meta)


def test_arith_has_at_least_six_templates_each_with_a_test_formula():
    assert len(arith.TEMPLATES) >= 6
    assert set(arith.TEMPLATES) == set(ARITH_FORMULAS)


@settings(database=None, derandomize=True, max_examples=25, deadline=None)
@given(st.integers(0, 2**32))
def test_arith_answers_are_positive_integers_matching_the_story(seed):
    for p in generate_arith(n=16, seed=seed):
        nums = [int(x) for x in re.findall(r"\d+", p.full_text)]
        expected = ARITH_FORMULAS[meta(p)["template"]](*nums)
        assert Fraction(expected).denominator == 1 and expected > 0
        assert p.answer == str(expected)
        assert p.task == "arith" and p.answer_type == "number"
        assert [s.role for s in p.segments] == ["context", "question"]
        assert p.text_of(("question",)).endswith("?")


def test_mcq_covers_arithmetic_conversion_and_ordering():
    assert {"add", "sub", "mul", "unit", "largest", "smallest", "order"} == set(mcq.TEMPLATES)


def _mcq_expected_text(p) -> str:
    stem = p.text_of(("question",))
    nums = [int(x) for x in re.findall(r"\d+", stem)]
    t = meta(p)["template"]
    if t in ("add", "sub", "mul"):
        a, b = nums
        return str({"add": a + b, "sub": a - b, "mul": a * b}[t])
    if t == "unit":
        small, big = re.fullmatch(r"How many (\w+) are in \d+ (\w+)\?", stem).groups()
        return str(nums[0] * CONVERSIONS[(big, small)])
    if t in ("largest", "smallest"):
        assert sorted(int(c) for c in p.choices) == sorted(nums)
        return str(max(nums) if t == "largest" else min(nums))
    assert t == "order"
    return ", ".join(map(str, sorted(nums)))


@settings(database=None, derandomize=True, max_examples=25, deadline=None)
@given(st.integers(0, 2**32))
def test_mcq_items_are_well_formed_and_their_gold_option_is_right(seed):
    for p in generate_mcq(n=14, seed=seed):
        assert len(p.choices) == 4 and len(set(p.choices)) == 4
        assert p.answer in "ABCD"
        assert p.choices["ABCD".index(p.answer)] == _mcq_expected_text(p)
        assert p.text_of(("choices",)).split("\n") == [f"{k}. {c}" for k, c in zip("ABCD", p.choices)]
        assert [s.role for s in p.segments] == ["question", "choices"]
        assert p.task == "mcq" and p.answer_type == "choice"


def test_mcq_gold_position_is_spread_over_all_letters():
    counts = Counter(p.answer for p in builtin_set("mcq"))
    assert set(counts) == set("ABCD") and min(counts.values()) >= 10


def test_unknown_templates_suggest_names():
    import random

    with pytest.raises(UnknownNameError, match="Did you mean: share"):
        arith.make_arith(random.Random(0), "shar")
    with pytest.raises(UnknownNameError, match="Did you mean: order"):
        mcq.make_mcq(random.Random(0), "ordr")


# --- built-in sets ---------------------------------------------------------------------------

def test_builtin_sets_sizes_tasks_and_report():
    assert builtin_names() == ("arith", "chart", "chess", "chess_pieces", "graph", "mcq", "soe", "sums")
    for name, size in (("soe", 150), ("arith", 100), ("mcq", 100), ("sums", 200)):
        s = builtin_set(name)
        assert isinstance(s, ProblemSet) and len(s) == size
        assert {p.task for p in s} == {name}
        assert len({p.problem_id for p in s}) == size
        assert s.report.source == f"builtin:{name}" and s.report.n_loaded == size


def test_builtin_set_is_deterministic_seeded_and_prefix_stable():
    assert builtin_set("arith", n=10, seed=3).problems == builtin_set("arith", n=100, seed=3).problems[:10]
    assert builtin_set("mcq", seed=1).problems != builtin_set("mcq", seed=2).problems
    assert builtin_set("soe", n=7, seed=5).problems == generate_soe(7, 5)


def test_builtin_set_bad_arguments():
    with pytest.raises(UnknownNameError, match="Did you mean: arith") as exc:
        builtin_set("arithmetic")
    assert "Available: arith, chart, chess, chess_pieces, graph, mcq, soe, sums" in str(exc.value)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ProblemError, match="positive integer"):
            builtin_set("soe", n=bad)
    with pytest.raises(ProblemError, match="seed must be an integer"):
        builtin_set("soe", seed="1")
