"""Generate a run folder: every problem x cell rendered to PNGs plus one variant table.

``generate(problems, grid, seed=0, out="runs/x", workers=2)`` streams variants in problem-major
order (``problem i``, then cells in ``grid.cells()`` order) through fixed-size *chunks*. A chunk is
rendered by one process, which writes its PNGs and one ``parts/chunk-NNNNNN.parquet`` file (written
atomically); only counts travel between processes. The calling process streams the parts, in
chunk order, into ``variants.parquet`` as soon as they exist, so little is left to merge at the end.
The folder layout and the table columns are documented in :mod:`restplus.variants.runfolder`; a
chunk's rendering and resume check are in :mod:`restplus.variants.chunks`, the spawned worker pool
in :mod:`restplus.variants.pool`.

Properties:
- memory is bounded by (chunk size x processes), never by the number of variants;
- ``workers=n`` renders in the calling process plus ``n - 1`` spawned processes. They are started
  first, so their start-up overlaps the identity checks and folder preparation; they receive only
  plain data (the grid spec dict, the seed, the folder), read the problems from ``problems.jsonl``
  and build grid, problems and fonts once per process. Every process claims the next chunk from
  one shared counter, so none waits for another and all finish within one chunk of each other;
- resumable: finished chunks whose images still hash to their recorded sha256 are skipped, so a
  crashed or repeated run renders only what is missing; an existing image whose sha256 differs
  from the new render is refused (CacheMismatchError with both hashes);
- a folder made with another spec_hash, problem set, seed, chunk size or render library version
  is refused with both values shown;
- outputs are byte-identical for any number of workers (chunking does not depend on it).
"""
from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import sys
import warnings
from collections import Counter
from collections.abc import Iterable
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .. import __version__, atomic
from ..atomic import LOCK_FILE, folder_lock
from ..errors import CacheMismatchError, GenerateError, ProblemError, RepairWarning, SpecError
from ..grammar.grid import Grid
from ..grammar.spec import save_grid
from ..problems.base import Problem
from .chunks import Job, images_ok
from .pool import Pool
from .runfolder import (
    GRID_FILE,
    MANIFEST,
    PARTS_DIR,
    PROBLEMS_FILE,
    TABLE_FILE,
    RunFolder,
    factor_columns,
    problem_line,
    problems_digest,
)

CHUNK_SIZE = 32  # variants per task: large enough to amortise IPC, small enough for a smooth bar
MERGE_ROWS = 1024  # rows buffered per write while merging parts into variants.parquet


def render_env(grid: Grid) -> dict[str, Any]:
    """Library versions that decide pixels (the renderer's own list); part of a run's identity."""
    from ..render.provenance import library_versions

    return library_versions(grid.render.backend)


def grid_fonts(grid: Grid) -> dict[str, str]:
    """Verified sha256 of every font file the grid can use, sorted by family (fails early if one is off)."""
    from ..render import grid_fonts as _grid_fonts

    return dict(sorted(_grid_fonts(grid).items()))


def _identity(grid: Grid, problems: list[Problem], seed: int, chunk_size: int) -> dict[str, Any]:
    return {"spec_hash": grid.spec_hash, "problems_digest": problems_digest(problems), "seed": int(seed),
            "chunk_size": int(chunk_size), "render_env": render_env(grid), "fonts": grid_fonts(grid)}


