"""Load base problems from JSONL, CSV, parquet or an already-loaded HF ``datasets`` split.

A field mapping names which column holds each logical field::

    load_problems("qa.csv", fields={"question": "q", "answer": "a", "choices": "opts"})

Logical fields: ``question`` and ``answer`` (required), ``choices`` (a column holding a list, a
JSON list in CSV, an ARC-style ``{"text": [...], "label": [...]}`` or ``[{"text", "label"}, ...]``,
or a list of column names),
``context``, ``id`` (the dataset's own id, kept as ``meta["source_id"]`` and checked for
duplicates) and ``meta`` (a list of columns copied into ``meta``). A column may be a dotted path
into nested objects, e.g. ``question.stem``. Presets fill the mapping: ``mmlu``, ``arc`` (the HF
``allenai/ai2_arc`` rows and the original AI2 JSONL, whose ``question`` is ``{stem, choices}``),
``gsm8k`` and ``restplus`` (our own JSONL, one ``Problem.to_dict`` per line, the default when
neither ``preset`` nor ``fields`` is given). The presets ``chess``, ``graph`` and ``chart`` read
image-native items (a FEN / edge list / table and a question type; answers computed from the
content): see restplus.problems.visual.rows.

Rows become problems with ``context``/``question``/``choices`` segments and content-hash ids.
Items longer than ``max_chars`` (800, per the paper) or containing LaTeX are dropped and counted
in the report. A bad row (missing field, wrong type, empty question, answer not among the
choices, duplicate id) raises :class:`ProblemError` naming the file, line and field, or with
``on_error="skip"`` is left out and listed in ``report.errors``.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ProblemError, did_you_mean, unknown_name
from .base import ANSWER_TYPES, Problem, Segment
from .mcq import format_choices
from .readers import MAX_CHARS, latex_match, open_rows
from .rowfields import _choice_answer, _choices, _get, _plain_answer, _RowFail, _text


def _arg(name: str) -> str:
    """A load_problems keyword as messages name it, for Python and for the CLI
    (``restplus generate --problems FILE`` mirrors every keyword as an option)."""
    if name == "preset":  # run and search also take the model's request --preset: one spelling works everywhere
        return "preset= (CLI: --problems-preset)"
    return f"{name}= (CLI: --{name.replace('_', '-')})"


LOGICAL_FIELDS = ("question", "answer", "choices", "context", "id", "meta")
ANSWER_FORMATS = ("auto", "index", "letter", "text", "gsm8k")


@dataclass(frozen=True, slots=True)
class Preset:
    """A named field mapping. ``answer_format``: how the answer column names the right option
    (``index`` 0-based, ``letter`` or a label, ``text`` of the option, ``auto`` tries index →
    letter → text) or, for ``gsm8k``, a solution whose last line is ``#### N``."""

    name: str
    fields: tuple[tuple[str, Any], ...]
    answer_format: str = "auto"
    answer_type: str | None = None
    # The mapping for rows whose question column holds an object instead of text: one dataset
    # published in two shapes (AI2's own ARC files nest the stem and choices in "question").
    nested: tuple[tuple[str, Any], ...] = ()


PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("mmlu", (("question", "question"), ("choices", "choices"), ("answer", "answer"),
                    ("meta", ("subject",))), "index", "choice"),
    Preset("arc", (("question", "question"), ("choices", "choices"), ("answer", "answerKey"),
                   ("id", "id")), "letter", "choice",
           nested=(("question", "question.stem"), ("choices", "question.choices"))),
    Preset("gsm8k", (("question", "question"), ("answer", "answer")), "gsm8k", "number"),
    Preset("restplus", ()),
)}


@dataclass(frozen=True, slots=True)
class RowError:
    """One bad input row: where (file, 1-based line or row), which field, and what was wrong."""

    file: str
    line: int
    field: str
    message: str
    unit: str = "line"

    def __str__(self) -> str:
        return f"{self.file}, {self.unit} {self.line}, field {self.field!r}: {self.message}"


