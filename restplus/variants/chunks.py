"""One chunk of a generate run: which variants it holds, how it is rendered, how a resume checks it.

Shared by the calling process and the spawned workers (:mod:`restplus.variants.pool`), which rebuild
a :class:`Job` from plain data; the merge and the folder's life cycle are in
:mod:`restplus.variants.generation`.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .. import atomic
from ..errors import CacheMismatchError, RepairWarning
from ..grammar.grid import Grid, variant_seed
from ..problems.base import Problem
from .runfolder import PARTS_DIR, check_image, rows_to_table, table_schema, variant_row


class Job:
    """Everything a process needs to render chunks; rebuilt from plain data in each worker."""

    def __init__(self, problems: list[Problem], grid: Grid, seed: int, out: str | Path, chunk_size: int):
        self.problems, self.grid = problems, grid
        self.cells = self.grid.cells()
        self.seed, self.out, self.chunk_size = int(seed), Path(out), int(chunk_size)
        self.schema = table_schema(self.grid)
        self.total = len(self.problems) * len(self.cells)
        self.repaired: list[str] = []  # damaged parts found on resume (rebuilt, reported in stats)

    def pairs(self, k: int) -> list[tuple[int, int]]:
        n = len(self.cells)
        return [divmod(i, n) for i in range(k * self.chunk_size, min((k + 1) * self.chunk_size, self.total))]

    def part_path(self, k: int) -> Path:
        return self.out / PARTS_DIR / f"chunk-{k:06d}.parquet"

    def render_chunk(self, k: int) -> int:
        from . import realization

        rows = []
        for pi, ci in self.pairs(k):
            v = realization.realize(self.problems[pi], self.grid, self.cells[ci],
                               variant_seed(self.seed, self.problems[pi].problem_id, self.cells[ci]))
            row = variant_row(v, self.grid)
            for im, rel in zip(v.images, row["image_paths"], strict=True):
                path = self.out / rel
                if path.exists():  # left by an interrupted run: must be the very same bytes
                    check_image(path, im.sha256, f"variant {v.variant_id}, re-rendered now")
                    continue
                # fsync=False: the rename alone keeps each image atomic, and durability comes from the
                # chunk part: it records every image's sha256 and is written and fsynced after the
                # images, and a resumed run verifies each image against it (chunk_done): a missing
                # image is re-rendered, a damaged one is refused with both hashes.
                atomic.write_bytes(path, im.png, fsync=False)
            rows.append(row)
        atomic.write_parquet(self.part_path(k), rows_to_table(rows, self.schema))
        return len(rows)

    def chunk_done(self, k: int) -> bool:
        """True when the chunk's part exists and all its images exist with their recorded sha256."""
        part = self.part_path(k)
        if not part.exists():
            return False
        try:
            rows = pq.ParquetFile(part).read(columns=["problem_id", "cell_id", "image_paths", "image_sha256"],
                                             use_threads=False).to_pylist()
        except (pa.ArrowException, OSError) as exc:
            # Parts are written atomically, so a damaged one was cut by a full disk, a copy or a hand
            # edit: its images are re-checked against the new render, so rebuilding it is safe.
            warnings.warn(f"{part} is damaged ({type(exc).__name__}: {exc}); rendering chunk {k} again.",
                          RepairWarning, stacklevel=2)
            self.repaired.append(str(part))
            return False
        want = [(self.problems[pi].problem_id, self.cells[ci].cell_id) for pi, ci in self.pairs(k)]
        if [(r["problem_id"], r["cell_id"]) for r in rows] != want:
            raise CacheMismatchError(f"{part} holds variants other than the ones chunk {k} should hold; the run "
                                     "folder was edited by hand. Delete it (or the parts/ folder) and re-run.")
        return images_ok(self.out, rows)


def images_ok(out: Path, rows: list[dict[str, Any]]) -> bool:
    for r in rows:
        for rel, sha in zip(r["image_paths"], r["image_sha256"], strict=True):
            if not (out / rel).exists():
                return False  # deleted by hand: re-render the chunk (the same bytes come back)
            check_image(out / rel, sha, "recorded in the variant table")
    return True
