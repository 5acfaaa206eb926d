"""Parsers that turn one located answer segment into a canonical answer string, or None.

A *segment* is the short piece of model output that holds the answer (the rest of the
``Answer:`` line, the inside of ``\\boxed{}``, or what follows "the answer is"); locating it is
:mod:`.extract`'s job. Each parser here documents its normalisation and returns None rather than
guess when the segment is ambiguous.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .canon import (
    NUMBER_RE,
    canonical_assignment,
    canonical_number,
    find_numbers,
    letters,
    normalize_dashes,
    parse_number,
)

DEFAULT_LETTERS = letters(5)  # without a problem: A–E (MMLU has 4 options, ARC up to 5)

_LATEX_UNWRAP = re.compile(r"\\(?:boxed|text|textbf|mathrm|mathbf|fbox)\s*\{([^{}]*)\}")
_LATEX_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")


def clean_segment(segment: str) -> str:
    """Strip presentation from a segment: markdown emphasis/code/heading marks, ``$`` (math or
    currency), LaTeX wrappers (``\\boxed{x}``, ``\\text{x}`` → ``x``; ``\\frac{a}{b}`` → ``a/b``;
    ``\\(``, ``\\[``, ``\\%``, thin spaces), surrounding quotes, unicode dashes → ``-``, outer
    whitespace and a trailing period."""
    s = normalize_dashes(segment)
    for _ in range(3):  # nested wrappers such as $\boxed{\text{B}}$
        s = _LATEX_UNWRAP.sub(r"\1", s)
    s = _LATEX_FRAC.sub(r"\1/\2", s)
    s = re.sub(r"\\[()\[\]]", " ", s)
    s = s.replace("\\%", "%").replace("\\,", "").replace("\\!", "").replace("\\$", "$")
    s = re.sub(r"[*`$]|__|^\s*#+", "", s)
    s = s.strip().strip("\"'\u201c\u201d\u2018\u2019").strip()
    return s[:-1].rstrip() if s.endswith(".") else s


_PREFIX = re.compile(r"^(?:the\s+)?(?:correct\s+|final\s+|best\s+)?(?:answer|option|choice|letter)"
                     r"(?:\s+(?:is|would be|should be))?\s*[:：]?\s*", re.IGNORECASE)
_UPPER = re.compile(r"^[(\[]?([A-Z])[)\]]?(?=$|[\s.):,;\]])")
_MORE = re.compile(r"^\s*(?:or|and|/|,|&)\s*\(?[A-Z](?![a-z])")
_LOWER = re.compile(r"[(\[]?([a-z])[)\]]?[.)]?")


def _norm_text(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip().rstrip(".").casefold()


def parse_choice(segment: str, choices: Sequence[str] = ()) -> tuple[str | None, str]:
    """Option letter from a segment → (``"B"``, how) or (None, why).

    Accepted: a capital letter at the start, optionally in parentheses or brackets and followed by
    punctuation or text (``B``, ``(B)``, ``B)``, ``B. 42``, ``Option B``, ``the answer is B``); a
    lone lower-case letter (``c``, ``(c)``). Two letters joined by or/and/comma (``B or C``) are
    ambiguous → None. Letters outside the problem's options (A–E without a problem) → None.
    If ``choices`` are given and no letter is found, a segment equal to exactly one option text
    (case, spacing and trailing period ignored) gives that option's letter.
    """
    valid = letters(len(choices)) if choices else DEFAULT_LETTERS
    s = _PREFIX.sub("", clean_segment(segment))
    m = _UPPER.match(s)
    if m:
        if _MORE.match(s[m.end():]):
            return None, "ambiguous"
        return (m[1], "letter") if m[1] in valid else (None, "letter_out_of_range")
    m = _LOWER.fullmatch(s)
    if m:
        return (m[1].upper(), "letter") if m[1].upper() in valid else (None, "letter_out_of_range")
    if choices:
        hits = [i for i, c in enumerate(choices) if _norm_text(c) == _norm_text(s)]
        if len(hits) == 1:
            return valid[hits[0]], "option_text"
    return None, "no_letter"


def parse_number_segment(segment: str) -> tuple[str | None, str]:
    """Canonical number (see :mod:`.canon`) from a segment → (``"1234.5"``, how) or (None, why).

    Thousands commas, signs, decimals, fractions (``3/4``, ``\\frac{3}{4}``), mixed numbers
    (``1 1/2``), currency and trailing units or ``%`` are handled. If the segment contains ``=``
    only the part after the last ``=`` counts (``6 * 7 = 42``). The segment must then hold exactly
    one distinct number; ``2 hours 30 minutes`` or ``12, 13`` are ambiguous → None, and a malformed
    separator such as ``1,2`` → None.
    """
    s = clean_segment(segment)
    if "=" in s:
        s = s.rsplit("=", 1)[1]
    nums = find_numbers(s)
    if nums is None:
        return None, "malformed_number"
    if not nums:
        return None, "no_number"
    if len(set(nums)) != 1:
        return None, "ambiguous"
    return canonical_number(nums[0]), "number"


_TUPLE = re.compile(r"\(\s*([A-E](?:\s*,\s*[A-E])+)\s*\)\s*=\s*\(([^()]*)\)")
_ASSIGN = re.compile(r"(?<![A-Za-z])([A-E])\s*(?:=|:|\bis\b)\s*")
_OPERATOR_NEXT = re.compile(r"^\s*[-+*/×÷^·]\s*[\w(]")


def parse_soe_segment(segment: str) -> tuple[str | None, str]:
    """SoE assignment from a segment → (``"A=3, B=-1"``, how) or (None, why).

    Accepted: ``A=3, B=-1`` in any order, with any spacing and separators (``;``, ``and``), ``:``
    or ``is`` instead of ``=`` (``A is 3``), values as integers, decimals or fractions, and the
    tuple form ``(A, B) = (3, -1)``. Variables are capital A–E only (a lower-case ``a`` is too
    easily an article). A value followed by an operator (``A = 3 + 2``) is an expression, not a
    value → None; a variable given two different values → None.
    """
    s = clean_segment(segment)
    t = _TUPLE.search(s)
    if t:
        names = re.findall(r"[A-E]", t[1])
        values = [parse_number(v) for v in t[2].split(",")]
        if len(names) != len(values) or None in values or len(set(names)) != len(names):
            return None, "bad_tuple"
        return canonical_assignment(dict(zip(names, values))), "tuple"
    found: dict[str, object] = {}
    for m in _ASSIGN.finditer(s):
        rest = s[m.end():]
        nm = NUMBER_RE.match(rest)
        value = parse_number(nm.group(0)) if nm else None
        if nm is None or value is None or _OPERATOR_NEXT.match(rest[nm.end():]):
            return None, "not_a_value"
        if found.get(m[1], value) != value:
            return None, "conflicting_values"
        found[m[1]] = value
    if not found:
        return None, "no_assignment"
    return canonical_assignment(found), "assignment"  # type: ignore[arg-type]


def parse_exact(segment: str) -> tuple[str | None, str]:
    """Exact string: :func:`clean_segment`, whitespace runs collapsed, case-folded. Empty → None."""
    s = re.sub(r"\s+", " ", clean_segment(segment)).strip().casefold()
    return (s, "text") if s else (None, "empty")
