"""Reading one dataset row: field look-up by (dotted) column, choice lists in their many shapes, answers.

Split from loaders.py, which maps files and presets onto these; a problem here raises _RowFail, which
the loader reports with the file, line and field.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from typing import Any

from ..errors import ProblemError, did_you_mean
from .canon import letters
from .extract import canonical_answer


class _RowFail(ProblemError):  # internal: caught per row and reported with its line
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


def _lookup(row: Mapping[str, Any], column: str) -> Any:
    """``row[column]``, or for a dotted ``a.b`` not present as a column, ``row[a][b]``."""
    if column in row or "." not in column:
        return row.get(column)
    value: Any = row
    for part in column.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _get(row: Mapping[str, Any], logical: str, column: str, required: bool = True) -> Any:
    """The value of ``column``; absent or null is "missing" (an error if required). An empty
    optional cell (CSV writes absent values as "") counts as absent."""
    value = _lookup(row, column)
    if value is None or (value == "" and not required):
        if required:
            near = did_you_mean(column, [str(k) for k in row])
            raise _RowFail(logical, f"missing field {column!r} (mapped to {logical!r}).{near}")
        return None
    return value


def _text(logical: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _RowFail(logical, f"wrong type: expected text, got {type(value).__name__} {value!r}")
    return value


def _choices(row: Mapping[str, Any], column: Any) -> tuple[list[str], list[str]]:
    """(option texts, labels) from a list column, JSON text, ARC dict, or a list of columns."""
    if isinstance(column, (list, tuple)):
        raw: Any = [_get(row, "choices", c) for c in column]
    else:
        raw = _get(row, "choices", column)
    if isinstance(raw, str) and raw.strip()[:1] in ("[", "{"):
        try:
            raw = json.loads(raw)  # CSV cells hold lists as JSON text
        except json.JSONDecodeError as exc:
            raise _RowFail("choices", f"wrong type: not a valid JSON list ({exc.msg})") from None
    labels: list[str] | None = None
    if isinstance(raw, (list, tuple)) and raw and all(isinstance(c, Mapping) for c in raw):
        if not all("text" in c for c in raw):  # AI2's [{"text", "label"}, ...]
            raise _RowFail("choices", "wrong type: each choice object needs a 'text' key")
        labels = [str(c["label"]) for c in raw] if all("label" in c for c in raw) else None
        raw = [c["text"] for c in raw]
    elif isinstance(raw, Mapping):
        if "text" not in raw:
            raise _RowFail("choices", f"wrong type: a dict of choices needs a 'text' list, got keys "
                                      f"{sorted(raw)}")
        labels = [str(x) for x in raw.get("label") or []] or None
        raw = raw["text"]
    if not isinstance(raw, (list, tuple)):
        raise _RowFail("choices", f"wrong type: expected a list of options, got {type(raw).__name__}")
    texts = []
    for i, c in enumerate(raw, start=1):
        if isinstance(c, bool) or not isinstance(c, (str, int, float)):
            raise _RowFail("choices", f"wrong type: option {i} is {type(c).__name__} {c!r}, not text")
        if not str(c).strip():
            raise _RowFail("choices", f"option {i} is empty")
        texts.append(str(c).strip())
    if not 2 <= len(texts) <= 26:
        raise _RowFail("choices", f"expected 2 to 26 options, got {len(texts)}")
    if len(set(texts)) != len(texts):
        dup = next(t for t, n in Counter(texts).items() if n > 1)
        raise _RowFail("choices", f"option {dup!r} appears more than once")
    if labels is not None and len(labels) != len(texts):
        raise _RowFail("choices", f"{len(labels)} labels for {len(texts)} options")
    return texts, labels or list(letters(len(texts)))


def _choice_answer(value: Any, texts: list[str], labels: list[str], fmt: str) -> str:
    """The letter (A, B ...) of the right option."""
    ours = letters(len(texts))
    if fmt in ("index", "auto") and not isinstance(value, bool) and (
            isinstance(value, int) or (fmt == "index" and isinstance(value, str) and value.strip().isdigit())):
        idx = int(value)
        if 0 <= idx < len(texts):
            return ours[idx]
        raise _RowFail("answer", f"answer not among the choices: index {idx} is outside 0..{len(texts) - 1}")
    if fmt == "index":
        raise _RowFail("answer", f"wrong type: expected a 0-based option index, got {value!r}; for letters "
                                 "or option texts pass answer_format='auto' (CLI: --answer-format auto)")
    if not isinstance(value, str):
        raise _RowFail("answer", f"wrong type: expected a letter or option text, got "
                                 f"{type(value).__name__} {value!r}")
    v = value.strip()
    if fmt in ("letter", "auto"):
        for label, letter in zip(labels, ours):
            if v == label or (len(v) == 1 and v.upper() == label):
                return letter
    if fmt in ("text", "auto") and v in texts:
        return ours[texts.index(v)]
    raise _RowFail("answer", f"answer not among the choices: {value!r} is none of the labels "
                             f"{labels} or option texts")


def _plain_answer(value: Any, answer_type: str, fmt: str) -> str:
    if fmt == "gsm8k":
        text = _text("answer", value)
        if "####" not in text:
            raise _RowFail("answer", "a GSM8K answer must end with a line '#### <number>'; none found")
        value = text.rsplit("####", 1)[1].strip()
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _RowFail("answer", f"wrong type: expected text or a number, got {type(value).__name__}")
    try:
        return canonical_answer(answer_type, str(value))
    except ProblemError:
        raise _RowFail("answer", f"wrong type: {value!r} is not a valid {answer_type!r} answer") from None
