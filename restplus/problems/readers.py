"""Reading problem files into rows with 1-based line numbers, and the paper's item filters.

Formats: JSONL (one JSON object per line), JSON (one array of objects), CSV and TSV (header row;
values are text) and parquet (read with polars). Already-loaded row collections (a HF
``datasets`` split, a list of dicts) are iterated as they are. Every row carries the number error
messages use: the physical line for JSONL, CSV and TSV, the 1-based row for JSON, parquet and
in-memory rows.

Text files must be UTF-8; a leading byte-order mark (Excel writes one) is dropped. A file that is
not UTF-8, is empty, or is not parquet although named so fails as a whole with a
:class:`ProblemError` naming the file (and, for text, the line and byte offset): such a file is
not a few bad rows to skip but a file to fix.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ProblemError, did_you_mean

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".tsv": "tsv",
           ".parquet": "parquet"}
FORMAT_NAMES = ("jsonl", "json", "csv", "tsv", "parquet")
_BOMS = ((b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"))  # Excel's "Unicode text" export


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
        if fmt not in FORMAT_NAMES:
            given = f"format={format!r}" if format else f"extension {path.suffix!r}"
            raise ProblemError(f"cannot tell how to read {path} ({given}): use a .jsonl, .json, .csv, .tsv "
                               "or .parquet file, or pass format= (CLI: --format) as one of "
                               f"{', '.join(FORMAT_NAMES)}.{did_you_mean(format, FORMAT_NAMES) if format else ''}")
        if not path.is_file():
            raise ProblemError(f"problem file {path} does not exist (or is not a file).")
        readers = {"jsonl": _jsonl_rows, "json": _json_rows, "csv": _csv_rows, "tsv": _tsv_rows,
                   "parquet": _parquet_rows}
        unit = "line" if fmt in ("jsonl", "csv", "tsv") else "row"
        return RowSource(name or str(path), unit, _nonempty(path, fmt, readers[fmt](path)))
    if isinstance(source, (Mapping, bytes)) or not isinstance(source, Iterable):
        raise ProblemError(f"cannot load problems from a {type(source).__name__}: give a file path, "
                           "a HF datasets split, or an iterable of row dicts.")
    label = name or f"<{type(source).__name__}>"
    return RowSource(label, "row", _memory_rows(source))


def _nonempty(path: Path, fmt: str, rows: Iterator[RawRow]) -> Iterator[RawRow]:
    """The rows, refusing a file that holds none: an empty file is a failed download or export,
    and loading it as zero problems would only fail later, far from the cause."""
    n = 0
    for row in rows:
        n += 1
        yield row
    if n:
        return
    if path.stat().st_size == 0:
        why = "is empty (0 bytes)"
    elif fmt in ("csv", "tsv"):
        why = "has a header line but no data rows"
    elif fmt == "json":
        why = "holds an empty array"
    elif fmt == "parquet":
        why = "has no rows"
    else:
        why = "has only blank lines"
    raise ProblemError(f"{path} {why}: no problems to load. Check that the download or export finished, "
                       "or point at the right file.")


def _text_lines(path: Path, newline: str | None = None) -> Iterator[str]:
    """The lines of a UTF-8 text file, a leading byte-order mark dropped ("utf-8-sig")."""
    try:
        with open(path, encoding="utf-8-sig", newline=newline) as fh:
            yield from fh
    except UnicodeDecodeError:
        raise not_utf8(path) from None


def not_utf8(path: Path) -> ProblemError:
    """The error for a file that is not UTF-8: the first undecodable byte's line and offset.

    The text decoder reads in blocks and cannot say which line failed, so the file is scanned
    again as bytes; a UTF-8 character never contains a newline byte, so lines decode alone."""
    fix_to = shlex.quote(str(path.with_name(f"{path.stem}.utf8{path.suffix}")))
    src = shlex.quote(str(path))
    with open(path, "rb") as fh:
        head = fh.read(2)
        for bom, name in _BOMS:
            if head == bom:
                return ProblemError(f"{path}, line 1, byte offset 0: the file is {name} text (it starts with a "
                                    f"{name} byte-order mark), not UTF-8. Re-encode it as UTF-8, e.g. "
                                    f"`iconv -f utf-16 -t utf-8 {src} > {fix_to}`, and load that file.")
        fh.seek(0)
        offset = 0
        for line_no, raw in enumerate(fh, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                return ProblemError(
                    f"{path}, line {line_no}, byte offset {offset + exc.start}: byte 0x{raw[exc.start]:02x} is "
                    "not UTF-8 (the file is probably Latin-1 or Windows-1252). Re-encode it as UTF-8, e.g. "
                    f"`iconv -f latin1 -t utf-8 {src} > {fix_to}`, and load that file.")
            offset += len(raw)
    return ProblemError(f"{path}: not UTF-8 text. Re-encode it as UTF-8, e.g. "
                        f"`iconv -f latin1 -t utf-8 {src} > {fix_to}`.")


def _json_hint(exc: json.JSONDecodeError, line: str) -> str:
    # A line cut short (an interrupted download or write) fails at its end or in an open string.
    if exc.msg.startswith("Unterminated") or exc.pos >= len(line.rstrip()):
        return "; the line ends early, so the file may be truncated"
    return ""


def _jsonl_rows(path: Path) -> Iterator[RawRow]:
    for i, line in enumerate(_text_lines(path), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            if i == 1 and line.strip() == "[":
                raise _json_array_in_jsonl(path) from None
            yield RawRow(i, None, f"not valid JSON ({exc.msg.removesuffix(' at')} at column {exc.colno})"
                                  f"{_json_hint(exc, line)}")
            continue
        if isinstance(data, dict):
            yield RawRow(i, data)
        elif i == 1 and isinstance(data, list):
            raise _json_array_in_jsonl(path)
        else:
            yield RawRow(i, None, f"expected a JSON object per line, got {type(data).__name__}")


def _json_array_in_jsonl(path: Path) -> ProblemError:
    return ProblemError(f"{path}, line 1: this is one JSON array, not JSON Lines (one object per line). "
                        "Name the file .json, or pass format='json' (CLI: --format json).")


def _json_rows(path: Path) -> Iterator[RawRow]:
    text = "".join(_text_lines(path))
    if not text.strip():
        return  # _nonempty names the empty file
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        cut = "; the text ends early, so the file may be truncated" if exc.pos >= len(text.rstrip()) else ""
        raise ProblemError(f"{path}, line {exc.lineno}: not valid JSON ({exc.msg.removesuffix(' at')} at column "
                           f"{exc.colno}){cut}"
                           f"{cut}. Fix the file; JSON Lines files should be named .jsonl.") from None
    if isinstance(data, dict):
        lists = [k for k, v in data.items() if isinstance(v, list)]
        where = (f"; the rows may be the list under {lists[0]!r}: extract it, e.g. "
                 f"`jq -c '.{lists[0]}[]' {shlex.quote(str(path))} > rows.jsonl`") if lists else ""
        raise ProblemError(f"{path}: expected a JSON array of row objects at the top level, got an object "
                           f"with keys {sorted(data)[:5]}{where}.")
    if not isinstance(data, list):
        raise ProblemError(f"{path}: expected a JSON array of row objects at the top level, got "
                           f"{type(data).__name__}.")
    for i, row in enumerate(data, start=1):
        if isinstance(row, dict):
            yield RawRow(i, row)
        else:
            yield RawRow(i, None, f"expected a JSON object per row, got {type(row).__name__}")


def _tsv_rows(path: Path) -> Iterator[RawRow]:
    return _csv_rows(path, delimiter="\t")


def _csv_rows(path: Path, delimiter: str = ",") -> Iterator[RawRow]:
    # The csv module (not polars) because it tracks physical lines: a record is named by the
    # line it starts on, even when a quoted field spans several lines.
    reader = csv.reader(_text_lines(path, newline=""), delimiter=delimiter)
    kind = "TSV" if delimiter == "\t" else "CSV"
    try:
        header = next(reader, None)
        twice = sorted({h for h in header or () if header.count(h) > 1})
        if twice:  # a row dict would silently keep only the last of the same-named columns
            raise ProblemError(f"{path}, line 1: the header names column {twice[0]!r} more than once; "
                               "give every column its own name.")
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
        raise ProblemError(f"{path}, line {reader.line_num}: malformed {kind} ({exc}); check the "
                           "quoting of that line.") from None


def _parquet_rows(path: Path) -> Iterator[RawRow]:
    import polars as pl

    if path.stat().st_size == 0:
        return  # _nonempty names the empty file
    try:
        table = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ProblemError(f"{path}: not a readable parquet file ({detail}); it is truncated, damaged or "
                           "in another format. Re-export or re-download it; a JSONL or CSV file needs "
                           "its own extension or format= (CLI: --format).") from None
    for i, row in enumerate(table.iter_rows(named=True), start=1):
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
