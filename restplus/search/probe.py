"""Probe: evaluate one problem at points of a space through the cached runner, within a call budget.

Every evaluation realises the point's one-cell grid (:meth:`restplus.search.space.Space.grid`) and runs
:func:`restplus.runner.evaluation.evaluate` on the variants with one shared response cache
(``out/cache.sqlite``), so a repeated point, or a whole repeated search, costs no model call.
Before calling the runner the probe builds the variant's requests (:func:`restplus.runner.prompts.build_requests`,
exactly as the runner does) and counts those absent from the cache: an evaluation that would take
the calls past the budget is not made (it comes back as ``None``), so the budget is never exceeded.
The runner's ``max_requests`` is passed as well, as a second guard.

The runner writes its table for the latest batch to ``out/runner/`` (restarted each time); the
record of every evaluation is :attr:`Probe.log` (``rp.search`` writes it as ``evaluations.parquet``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import BudgetExceeded, ModelError, RenderError, SpecError
from ..grammar.grid import variant_seed
from ..hashing import canonical_json
from ..runner.cache import ResponseCache
from ..runner.prompts import as_prompts, build_requests, decoding_for
from .space import Space

__all__ = ["Outcome", "Probe"]

RUNNER_DIR = "runner"
CACHE_FILE = "cache.sqlite"


@dataclass(frozen=True, slots=True)
class Outcome:
    """The model's behaviour on one problem at one point (the solve row of the long table).

    point        space coordinates (every axis; contrast axes hold the ratio)
    levels       grid levels rendered (contrast resolved to a colour, derived layout presets)
    modality     "image" / "mixed", or "text" for the text answer
    answer       extracted canonical answer, None when unparsed; correct: answer == gold
    gate_passed  the model's own transcription passed the OCR gate (None for text)
    calls        model calls this evaluation cost (0 when every request was cached)
    error        adapter error (solve or OCR request) or render error; None when fine
    phase        which step asked for it first: text, reference, bisect, minimal, user
    variant      the realised Variant (None after a render error)
    """

    problem_id: str
    point: tuple[tuple[str, Any], ...]
    levels: tuple[tuple[str, Any], ...]
    modality: str
    cell_id: str
    variant_id: str | None
    answer: str | None
    gold: str | None
    correct: bool | None
    gate_passed: bool | None
    ocr_cer: float | None
    ocr_text: str | None
    response: str | None
    contrast_ratio: float | None
    image_width_px: int | None
    image_height_px: int | None
    calls: int
    from_cache: bool
    error: str | None
    phase: str
    variant: Any = field(default=None, repr=False, compare=False)

    def record(self) -> dict[str, Any]:
        """A flat dict for the evaluations table (point and levels also as JSON)."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("point", "levels", "variant")}
        return {**d, "point": canonical_json(dict(self.point)), "levels": canonical_json(dict(self.levels))}


