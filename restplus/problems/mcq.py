"""Multiple-choice items built from facts the generator can verify, each with its own checker.

Templates: arithmetic (``add``, ``sub``, ``mul``), unit conversion (``unit``), comparison
(``largest``, ``smallest``) and ordering (``order``). Four options; the gold position is drawn
from the item's seed; distractors are distinct from the answer and from each other.

Every template has a parse-from-text checker (:func:`solve_text`): it reads the stem's facts and
the options from (possibly OCR-corrupted) text, computes the right value and picks the option
whose text matches. A misread stem number gives a value no option has (None) or another option
(wrong). Comparison and ordering checkers also require the options to be exactly the numbers the
stem names, so a misread digit anywhere in those items is caught. A misread *distractor* of an
arithmetic or conversion item cannot change the right answer, and rightly does not.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from ..errors import unknown_name
from ..hashing import derive_seed
from .base import Problem, Segment
from .canon import letters, normalize_dashes, parse_number
from .distinct import distinct_items

GENERATOR_VERSION = 1
N_OPTIONS = 4

# (larger unit, smaller unit, how many smaller units make one larger unit): the checker's facts.
UNITS: tuple[tuple[str, str, int], ...] = (
    ("meters", "centimeters", 100), ("kilometers", "meters", 1000), ("kilograms", "grams", 1000),
    ("liters", "milliliters", 1000), ("hours", "minutes", 60), ("minutes", "seconds", 60),
    ("days", "hours", 24), ("weeks", "days", 7), ("feet", "inches", 12), ("yards", "feet", 3),
)
_FACTORS = {(big, small): f for big, small, f in UNITS}

Draw = tuple[str, str, list[str]]  # stem, correct option text, distractor texts


@dataclass(frozen=True, slots=True)
class McqTemplate:
    """``make`` draws (stem, correct option, distractors); ``check`` maps (stem, option texts)
    read from text to the index of the right option, or None."""

    name: str
    make: Callable[[random.Random], Draw]
    check: Callable[[str, Sequence[str]], int | None]


def _numeric_distractors(rng: random.Random, v: int, extra: Sequence[int] = ()) -> list[str]:
    """Three distinct plausible wrong values: the template's own ``extra`` mistakes when there are
    enough of them, else near misses (off by 1, 2 or 10, last two digits swapped)."""
    near = [v + 1, v - 1, v + 10, v - 10, v + 2, v - 2]
    if v >= 10:
        near.append(int(str(v)[:-2] + str(v)[-1] + str(v)[-2]))
    own = list(dict.fromkeys(c for c in extra if c > 0 and c != v))
    pool = own if len(own) >= N_OPTIONS - 1 else list(dict.fromkeys(
        c for c in [*own, *near] if c > 0 and c != v))
    return [str(c) for c in rng.sample(pool, N_OPTIONS - 1)]


def _pick_value(value: Fraction | None, options: Sequence[str]) -> int | None:
    if value is None:
        return None
    hits = [i for i, o in enumerate(options) if parse_number(o) == value]
    return hits[0] if len(hits) == 1 else None


def _binary(op: str, fn: Callable[[int, int], int], lo_a: int, hi_a: int, lo_b: int, hi_b: int) -> McqTemplate:
    stem_re = re.compile(rf"What is (\d+) {op} (\d+)\?", re.IGNORECASE)

    def make(rng: random.Random) -> Draw:
        a, b = rng.randint(lo_a, hi_a), rng.randint(lo_b, hi_b)
        if op == "minus" and b >= a:
            a, b = b + 1, a  # keep the result positive
        v = fn(a, b)
        return f"What is {a} {op} {b}?", str(v), _numeric_distractors(rng, v)

    def check(stem: str, options: Sequence[str]) -> int | None:
        m = stem_re.search(stem)
        return _pick_value(Fraction(fn(int(m[1]), int(m[2]))), options) if m else None

    return McqTemplate({"plus": "add", "minus": "sub", "times": "mul"}[op], make, check)


_UNIT_RE = re.compile(r"How many ([a-z]+) are in (\d+) ([a-z]+)\?", re.IGNORECASE)


def _unit_make(rng: random.Random) -> Draw:
    big, small, f = rng.choice(UNITS)
    n = rng.randint(2, 20)
    v = n * f
    extra = [v * 10, v + f, v - f] + ([v // 10] if v % 10 == 0 else [])
    return f"How many {small} are in {n} {big}?", str(v), _numeric_distractors(rng, v, extra)


def _unit_check(stem: str, options: Sequence[str]) -> int | None:
    m = _UNIT_RE.search(stem)
    if m is None or (m[3].lower(), m[1].lower()) not in _FACTORS:
        return None
    return _pick_value(Fraction(int(m[2]) * _FACTORS[(m[3].lower(), m[1].lower())]), options)


def _extreme(kind: str) -> McqTemplate:
    stem_re = re.compile(rf"Which of these numbers is the {kind}: (\d+), (\d+), (\d+) or (\d+)\?",
                         re.IGNORECASE)
    pick = max if kind == "largest" else min

    def make(rng: random.Random) -> Draw:
        # Permutations of the same three digits: the comparison needs every digit read right.
        digits = rng.sample("123456789", 3)
        perms = sorted({int(a + b + c) for a in digits for b in digits for c in digits
                        if len({a, b, c}) == 3})
        nums = rng.sample(perms, N_OPTIONS)
        listed = rng.sample(nums, N_OPTIONS)
        best = pick(nums)
        return (f"Which of these numbers is the {kind}: {listed[0]}, {listed[1]}, {listed[2]} or "
                f"{listed[3]}?", str(best), [str(x) for x in nums if x != best])

    def check(stem: str, options: Sequence[str]) -> int | None:
        m = stem_re.search(stem)
        if m is None:
            return None
        named = sorted(int(g) for g in m.groups())
        values = [parse_number(o) for o in options]
        if None in values or sorted(values) != named:
            return None  # the options are not the numbers the stem names: a misreading
        return _pick_value(Fraction(pick(named)), options)

    return McqTemplate(kind, make, check)


_ORDER_RE = re.compile(r"Which list shows (\d+), (\d+), (\d+) and (\d+) from smallest to largest\?",
                       re.IGNORECASE)
_LIST_RE = re.compile(r"\d+(?:\s*,\s*\d+)*")


def _order_make(rng: random.Random) -> Draw:
    nums = rng.sample(range(10, 100), 4)
    asc = sorted(nums)
    listed = nums if nums != asc else nums[::-1]
    wrong = {tuple(asc[::-1])}
    while len(wrong) < N_OPTIONS - 1:
        perm = tuple(rng.sample(asc, 4))
        if list(perm) != asc:
            wrong.add(perm)
    a, b, c, d = listed
    return (f"Which list shows {a}, {b}, {c} and {d} from smallest to largest?",
            ", ".join(map(str, asc)), [", ".join(map(str, w)) for w in sorted(wrong)])


def _order_check(stem: str, options: Sequence[str]) -> int | None:
    m = _ORDER_RE.search(stem)
    if m is None:
        return None
    named = sorted(int(g) for g in m.groups())
    lists = [[int(x) for x in re.findall(r"\d+", o)] if _LIST_RE.fullmatch(o.strip()) else None
             for o in options]
    if any(lst is None or sorted(lst) != named for lst in lists):
        return None  # an option is not a permutation of the stem's numbers: a misreading
    hits = [i for i, lst in enumerate(lists) if lst == named]
    return hits[0] if len(hits) == 1 else None


TEMPLATES: dict[str, McqTemplate] = {t.name: t for t in (
    _binary("plus", lambda a, b: a + b, 10, 999, 10, 999),
    _binary("minus", lambda a, b: a - b, 20, 999, 10, 999),
    _binary("times", lambda a, b: a * b, 2, 99, 2, 12),
    McqTemplate("unit", _unit_make, _unit_check),
    _extreme("largest"),
    _extreme("smallest"),
    McqTemplate("order", _order_make, _order_check),
)}


def format_choices(options: Sequence[str]) -> str:
    """``["7", "9"]`` → ``"A. 7\\nB. 9"``."""
    return "\n".join(f"{letter}. {text}" for letter, text in zip(letters(len(options)), options))


def make_mcq(rng: random.Random, template: str) -> Problem:
    """One item from the named template; the gold letter's position is drawn from ``rng``."""
    if template not in TEMPLATES:
        raise unknown_name("multiple-choice template", template, TEMPLATES)
    stem, correct, distractors = TEMPLATES[template].make(rng)
    if len(set(distractors) | {correct}) != N_OPTIONS:  # pragma: no cover - guarded by make
        raise AssertionError(f"template {template} drew non-distinct options {correct} {distractors}")
    pos = rng.randrange(N_OPTIONS)
    options = list(distractors)
    options.insert(pos, correct)
    meta = {"generator": "mcq", "generator_version": GENERATOR_VERSION, "template": template}
    return Problem(segments=(Segment("question", stem), Segment("choices", format_choices(options))),
                   answer=letters(N_OPTIONS)[pos], answer_type="choice", task="mcq",
                   choices=tuple(options), source="builtin:mcq", meta=tuple(sorted(meta.items())))