@dataclass(frozen=True, slots=True)
class LoadReport:
    """What loading did. ``dropped``: (reason, count) pairs, reasons ``too_long``, ``latex`` and
    ``invalid`` (bad rows skipped with ``on_error="skip"``); ``errors``: those bad rows;
    ``settings``: the filter settings used."""

    source: str
    n_rows: int = 0
    n_loaded: int = 0
    dropped: tuple[tuple[str, int], ...] = ()
    errors: tuple[RowError, ...] = ()
    settings: tuple[tuple[str, Any], ...] = ()

    @property
    def dropped_by_reason(self) -> dict[str, int]:
        return dict(self.dropped)

    @property
    def n_dropped(self) -> int:
        return sum(n for _, n in self.dropped)

    def summary(self) -> str:
        reasons = ", ".join(f"{r}={n}" for r, n in self.dropped) or "none"
        return f"{self.source}: {self.n_loaded} of {self.n_rows} rows loaded; dropped: {reasons}"


@dataclass(frozen=True, slots=True)
class ProblemSet(Sequence[Problem]):
    """Problems plus the :class:`LoadReport` of how they were obtained; behaves as a sequence."""

    problems: tuple[Problem, ...]
    report: LoadReport = field(default_factory=lambda: LoadReport(source="<memory>"))

    def __getitem__(self, i):  # type: ignore[override]
        return self.problems[i]

    def __len__(self) -> int:
        return len(self.problems)

    def __iter__(self) -> Iterator[Problem]:
        return iter(self.problems)


@dataclass(frozen=True, slots=True)
class _Spec:
    fields: Mapping[str, Any]
    answer_format: str
    answer_type: str
    task: str
    nested: Mapping[str, Any] = field(default_factory=dict)


def _convert(row: Mapping[str, Any], spec: _Spec, source: str) -> tuple[Problem, str | None]:
    """(problem, source id) from one mapped row."""
    f = spec.fields
    if spec.nested and isinstance(row.get(f["question"]), Mapping):
        f = {**f, **spec.nested}
    question = _text("question", _get(row, "question", f["question"]))
    if not question.strip():
        raise _RowFail("question", "empty question")
    segments = []
    if "context" in f:
        ctx = _get(row, "context", f["context"], required=False)
        if ctx is not None and _text("context", ctx).strip():
            segments.append(Segment("context", ctx.strip()))
    segments.append(Segment("question", question.strip()))
    raw_answer = _get(row, "answer", f["answer"])
    choices: tuple[str, ...] = ()
    if "choices" in f:
        texts, labels = _choices(row, f["choices"])
        answer = _choice_answer(raw_answer, texts, labels, spec.answer_format)
        choices = tuple(texts)
        segments.append(Segment("choices", format_choices(texts)))
    else:
        answer = _plain_answer(raw_answer, spec.answer_type, spec.answer_format)
    meta: dict[str, Any] = {}
    for col in f.get("meta", ()):
        value = row.get(col)
        if not (value is None or isinstance(value, (str, int, float, bool))):
            raise _RowFail("meta", f"wrong type: column {col!r} holds {type(value).__name__}, not a scalar")
        meta[col] = value
    source_id = None
    if "id" in f:
        sid = _get(row, "id", f["id"])
        if isinstance(sid, bool) or not isinstance(sid, (str, int)):
            raise _RowFail("id", f"wrong type: expected text or an integer id, got {type(sid).__name__}")
        source_id = str(sid)
        meta["source_id"] = source_id
    problem = Problem(segments=tuple(segments), answer=answer, answer_type=spec.answer_type,
                      task=spec.task, choices=choices, source=source, meta=tuple(sorted(meta.items())))
    return problem, source_id


