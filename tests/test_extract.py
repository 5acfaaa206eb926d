"""Answer extraction: table of realistic model outputs, round-trip properties, registry, score."""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings, strategies as st

from restplus.errors import ExtractionError, ProblemError, UnknownNameError
from restplus.problems import (
    ANSWER_SUFFIX,
    EXTRACTORS,
    Extraction,
    Problem,
    Segment,
    answer_suffix,
    canonical_answer,
    extract,
    register_extractor,
    score,
)

COT = ("Let me work through this. First, 12 + 7 = 19, and 19 * 3 = 57. Option A (57) looks "
       "tempting, but we still need to subtract 4, giving 53.\n")

# (answer type, model output, expected canonical answer or None for unparsed, rule prefix)
CASES = [
    # --- multiple choice -----------------------------------------------------------------
    ("choice", COT + "Answer: B", "B", "answer_line"),
    ("choice", COT + "**Answer: B**", "B", "answer_line"),
    ("choice", COT + "**Answer:** C", "C", "answer_line"),
    ("choice", "**Answer**: D", "D", "answer_line"),
    ("choice", "The answer is (C).", "C", "answer_phrase"),
    ("choice", "So the correct answer is B. It matches the definition.", "B", "answer_phrase"),
    ("choice", "answer: c", "C", "answer_line"),
    ("choice", "Answer: (a)", "A", "answer_line"),
    ("choice", "Answer: [B]", "B", "answer_line"),
    ("choice", "Answer: B.", "B", "answer_line"),
    ("choice", "Answer: B) 53", "B", "answer_line"),
    ("choice", "Answer: Option D", "D", "answer_line"),
    ("choice", "Final Answer: $\\boxed{A}$", "A", "answer_line"),
    ("choice", "Answer:\n\nD", "D", "answer_line"),
    ("choice", "Answer: A\nWait, recomputing... 53 is option C.\nAnswer: C", "C", "answer_line"),
    ("choice", "I will reply in the form 'Answer: <letter>'.\nThe sum is 53.\nAnswer: D", "D", "answer_line"),
    ("choice", "Answer: B or C", None, "answer_line"),
    ("choice", "Answer: B, C", None, "answer_line"),
    ("choice", "Answer: I am not sure", None, "answer_line"),
    ("choice", "Answer: F", None, "answer_line"),
    ("choice", "I think it is probably B.", None, "none"),
    ("choice", "The options are close; B and C both seem plausible.", None, "none"),
    ("choice", "\\boxed{C}", "C", "boxed"),
    # --- numbers -------------------------------------------------------------------------
    ("number", COT + "Answer: 53", "53", "answer_line"),
    ("number", COT + "**Answer: 53**", "53", "answer_line"),
    ("number", "Answer: $1,234.50", "1234.5", "answer_line"),
    ("number", "Answer: 1,234", "1234", "answer_line"),
    ("number", "Answer: -17", "-17", "answer_line"),
    ("number", "Answer: \u22123", "-3", "answer_line"),
    ("number", "Answer: 3/4", "0.75", "answer_line"),
    ("number", "Answer: 7/3", "7/3", "answer_line"),
    ("number", "Answer: 2.50", "2.5", "answer_line"),
    ("number", "Answer: 42 apples.", "42", "answer_line"),
    ("number", "Answer: 60 km per hour", "60", "answer_line"),
    ("number", "Answer: 25%", "25", "answer_line"),
    ("number", "Answer: 12 m^2", "12", "answer_line"),
    ("number", "Answer: 6 x 7 = 42", "42", "answer_line"),
    ("number", "Answer: 1 1/2 cups", "1.5", "answer_line"),
    ("number", "answer: 8.", "8", "answer_line"),
    ("number", "Final answer: \\boxed{\\frac{7}{2}}", "3.5", "answer_line"),
    ("number", "After 3 weeks she has 87 dollars, so the answer is 87.", "87", "answer_phrase"),
    ("number", "We get 5, then 10.\n\\boxed{10}", "10", "boxed"),
    ("number", "The answer is 4. Double-check: \\boxed{5}", "5", "boxed"),
    ("number", "Answer: 2 hours 30 minutes", None, "answer_line"),
    ("number", "Answer: 12, 13", None, "answer_line"),
    ("number", "Answer: 1,2", None, "answer_line"),
    ("number", "Answer: cannot be determined", None, "answer_line"),
    ("number", COT + "So she ends with 53 apples.", None, "none"),
    # --- systems of equations ------------------------------------------------------------
    ("soe", "Subtracting, 2B = -2 so B = -1, then A = 3.\nAnswer: A=3, B=-1", "A=3, B=-1", "answer_line"),
    ("soe", "Answer: B = -1, A = 3", "A=3, B=-1", "answer_line"),
    ("soe", "Answer: A = 3; B = \u22121", "A=3, B=-1", "answer_line"),
    ("soe", "**Answer:** A=3, B=-1, C=0.", "A=3, B=-1, C=0", "answer_line"),
    ("soe", "Answer: (A, B) = (3, -1)", "A=3, B=-1", "answer_line"),
    ("soe", "Answer: A is 3 and B is -1.", "A=3, B=-1", "answer_line"),
    ("soe", "Answer: $A = 3$, $B = -1$", "A=3, B=-1", "answer_line"),
    ("soe", "Answer: A = 7/2, B = 1", "A=3.5, B=1", "answer_line"),
    ("soe", "The solution is A = 3, B = -1.", "A=3, B=-1", "answer_phrase"),
    ("soe", "Thus\n\\boxed{A=3,\\ B=-1}", "A=3, B=-1", "boxed"),
    ("soe", "Answer: A = 3 + 2", None, "answer_line"),
    ("soe", "Answer: A=3, A=4", None, "answer_line"),
    ("soe", "Answer: no unique solution", None, "answer_line"),
    ("soe", "From equation one A = 3 and then B = -1.", None, "none"),
    # --- exact ---------------------------------------------------------------------------
    ("exact", "The capital is in the north.\nAnswer: Paris.", "paris", "answer_line"),
    ("exact", "Answer:   New   York", "new york", "answer_line"),
    ("exact", "Answer:", None, "answer_line"),
]


