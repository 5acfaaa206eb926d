"""Answer extraction: model output → canonical answer string, or "unparsed" (never a guess).

Locating the answer (same for every answer type, in this order):

1. ``answer_line``: the **last** ``Answer:`` marker anywhere in the output (case-insensitive;
   ``Final answer:``, ``**Answer:**``, ``**Answer**:`` count). The segment is the rest of that
   line, or the next non-empty line if the rest is empty. Earlier mentions are ignored, and if
   this segment does not parse the output is unparsed: no fallback to other rules.
2. Only if there is no ``Answer:`` marker: whichever comes **last** in the output of a
   ``\\boxed{...}`` (``boxed``) or a phrase "the answer/solution is ..." up to the end of its
   sentence (``answer_phrase``).
3. Otherwise unparsed (rule ``none``). There is deliberately no "last number in the text"
   fallback: in chain of thought the last number is often an intermediate result, and the paper
   counts an answer in an invalid format as wrong.

The segment is then parsed by the answer type's parser (:mod:`.answer_parsers`, which documents
each normalisation), giving a canonical string so answers compare exactly across modalities:
``"B"``; numbers as in :mod:`.canon` (``"42"``, ``"-3"``, ``"3.5"``, ``"1/3"``); SoE
``"A=3, B=-1"``; exact strings case-folded.

The prompt suffixes in :data:`ANSWER_SUFFIX` ask for that final line. They describe the format
in words and contain no example answer a model could copy.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..errors import ExtractionError, ProblemError, unknown_name
from ..registry import Registry
from .answer_parsers import parse_choice, parse_exact, parse_number_segment, parse_soe_segment
from .base import Problem

EXTRACTOR_VERSION = 1

ANSWER_SUFFIX: dict[str, dict[str, object]] = {
    "choice": {"version": 1, "text": (
        "Think step by step. Then end your reply with one final line that starts with \"Answer:\" "
        "followed by only the letter of the correct option.")},
    "number": {"version": 1, "text": (
        "Think step by step. Then end your reply with one final line that starts with \"Answer:\" "
        "followed by only the final number, without units.")},
    "soe": {"version": 1, "text": (
        "Solve step by step. Then end your reply with one final line that starts with \"Answer:\" "
        "followed by the value of every unknown, each written as the variable letter, an equals "
        "sign and the value, separated by commas.")},
    "exact": {"version": 1, "text": (
        "Think step by step. Then end your reply with one final line that starts with \"Answer:\" "
        "followed by only the answer.")},
}


def answer_suffix(answer_type: str) -> dict[str, object]:
    """A copy of the versioned prompt suffix ``{"version": 1, "text": ...}`` for an answer type."""
    if answer_type not in ANSWER_SUFFIX:
        raise unknown_name("answer type for the prompt suffix", answer_type, ANSWER_SUFFIX)
    return dict(ANSWER_SUFFIX[answer_type])


@dataclass(frozen=True, slots=True)
class Extraction:
    """The outcome of extracting one answer.

    ``answer``: canonical string, or None when unparsed. ``status``: ``"ok"`` or ``"unparsed"``.
    ``rule``: where the segment came from (``answer_line``, ``boxed``, ``answer_phrase``,
    ``none``) and, after ``:``, how it parsed or why it did not (e.g. ``answer_line:letter``,
    ``answer_line:ambiguous``).
    """

    answer: str | None
    status: str
    rule: str

    @property
    def ok(self) -> bool:
        return self.status == "ok"


# ---------------------------------------------------------------------------------------------
# Locating the answer segment
# ---------------------------------------------------------------------------------------------

_ANSWER_MARK = re.compile(r"(?<![A-Za-z])(?:final\s+)?answer\s*(?:\*\*|__)?\s*[:：]", re.IGNORECASE)
_PHRASE = re.compile(r"\b(?:answer|solution)\s+(?:is|would be|should be)\b\s*[:：]?", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")
_BOXED = re.compile(r"\\boxed\s*\{")


def _boxed(output: str) -> Iterator[tuple[int, str]]:
    """(start, content) of each ``\\boxed{...}``, braces balanced."""
    for m in _BOXED.finditer(output):
        depth, i = 1, m.end()
        while i < len(output) and depth:
            depth += {"{": 1, "}": -1}.get(output[i], 0)
            i += 1
        if depth == 0:
            yield m.start(), output[m.end():i - 1]


def locate(output: str) -> tuple[str, str] | None:
    """(rule, segment) holding the answer per the module rules, or None."""
    marks = list(_ANSWER_MARK.finditer(output))
    if marks:
        rest = output[marks[-1].end():]
        lines = rest.split("\n")
        segment = lines[0]
        if not re.sub(r"[\s*_#`:]", "", segment):
            segment = next((ln for ln in lines[1:] if ln.strip()), "")
        return "answer_line", segment
    candidates = [(start, "boxed", content) for start, content in _boxed(output)]
    for m in _PHRASE.finditer(output):
        line = output[m.end():].split("\n", 1)[0]
        end = _SENTENCE_END.search(line)
        candidates.append((m.start(), "answer_phrase", line[:end.start()] if end else line))
    if not candidates:
        return None
    _, rule, segment = max(candidates, key=lambda c: c[0])
    return rule, segment


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------

Extractor = Callable[[str, "Problem | None"], Extraction]


def _check_extractor(name: str, fn: Extractor) -> None:
    if not callable(fn):
        raise ExtractionError(f"extractor {name!r} must be callable (output, problem) -> "
                              f"Extraction, got {type(fn).__name__}.")


# Answer type -> extractor, looked up at call time, so registered extractors are used by
# :func:`extract` and :func:`score`.
EXTRACTORS: Registry[Extractor] = Registry("answer extractor", ExtractionError, check=_check_extractor)


def register_extractor(name: str, fn: Extractor, *, replace: bool = False) -> Extractor:
    """Register ``fn(output, problem_or_None) -> Extraction`` for an answer type."""
    return EXTRACTORS.register(name, fn, replace=replace)


def _from_parser(parse: Callable[[str, "Problem | None"], tuple[str | None, str]]) -> Extractor:
    def extractor(output: str, problem: Problem | None = None) -> Extraction:
        found = locate(output)
        if found is None:
            return Extraction(None, "unparsed", "none")
        rule, segment = found
        answer, how = parse(segment, problem)
        return Extraction(answer, "ok" if answer is not None else "unparsed", f"{rule}:{how}")

    extractor.__doc__ = parse.__doc__
    return extractor


register_extractor("choice", _from_parser(lambda s, p: parse_choice(s, p.choices if p else ())))
register_extractor("number", _from_parser(lambda s, p: parse_number_segment(s)))
register_extractor("soe", _from_parser(lambda s, p: parse_soe_segment(s)))
register_extractor("exact", _from_parser(lambda s, p: parse_exact(s)))


def extract(answer_type: str, output: str, problem: Problem | None = None) -> Extraction:
    """Extract the answer of the given type from a model output (see the module rules)."""
    if not isinstance(output, str):
        raise ExtractionError(f"model output must be a string, got {type(output).__name__}; "
                              "pass response.text.")
    return EXTRACTORS[answer_type](output, problem)


def canonical_answer(answer_type: str, text: str, choices: tuple[str, ...] = ()) -> str:
    """A gold answer in canonical form (``" b "`` → ``"B"``, ``"1,234.0"`` → ``"1234"``)."""
    parse = {"choice": lambda s: parse_choice(s, choices), "number": parse_number_segment,
             "soe": parse_soe_segment, "exact": parse_exact}
    if answer_type not in parse:
        raise unknown_name("answer type", answer_type, parse)
    value, why = parse[answer_type](text)
    if value is None:
        raise ProblemError(f"gold answer {text!r} is not a valid {answer_type!r} answer ({why}).")
    return value


def score(problem: Problem, output: str) -> tuple[Extraction, bool]:
    """Extract the answer from ``output`` and compare it exactly with the problem's gold answer.
    Unparsed outputs are wrong."""
    ex = extract(problem.answer_type, output, problem)
    gold = canonical_answer(problem.answer_type, problem.answer, problem.choices)
    return ex, ex.ok and ex.answer == gold
