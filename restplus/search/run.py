"""Search mode: where exactly does a model break, and what is the simplest perturbation that does it?

``rp.search(problems, space, model, property="consistency", budget=200, seed=0, out=...)`` runs,
for every problem:

1. the text answer (for properties that need it) and the reference point — one runner call;
2. for each ordered axis, a **bisection** toward each end of its range with the other axes at
   reference (:mod:`restplus.search.steps`), all problems in lockstep: the last value where the
   property holds and the first where it fails, within the axis tolerance;
3. a Hypothesis ``find`` (generate + shrink, no example database, seeded) for the **minimal
   failing perturbation**, shrunk toward the reference: unimportant factors go back to reference.
   If its ``max_examples`` draws meet no failure but bisection did, the failing bisection endpoint
   nearest its reference is reported instead (``source="bisection"``).

Every evaluation goes through the cached runner (:class:`restplus.search.probe.Probe`), so
re-running a search in the same folder makes no model call. ``budget`` bounds the *real* model
calls of one invocation (cache hits are free) and is never exceeded: an evaluation that does not
fit is skipped and the search reports ``budget_exhausted``; running again in the same folder
continues where it stopped. Bisection runs first; the minimal search then shares what remains,
each problem getting an equal share of the rest. An image or mixed evaluation costs two calls
(solve + the OCR request the runner always sends), a text answer one.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ProblemError, SpecError
from ..hashing import canonical_json
from ..problems.base import Problem
from ..problems.extract import canonical_answer
from .probe import Outcome, Probe
from .report import MINIMAL_COLUMNS, THRESHOLD_COLUMNS, describe_result, frame, safe_name, save_png, sheet, write_tables
from .space import Space, load_space
from .steps import bisect_axis, directions, holds, minimal_failure, resolve_property, value_at

__all__ = ["search", "SearchResult"]

RESERVED = set(MINIMAL_COLUMNS) | set(THRESHOLD_COLUMNS) | set(Outcome.__dataclass_fields__) | {"holds"}


@dataclass(frozen=True, slots=True)
class SearchResult:
    """What :func:`search` returns (everything is also written to ``out``).

    minimal      polars DataFrame, one row per problem (columns: see :func:`search`)
    thresholds   one row per problem x ordered axis x direction
    evaluations  every distinct evaluation made or reused
    summary      the search.json record (config, counts, status)
    """

    out: Path
    minimal: Any
    thresholds: Any
    evaluations: Any
    summary: dict[str, Any] = field(repr=False)

    @property
    def calls(self) -> int:
        return int(self.summary["counts"]["calls"])

    @property
    def status(self) -> str:
        return str(self.summary["status"])

    def __str__(self) -> str:
        return describe_result(self.summary, self.minimal, self.thresholds)


def search(problems: Iterable[Any], space: Space | str | Path, model: Any, *, out: str | Path,
           property: Any = "consistency", budget: int = 200, seed: int = 0, max_examples: int = 20,
           thresholds: bool = True, minimal: bool = True, axes: Iterable[str] | None = None, prompts: Any = None,
           decoding: Any = None, gate_threshold: float = 0.0, normalization: Any = None,
           sheets: bool = True, progress: bool = True) -> SearchResult:
    """Search ``space`` for where ``model`` stops behaving as at the reference.

    problems      Problems (e.g. ``builtin_set("soe", n=3)``)
    space         a :class:`~restplus.search.space.Space` or a space spec file
    model         a ModelAdapter or a registered adapter name ("reader")
    property      "consistency" (image answer == text answer), "correctness", "ocr_pass" (the
                  model's own OCR passes the gate at ``gate_threshold``), or ``fn(outcome, text) -> bool``
    budget        most real model calls in this invocation (cache hits are free)
    max_examples  Hypothesis examples per problem for the minimal search (shrinking comes on top)
    axes          ordered axes to bisect (default: all ordered axes)
    thresholds, minimal  run the bisection / the minimal-failure search (both by default)
    sheets        also write renders (PNG) and contact sheets
    progress      a bar over the model-call budget, with the current phase (start, bisection, minimal)
    prompts, decoding, gate_threshold, normalization   as for :func:`restplus.runner.evaluation.evaluate`

    Tables (polars; also ``out/*.parquet``):

    ``minimal`` — problem_id, property, status (found | none_found | fails_at_reference |
    no_text_answer | error | budget_exhausted | not_run), source (hypothesis: found and shrunk by
    Hypothesis; bisection: Hypothesis drew no failure, so the failing bisection endpoint nearest its
    reference, a one-factor change; reference: fails unperturbed), complete (no evaluation was
    skipped for budget during shrinking), n_changed, changed (axes off reference), answer (the
    model's answer at the point), expected (text answer for consistency, else gold), gold,
    contrast_ratio (rendered), levels (JSON grid levels), png (render, relative to out), n_examined
    (points Hypothesis tried), n_evals (new evaluations), calls, then one column per axis with the
    point's value.

    ``thresholds`` — problem_id, property, factor, kind, mode, direction (down | up), status
    (found | holds_across_range | error | budget_exhausted), reference, last_pass (last value that
    holds), first_fail (first that fails; null when none), last_pass_level / first_fail_level (grid
    level, e.g. the colour of a contrast), last_pass_contrast / first_fail_contrast (rendered WCAG
    contrast), tolerance, n_evals, calls, png_last_pass, png_first_fail.

    ``evaluations`` — the fields of :class:`~restplus.search.probe.Outcome` (problem_id, modality,
    cell_id, variant_id, answer, gold, correct, gate_passed, ocr_cer, ocr_text, response,
    contrast_ratio, image_width_px, image_height_px, calls, from_cache, error, phase), point and
    levels (JSON), holds (the property; null for text rows and errors), one column per axis.
    """
    if isinstance(space, (str, Path)):
        space = load_space(space)
    if not isinstance(space, Space):
        raise SpecError(f"space must be a restplus Space or a space spec file, got {type(space).__name__}.")
    clash = sorted(set(space.names) & RESERVED)
    if clash:
        raise SpecError(f"axis name(s) {clash} clash with search table columns; rename them (e.g. with kind: ...).")
    pname, prop, needs_text = resolve_property(property)
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 0:
        raise SpecError(f"budget={budget!r} must be a non-negative number of model calls.")
    if isinstance(max_examples, bool) or not isinstance(max_examples, int) or max_examples < 1:
        raise SpecError(f"max_examples={max_examples!r} must be a positive int.")
    probs = list(problems)
    bad = [p for p in probs if not isinstance(p, Problem)]
    if bad:
        raise ProblemError(f"search() takes restplus Problems (e.g. builtin_set('soe', n=3)), got "
                           f"{type(bad[0]).__name__}: {bad[0]!r:.80}.")
    probs = list({p.problem_id: p for p in probs}.values())  # each problem once
    if not probs:
        raise ProblemError("search() got no problems; pass e.g. builtin_set('soe', n=3).")
    bisect_axes = _bisect_axes(space, axes)
    out = Path(out)
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    probe = Probe(space, model, out=out, seed=seed, budget=budget, prompts=prompts, decoding=decoding,
                  gate_threshold=gate_threshold, normalization=normalization)
    from tqdm.auto import tqdm

    probe.bar = tqdm(total=budget, unit="call", desc=f"search {out.name}", disable=not progress, dynamic_ncols=True)
    try:
        states = _start(probe, probs, prop, needs_text)
        active = [s for s in states if s["status"] == "ok"]
        fails: dict[str, list[tuple[float, Outcome]]] = {}
        trows = _thresholds(probe, space, active, bisect_axes, prop, pname, out, sheets, fails) if thresholds else []
        mrows = []
        for i, s in enumerate(states):
            share = None
            if s["status"] == "ok" and minimal:
                left = len([t for t in states[i:] if t["status"] == "ok"])
                share = probe.calls + max(budget - probe.calls, 0) // left
            mrows.append(_minimal(probe, space, s, prop, pname, seed=seed, max_examples=max_examples, cap=share,
                                  run=minimal, out=out, sheets=sheets, fallback=fails.get(s["problem"].problem_id, [])))
        evaluations = _evaluations(probe, states, prop, space)
        summary = {
            "search_version": 1, "out": str(out), "property": pname, "seed": seed, "budget": budget,
            "max_examples": max_examples, "status": "budget_exhausted" if probe.exhausted else "complete",
            "model": {"name": str(getattr(probe.model, "name", type(probe.model).__name__)),
                      "fingerprint": probe.fp},
            "space": space.to_dict(), "problems": [p.problem_id for p in probs], "bisected": bisect_axes,
            "counts": {"calls": probe.calls, "evaluations": len(probe.log), "cache_hits": probe.cache_hits},
            "started": started, "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
        result = SearchResult(out, frame(mrows, MINIMAL_COLUMNS, space.names),
                              frame(trows, THRESHOLD_COLUMNS), evaluations, summary)
        write_tables(out, result.evaluations, result.minimal, result.thresholds, summary)
        return result
    finally:
        probe.bar.close()
        probe.close()


def _bisect_axes(space: Space, axes: Iterable[str] | None) -> list[str]:
    if axes is None:
        return [a.name for a in space.axes if a.ordered]
    names = list(axes)
    for n in names:
        if not space.axis(n).ordered:  # space.axis raises with did-you-mean for unknown names
            raise SpecError(f"axis {n!r} is not ordered (a {space.axis(n).mode} axis of kind "
                            f"{space.axis(n).kind!r}); bisection needs a numeric range or ordered levels.")
    return names


def _start(probe: Probe, probs: list[Any], prop: Any, needs_text: bool) -> list[dict[str, Any]]:
    """Text answers and reference outcomes in one batch; the state (status) of every problem."""
    items = [(p, None, "text", "text") for p in probs] if needs_text else []
    items += [(p, None, None, "reference") for p in probs]
    outs = probe.run(items)
    texts = outs[:len(probs)] if needs_text else [None] * len(probs)
    refs = outs[len(probs):] if needs_text else outs
    states = []
    for p, t, r in zip(probs, texts, refs):
        status = "ok"
        if (needs_text and t is None) or r is None:
            status = "budget_exhausted"
        elif needs_text and (t.error is not None or t.answer is None):
            status = "no_text_answer" if t.error is None else "error"
        else:
            h = holds(prop, r, t)
            status = "error" if h is None else "ok" if h else "fails_at_reference"
        states.append({"problem": p, "text": t, "reference": r, "status": status})
    return states


def _thresholds(probe: Probe, space: Space, active: list[dict[str, Any]], names: list[str], prop: Any, pname: str,
                out: Path, sheets: bool, fails: dict[str, list[tuple[float, Outcome]]]) -> list[dict[str, Any]]:
    """Bisect every axis in ``names``; rows for the thresholds table. ``fails`` collects, per problem,
    each failing bisection endpoint with its distance from reference as a fraction of the way to the
    end (the fallback minimal failure when Hypothesis draws none)."""
    rows: list[dict[str, Any]] = []
    if not active:
        return rows
    for name in names:
        axis = space.axis(name)
        for direction, ref_pos, end in directions(axis):
            starts = [(s["problem"], s["text"], s["reference"]) for s in active]
            for t in bisect_axis(probe, space, axis, direction, ref_pos, end, starts, prop):
                pid = t.problem.problem_id
                if t.first_fail is not None:
                    fails.setdefault(pid, []).append((abs(t.bad - ref_pos) / abs(end - ref_pos), t.first_fail))
                stem = f"renders/{safe_name(pid)}/{safe_name(name)}-{direction}"
                lp = value_at(axis, t.good) if t.last_pass is not None else None
                ff = value_at(axis, t.bad) if t.bad is not None else None
                rows.append({
                    "problem_id": pid, "property": pname, "factor": name, "kind": axis.kind, "mode": axis.mode,
                    "direction": direction, "status": t.status, "reference": _num(axis.reference),
                    "last_pass": _num(lp), "first_fail": _num(ff),
                    "last_pass_level": _level(t.last_pass, space.factor_of(name)),
                    "first_fail_level": _level(t.first_fail, space.factor_of(name)),
                    "last_pass_contrast": getattr(t.last_pass, "contrast_ratio", None),
                    "first_fail_contrast": getattr(t.first_fail, "contrast_ratio", None),
                    "tolerance": axis.step, "n_evals": t.n_evals, "calls": t.calls,
                    "png_last_pass": save_png(out, t.last_pass, f"{stem}-last_pass.png") if sheets else None,
                    "png_first_fail": save_png(out, t.first_fail, f"{stem}-first_fail.png") if sheets else None})
                if sheets and len(t.trail) > 0:
                    title = (f"{pid}: {name} {direction} from {axis.reference} — " +
                             (f"holds at {lp}, fails at {ff}" if ff is not None else t.status))
                    trail = sorted([t0 for t0 in [t.last_pass, *t.trail] if t0 is not None],
                                   key=lambda o: dict(o.point)[name])
                    sheet(out, f"contact/{safe_name(pid)}-{safe_name(name)}-{direction}.png", trail, title,
                          columns=space.factor_of(name))
    return rows


def _num(v: Any) -> float | None:
    return None if v is None or isinstance(v, str) else float(v)


def _level(o: Outcome | None, factor_name: str) -> str | None:
    return None if o is None else str(dict(o.levels)[factor_name])


def _minimal(probe: Probe, space: Space, s: dict[str, Any], prop: Any, pname: str, *, seed: int, max_examples: int,
             cap: int | None, run: bool, out: Path, sheets: bool,
             fallback: list[tuple[float, Outcome]]) -> dict[str, Any]:
    p, text = s["problem"], s["text"]
    pid = p.problem_id
    row: dict[str, Any] = {"problem_id": pid, "property": pname, "status": s["status"], "complete": True,
                           "changed": [], "n_changed": 0, "n_examined": 0, "n_evals": 0, "calls": 0,
                           "gold": canonical_answer(p.answer_type, p.answer, p.choices)}
    expected = text.answer if text is not None else row["gold"]
    row["expected"] = expected
    found: Outcome | None = s["reference"] if s["status"] == "fails_at_reference" else None
    row["source"] = "reference" if found is not None else None
    if s["status"] == "ok":
        if not run:
            row["status"] = "not_run"
        else:
            m = minimal_failure(probe, space, p, text, prop, seed=seed, max_examples=max_examples, cap=cap)
            row.update(status=m.status, complete=m.complete, n_examined=m.n_examined, n_evals=m.n_evals,
                       calls=m.calls, source="hypothesis" if m.outcome is not None else None)
            found = m.outcome
            if found is None and fallback:
                # Hypothesis drew no failure, but bisection met some: the one nearest its reference
                # (as a fraction of the way to the range end) changes a single factor.
                found = min(fallback, key=lambda df: df[0])[1]
                row.update(status="found", source="bisection")
            elif m.status == "none_found" and not m.complete:
                row["status"] = "budget_exhausted"
    if found is not None:
        point = dict(found.point)
        changed = space.changed(point)
        row.update(point, changed=changed, n_changed=len(changed), answer=found.answer,
                   contrast_ratio=found.contrast_ratio, levels=canonical_json(dict(found.levels)))
        if sheets:
            row["png"] = save_png(out, found, f"renders/{safe_name(pid)}/minimal.png")
            save_png(out, s["reference"], f"renders/{safe_name(pid)}/reference.png")
            title = f"{pid}: minimal failing perturbation — " + (", ".join(f"{a}={point[a]}" for a in changed)
                                                                  or "already fails at reference")
            sheet(out, f"contact/{safe_name(pid)}-minimal.png", [s["reference"], found], title)
    return row


def _evaluations(probe: Probe, states: list[dict[str, Any]], prop: Any, space: Space) -> Any:
    texts = {s["problem"].problem_id: s["text"] for s in states}
    rows = []
    for o in probe.log:
        r = o.record()
        r["holds"] = None if o.modality == "text" else holds(prop, o, texts.get(o.problem_id))
        r.update(dict(o.point) if o.modality != "text" else {})
        rows.append(r)
    cols = [*Outcome.__dataclass_fields__, "holds"]
    cols = [c for c in cols if c != "variant"]
    return frame(rows, cols, space.names)