def test_table_is_large_and_covers_every_answer_type():
    assert len(CASES) >= 40
    assert {t for t, *_ in CASES} == set(EXTRACTORS)


@pytest.mark.parametrize(("answer_type", "output", "expected", "rule"), CASES,
                         ids=[f"{i}-{c[0]}" for i, c in enumerate(CASES)])
def test_extract_table(answer_type, output, expected, rule):
    ex = extract(answer_type, output)
    assert ex.answer == expected, ex
    assert ex.status == ("ok" if expected is not None else "unparsed")
    assert ex.rule.split(":")[0] == rule


def test_choice_option_text_maps_to_letter_only_with_the_problem():
    p = Problem((Segment("question", "What is 6 times 7?"), Segment("choices", "A. 41\nB. 42\nC. 43")),
                answer="B", answer_type="choice", choices=("41", "42", "43"))
    assert extract("choice", "Answer: 42", p) == Extraction("B", "ok", "answer_line:option_text")
    assert extract("choice", "Answer: 42").status == "unparsed"
    # With three options, D is out of range for this problem though valid without one.
    assert extract("choice", "Answer: D", p).status == "unparsed"
    assert extract("choice", "Answer: D").answer == "D"


# --- round trip: format a gold answer in many styles, wrap in CoT, extract it back ------------

def _fmt_number(q: Fraction, style: int) -> str:
    if q.denominator == 1:
        n = int(q)
        return [f"{n}", f"{n:,}", f"{n}.0", f"${n:,}" if n >= 0 else f"-${-n:,}", f"{n} units"][style % 5]
    return [f"{q.numerator}/{q.denominator}", f"\\frac{{{q.numerator}}}{{{q.denominator}}}"][style % 2] \
        if q > 0 else f"{q.numerator}/{q.denominator}"


def _wrap(segment: str, style: int) -> str:
    cot = "First 3 + 4 = 7, then 7 * 12 = 84 and 84 - 9 = 75; checking option B gives 12.\n"
    return cot + [f"Answer: {segment}", f"**Answer:** {segment}", f"**Answer: {segment}**",
                  f"Final answer: {segment}.", f"answer:\n{segment}", f"\\boxed{{{segment}}}",
                  f"So the answer is {segment}"][style % 7]


def _expected_canonical(q: Fraction) -> str:
    """The canonical form, written independently of restplus.problems.canon: an integer as is, a
    terminating fraction as its shortest decimal, any other fraction as ``p/q`` in lowest terms."""
    d = q.denominator
    while d % 2 == 0:
        d //= 2
    while d % 5 == 0:
        d //= 5
    if d != 1:
        return f"{q.numerator}/{q.denominator}"
    return format((Decimal(q.numerator) / Decimal(q.denominator)).normalize(), "f")  # exact: prec 28