def _convert_own(row: Mapping[str, Any], source: str) -> tuple[Problem, str | None]:
    for key in ("segments", "answer", "answer_type"):
        if key not in row:
            raise _RowFail(key, f"missing field {key!r}: rows in restplus format are Problem.to_dict() "
                                f"objects; for other data pass {_arg('preset')} or {_arg('fields')}.")
    if not isinstance(row["segments"], list) or not all(isinstance(s, Mapping) for s in row["segments"]):
        raise _RowFail("segments", "wrong type: expected a list of {role, text} objects")
    try:
        problem = Problem.from_dict(dict(row))
    except ProblemError as exc:
        raise _RowFail("segments", str(exc)) from None
    except (TypeError, KeyError) as exc:
        raise _RowFail("segments", f"wrong type: {exc}") from None
    return problem, None


VISUAL_PRESETS = ("chess", "graph", "chart")


def _spec(preset: str | None, fields: Mapping[str, Any] | None, answer_type: str | None,
          answer_format: str | None, task: str | None) -> _Spec | None:
    if preset is not None and preset not in PRESETS and preset not in VISUAL_PRESETS:
        raise unknown_name("problem preset", preset, [*PRESETS, *VISUAL_PRESETS])
    if preset in VISUAL_PRESETS:
        extra = [k for k, v in (("fields", fields), ("answer_type", answer_type), ("answer_format", answer_format),
                                ("task", task)) if v]
        if extra:
            raise ProblemError(f"preset={preset!r} reads {preset} rows in their own notation and computes the answer "
                               f"and its type from the content; drop {', '.join(map(_arg, extra))}.")
        return None
    if preset in (None, "restplus") and not fields:
        given = {"answer_type": answer_type, "answer_format": answer_format, "task": task}
        extra = [k for k, v in given.items() if v is not None]
        if extra:
            raise ProblemError(f"{', '.join(map(_arg, extra))} given without {_arg('preset')} or "
                               f"{_arg('fields')}: rows in restplus format carry their own answer_type "
                               f"and task. Pass {_arg('preset')} or {_arg('fields')} to map another format.")
        return None  # our own format
    if preset == "restplus":
        raise ProblemError(f"preset='restplus' reads Problem.to_dict() rows and takes no {_arg('fields')}; "
                           f"drop {_arg('preset')} to map your own columns.")
    p = PRESETS[preset] if preset else Preset("custom", ())
    merged = {**dict(p.fields), **dict(fields or {})}
    if isinstance(merged.get("meta"), str):
        merged["meta"] = (merged["meta"],)  # one column, not its characters
    for key in merged:
        if key not in LOGICAL_FIELDS:
            raise ProblemError(f"unknown logical field {key!r} in {_arg('fields')}."
                               f"{did_you_mean(key, LOGICAL_FIELDS)} Logical fields: {', '.join(LOGICAL_FIELDS)}.")
    for key in ("question", "answer"):
        if key not in merged:
            raise ProblemError(f"{_arg('fields')} must map {key!r} to a column, e.g. fields={{{key!r}: 'col'}} "
                               f"(CLI: --fields {key}=COLUMN).")
    fmt = answer_format or p.answer_format
    if fmt not in ANSWER_FORMATS:
        raise unknown_name("answer format", fmt, ANSWER_FORMATS)
    atype = answer_type or p.answer_type or ("choice" if "choices" in merged else "exact")
    if atype not in ANSWER_TYPES:
        raise unknown_name("answer type", atype, ANSWER_TYPES)
    if ("choices" in merged) != (atype == "choice"):
        raise ProblemError(f"answer_type={atype!r} does not fit the mapping: multiple choice needs a "
                           "'choices' field and a 'choices' field needs answer_type='choice'.")
    # The nested shape applies only where the caller kept the preset's own columns.
    nested = {k: v for k, v in p.nested if merged.get(k) == dict(p.fields).get(k)}
    return _Spec(merged, fmt, atype, task or p.name, nested)