def generate_mcq(n: int = 100, seed: int = 0) -> tuple[Problem, ...]:
    """``n`` distinct items, cycling through the templates; item i depends only on (seed, i)."""
    names = list(TEMPLATES)
    return distinct_items(n, lambda i, attempt: make_mcq(
        random.Random(derive_seed("mcq", seed, i, attempt)), names[i % len(names)]))


# ---------------------------------------------------------------------------------------------
# Parse-from-text checker
# ---------------------------------------------------------------------------------------------

# Option labels are read case-insensitively: OCR often returns "c." for "C." (same glyph shape).
_OPTION_LINE = re.compile(r"^\s*([A-Za-z])\s*[.)]\s*(.*?)\s*$")


def split_options(text: str) -> tuple[str, list[str]] | None:
    """(stem, option texts) from text whose option lines read ``A. ...``, ``B. ...`` in order
    (``a. ...`` also counts).

    None unless the option lines are exactly A, B, C ... with no gap or repeat (two or more).
    """
    stem_lines, opts = [], []
    for line in normalize_dashes(text).splitlines():
        m = _OPTION_LINE.match(line)
        if m and m[2]:
            opts.append((m[1].upper(), m[2]))
        else:
            stem_lines.append(line)
    if len(opts) < 2 or "".join(k for k, _ in opts) != letters(len(opts)):
        return None
    return re.sub(r"\s+", " ", " ".join(stem_lines)).strip(), [t for _, t in opts]


def solve_text(text: str, template: str | None = None) -> str | None:
    """The letter the template's checker picks from the text (only ``template`` if given), or
    None when the options cannot be read, no template recognises the stem, or the checkers
    that do disagree."""
    if template is not None and template not in TEMPLATES:
        raise unknown_name("multiple-choice template", template, TEMPLATES)
    split = split_options(text)
    if split is None:
        return None
    stem, options = split
    picks = {TEMPLATES[name].check(stem, options) for name in ([template] if template else TEMPLATES)}
    picks.discard(None)
    return letters(len(options))[picks.pop()] if len(picks) == 1 else None