@settings(database=None, derandomize=True, max_examples=150)
@given(st.fractions(min_value=-10**7, max_value=10**7, max_denominator=64), st.integers(0, 99))
def test_number_round_trip(q, style):
    ex = extract("number", _wrap(_fmt_number(q, style), style // 5))
    assert ex.ok and ex.answer == _expected_canonical(q)
    assert Fraction(ex.answer) == q  # the canonical string denotes the same value


@settings(database=None, derandomize=True, max_examples=150)
@given(st.dictionaries(st.sampled_from("ABCDE"), st.integers(-999, 999), min_size=2, max_size=5),
       st.integers(0, 99), st.randoms(use_true_random=False))
def test_soe_round_trip(values, style, rnd):
    names = list(values)
    rnd.shuffle(names)  # any order
    sep = [", ", "; ", " and ", ",  "][style % 4]
    eq = ["=", " = ", " is "][style % 3]
    seg = sep.join(f"{k}{eq}{values[k]}" for k in names)
    gold = ", ".join(f"{k}={values[k]}" for k in sorted(values))
    ex = extract("soe", _wrap(seg, style // 4))
    assert ex.ok and ex.answer == gold


@settings(database=None, derandomize=True, max_examples=100)
@given(st.sampled_from("ABCD"), st.integers(0, 99))
def test_choice_round_trip(letter, style):
    seg = [letter, f"({letter})", f"{letter}.", f"Option {letter}", letter.lower(), f"{letter}) 17"][style % 6]
    ex = extract("choice", _wrap(seg, style // 6))
    assert ex.ok and ex.answer == letter


# --- suffixes, registry, score ---------------------------------------------------------------

def test_suffixes_are_versioned_and_have_no_example_answer():
    assert set(ANSWER_SUFFIX) == set(EXTRACTORS)
    for answer_type, suffix in ANSWER_SUFFIX.items():
        assert isinstance(suffix["version"], int)
        text = suffix["text"]
        assert "Answer:" in text
        # Nothing a model could parrot: no digits, no option letter or assignment after "Answer:".
        assert not re.search(r"\d", text), answer_type
        assert not re.search(r"Answer:\s*\(?[A-E]\b", text), answer_type
        if answer_type != "exact":  # any text is a well-formed exact answer, so only typed ones
            assert extract(answer_type, text).status == "unparsed", answer_type
    assert answer_suffix("number") == ANSWER_SUFFIX["number"]
    assert answer_suffix("number") is not ANSWER_SUFFIX["number"]


def test_unknown_extractor_suggests_the_nearest_name():
    with pytest.raises(UnknownNameError, match="Did you mean: number"):
        extract("numbr", "Answer: 3")
    with pytest.raises(UnknownNameError, match="choice"):
        answer_suffix("choise")


def test_register_extractor_is_used_and_guards_overwrite():
    def always_seven(output, problem):
        return Extraction("7", "ok", "test")

    with pytest.raises(ExtractionError, match="already registered"):
        register_extractor("number", always_seven)
    with pytest.raises(ExtractionError, match="callable"):
        register_extractor("seven", 7)
    register_extractor("seven", always_seven)
    try:
        assert extract("seven", "anything") == Extraction("7", "ok", "test")
    finally:
        EXTRACTORS.unregister("seven")
    assert "seven" not in EXTRACTORS


def test_extract_rejects_non_string_output():
    with pytest.raises(ExtractionError, match="string"):
        extract("number", None)


def test_score_compares_canonical_forms_and_counts_unparsed_as_wrong():
    p = Problem((Segment("question", "How much?"),), answer="1,234.50", answer_type="number")
    assert score(p, "Answer: $1234.5") == (Extraction("1234.5", "ok", "answer_line:number"), True)
    assert score(p, "Answer: 1234")[1] is False
    ex, correct = score(p, "It is about a thousand.")
    assert ex.status == "unparsed" and correct is False
    q = Problem((Segment("question", "Solve."),), answer="B=-1, A=3", answer_type="soe")
    assert score(q, "Answer: A = 3, B = -1")[1] is True


def test_canonical_answer_rejects_invalid_gold():
    assert canonical_answer("choice", " b ") == "B"
    with pytest.raises(ProblemError, match="not a valid 'number' answer"):
        canonical_answer("number", "about five")