def _read_manifest(mpath: Path) -> dict[str, Any]:
    try:
        old = json.loads(mpath.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise CacheMismatchError(f"{mpath} is not valid JSON ({exc}); the folder was damaged or edited by hand. "
                                 "Delete the folder (or just this file, to re-check every chunk) and re-run "
                                 "generate.") from None
    if not isinstance(old, dict):
        raise CacheMismatchError(f"{mpath} holds a {type(old).__name__}, not a run manifest; delete the folder "
                                 "and re-run generate.")
    return old


def _prepare(out: Path, ident: dict[str, Any], grid: Grid, problems: list[Problem]) -> dict[str, Any]:
    """Create the folder or check that an existing one was made from the same inputs."""
    mpath = out / MANIFEST
    if mpath.exists():
        old = _read_manifest(mpath)
        diffs = [f"{k}: folder has {old.get(k)!r}, this call has {v!r}" for k, v in ident.items() if old.get(k) != v]
        if diffs:
            raise CacheMismatchError(f"run folder {out} was generated from different inputs — " + "; ".join(diffs)
                                     + ". Use a new --out folder, or delete this one to regenerate.")
        return old
    if out.exists() and any(p.name != LOCK_FILE for p in out.iterdir()):
        raise CacheMismatchError(f"{out} exists, is not empty and has no {MANIFEST}; refusing to write a run "
                                 "folder into it. Choose an empty or new folder.")
    (out / PARTS_DIR).mkdir(parents=True, exist_ok=True)
    save_grid(grid, str(out / GRID_FILE))
    with atomic.replacing(out / PROBLEMS_FILE) as tmp, open(tmp, "wb") as fh:  # streamed: no whole-file string
        for p in problems:
            fh.write(problem_line(p))
    from ..envinfo import git_commit  # here, not at the top: spawned workers never need it

    manifest = {"format": 1, "status": "incomplete", **ident,
                # the spec file and its includes as read (path, sha256); provenance, not identity
                "spec_files": [{"path": p, "sha256": h} for p, h in grid.sources],
                "restplus_version": __version__,
                "python": sys.version.split()[0], "platform": platform.platform(), "git_commit": git_commit()}
    atomic.write_json(mpath, manifest)
    return manifest


class _Merger:
    """Streams finished parts, in chunk order, into variants.parquet while later chunks still render.

    Memory is bounded (at most MERGE_ROWS buffered rows); the writes are the same for any number
    of workers, so the file's bytes are too.
    """

    def __init__(self, job: Job, n_chunks: int):
        self.job, self.n_chunks, self.next = job, n_chunks, 0
        self.tmp = atomic.temp_path(job.out / TABLE_FILE)  # open across advance() calls: committed in finish()
        self.writer = pq.ParquetWriter(self.tmp, job.schema)
        self.buf: list[Any] = []
        self.counts: dict[str, Any] = {"variants": 0, "images": 0, "by_modality": {}}

    def advance(self) -> None:
        """Merge every part that is ready: the parts of the finished chunks right after the last merged one."""
        import pyarrow as pa

        while self.next < self.n_chunks and self.job.part_path(self.next).exists():
            # ParquetFile.read without threads: read_table's dataset machinery and per-thread
            # allocator arenas made peak RSS grow with the number of parts (bench/render.py).
            t = pq.ParquetFile(self.job.part_path(self.next)).read(use_threads=False)
            by_mod = self.counts["by_modality"]
            for mod, n_img in zip(t["modality"].to_pylist(), t["n_images"].to_pylist(), strict=True):
                self.counts["variants"] += 1
                self.counts["images"] += n_img
                by_mod[mod] = by_mod.get(mod, 0) + 1
            self.buf.append(t)
            if sum(b.num_rows for b in self.buf) >= MERGE_ROWS or self.next == self.n_chunks - 1:
                self.writer.write_table(pa.concat_tables(self.buf), row_group_size=MERGE_ROWS * 2)
                self.buf = []
            self.next += 1

    def finish(self) -> dict[str, Any]:
        """Merge the rest, move variants.parquet into place and return the counts."""
        self.advance()
        if self.next < self.n_chunks:
            raise GenerateError(f"{self.job.part_path(self.next)} vanished while generating {self.job.out} (was the "
                                "folder edited meanwhile?). Re-run generate to render the missing chunks.")
        self.writer.close()
        atomic.commit(self.tmp, self.job.out / TABLE_FILE)
        return self.counts

    def abort(self) -> None:
        # Closing flushes buffered rows, which fails again on a full disk: that second error must not
        # hide the first one, and the temporary file goes either way.
        with contextlib.suppress(Exception):
            self.writer.close()
        with contextlib.suppress(OSError):
            self.tmp.unlink(missing_ok=True)


def _needs_workers(out: Path) -> bool:
    """Cheap look before spawning: a folder marked complete renders nothing (``_prepare`` checks it fully)."""
    mpath = out / MANIFEST
    if not mpath.exists():
        return True
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except ValueError:
        return False  # unreadable: _prepare reports it, no need to spawn anything first
    return not (isinstance(manifest, dict) and manifest.get("status") == "complete")


def generate(problems: Iterable[Problem], grid: Grid, seed: int = 0, out: str | os.PathLike[str] = "runs/run",
             workers: int = 1, progress: bool = True, chunk_size: int = CHUNK_SIZE) -> RunFolder:
    """Render every problem in every cell of ``grid`` into the run folder ``out``; return its handle.

    ``workers`` > 1 renders in this process plus ``workers - 1`` spawned ones. Re-running with the
    same inputs renders only what is missing (``RunFolder.stats`` says how many variants were
    rendered and skipped).
    Raises CacheMismatchError when ``out`` was made from other inputs or an image on disk differs.
    """
    problems = list(problems)
    if not problems:
        raise ProblemError("generate() got no problems; pass at least one Problem.")
    if not isinstance(workers, int) or workers < 1:
        raise SpecError(f"workers={workers!r} must be a whole number >= 1.")
    dup = sorted(i for i, n in Counter(p.problem_id for p in problems).items() if n > 1)
    if dup:
        raise ProblemError(f"problem ids must be unique; {dup[:5]} occur more than once. Remove duplicates or "
                           "give them distinct problem_id values.")
    factor_columns(grid)  # refuse factor names that collide with table columns before touching disk
    out = Path(out)
    pool = None
    try:
        # One writer per folder: a second generate into ``out`` fails here, before it spawns or writes.
        with folder_lock(out, "generate"):
            # Spawn first: a worker's start-up (interpreter, imports, grid) overlaps this process's
            # identity checks and folder preparation instead of following them.
            if workers > 1 and _needs_workers(out):
                pool = Pool(grid, seed, out, chunk_size, workers)
            try:
                return _generate(problems, grid, int(seed), out, int(chunk_size), pool, progress)
            finally:
                if pool is not None:  # workers stop before the lock is released
                    pool.close()
                    pool = None
    except BrokenProcessPool as exc:
        raise GenerateError(
            f"a worker process died while generating {out} ({exc}). Workers are spawned, so a script that "
            "calls generate(workers>1) must do so under `if __name__ == \"__main__\":`; a crash can also be "
            "out-of-memory. Finished chunks are kept: re-run to resume, or use workers=1.") from None
    finally:
        if pool is not None:
            pool.close()


def _generate(problems: list[Problem], grid: Grid, seed: int, out: Path, chunk_size: int, pool: Pool | None,
              progress: bool) -> RunFolder:
    from tqdm.auto import tqdm

    manifest = _prepare(out, _identity(grid, problems, seed, chunk_size), grid, problems)
    job = Job(problems, grid, seed, out, chunk_size)
    n_chunks = -(-job.total // job.chunk_size)
    if manifest.get("status") == "complete" and (out / TABLE_FILE).exists():
        try:
            _verify_table(out, job)
            table = pq.ParquetFile(out / TABLE_FILE)
        except (pa.ArrowException, OSError, GenerateError) as exc:
            # Every image is still checked against its new render below, so re-rendering is safe.
            warnings.warn(f"{out / TABLE_FILE} is damaged ({exc}); rendering the folder again.", RepairWarning,
                          stacklevel=3)
            job.repaired.append(str(out / TABLE_FILE))
        else:
            for batch in table.iter_batches(512, columns=["image_paths", "image_sha256"]):
                if not images_ok(out, batch.to_pylist()):
                    raise CacheMismatchError(f"run folder {out} is complete but images listed in {TABLE_FILE} are "
                                             "missing; delete the folder and re-run generate.")
            return RunFolder(out, stats={"rendered": 0, "skipped": job.total, "repaired": []})
    (out / PARTS_DIR).mkdir(exist_ok=True)
    todo = [k for k in range(n_chunks) if not job.chunk_done(k)]
    for k in todo:  # a part left with missing images is rewritten; the merger must not read it first
        job.part_path(k).unlink(missing_ok=True)
    skipped = job.total - sum(len(job.pairs(k)) for k in todo)
    bar = tqdm(total=job.total, initial=skipped, unit="variant", desc=f"generate {out.name}", disable=not progress,
               smoothing=0.1)
    merger = _Merger(job, n_chunks)
    try:
        if pool is None:
            for k in todo:
                bar.update(job.render_chunk(k))
                merger.advance()
        else:
            pool.run(job, todo, bar, merger)
        counts = merger.finish()
    except BaseException as exc:
        merger.abort()
        if isinstance(exc, OSError):  # the merger's parquet writer names no file (e.g. on a full disk)
            atomic.name_path(exc, out / TABLE_FILE)
        raise
    finally:
        bar.close()
    _verify_table(out, job)  # `complete` is written only over a table that reads back whole
    shutil.rmtree(out / PARTS_DIR)
    manifest.update(status="complete", counts={**counts, "problems": len(problems), "cells": len(job.cells)})
    atomic.write_json(out / MANIFEST, manifest)
    return RunFolder(out, stats={"rendered": job.total - skipped, "skipped": skipped, "repaired": job.repaired})


def _verify_table(out: Path, job: Job) -> None:
    """Read the merged table back: its schema, its row count and its (problem, cell) order."""
    path = out / TABLE_FILE
    f = pq.ParquetFile(path)
    if f.metadata.num_rows != job.total or not f.schema_arrow.equals(job.schema):
        raise GenerateError(f"{path} does not read back as written ({f.metadata.num_rows} rows, {job.total} "
                            "expected); the folder was changed while generating. Re-run generate.")
    n = len(job.cells)
    i = 0
    for batch in f.iter_batches(4096, columns=["problem_id", "cell_id"], use_threads=False):
        for pid, cid in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True):
            pi, ci = divmod(i, n)
            if pid != job.problems[pi].problem_id or cid != job.cells[ci].cell_id:
                raise GenerateError(f"{path} row {i} is ({pid}, {cid}), expected ({job.problems[pi].problem_id}, "
                                    f"{job.cells[ci].cell_id}); re-run generate.")
            i += 1
