"""The render worker pool of ``generate``: ``workers - 1`` spawned processes claiming chunks.

Workers receive only plain data (the grid spec dict, the seed, the folder), read the problems
from ``problems.jsonl`` and build grid, problems and fonts once per process. Every process, the
calling one included, claims the next chunk from one shared counter (see :class:`Pool`).
"""
from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from ..grammar.grid import Grid
from .chunks import Job
from .runfolder import PROBLEMS_FILE, read_problems

_WORKER: dict[str, Any] = {}  # state of one spawned worker process, set by the pool initializer
_NO_MORE = 1 << 62  # claim-counter value that stops every process at its next claim


def _claim(counter: Any, n: int) -> int | None:
    """Next unclaimed position in the to-do list (shared by all processes), or None when none is left."""
    with counter.get_lock():
        i = counter.value
        if i >= n:
            return None
        counter.value = i + 1
        return i


def _init_worker(spec: dict[str, Any], seed: int, out: str, chunk_size: int, claim: Any, done: Any) -> None:
    # Runs while the parent still prepares the folder: build the grid and import the renderer now.
    # The problems come later, from problems.jsonl (written and digest-checked by then), so the
    # parent never holds a pickled copy of them per worker.
    from . import realization  # noqa: F401

    _WORKER.update(grid=Grid.from_dict(spec), seed=seed, out=out, chunk_size=chunk_size, claim=claim, done=done)


def _worker_ready() -> None:
    """No-op task: submitting it makes the executor spawn its process at once."""


def _worker_run(todo: list[int]) -> int:
    """Render chunks claimed from the shared counter until none is left; return the variant count."""
    w = _WORKER
    if "job" not in w:
        w["job"] = Job(read_problems(Path(w["out"]) / PROBLEMS_FILE), w["grid"], w["seed"], w["out"],
                        w["chunk_size"])
    n = 0
    while (i := _claim(w["claim"], len(todo))) is not None:
        rows = w["job"].render_chunk(todo[i])
        with w["done"].get_lock():
            w["done"].value += rows  # read by the parent for the progress bar
        n += rows
    return n


class Pool:
    """``workers - 1`` spawned processes, started before the parent prepares the folder.

    Every process, the calling one included, claims the next chunk from one shared counter, so
    the process that is ready first renders next: the calling process renders while the workers
    boot, and at the end all finish within one chunk of each other. Which process renders a
    chunk never changes its bytes.
    """

    def __init__(self, grid: Grid, seed: int, out: Path, chunk_size: int, workers: int):
        ctx = multiprocessing.get_context("spawn")  # fork is unsafe with polars/pyarrow thread pools
        self.claim, self.done = ctx.Value("q", 0), ctx.Value("q", 0)
        self.n = workers - 1
        self.executor = ProcessPoolExecutor(max_workers=self.n, mp_context=ctx, initializer=_init_worker,
                                            initargs=(grid.to_dict(), int(seed), str(out), int(chunk_size),
                                                      self.claim, self.done))
        for _ in range(self.n):
            self.executor.submit(_worker_ready)
        self.closer: threading.Thread | None = None

    def run(self, job: Job, todo: list[int], bar: Any, merger: Any) -> None:
        futs = [self.executor.submit(_worker_run, todo) for _ in range(self.n)]
        # Ask for shutdown now (in a thread, as it blocks): each worker then exits as soon as its task
        # returns, overlapping this process's last chunk and merge; close() joins them.
        self.closer = threading.Thread(target=self.executor.shutdown, name="restplus-pool-shutdown")
        self.closer.start()
        shown = 0  # worker-rendered variants already on the bar

        def tick(own: int) -> None:
            nonlocal shown
            now = self.done.value
            bar.update(own + now - shown)
            shown = now

        while (i := _claim(self.claim, len(todo))) is not None:
            own = job.render_chunk(todo[i])
            merger.advance()
            tick(own)
            for f in futs:
                if f.done():
                    f.result()  # a worker's error (or a dead worker) stops the run now, not at the end
        while wait(futs, timeout=0.2).not_done:
            tick(0)
        for f in futs:
            f.result()
        tick(0)

    def close(self) -> None:
        """Stop claims (workers finish their current chunk) and wait until every worker has exited."""
        with self.claim.get_lock():
            self.claim.value = _NO_MORE
        if self.closer is None:
            self.executor.shutdown(wait=True, cancel_futures=True)
        else:
            self.closer.join()
