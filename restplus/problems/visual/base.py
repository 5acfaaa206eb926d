"""Image-native sources: a problem whose content has a *notation* (text) and a *drawing* (image).

One seed-derived object (a FEN, an edge list, a table) is both: the text modality sends the notation,
the image modality a drawing made from it deterministically, so their content is identical by
construction. The problem's ``context`` segment holds the notation; ``meta`` names the drawing
(``drawing_kind``, ``notation``, ``drawing_options``). Realisation (restplus.variants.realization)
replaces the rasterised context with the drawing; the question segment is rendered as text in the
image modality and sent as text in mixed, as for text sources.

This module knows SVG only: rasterising, DPI and degradations live in restplus.render.drawing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ...errors import ProblemError
from ...registry import Registry
from ..base import Problem, Segment


@dataclass(frozen=True, slots=True)
class Drawing:
    """An SVG drawing sized in points (rasterised at ``dpi/72`` pixels per point).

    families     font families the SVG names in ``font-family`` (verified by the rasteriser)
    px_measures  (name, fraction of the raster width) pairs: physical covariates in pixels once the
                 width is known, e.g. the chess square size
    contrasts    (name, colour, colour) triples: covariates the renderer records as the WCAG contrast
                 ratio of the two colours (e.g. light against dark squares); colours as hex codes
    """

    svg: str
    width_pt: float
    height_pt: float
    families: tuple[str, ...] = ()
    px_measures: tuple[tuple[str, float], ...] = ()
    contrasts: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Transcription:
    """A model's transcription of the drawing scored against the notation.

    score   in [0, 1]: per-square accuracy (chess), edge-set F1 (graph), cell accuracy (chart)
    passed  the gate's verdict: the transcription reproduces the notation exactly (score == 1)
    detail  what differed, for the report (first few mismatches)
    """

    score: float
    passed: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class VisualSource:
    """One image-native source kind.

    draw(notation, options, font_family, font_path) -> Drawing
    transcribe(gold_notation, text) -> Transcription
    prompt   the transcription prompt (asks the model to write the notation back)
    param_options  (render-param key, drawing option) pairs: which source-specific factor levels
             (restplus.grammar.visual_kinds) override which drawing option
    metric   what the transcription score measures, in words (recorded in the run manifest's gate)
    """

    name: str
    draw: Callable[[str, dict[str, Any], str, str], Drawing]
    transcribe: Callable[[str, str], Transcription]
    prompt: str
    param_options: tuple[tuple[str, str], ...] = ()
    metric: str = ""


SOURCES: Registry[VisualSource] = Registry("visual source", ProblemError)


def visual_problem(kind: str, notation: str, notation_text: str, question: str, answer: str, answer_type: str,
                   *, options: dict[str, Any] | None = None, extra_meta: dict[str, Any] | None = None,
                   task: str | None = None) -> Problem:
    """A problem of source ``kind``: context = ``notation_text`` (the notation with a lead-in).

    task  the problem's task (default ``kind``); another text form of a source is another task
          (``chess_pieces``), with the same drawing
    """
    SOURCES[kind]  # unknown kinds fail here, with did-you-mean
    meta = {"drawing_kind": kind, "notation": notation,
            "drawing_options": json.dumps(options or {}, sort_keys=True), **(extra_meta or {})}
    return Problem(segments=(Segment("context", notation_text), Segment("question", question)), answer=answer,
                   answer_type=answer_type, task=task or kind, source=f"builtin:{task or kind}",
                   meta=tuple(sorted(meta.items())))


def drawing_kind(problem: Problem) -> str | None:
    """The source kind of an image-native problem, None for a text source."""
    return dict(problem.meta).get("drawing_kind")


def drawing_overrides(problem: Problem, get: Callable[[str], Any]) -> dict[str, Any]:
    """Drawing options set by the cell: ``get(key)`` reads a render param (None when unset)."""
    kind = drawing_kind(problem)
    if kind is None:
        return {}
    return {opt: get(key) for key, opt in SOURCES[kind].param_options if get(key) is not None}


def drawing_of(problem: Problem, font_family: str, font_path: str, overrides: dict[str, Any] | None = None) -> Drawing:
    """The drawing of ``problem`` with labels in ``font_family`` (file ``font_path``).

    ``overrides`` replaces drawing options (e.g. ``{"theme": "green"}`` from a board_theme level).
    """
    meta = dict(problem.meta)
    kind = meta.get("drawing_kind")
    if kind is None:
        raise ProblemError(f"problem {problem.problem_id!r} has no drawing (meta 'drawing_kind' is missing); "
                           "only image-native sources (chess, graph, chart) have one.")
    try:
        options = json.loads(meta.get("drawing_options") or "{}")
    except json.JSONDecodeError as exc:
        raise ProblemError(f"problem {problem.problem_id!r}: meta 'drawing_options' is not JSON ({exc}).") from None
    options.update(overrides or {})
    # passed as canonical JSON so the cache key stays hashable
    return _draw(str(kind), str(meta["notation"]), json.dumps(options, sort_keys=True), font_family, font_path)


@lru_cache(maxsize=256)
def _draw(kind: str, notation: str, options: str, font_family: str, font_path: str) -> Drawing:
    # Every cell of a problem draws the same SVG (DPI only changes the raster); matplotlib takes
    # ~0.3 s per chart, so the SVG is made once per (problem content, font).
    return SOURCES[kind].draw(notation, json.loads(options), font_family, font_path)


def transcription_prompt(problem: Problem) -> str:
    """The prompt asking a model to write the drawing's notation back (the gate's 'can it read it')."""
    kind = drawing_kind(problem)
    if kind is None:
        raise ProblemError(f"problem {problem.problem_id!r} is a text source; it has no transcription prompt.")
    return SOURCES[kind].prompt


def score_transcription(problem: Problem, text: str) -> Transcription:
    """Score a model's transcription ``text`` of ``problem``'s drawing against its notation."""
    kind = drawing_kind(problem)
    if kind is None:
        raise ProblemError(f"problem {problem.problem_id!r} is a text source; transcriptions score drawings only.")
    return score_notation(kind, str(dict(problem.meta)["notation"]), text)


def score_notation(kind: str, notation: str, text: str) -> Transcription:
    """Score ``text`` as a transcription of a ``kind`` drawing of ``notation`` (the runner's gate calls
    this with the notation stored on the drawing, so a run folder can be re-scored without problems)."""
    return SOURCES[kind].transcribe(str(notation), str(text))


def bad_item(kind: str, item: str, field: str, message: str) -> ProblemError:
    """The one error shape for bad image-native input: names the source, the item and the field.

    ``field`` and ``message`` are also kept on the error, so a file loader reports them with the file
    and line (restplus.problems.loaders reads them the same way from its own row errors).
    """
    err = ProblemError(f"{kind} item {item!r}, field {field!r}: {message}")
    # the loader appends its own sentence after the message, so no final full stop here
    err.field, err.message = field, f"{kind} item {item!r}: {message}".rstrip(".")  # type: ignore[attr-defined]
    return err
