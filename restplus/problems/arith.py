"""GSM-Symbolic-style arithmetic word problems: templates with symbolic names and numbers.

Each template is a story (context) and a question with slots. Number slots are drawn so the gold
answer is a positive integer; the answer is computed from the instantiated numbers with exact
fractions. Word slots (names, objects) come from small fixed vocabularies.

Every template is its own parse-from-text checker (:func:`solve_text`): the template text becomes
a regular expression whose number slots capture digits, so a reader that sees the text can
recompute the answer. Each answer function changes whenever any single number changes (no max,
no floor division, all factors non-zero), so a misread digit always gives a different answer.
"""

from __future__ import annotations

import functools
import random
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from ..errors import unknown_name
from ..hashing import derive_seed
from .base import Problem, Segment
from .canon import canonical_number, normalize_dashes
from .distinct import distinct_items

GENERATOR_VERSION = 1

WORDS: dict[str, tuple[str, ...]] = {
    "name": ("Maria", "James", "Aisha", "Chen", "Sofia", "Liam", "Priya", "Omar", "Elena", "Noah",
             "Fatima", "Lucas", "Mei", "Diego", "Hana", "Samuel", "Zara", "Ivan", "Nia", "Tom"),
    "item": ("notebooks", "pens", "mugs", "tickets", "candles", "posters"),
    "food": ("cookies", "muffins", "apples", "cupcakes", "pancakes", "oranges"),
    "thing": ("bicycle", "jacket", "lamp", "backpack", "guitar", "chair"),
    "plant": ("tomatoes", "tulips", "carrots", "sunflowers", "peppers", "roses"),
}
# A second person in the same story is drawn from the names, distinct from the first.
WORDS["name2"] = WORDS["name"]

Numbers = dict[str, int]


@dataclass(frozen=True, slots=True)
class ArithTemplate:
    """``context``/``question`` use ``{slot}`` fields; slots named in ``WORDS`` are words, all
    others are numbers drawn by ``sample`` and combined by ``compute``."""

    name: str
    context: str
    question: str
    sample: Callable[[random.Random], Numbers]
    compute: Callable[[dict[str, Fraction]], Fraction]

    @property
    def slots(self) -> tuple[str, ...]:
        fields = [f for _, f, _, _ in string.Formatter().parse(self.context + " " + self.question) if f]
        return tuple(dict.fromkeys(fields))


def _change(r: random.Random) -> Numbers:
    n, price = r.randint(2, 9), r.randint(2, 15)
    return {"n": n, "price": price, "bill": next(b for b in (20, 50, 100, 200) if b > n * price)}


def _share(r: random.Random) -> Numbers:
    k, each = r.randint(2, 9), r.randint(2, 15)
    return {"total": k * each, "k": k}


def _savings(r: random.Random) -> Numbers:
    s, w = r.randint(5, 40), r.randint(2, 12)
    return {"s": s, "w": w, "x": r.randint(1, s * w - 1)}


def _trip(r: random.Random) -> Numbers:
    return {"v1": r.randint(20, 120), "h1": r.randint(2, 6), "v2": r.randint(20, 120), "h2": r.randint(2, 6)}


def _garden(r: random.Random) -> Numbers:
    rows, per = r.randint(2, 12), r.randint(2, 15)
    return {"rows": rows, "per": per, "dead": r.randint(1, rows * per - 1)}


def _discount(r: random.Random) -> Numbers:
    pct = r.choice((10, 20, 25, 30, 40, 50, 60, 75))
    while True:  # the sale price must be a whole number of dollars
        p = r.randint(10, 400)
        if p * (100 - pct) % 100 == 0:
            return {"p": p, "pct": pct}


def _ages(r: random.Random) -> Numbers:
    return {"a": r.randint(5, 40), "b": r.randint(2, 30), "c": r.randint(2, 20)}


def _pages(r: random.Random) -> Numbers:
    per_day, days = r.randint(5, 40), r.randint(2, 20)
    return {"pages": per_day * days, "per_day": per_day}


