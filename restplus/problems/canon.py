"""Canonical answer strings, so answers compare exactly across modalities.

One rational number has exactly one canonical string:

* an integer is written plainly: ``"42"``, ``"-3"``, ``"0"`` (never ``"-0"`` or ``"42.0"``);
* a non-integer whose decimal expansion terminates is written as a decimal with no trailing
  zeros: ``"3.5"``, ``"-0.75"``;
* any other rational is a reduced fraction: ``"1/3"``, ``"-7/6"``.

So ``"7/2"``, ``"3.50"`` and ``"3 1/2"`` all become ``"3.5"``. A system-of-equations answer is
``"A=3, B=-1"``: variables sorted, values canonical numbers, ``", "`` between pairs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from fractions import Fraction

from ..errors import RestplusError

# Unicode dashes and minus signs that OCR and models emit for "-". Mapping them is a glyph
# equivalence, not a guess about content.
DASHES = "\u2212\u2012\u2013\u2014\u2010\u2011\ufe63\uff0d"
_DASH_TABLE = str.maketrans({c: "-" for c in DASHES})

# A number as written in prose: optional sign, digits with optional thousands commas, optional
# decimal part, optional "/denominator". Not preceded by a letter, digit, "_" or "^", so the 2 of
# "m^2" or "CO2" is not a number.
NUMBER_RE = re.compile(
    r"(?<![\w^.])(?P<sign>-\s?)?(?P<num>\d[\d,]*(?:\.\d+)?|\.\d+)(?:\s*/\s*(?P<den>\d+(?:\.\d+)?))?"
)
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_MIXED = re.compile(r"(?<![\w.^/])(?P<sign>-\s?)?(?P<whole>\d+)\s+(?P<n>\d+)\s*/\s*(?P<d>\d+)(?![\d/])")


class _Invalid(RestplusError):  # internal: always caught in this module
    """A token looks like a number but is malformed (e.g. '1,2'): never guessed."""


def normalize_dashes(text: str) -> str:
    return text.translate(_DASH_TABLE)


def canonical_number(value: Fraction | int) -> str:
    """The canonical string of a rational number (see module docstring)."""
    q = Fraction(value)
    if q.denominator == 1:
        return str(q.numerator)
    d = q.denominator
    twos = fives = 0
    while d % 2 == 0:
        d //= 2
        twos += 1
    while d % 5 == 0:
        d //= 5
        fives += 1
    if d != 1:
        return f"{q.numerator}/{q.denominator}"
    places = max(twos, fives)
    scaled = abs(q.numerator) * 10**places // q.denominator
    digits = str(scaled).rjust(places + 1, "0")
    body = (digits[:-places] + "." + digits[-places:]).rstrip("0")
    return ("-" if q < 0 else "") + body


def _token_value(m: re.Match[str]) -> Fraction:
    num = m.group("num").rstrip(",")
    if "," in num and not _THOUSANDS.fullmatch(num):
        raise _Invalid(m.group(0))
    value = Fraction(num.replace(",", ""))
    if m.group("den") is not None:
        den = Fraction(m.group("den"))
        if den == 0:
            raise _Invalid(m.group(0))
        value /= den
    return -value if m.group("sign") else value


def _expand_mixed(text: str) -> str:
    """'3 1/2' → '7/2' when the fraction part is proper; otherwise left alone."""

    def repl(m: re.Match[str]) -> str:
        n, d = int(m.group("n")), int(m.group("d"))
        if d == 0 or n >= d:
            return m.group(0)
        value = int(m.group("whole")) + Fraction(n, d)
        sign = "-" if m.group("sign") else ""
        return f"{sign}{value.numerator}/{value.denominator}"

    return _MIXED.sub(repl, text)


def find_numbers(text: str) -> list[Fraction] | None:
    """All numbers in ``text`` in order, or None if any number-like token is malformed.

    Thousands separators must be well formed (``1,234``); ``1,2`` makes the whole text
    unparseable rather than being read as 1 or 12.
    """
    text = _expand_mixed(normalize_dashes(text))
    try:
        return [_token_value(m) for m in NUMBER_RE.finditer(text)]
    except _Invalid:
        return None


def parse_number(text: str) -> Fraction | None:
    """The value of a string that is exactly one number (surrounding spaces allowed), else None."""
    text = _expand_mixed(normalize_dashes(text.strip()))
    m = NUMBER_RE.fullmatch(text)
    if m is None:
        return None
    try:
        return _token_value(m)
    except _Invalid:
        return None


def canonical_assignment(values: Mapping[str, Fraction | int]) -> str:
    """``{"B": -1, "A": 3}`` → ``"A=3, B=-1"``."""
    return ", ".join(f"{k}={canonical_number(values[k])}" for k in sorted(values))


def letters(n: int) -> str:
    """The first ``n`` option letters: ``letters(4) == "ABCD"``."""
    return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[:n]