class Probe:
    """Evaluate problems at points of ``space`` with ``model``, cached under ``out``.

    budget   most model calls this probe may make (cache hits are free); None = unlimited
    seed     run seed: variant seeds are ``variant_seed(seed, problem_id, cell)``
    prompts, decoding, gate_threshold, normalization   passed to :func:`restplus.runner.evaluation.evaluate`
    """

    def __init__(self, space: Space, model: Any, *, out: str | Path, seed: int = 0, budget: int | None = None,
                 prompts: Any = None, decoding: Any = None, gate_threshold: float = 0.0,
                 normalization: Any = None) -> None:
        if not isinstance(space, Space):
            raise SpecError(f"Probe needs a restplus Space (rp.load_space(...)), got {type(space).__name__}.")
        self._own_model = isinstance(model, str)  # loaded here, so closed here
        if isinstance(model, str):
            from .. import models

            model = models.load(model)
        if not callable(getattr(model, "fingerprint", None)):
            raise ModelError(f"model must be a ModelAdapter or a registered adapter name, got {model!r}.")
        if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget < 0):
            raise SpecError(f"budget={budget!r} must be a non-negative number of model calls (or None).")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise SpecError(f"seed={seed!r} must be an integer.")
        self.space, self.model, self.seed, self.budget = space, model, seed, budget
        self.out = Path(out)
        self.cache = ResponseCache(self.out / CACHE_FILE)
        self.prompts, self.decoding = as_prompts(prompts), decoding
        self.gate_threshold, self.normalization = gate_threshold, normalization
        self.fp = model.fingerprint()
        self.calls = 0  # real model calls made by this probe
        self.cache_hits = 0
        self.exhausted = False  # an evaluation was skipped for lack of budget
        self.log: list[Outcome] = []  # distinct evaluations, in order
        self.bar: Any = None  # a progress bar over model calls (search() sets one), updated per batch
        self._memo: dict[tuple[str, str], Outcome] = {}

    # ------------------------------------------------------------------ public, one at a time
    def outcome(self, problem: Any, point: Mapping[str, Any] | None = None, *, phase: str = "user") -> Outcome:
        """The outcome at ``point`` (missing axes at reference). Raises BudgetExceeded when the
        evaluation would need more calls than the budget leaves."""
        got = self.run([(problem, point, None, phase)])[0]
        if got is None:
            raise BudgetExceeded(f"evaluating problem {problem.problem_id!r} at {dict(point or {})} needs model calls "
                                 f"beyond the budget ({self.calls} of {self.budget} used); raise budget= or reuse "
                                 "a folder whose cache already holds the answers.")
        return got

    def text(self, problem: Any) -> Outcome:
        """The outcome of the text modality (same factors, no image): the answer to compare against."""
        got = self.run([(problem, None, "text", "text")])[0]
        if got is None:
            raise BudgetExceeded(f"the text answer of problem {problem.problem_id!r} needs a model call beyond the "
                                 f"budget ({self.calls} of {self.budget} used).")
        return got

    # ------------------------------------------------------------------ batches
    def run(self, items: Sequence[tuple[Any, Mapping[str, Any] | None, str | None, str]],
            cap: int | None = None) -> list[Outcome | None]:
        """Outcomes for ``(problem, point, modality or None, phase)`` items, in one runner call.

        ``cap`` lowers the budget for this batch (total calls of the probe). An item whose
        uncached requests do not fit is skipped (``None``) and sets :attr:`exhausted`.
        """
        from ..variants.realization import realize

        limit = self.budget if cap is None else (cap if self.budget is None else min(cap, self.budget))
        results: list[Outcome | None] = [None] * len(items)
        todo: dict[tuple[str, str], dict[str, Any]] = {}
        claimed: set[str] = set()
        for i, (problem, point, modality, phase) in enumerate(items):
            mod = modality or self.space.modality
            pt = self.space.complete(None if mod == "text" else point)
            grid = self.space.grid(pt, modality=mod)
            cell = grid.cells()[0]
            key = (problem.problem_id, cell.cell_id)
            if key in self._memo:
                results[i] = self._memo[key]
                continue
            if key in todo:
                todo[key]["slots"].append(i)
                continue
            levels = tuple((f.name, f.levels[0]) for f in grid.visual_factors)
            base = dict(problem=problem, point=tuple(pt.items()), levels=levels, modality=mod, cell=cell,
                        phase=phase, slots=[i], grid=grid)
            try:
                variant = realize(problem, grid, cell, variant_seed(self.seed, problem.problem_id, cell))
            except RenderError as exc:  # recorded, not raised: a point that cannot render is no answer
                results[i] = self._store(key, self._outcome(base, None, None, None, 0, error=f"render: {exc}"))
                continue
            dec = decoding_for(variant.task, self.decoding)
            keys = [r.key(self.fp) for r in build_requests(variant, self.prompts, dec).values()]
            need = [k for k in dict.fromkeys(keys) if k not in claimed and k not in self.cache]
            planned = len(claimed)
            if limit is not None and self.calls + planned + len(need) > limit:
                self.exhausted = True
                continue
            claimed.update(need)
            todo[key] = {**base, "variant": variant, "need": len(need)}
        if todo:
            self._evaluate(todo, results, limit)
        return results

    def _evaluate(self, todo: dict[tuple[str, str], dict[str, Any]], results: list[Outcome | None],
                  limit: int | None) -> None:
        from ..runner.evaluation import evaluate

        variants = [t["variant"] for t in todo.values()]
        problems = list({t["problem"].problem_id: t["problem"] for t in todo.values()}.values())
        res = evaluate(variants, self.model, out=self.out / RUNNER_DIR, problems=problems, cache=self.cache,
                       prompts=self.prompts, decoding=self.decoding, gate_threshold=self.gate_threshold,
                       normalization=self.normalization, progress=False, resume=False,
                       max_requests=None if limit is None else max(limit - self.calls, 0))
        counts = res.counts
        new_calls = int(counts["calls"]) + int(counts.get("ext_calls", 0))
        self.calls += new_calls
        self.cache_hits += int(counts["cache_hits"])
        if self.bar is not None:
            self.bar.update(new_calls)
            self.bar.set_postfix(phase=next(iter(todo.values()))["phase"], evals=len(self.log) + len(todo),
                                 hits=self.cache_hits, refresh=False)
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for r in res.table.iter_rows(named=True):
            rows[(r["variant_id"], r["prompt_type"])] = r
        for key, t in todo.items():
            v = t["variant"]
            solve, ocr = rows.get((v.variant_id, "solve")), rows.get((v.variant_id, "ocr"))
            if solve is None or (v.images and ocr is None):  # pending: the runner's guard stopped it
                self.exhausted = True
                continue
            err = solve["error"] or (ocr or {}).get("error")
            out = self._outcome(t, v, solve, ocr, t["need"], error=err)
            self._store(key, out)
            for i in t["slots"]:
                results[i] = out

    def _outcome(self, t: dict[str, Any], variant: Any, solve: dict[str, Any] | None, ocr: dict[str, Any] | None,
                 calls: int, error: str | None) -> Outcome:
        s = solve or {}
        return Outcome(
            problem_id=t["problem"].problem_id, point=t["point"], levels=t["levels"], modality=t["modality"],
            cell_id=t["cell"].cell_id, variant_id=None if variant is None else variant.variant_id,
            answer=s.get("answer"), gold=s.get("gold"), correct=s.get("correct"), gate_passed=s.get("gate_passed"),
            ocr_cer=s.get("ocr_cer"), ocr_text=s.get("ocr_text"), response=s.get("response"),
            contrast_ratio=s.get("contrast_ratio"), image_width_px=s.get("image_width_px"),
            image_height_px=s.get("image_height_px"), calls=calls,
            from_cache=bool(solve is not None and calls == 0), error=error, phase=t["phase"], variant=variant)

    def _store(self, key: tuple[str, str], out: Outcome) -> Outcome:
        self._memo[key] = out
        self.log.append(out)
        return out

    def records(self) -> list[dict[str, Any]]:
        return [o.record() for o in self.log]

    def close(self) -> None:
        """Close the cache (and the model, when the probe loaded it by name). Safe to call twice."""
        self.cache.close()
        if self._own_model:
            self.model.close()

    def __enter__(self) -> "Probe":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"Probe(space={self.space.name!r}, model={getattr(self.model, 'name', '?')!r}, out={str(self.out)!r}, "
                f"calls={self.calls}, budget={self.budget})")
