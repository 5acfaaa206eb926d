"""Two-operand arithmetic with short numbers: the task the embedded nano model is trained on.

An item is ``"47 + 38"`` (context) and ``"Compute the result."`` (question), answer ``85``. Operands
are two-digit numbers; subtraction keeps the result non-negative. The format is deliberately
small: a few-million-parameter model trained on 2 CPU cores can learn to read it from pixels and
add, so the grammar's factors (DPI, colour, font) have real, measurable effects on a real MLLM
(``models/restplus-nano``). The set is also an easy probe for any model.

:func:`solve_text` is the parse-from-text checker the reader baseline uses: the whole text must be
the expression followed by the question (whitespace is free; the solve instruction may follow), so
a misread digit or operator changes the answer and anything else is unreadable (None).
"""

from __future__ import annotations

import random
import re

from ..hashing import derive_seed
from .base import Problem, Segment
from .canon import normalize_dashes
from .distinct import distinct_items

GENERATOR_VERSION = 1
QUESTION = "Compute the result."
OPERATORS = ("+", "-")
LOW, HIGH = 10, 99  # operand range (inclusive): two digits each

# The expression then the question; other text around them (the solve instruction) is allowed.
_PATTERN = re.compile(r"(?<![\d.])(\d+)\s*([+-])\s*(\d+)\s+" + r"\s+".join(map(re.escape, QUESTION.split())),
                      re.IGNORECASE)


def compute(a: int, op: str, b: int) -> int:
    return a + b if op == "+" else a - b


def make_sum(a: int, op: str, b: int) -> Problem:
    """The problem ``a op b`` (no range check: the trainer and tests build items directly)."""
    meta = {"generator": "sums", "generator_version": GENERATOR_VERSION, "template": "add" if op == "+" else "sub"}
    return Problem(segments=(Segment("context", f"{a} {op} {b}"), Segment("question", QUESTION)),
                   answer=str(compute(a, op, b)), answer_type="number", task="sums",
                   source="builtin:sums", meta=tuple(sorted(meta.items())))


def draw(rng: random.Random) -> tuple[int, str, int]:
    """One (a, op, b) with two-digit operands and a non-negative result."""
    op = rng.choice(OPERATORS)
    a, b = rng.randint(LOW, HIGH), rng.randint(LOW, HIGH)
    if op == "-" and b > a:
        a, b = b, a
    return a, op, b


def generate_sums(n: int = 100, seed: int = 0) -> tuple[Problem, ...]:
    """``n`` distinct items; item i depends only on (seed, i)."""
    return distinct_items(n, lambda i, attempt: make_sum(*draw(random.Random(derive_seed("sums", seed, i, attempt)))))


def solve_text(text: str) -> str | None:
    """The answer computed from a read text, or None when it is not exactly one of these items."""
    m = _PATTERN.search(normalize_dashes(text))
    if m is None:
        return None
    return str(compute(int(m.group(1)), m.group(2), int(m.group(3))))
