"""The runner: variants × a model → the long per-sample table, cached, resumable and gated.

``evaluate(source, model, out=...)`` builds, for each variant, a solve request (the variant's parts
plus the solve prompt) and, for image and mixed variants, an OCR request (the image parts plus the
OCR prompt). Requests are deduplicated by cache key, looked up in the SQLite cache, and the misses
are sent through ``model.iter_generate`` one chunk of variants at a time; every response is committed
to the cache as it arrives, so a crash or ``kill -9`` loses only what was in flight, and an
identical re-run makes no model call at all. Answers are scored with the registered extractors,
transcriptions with the OCR gate (:mod:`restplus.runner.gate`), and the table is written atomically to
``out/results.parquet`` with ``out/manifest.json`` (see :mod:`restplus.runner.manifest`).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import atomic
from ..atomic import folder_lock
from ..errors import BudgetExceeded, ModelError, RunAbortedError, SpecError
from ..hashing import digest
from ..records import Response
from .cache import ResponseCache
from .gate import (
    Normalization,
    apply_gate,
    as_normalization,
    check_policy,
    check_threshold,
    pass_rates,
    transcription_manifest,
)
from .manifest import (
    CACHE,
    MANIFEST,
    PROBLEMS,
    RESULTS,
    ROWS,
    build_manifest,
    check_identity,
    font_checksums,
    make_identity,
    new_run_id,
    problem_ids_digest,
    read_manifest,
    run_label,
)
from .prompts import PromptSet, as_prompts, build_requests, decoding_for
from .rows import RowSpec, gold_of, raw_rows, rescore, score_rows, variant_specs, write_outputs, write_problems

__all__ = ["evaluate", "rescore", "RunResult", "read_manifest", "MAX_CONSECUTIVE_ERRORS"]

# A bad key or a dead server fails every request the same way; stop after this many in a row.
MAX_CONSECUTIVE_ERRORS = 8


@dataclass(frozen=True, slots=True)
class RunResult:
    """What :func:`evaluate` returns.

    table     the long table (polars DataFrame; columns in :mod:`restplus.schema` + factor columns)
    manifest  the run manifest (also in ``out/manifest.json``); ``manifest["counts"]`` has the
              per-stage counts: rows, requests, cache_hits, calls, errors, pending ...
    status    "complete", or "partial" / "interrupted" / "budget_exceeded" / "failed"
    """

    out: Path
    table: Any
    manifest: dict[str, Any] = field(repr=False)
    status: str = "complete"

    @property
    def counts(self) -> dict[str, Any]:
        return dict(self.manifest["counts"])

    def gated(self, policy: str | None = None) -> Any:
        """The table under a gate policy (default: the run's) — see :func:`restplus.runner.gate.apply_gate`."""
        return apply_gate(self.table, policy or self.manifest["gate"]["policy"])

    def pass_rates(self) -> Any:
        return pass_rates(self.table, self.manifest["factors"])


# ------------------------------------------------------------------------------------ inputs
@dataclass
class _Source:
    variants: Iterable[Any]
    grid: Any
    problems: dict[str, Any]  # problem_id -> Problem (empty when unknown)
    total: int | None
    info: dict[str, Any]
    fonts: dict[str, str]


def _resolve_source(source: Any, grid: Any, problems: Any, limit: int | None) -> _Source:
    info: dict[str, Any] = {"kind": type(source).__name__}
    fonts: dict[str, str] = {}
    if isinstance(source, (str, Path)):
        from ..variants.runfolder import load_run

        info["path"] = str(source)
        source = load_run(source)
    # RunFolder (load_run) and VariantSet both carry their grid and problems.
    grid = grid if grid is not None else getattr(source, "grid", None)
    problems = problems if problems is not None else getattr(source, "problems", None)
    man = getattr(source, "manifest", None)
    if isinstance(man, Mapping):
        fonts = {str(k): str(v.get("sha256") if isinstance(v, Mapping) else v)
                 for k, v in (man.get("fonts") or {}).items()}
        info["variants_manifest"] = {k: man[k] for k in ("spec_hash", "seed", "problems_digest") if k in man}
    if callable(getattr(source, "variants", None)):
        variants: Iterable[Any] = source.variants()
    elif isinstance(source, Iterable):
        variants = source
    else:
        raise SpecError(f"evaluate() takes a run folder path, a load_run() result, a VariantSet or an iterable "
                        f"of Variants, got {type(source).__name__}.")
    plist = list(problems) if problems is not None else []
    pmap = {p.problem_id: p for p in plist}
    if not pmap or grid is None:  # identity needs problem ids and cells: materialise the variants
        variants = list(variants)
    if limit is not None:
        order = [p.problem_id for p in plist] or list(dict.fromkeys(v.problem_id for v in variants))  # type: ignore
        keep = set(order[:limit])
        pmap = {k: v for k, v in pmap.items() if k in keep}
        variants = (v for v in variants if v.problem_id in keep) if not isinstance(variants, list) else \
            [v for v in variants if v.problem_id in keep]
    total = len(variants) if isinstance(variants, list) else None
    if total is None and hasattr(source, "__len__") and limit is None:
        total = len(source)
    elif total is None and limit is not None and callable(getattr(source, "iter_rows", None)):
        # a run folder: count the kept problems' rows from one column, so the bar has its total
        total = sum(1 for r in source.iter_rows(columns=["problem_id"]) if r["problem_id"] in keep)
    return _Source(variants, grid, pmap, total, info, fonts)


def _factor_names(grid: Any, variants: Iterable[Any]) -> list[str]:
    if grid is not None:
        return [f.name for f in grid.visual_factors]
    names: dict[str, None] = {}
    for v in variants:
        for k, _ in v.cell.assignment:
            if k != "modality":
                names[k] = None
    return list(names)


def _spec_hash(grid: Any, variants: Any) -> str:
    if grid is not None:
        return grid.spec_hash
    return "cells-" + digest(sorted({v.cell.cell_id for v in variants}), 12)


def _content_digest(problems: Mapping[str, Any]) -> str | None:
    """``problems_digest`` of the problems in id order — the digest of the problems.jsonl this run writes
    (the table does not depend on problem order). None when only variants were given."""
    if not problems:
        return None
    from ..variants.runfolder import problems_digest

    return problems_digest(p for _, p in sorted(problems.items()))


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _chunks(it: Iterable[Any], n: int) -> Iterator[list[Any]]:
    buf: list[Any] = []
    for x in it:
        buf.append(x)
        if len(buf) >= n:
            yield buf
            buf = []
    if buf:
        yield buf


# ------------------------------------------------------------------------------------ the run
class _Run:
    """State of one evaluate() call: responses by key, counters, the progress bar."""

    def __init__(self, model: Any, external: Any, cache: ResponseCache, prompts: PromptSet, decoding: Any,
                 factors: list[str], problems: dict[str, Any], max_requests: int | None, bar: Any,
                 max_consecutive_errors: int | None = None) -> None:
        self.model, self.external, self.cache, self.prompts, self.decoding = model, external, cache, prompts, decoding
        self.fp = model.fingerprint()
        self.ext_fp = external.fingerprint() if external is not None else None
        self.factors, self.problems, self.max_requests, self.bar = factors, problems, max_requests, bar
        self.responses: dict[str, tuple[Response, bool]] = {}
        self.specs: list[RowSpec] = []
        self.provenances: list[dict[str, Any]] = []
        self.seen: set[str] = set()
        self.golds: dict[tuple[str, str, tuple[str, ...]], str] = {}
        # Counts per stage (manifest["counts"]): requests counts every row's request, duplicates the
        # ones whose key was already known (sent once), skipped the ones max_requests left unsent.
        self.n = dict(variants=0, duplicate_variants=0, requests=0, duplicates=0, cache_hits=0, calls=0, errors=0,
                      skipped=0, tokens_in=0, tokens_out=0, ext_requests=0, ext_calls=0, ext_errors=0)
        self.decodings: dict[str, dict[str, Any]] = {}
        self.max_streak = max_consecutive_errors
        self.streak: tuple[str | None, int] = (None, 0)  # (error kind, how many in a row)
        self.error_kinds: dict[str, int] = {}
        self.first_error: str | None = None

    def _postfix(self) -> None:
        self.bar.set_postfix(hits=self.n["cache_hits"], calls=self.n["calls"] + self.n["ext_calls"],
                             fail=self.n["errors"] + self.n["ext_errors"],
                             tok=self.n["tokens_in"] + self.n["tokens_out"], refresh=False)

    def chunk(self, variants: list[Any]) -> None:
        wanted: dict[str, tuple[str, Any]] = {}  # key -> (adapter role, request), first occurrence
        waiting: dict[str, list[str]] = {}  # key -> variant ids waiting for it
        left: dict[str, int] = {}
        for v in variants:
            if v.variant_id in self.seen:  # the same variant twice in the input: one set of rows
                self.n["duplicate_variants"] += 1
                continue
            self.seen.add(v.variant_id)
            self.n["variants"] += 1
            dec = decoding_for(v.task, self.decoding)
            self.decodings.setdefault(v.task, dec.to_dict())
            reqs = build_requests(v, self.prompts, dec)
            keys = {pt: r.key(self.fp) for pt, r in reqs.items()}
            todo = [(keys[pt], "main", r) for pt, r in reqs.items()]
            ext_key = None
            if self.external is not None and "ocr" in reqs:
                ext_key = reqs["ocr"].key(self.ext_fp)
                todo.append((ext_key, "ext", reqs["ocr"]))
            self._add_specs(v, keys, ext_key)
            for k, role, r in todo:
                self.n["ext_requests" if role == "ext" else "requests"] += 1
                if k in self.responses or k in wanted:
                    self.n["duplicates"] += 1
                    if k in wanted:
                        waiting[k].append(v.variant_id)
                        left[v.variant_id] = left.get(v.variant_id, 0) + 1
                    continue
                wanted[k] = (role, r)
                waiting[k] = [v.variant_id]
                left[v.variant_id] = left.get(v.variant_id, 0) + 1
            self.provenances.extend(dict(img.provenance) for img in v.images)
        done_now = len(variants) - len(left)  # variants whose every answer is already known
        for k, resp in self.cache.get_many(list(wanted)).items():
            self.responses[k] = (resp, True)
            self.n["cache_hits"] += 1
            done_now += self._resolve(k, waiting, left)
        self.bar.update(done_now)
        for role, adapter in (("main", self.model), ("ext", self.external)):
            keys = [k for k, (r, _) in wanted.items() if r == role and k not in self.responses]
            if not keys:
                continue
            if self.max_requests is not None:
                room = max(self.max_requests - self.n["calls"] - self.n["ext_calls"], 0)
                self.n["skipped"] += max(len(keys) - room, 0)
                keys = keys[:room]
            if keys:
                self._send(role, adapter, keys, [wanted[k][1] for k in keys], waiting, left)
        self._postfix()

    def _resolve(self, key: str, waiting: dict[str, list[str]], left: dict[str, int]) -> int:
        finished = 0
        for vid in waiting.get(key, ()):
            left[vid] -= 1
            finished += left[vid] == 0
        return finished

    def _send(self, role: str, adapter: Any, keys: list[str], requests: list[Any], waiting: dict[str, list[str]],
              left: dict[str, int]) -> None:
        ext = "ext_" if role == "ext" else ""
        for i, resp in adapter.iter_generate(requests):
            k = keys[i]
            self.cache.put(k, resp)  # committed now; error responses are not cached (retried next run)
            self.responses[k] = (resp, False)
            self.n[f"{ext}calls"] += 1
            if resp.error is not None:
                self.n[f"{ext}errors"] += 1
                self._failed(resp)
            else:
                self.streak = (None, 0)
            self.n["tokens_in"] += resp.tokens_in or 0
            self.n["tokens_out"] += resp.tokens_out or 0
            self.bar.update(self._resolve(k, waiting, left))
            self._postfix()

    def _failed(self, resp: Response) -> None:
        kind = resp.error_kind or "error"
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1
        self.first_error = self.first_error or resp.error
        n = self.streak[1] + 1 if self.streak[0] == kind else 1
        self.streak = (kind, n)
        if self.max_streak is not None and n >= self.max_streak:
            raise RunAbortedError(
                f"stopped after {n} requests in a row failed the same way ({kind}): {resp.error}. Every request "
                "would fail like this (check the API key, --base-url and that the server is up), then re-run: "
                "answered requests are kept. To record such failures and go on instead, raise "
                "max_consecutive_errors (--max-consecutive-errors).")

    def _add_specs(self, v: Any, keys: dict[str, str], ext_key: str | None) -> None:
        prob = self.problems.get(v.problem_id)
        if prob is None and self.problems:
            raise SpecError(f"variant {v.variant_id} belongs to problem {v.problem_id!r}, which is not among the "
                            f"{len(self.problems)} problems given; pass the problems the variants were made from.")
        self.specs.extend(variant_specs(v, self.factors, gold_of(v, prob, self.golds), keys, ext_key))


def evaluate(source: Any, model: Any, *, out: str | Path, grid: Any = None, problems: Any = None,
             prompts: PromptSet | Mapping[str, Any] | None = None, gate_threshold: float = 0.0,
             normalization: Normalization | Mapping[str, Any] | None = None, gate_policy: str = "exclude",
             decoding: Any = None, cache: ResponseCache | str | Path | None = None, progress: bool = True,
             max_requests: int | None = None, external_gate: Any = None, model_name: str | None = None,
             resume: bool = True, limit: int | None = None, chunk_size: int = 16,
             max_consecutive_errors: int | None = MAX_CONSECUTIVE_ERRORS,
             run_name: str | None = None) -> RunResult:
    """Evaluate ``model`` on every variant of ``source`` and write the long table to ``out``.

    source         run folder path, ``load_run()`` result, ``VariantSet``, or an iterable of Variants
                   (then pass ``grid`` for factor names/spec hash, ``problems`` for choice letters)
    model          a ModelAdapter (``restplus.models.load(...)``)
    prompts        PromptSet or dict of overrides (see :mod:`restplus.runner.prompts`); decoding: see
                   :func:`restplus.runner.prompts.decoding_for`
    gate_threshold, normalization, gate_policy  the OCR gate (:mod:`restplus.runner.gate`); recorded
    cache          ResponseCache or path; default ``out/cache.sqlite``
    max_requests   cap on model calls in this run (the rest stay pending; re-run to continue)
    external_gate  another adapter (e.g. the reader) whose OCR is recorded as ext_ocr_cer/ext_gate_passed
    resume         False: start the folder over (its results are replaced; the content-addressed cache
                   is kept, so unchanged requests are still free)
    limit          only the first ``limit`` problems
    chunk_size     variants per model batch: a crash loses at most one chunk of in-flight calls
    run_name       the run's label (``run`` column, ``manifest["run_name"]``); default the folder name

    max_consecutive_errors  stop the run (RunAbortedError, status "failed") once this many requests in a
                   row failed with the same kind of error — a bad key or a dead server fails every request,
                   and retrying them all would take hours; None never stops
    The folder is locked while the run writes it: a second evaluate into ``out`` raises
    FolderLockedError at once.

    Returns a :class:`RunResult`; its status is "partial" when some requests failed or were left
    unsent (failed requests are not cached: a re-run retries them). KeyboardInterrupt,
    BudgetExceeded and RunAbortedError write the partial table and manifest (everything answered is
    kept) and are re-raised.
    """
    threshold, policy = check_threshold(gate_threshold), check_policy(gate_policy)
    norm, pset = as_normalization(normalization), as_prompts(prompts)
    if max_requests is not None and (not isinstance(max_requests, int) or max_requests < 0):
        raise SpecError(f"max_requests={max_requests!r} must be a non-negative int or None.")
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise SpecError(f"chunk_size={chunk_size!r} must be a positive int.")
    if max_consecutive_errors is not None and (not isinstance(max_consecutive_errors, int)
                                               or isinstance(max_consecutive_errors, bool)
                                               or max_consecutive_errors < 1):
        raise SpecError(f"max_consecutive_errors={max_consecutive_errors!r} must be a positive int, or None to "
                        "never stop early.")
    if not callable(getattr(model, "iter_generate", None)) or not callable(getattr(model, "fingerprint", None)):
        raise ModelError(f"model must be a restplus ModelAdapter (restplus.models.load(...)), got {model!r}.")
    out = Path(out)
    src = _resolve_source(source, grid, problems, limit)
    factors = _factor_names(src.grid, src.variants if isinstance(src.variants, list) else ())
    pids = list(src.problems) or [v.problem_id for v in src.variants]  # type: ignore[union-attr]
    fp = model.fingerprint()
    identity = make_identity(_spec_hash(src.grid, src.variants), problem_ids_digest(pids), fp,
                             _content_digest(src.problems))
    # One writer per folder: a second evaluate into ``out`` fails here, before it sends anything.
    with folder_lock(out, "evaluate"):
        return _execute(out, src, model, fp, identity, factors, pset, threshold, norm, policy, decoding, cache,
                        progress, max_requests, external_gate, model_name, resume, chunk_size,
                        max_consecutive_errors, run_name)


def _execute(out: Path, src: _Source, model: Any, fp: Any, identity: dict[str, Any], factors: list[str],
             pset: PromptSet, threshold: float, norm: Normalization, policy: str, decoding: Any, cache: Any,
             progress: bool, max_requests: int | None, external_gate: Any, model_name: str | None, resume: bool,
             chunk_size: int, max_consecutive_errors: int | None, run_name: str | None) -> RunResult:
    from tqdm.auto import tqdm

    old = check_identity(out, identity) if resume else None
    if not resume:
        for name in (RESULTS, ROWS, MANIFEST, PROBLEMS):
            (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    # Unique per folder (content + creation time + nonce), kept when the folder is resumed.
    run_id = (old or {}).get("run_id") or new_run_id(identity, pset.content_hash)
    label = run_label(out, run_name if run_name is not None else (old or {}).get("run_name"))
    name = model_name or str(getattr(model, "name", type(model).__name__))
    own_cache = not isinstance(cache, ResponseCache)
    rc = cache if isinstance(cache, ResponseCache) else ResponseCache(out / CACHE if cache is None else cache)
    started = _now()
    gate = {"threshold": threshold, "normalization": norm.to_dict(), "policy": policy, "image_join": "\\n"}
    spec = None
    levels = None
    if src.grid is not None:
        spec = src.grid.to_dict()
        levels = src.grid.level_labels()
    bar = tqdm(total=src.total, unit="variant", disable=not progress, dynamic_ncols=True, desc=f"restplus {name}")
    run = _Run(model, external_gate, rc, pset, decoding, factors, src.problems, max_requests, bar,
               max_consecutive_errors)

    def finish(status: str) -> RunResult:
        rows = score_rows(raw_rows(run.specs, run.responses, run_id=run_id, model=name, run=label),
                          src.problems, threshold=threshold, normalization=norm)
        table = write_outputs(out, rows, factors, external_gate is not None, levels)
        if src.problems:
            write_problems(out, src.problems)
        unique = {s.key for s in run.specs} | {s.ext_ocr_key for s in run.specs if s.ext_ocr_key}
        counts = {**run.n, "unique_requests": len(unique), "rows": table.height,
                  "pending": len(run.specs) - table.height,
                  "cache_file_entries": len(rc), **{f"cache_{k}": v for k, v in rc.stats().items()},
                  "errors_by_kind": dict(sorted(run.error_kinds.items())), "first_error": run.first_error}
        # Drawings of image-native sources are gated by transcription (runner.gate): say how, per source.
        transcription = transcription_manifest(s.ocr_scorer for s in run.specs)
        man = build_manifest(
            run_id=run_id, run_name=label, status=status, identity=identity, model_name=name, model_fp=fp,
            spec=spec, prompts=pset.to_dict(), prompt_hash=pset.content_hash, decoding=run.decodings,
            gate={**gate, **({"transcription": transcription} if transcription else {})}, counts=counts,
            fonts={**src.fonts, **font_checksums(run.provenances)}, factors=factors, source=src.info,
            external_gate=None if external_gate is None else {"name": str(getattr(external_gate, "name", "")),
                                                              "fingerprint": run.ext_fp},
            started=started, finished=_now())
        atomic.write_json(out / MANIFEST, man)
        return RunResult(out, table, man, status)

    atomic.write_json(out / MANIFEST, {**(old or {}), "run_id": run_id, "run_name": label, "status": "running",
                                       "identity": identity, "started": started})
    try:
        for chunk in _chunks(src.variants, chunk_size):
            run.chunk(chunk)
        failed = run.n["errors"] + run.n["ext_errors"]
        return finish("partial" if run.n["skipped"] or failed else "complete")
    except BaseException as exc:
        status = ("interrupted" if isinstance(exc, KeyboardInterrupt) else
                  "budget_exceeded" if isinstance(exc, BudgetExceeded) else "failed")
        try:
            finish(status)
        except Exception as fin:  # never hide the original error behind a failure to save
            exc.add_note(f"restplus: writing the partial results also failed: {fin!r}")
        raise
    finally:
        bar.close()
        if own_cache:
            rc.close()