TEMPLATES: dict[str, ArithTemplate] = {t.name: t for t in (
    ArithTemplate("change", "{name} buys {n} {item} at ${price} each and pays with a ${bill} bill.",
                  "How many dollars of change does {name} get?", _change,
                  lambda v: v["bill"] - v["n"] * v["price"]),
    ArithTemplate("share", "{name} bakes {total} {food} and shares them equally among {k} friends.",
                  "How many {food} does each friend get?", _share, lambda v: v["total"] / v["k"]),
    ArithTemplate("savings", "{name} saves ${s} every week for {w} weeks. Then {name} spends ${x} "
                  "on a {thing}.", "How many dollars does {name} have left?", _savings,
                  lambda v: v["s"] * v["w"] - v["x"]),
    ArithTemplate("trip", "A train travels at {v1} km per hour for {h1} hours and then at {v2} km "
                  "per hour for {h2} hours.", "How many kilometers does the train travel in total?",
                  _trip, lambda v: v["v1"] * v["h1"] + v["v2"] * v["h2"]),
    ArithTemplate("garden", "{name} plants {rows} rows of {plant} with {per} plants in each row. "
                  "Later, {dead} of the plants die.", "How many plants are still alive?", _garden,
                  lambda v: v["rows"] * v["per"] - v["dead"]),
    ArithTemplate("discount", "A {thing} costs ${p}. During a sale, its price is reduced by {pct}%.",
                  "What is the sale price in dollars?", _discount,
                  lambda v: v["p"] * (100 - v["pct"]) / 100),
    ArithTemplate("ages", "{name} is {a} years old. {name2} is {b} years older than {name}.",
                  "How old will {name2} be in {c} years?", _ages, lambda v: v["a"] + v["b"] + v["c"]),
    ArithTemplate("pages", "A book has {pages} pages. {name} reads {per_day} pages every day.",
                  "How many days does {name} need to finish the book?", _pages,
                  lambda v: v["pages"] / v["per_day"]),
)}


def make_arith(rng: random.Random, template: str) -> Problem:
    """One problem from the named template, drawn from ``rng``."""
    if template not in TEMPLATES:
        raise unknown_name("arithmetic template", template, TEMPLATES)
    t = TEMPLATES[template]
    numbers = t.sample(rng)
    words: dict[str, str] = {}
    for slot in t.slots:
        if slot in WORDS:
            taken = set(words.values())
            words[slot] = rng.choice([w for w in WORDS[slot] if w not in taken])
    values = {**words, **numbers}
    answer = t.compute({k: Fraction(v) for k, v in numbers.items()})
    if answer.denominator != 1 or answer <= 0:  # pragma: no cover - guarded by the samplers
        raise AssertionError(f"template {t.name} drew {numbers} with answer {answer}")
    meta = {"generator": "arith", "generator_version": GENERATOR_VERSION, "template": t.name}
    return Problem(segments=(Segment("context", t.context.format(**values)),
                             Segment("question", t.question.format(**values))),
                   answer=canonical_number(answer), answer_type="number", task="arith",
                   source="builtin:arith", meta=tuple(sorted(meta.items())))


def generate_arith(n: int = 100, seed: int = 0) -> tuple[Problem, ...]:
    """``n`` distinct problems, cycling through the templates; item i depends only on (seed, i)."""
    names = list(TEMPLATES)
    return distinct_items(n, lambda i, attempt: make_arith(
        random.Random(derive_seed("arith", seed, i, attempt)), names[i % len(names)]))


# ---------------------------------------------------------------------------------------------
# Parse-from-text checker
# ---------------------------------------------------------------------------------------------

@functools.cache
def template_regex(name: str) -> re.Pattern[str]:
    """The template as a regex: number slots capture digits, word slots capture words, repeated
    slots must repeat exactly, and any run of whitespace matches any other (OCR re-wraps lines).
    Case-insensitive; everything else in the text must match literally."""
    t = TEMPLATES[name]
    parts: list[str] = []
    seen: set[str] = set()
    for literal, slot, _, _ in string.Formatter().parse(t.context + " " + t.question):
        parts.append(r"\s+".join(re.escape(chunk) for chunk in re.split(r"\s+", literal)))
        if slot is None:
            continue
        if slot in seen:
            parts.append(f"(?P={slot})")
        elif slot in WORDS:
            parts.append(rf"(?P<{slot}>[A-Za-z][A-Za-z' -]*?)")
        else:
            parts.append(rf"(?P<{slot}>\d+)")
        seen.add(slot)
    return re.compile("".join(parts), re.IGNORECASE)


def solve_text(text: str, template: str | None = None) -> str | None:
    """Recognise the template in ``text`` (only ``template`` if given), read its numbers and
    compute the answer as a canonical number. None when no template matches, more than one
    matches with different answers, or the numbers make the story impossible (division by 0)."""
    if template is not None and template not in TEMPLATES:
        raise unknown_name("arithmetic template", template, TEMPLATES)
    flat = re.sub(r"\s+", " ", normalize_dashes(text)).strip()
    answers: set[str] = set()
    for name in [template] if template else list(TEMPLATES):
        m = template_regex(name).search(flat)
        if m is None:
            continue
        t = TEMPLATES[name]
        nums = {k: Fraction(int(v)) for k, v in m.groupdict().items() if k not in WORDS}
        try:
            answers.add(canonical_number(t.compute(nums)))
        except ZeroDivisionError:
            return None
    return answers.pop() if len(answers) == 1 else None
