"""The steps of a search: properties, per-factor bisection, Hypothesis shrinking to a minimal failure.

Properties decide whether the model still behaves as it does at the reference. A property is
``fn(outcome, text) -> bool`` where ``outcome`` is the :class:`~restplus.search.probe.Outcome` at a
point and ``text`` the outcome of the text modality (None for properties that do not need it).
An outcome with an error (adapter failure, render error) is *unknown*, never a failure. A property
function must be pure: it is applied again to every evaluation when the tables are written.

Bisection holds every other axis at reference and moves one ordered axis from its reference to
each end of its range. If the end still holds, the axis "holds across the range" in that
direction; otherwise the interval [reference (holds), end (fails)] is halved until the holding and
failing values are within the axis tolerance. Each step evaluates all problems at once (one
runner call). If behaviour is not monotone along the axis, bisection still ends on a value that
holds next to one that fails — *a* boundary, not necessarily the lowest one.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import SpecError, did_you_mean
from ..hashing import derive_seed
from .probe import Outcome, Probe
from .space import DIGITS, Axis, Space

Property = Callable[[Outcome, "Outcome | None"], bool]


def consistency(o: Outcome, text: Outcome | None) -> bool:
    """The image answer equals the text answer (an unparsed image answer is inconsistent)."""
    return o.answer is not None and text is not None and o.answer == text.answer


def correctness(o: Outcome, text: Outcome | None) -> bool:
    """The image answer is correct."""
    return o.correct is True


def ocr_pass(o: Outcome, text: Outcome | None) -> bool:
    """The model's own transcription passes the OCR gate."""
    return o.gate_passed is True


PROPERTIES: dict[str, Property] = {"consistency": consistency, "correctness": correctness, "ocr_pass": ocr_pass}
NEEDS_TEXT = ("consistency",)


def resolve_property(prop: str | Property) -> tuple[str, Property, bool]:
    """(name, function, needs the text answer) for a built-in name or a callable."""
    if isinstance(prop, str):
        if prop not in PROPERTIES:
            raise SpecError(f"property={prop!r} is not a built-in property.{did_you_mean(prop, PROPERTIES)} "
                            f"Built-ins: {', '.join(PROPERTIES)}; or pass a function (outcome, text) -> bool.")
        return prop, PROPERTIES[prop], prop in NEEDS_TEXT
    if callable(prop):
        return getattr(prop, "__qualname__", repr(prop)), prop, True
    raise SpecError(f"property must be a name ({', '.join(PROPERTIES)}) or a function (outcome, text) -> bool, "
                    f"got {prop!r}.")


def holds(prop: Property, o: Outcome | None, text: Outcome | None) -> bool | None:
    """True / False, or None when unknown (not evaluated, or the evaluation had an error)."""
    if o is None or o.error is not None:
        return None
    return bool(prop(o, text))


# ---------------------------------------------------------------------------------- bisection
@dataclass
class Track:
    """Bisection state of one problem along one axis and direction (positions: values, or indexes
    into the sorted levels of a level axis)."""

    problem: Any
    text: Outcome | None
    good: Any
    bad: Any = None
    status: str = "running"
    n_evals: int = 0
    calls: int = 0
    last_pass: Outcome | None = None
    first_fail: Outcome | None = None
    trail: list[Outcome] = field(default_factory=list)


def directions(axis: Axis) -> list[tuple[str, Any, Any]]:
    """(direction, reference position, end position) for each end of the axis the reference is not at."""
    if axis.mode == "levels":
        lv = sorted(axis.levels)  # type: ignore[type-var]
        r = lv.index(axis.reference)
        return [(d, r, e) for d, e in (("down", 0), ("up", len(lv) - 1)) if e != r]
    return [(d, axis.reference, e) for d, e in (("down", axis.low), ("up", axis.high)) if e != axis.reference]


def value_at(axis: Axis, pos: Any) -> Any:
    return sorted(axis.levels)[pos] if axis.mode == "levels" else pos  # type: ignore[type-var]


def _mid(axis: Axis, good: Any, bad: Any) -> Any | None:
    """The next position to test, or None when good and bad are within the axis tolerance."""
    gap = abs(bad - good)
    if axis.mode == "levels" or axis.integer:  # whole positions: stop at adjacent ones (or the tolerance)
        if gap <= (1 if axis.mode == "levels" else max(1, axis.step)):
            return None
        return (good + bad) // 2
    if gap <= axis.step:
        return None
    m = round((good + bad) / 2, DIGITS)
    return None if m in (good, bad) else m


