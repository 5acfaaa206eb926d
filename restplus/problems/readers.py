"""Reading problem files into rows with 1-based line numbers, and the paper's item filters.

Formats: JSONL (one JSON object per line), CSV (header row; values are text) and parquet (read
with polars). Already-loaded row collections (a HF ``datasets`` split, a list of dicts) are
iterated as they are. Every row carries the number error messages use: the physical line for
JSONL and CSV, the 1-based row for parquet and in-memory rows.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ProblemError, did_you_mean

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}


@dataclass(frozen=True, slots=True)
class RawRow:
    """One input row: ``data`` is the row, or None with ``error`` when it could not be read."""

    line: int
    data: Mapping[str, Any] | None
    error: str = ""


@dataclass(frozen=True, slots=True)
class RowSource:
    """Where rows come from: ``name`` for messages, ``unit`` ("line" or "row") for numbers."""

    name: str
    unit: str
    rows: Iterable[RawRow]


def open_rows(source: Any, format: str | None = None, name: str | None = None) -> RowSource:
    """Rows of a file path (format from ``format`` or the extension) or of an iterable of mappings."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        fmt = format or FORMATS.get(path.suffix.lower())
        if fmt not in set(FORMATS.values()):
            given = format if format else f"extension {path.suffix!r}"
            raise ProblemError(f"cannot tell how to read {path} ({given}): use a .jsonl, .csv or "
                               f".parquet file, or pass format='jsonl'|'csv'|'parquet'."
                               f"{did_you_mean(format, set(FORMATS.values())) if format else ''}")
        if not path.is_file():
            raise ProblemError(f"problem file {path} does not exist (or is not a file).")
        reader = {"jsonl": _jsonl_rows, "csv": _csv_rows, "parquet": _parquet_rows}[fmt]
        return RowSource(name or str(path), "row" if fmt == "parquet" else "line", reader(path))
    if isinstance(source, (Mapping, bytes)) or not isinstance(source, Iterable):
        raise ProblemError(f"cannot load problems from a {type(source).__name__}: give a file path, "
                           "a HF datasets split, or an iterable of row dicts.")
    label = name or f"<{type(source).__name__}>"
    return RowSource(label, "row", _memory_rows(source))


def _jsonl_rows(path: Path) -> Iterator[RawRow]:
    with open(path, encoding="utf-8") as fh:
        for i, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                yield RawRow(i, None, f"not valid JSON ({exc.msg} at column {exc.colno})")
                continue
            if isinstance(data, dict):
                yield RawRow(i, data)
            else:
                yield RawRow(i, None, f"expected a JSON object per line, got {type(data).__name__}")


def _csv_rows(path: Path) -> Iterator[RawRow]:
    # The csv module (not polars) because it tracks physical lines: a record is named by the
    # line it starts on, even when a quoted field spans several lines.
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader, None)
            while header is not None:
                start = reader.line_num + 1
                cells = next(reader, None)
                if cells is None:
                    break
                if not cells:
                    continue  # blank line
                if len(cells) != len(header):
                    yield RawRow(start, None, f"has {len(cells)} cells but the header has "
                                              f"{len(header)} columns")
                    continue
                yield RawRow(start, dict(zip(header, cells)))
        except csv.Error as exc:
            raise ProblemError(f"{path}, line {reader.line_num}: malformed CSV ({exc}); check the "
                               "quoting of that line.") from None


def _parquet_rows(path: Path) -> Iterator[RawRow]:
    import polars as pl

    for i, row in enumerate(pl.read_parquet(path).iter_rows(named=True), start=1):
        yield RawRow(i, row)


def _memory_rows(source: Iterable[Any]) -> Iterator[RawRow]:
    for i, row in enumerate(source, start=1):
        if isinstance(row, Mapping):
            yield RawRow(i, row)
        else:
            yield RawRow(i, None, f"expected a mapping per row, got {type(row).__name__}")


# ---------------------------------------------------------------------------------------------
# Item filters (paper: drop items longer than 800 characters and items containing LaTeX)
# ---------------------------------------------------------------------------------------------

MAX_CHARS = 800

# Inline math follows pandoc's rule: the opening $ is followed by a non-space, the closing $ is
# preceded by a non-space and not followed by a digit. So "$5 and $10" (currency) is not math.
LATEX_PATTERNS: tuple[str, ...] = (
    r"\$\$",
    r"\$(?=\S)[^$\n]+?(?<=\S)\$(?!\d)",
    r"\\\(", r"\\\[",
    r"\\begin\{",
    r"\\(?:d|t)?frac\b",
    r"\\(?:sqrt|cdot|times|div|pm|mp|leq?|geq?|neq|approx|infty|sum|prod|int|lim|log|ln|sin|cos|tan"
    r"|alpha|beta|gamma|delta|epsilon|theta|lambda|mu|pi|sigma|omega|Delta|Omega|mathrm|mathbf"
    r"|mathbb|text|left|right|overline|vec|hat|circ|rightarrow|to|in|cup|cap|subset)\b",
    r"[\^_]\{",
)
_LATEX = re.compile("|".join(f"(?:{p})" for p in LATEX_PATTERNS))


def latex_match(text: str) -> str | None:
    """The first LaTeX-looking fragment of ``text``, or None."""
    m = _LATEX.search(text)
    return m.group(0) if m else None
