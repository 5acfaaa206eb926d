"""Deterministic solvers for the offline reader baseline: answer a problem from its *read* text.

The reader baseline transcribes an image (e.g. with tesseract) and hands the transcription to
:func:`solve_from_text`. The solvers look only at that text, never at the gold answer: a correct
reading gives the right answer, a wrong reading gives a wrong answer or None. The ``problem`` is
used for one thing only, to know which template's checker applies (``meta["template"]``), as a
human would know which kind of exercise is in front of them.

* SoE (``soe``): equations parsed from the text and solved exactly (:func:`.soe.solve_text`).
* Arithmetic (``arith``/``number``): template recognised, numbers read, answer computed
  (:func:`.arith.solve_text`); no ``eval``.
* Two-operand sums (``sums``): ``a + b`` / ``a - b`` read and computed (:func:`.sums.solve_text`).
* Multiple choice (``mcq``/``choice``): the template's checker reads the stem and options and
  picks the matching option (:func:`.mcq.solve_text`).
* Image-native sources (``chess``, ``chess_pieces``, ``graph``, ``chart``): the notation (FEN or piece
  list, edge list, table) and
  question read from the text, the answer recomputed with the rules. An OCR reader cannot read a
  board or a node-link drawing, so for these sources the reader baseline covers the text path only.

Problems from other sources (MMLU, GSM8K ...) match no template: the solvers return None for them.
Pass ``problem.answer_type`` when the task is not one of ours.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import unknown_name
from . import arith, mcq, soe, sums
from .base import Problem
from .visual import chart, chess, graph


def _template(problem: Problem | None, generator: str) -> str | None:
    if problem is None:
        return None
    meta = dict(problem.meta)
    if meta.get("generator") != generator:
        return None
    return meta.get("template")


# The lead-in each image-native source puts before its notation: a text that has one is that
# source's problem whatever answer type the caller names (the runner tags requests by answer type).
VISUAL_MARKERS = (("Chess position (FEN):", chess.solve_text), ("Chess position (piece list):", chess.solve_text),
                  ("Undirected graph.\nNodes:", graph.solve_text),
                  ("Table.\ncategory | value", chart.solve_text))


def _visual_or(text: str, otherwise: Callable[[], str | None]) -> str | None:
    for marker, solve in VISUAL_MARKERS:
        if marker in text:
            return solve(text)
    return otherwise()


SOLVERS: dict[str, Callable[[str, Problem | None], str | None]] = {
    "soe": lambda text, p: soe.solve_text(text),
    # Answer type "number" covers the word problems and the two-operand sums (their texts never match
    # each other's checker).
    "arith": lambda text, p: _visual_or(text, lambda: arith.solve_text(text, _template(p, "arith"))
                                        or sums.solve_text(text)),
    "sums": lambda text, p: sums.solve_text(text),
    "mcq": lambda text, p: mcq.solve_text(text, _template(p, "mcq")),
    "chess": lambda text, p: chess.solve_text(text),
    "chess_pieces": lambda text, p: chess.solve_text(text),
    "graph": lambda text, p: graph.solve_text(text),
    "chart": lambda text, p: chart.solve_text(text),
    "exact": lambda text, p: _visual_or(text, lambda: None),  # other free-form answers have no checker
}
ALIASES = {"number": "arith", "choice": "mcq"}


def solve_from_text(task_or_answer_type: str, text: str, problem: Problem | None = None) -> str | None:
    """The canonical answer computed from ``text``, or None when it cannot be read or solved.

    ``task_or_answer_type``: ``"soe"``, ``"arith"`` (or answer type ``"number"``), ``"mcq"`` (or
    ``"choice"``), ``"exact"`` (always None). ``problem`` (optional) only selects the template's
    checker.
    """
    key = ALIASES.get(task_or_answer_type, task_or_answer_type)
    if key not in SOLVERS:
        raise unknown_name("solver (task or answer type)", task_or_answer_type, [*SOLVERS, *ALIASES])
    return SOLVERS[key](text, problem)