def bisect_axis(probe: Probe, space: Space, axis: Axis, direction: str, ref_pos: Any, end: Any,
                starts: list[tuple[Any, Outcome | None, Outcome]], prop: Property) -> list[Track]:
    """Bisect ``axis`` toward ``end`` for every (problem, text outcome, reference outcome) in ``starts``."""
    tracks = [Track(p, text, good=ref_pos, last_pass=ref) for p, text, ref in starts]

    def step(batch: list[tuple[Track, Any]]) -> None:
        n_before = len(probe.log)
        outs = probe.run([(t.problem, {axis.name: value_at(axis, pos)}, None, "bisect") for t, pos in batch])
        new = {id(o) for o in probe.log[n_before:]}
        for (t, pos), o in zip(batch, outs):
            h = holds(prop, o, t.text)
            if o is None:
                t.status = "budget_exhausted"
                continue
            t.n_evals += 1
            t.calls += o.calls if id(o) in new else 0
            t.trail.append(o)
            if h is None:
                t.status = "error"
            elif h:
                t.good, t.last_pass = pos, o
            else:
                t.bad, t.first_fail = pos, o

    step([(t, end) for t in tracks])
    for t in tracks:
        if t.status == "running" and t.bad is None:
            t.status = "holds_across_range"
    while True:
        batch = []
        for t in tracks:
            if t.status != "running":
                continue
            m = _mid(axis, t.good, t.bad)
            if m is None:
                t.status = "found"
            else:
                batch.append((t, m))
        if not batch:
            return tracks
        step(batch)


# ---------------------------------------------------------------------------------- minimal failure
@dataclass
class Minimal:
    """Result of shrinking for one problem: the least-perturbed failing point Hypothesis found."""

    outcome: Outcome | None
    status: str  # found | none_found
    complete: bool  # False when an evaluation was skipped for lack of budget (shrinking was cut short)
    n_examined: int
    n_evals: int
    calls: int


def minimal_failure(probe: Probe, space: Space, problem: Any, text: Outcome | None, prop: Property, *, seed: int,
                    max_examples: int, cap: int | None) -> Minimal:
    """Hypothesis ``find`` over :func:`restplus.search.strategies.perturbations` for a point where ``prop``
    fails, shrunk toward the reference (generate + shrink phases, no example database, random
    stream seeded by ``derive_seed(seed, problem_id, "minimal")``).

    Budget: an evaluation the budget cannot pay for counts as "not failing", so Hypothesis never
    sees an unverified failure; the result is the smallest *verified* failing point, and
    ``complete`` says whether any evaluation was skipped.
    """
    from hypothesis import HealthCheck, Phase, Verbosity, find, settings
    from hypothesis.errors import NoSuchExample

    from .strategies import perturbations

    n_log, c0 = len(probe.log), probe.calls
    tally = {"examined": 0, "skipped": 0}
    raised: list[BaseException] = []

    def fails(point: dict[str, Any]) -> bool:
        # An exception inside find() would be "shrunk" like a failure, costing more model calls before
        # it surfaces; so the first one stops all evaluation and is re-raised after find() returns.
        if raised:
            return False
        tally["examined"] += 1
        try:
            o = probe.run([(problem, point, None, "minimal")], cap=cap)[0]
            if o is None:
                tally["skipped"] += 1
                return False
            return holds(prop, o, text) is False
        except Exception as exc:  # re-raised below, unchanged
            raised.append(exc)
            return False

    conf = settings(database=None, max_examples=max_examples, phases=(Phase.generate, Phase.shrink), deadline=None,
                    suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet)
    rnd = random.Random(derive_seed(seed, problem.problem_id, "minimal"))
    try:
        point = find(perturbations(space), fails, settings=conf, random=rnd)
    except NoSuchExample:
        point = None
    if raised:
        raise raised[0]
    outcome = probe.run([(problem, point, None, "minimal")])[0] if point is not None else None
    n_evals = sum(1 for o in probe.log[n_log:] if o.problem_id == problem.problem_id)
    return Minimal(outcome, "found" if outcome is not None else "none_found", tally["skipped"] == 0,
                   tally["examined"], n_evals, probe.calls - c0)