def load_problems(source: Any, *, preset: str | None = None, fields: Mapping[str, Any] | None = None,
                  format: str | None = None, answer_type: str | None = None,
                  answer_format: str | None = None, task: str | None = None,
                  max_chars: int | None = MAX_CHARS, drop_latex: bool = True,
                  on_error: str = "raise", name: str | None = None) -> ProblemSet:
    """Load problems from a file path or an iterable of rows (e.g. a HF ``datasets`` split).

    ``max_chars=None`` keeps items of any length; ``drop_latex=False`` keeps LaTeX items.
    ``on_error``: ``"raise"`` (ProblemError at the first bad row) or ``"skip"``.
    """
    if on_error not in ("raise", "skip"):
        raise ProblemError(f"on_error={on_error!r} (CLI: --on-error) is not 'raise' or 'skip'."
                           f"{did_you_mean(on_error, ('raise', 'skip'))}")
    spec = _spec(preset, fields, answer_type, answer_format, task)
    rows = open_rows(source, format, name)
    short = Path(rows.name).name if isinstance(source, (str, os.PathLike)) else rows.name
    problems: list[Problem] = []
    errors: list[RowError] = []
    dropped: Counter[str] = Counter()
    first_line: dict[tuple[str, str], int] = {}
    n_rows = 0
    for raw in rows.rows:
        n_rows += 1
        try:
            if raw.data is None:
                raise _RowFail("(row)", raw.error)
            src = f"{short}:{raw.line}"
            if preset in VISUAL_PRESETS:
                from .visual.rows import load_row

                problem, sid = load_row(str(preset), raw.data, src)
            else:
                problem, sid = _convert(raw.data, spec, src) if spec else _convert_own(raw.data, src)
            if sid is not None and ("id", sid) in first_line:
                raise _RowFail("id", f"duplicate id {sid!r}: already on {rows.unit} "
                                     f"{first_line[('id', sid)]}")
            if ("problem_id", problem.problem_id) in first_line:
                # Same content (or, in restplus format, the same explicit problem_id) twice.
                raise _RowFail("problem_id" if spec is None else "question",
                               f"duplicate problem {problem.problem_id!r}: same as {rows.unit} "
                               f"{first_line[('problem_id', problem.problem_id)]}")
            if sid is not None:
                first_line[("id", sid)] = raw.line
            first_line[("problem_id", problem.problem_id)] = raw.line
        except (_RowFail, ProblemError) as exc:
            err = RowError(rows.name, raw.line, getattr(exc, "field", "(row)"),
                           getattr(exc, "message", str(exc)), rows.unit)
            if on_error == "raise":
                raise ProblemError(f"{err}. Fix the row, or pass on_error='skip' (CLI: --on-error skip) to "
                                   "load the valid rows and list the bad ones (in report.errors).") from None
            errors.append(err)
            dropped["invalid"] += 1
            continue
        text = problem.full_text
        if max_chars is not None and len(text) > max_chars:
            dropped["too_long"] += 1
        elif drop_latex and latex_match(text):
            dropped["latex"] += 1
        else:
            problems.append(problem)
    report = LoadReport(source=rows.name, n_rows=n_rows, n_loaded=len(problems),
                        dropped=tuple(sorted(dropped.items())), errors=tuple(errors),
                        settings=(("drop_latex", drop_latex), ("max_chars", max_chars)))
    return ProblemSet(tuple(problems), report)


def save_problems(problems: Any, path: str | Path) -> Path:
    """Write problems as restplus JSONL (one ``Problem.to_dict()`` per line); loads back with
    ``load_problems(path)``. Parent folders are created."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    items = list(problems)
    for i, p in enumerate(items):
        if not isinstance(p, Problem):
            raise ProblemError(f"save_problems: item {i} is a {type(p).__name__}, not a Problem.")
    with open(out, "w", encoding="utf-8") as fh:
        for p in items:
            fh.write(json.dumps(p.to_dict(), ensure_ascii=False, sort_keys=True) + "\n")
    return out
