"""Run folders: the on-disk form of a generated variant set, and reading it back.

Layout of a run folder written by :func:`restplus.variants.generation.generate`::

    manifest.json           identity: spec_hash, problems_digest (sha256 of problems.jsonl), seed,
                            chunk size, render_env (Pillow / FreeType / raqm / HarfBuzz / zlib / numpy
                            versions), fonts (family -> file sha256); plus restplus and python
                            versions, platform, git commit (or null), counts, status
    grid.yaml               the grid as a self-contained spec (``save_grid``)
    problems.jsonl          one ``Problem.to_dict()`` per line, in generation order
    images/<problem_id>/<cell_id>.png      first image of a variant (``<cell_id>_<k>.png`` for k >= 1);
                                           problem ids are percent-encoded to be path-safe
    variants.parquet        one row per variant (columns below)
    parts/chunk-NNNNNN.parquet             only while a run is incomplete: finished chunks, merged
                                           into variants.parquet and removed at the end

Columns of ``variants.parquet`` (one row per problem x cell, problem-major, cells in grid order):

    variant_id, problem_id, task, cell_id, modality   str
    <factor name>       str   level label of every factor except one named ``modality``; null on text
    seed                i64   per-variant seed (``Variant.seed``)
    answer, answer_type str   gold answer and its type
    text_parts          str   JSON list of the variant's text parts, in order
    parts               str   JSON list of the message layout: {"type": "text", "text": ...} or
                              {"type": "image", "index": k}
    n_images            i32   number of images (0 for text)
    image_paths         list<str>  image files relative to the run folder
    image_sha256        list<str>  sha256 of each PNG file
    pixel_sha256        list<str>  sha256 of each image's raw RGB pixels
    rendered_text       str   exact text drawn, images joined by a blank line (OCR reference); null on text
    contrast_ratio, x_height_px   f64   covariates of the first image; null on text
    image_width_px, image_height_px, image_dpi   i64   size and DPI of the first image; null on text
    image_meta          str   JSON list per image: width, height, dpi, roles, rendered_text, covariates
    provenance          str   JSON list per image: font sha256, library versions, seed, params, steps
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import CacheMismatchError, SpecError, UnknownNameError, did_you_mean
from ..grammar.grid import Grid
from ..hashing import canonical_json, file_sha256, sha256_bytes
from ..problems.base import Problem
from ..records import ImagePart, TextPart
from ..render.image import RenderedImage
from .variant import Variant

MANIFEST, GRID_FILE, PROBLEMS_FILE, TABLE_FILE = "manifest.json", "grid.yaml", "problems.jsonl", "variants.parquet"
IMAGES_DIR, PARTS_DIR = "images", "parts"

_HEAD = ("variant_id", "problem_id", "task", "cell_id", "modality")
_TAIL: tuple[tuple[str, pa.DataType], ...] = (
    ("seed", pa.int64()), ("answer", pa.string()), ("answer_type", pa.string()), ("text_parts", pa.string()),
    ("parts", pa.string()), ("n_images", pa.int32()), ("image_paths", pa.list_(pa.string())),
    ("image_sha256", pa.list_(pa.string())), ("pixel_sha256", pa.list_(pa.string())),
    ("rendered_text", pa.string()), ("contrast_ratio", pa.float64()), ("x_height_px", pa.float64()),
    ("image_width_px", pa.int64()), ("image_height_px", pa.int64()), ("image_dpi", pa.int64()),
    ("image_meta", pa.string()), ("provenance", pa.string()))
RESERVED_COLUMNS = _HEAD + tuple(n for n, _ in _TAIL)


def factor_columns(grid: Grid) -> list[str]:
    """Level columns of a grid: every factor name except ``modality`` (which has its own column)."""
    cols = [f.name for f in grid.factors if f.name != "modality"]
    for c in cols:
        if c in RESERVED_COLUMNS:
            raise SpecError(f"factor name {c!r} collides with the variant-table column {c!r}; rename the factor "
                            f"(e.g. {c + '_level'!r}). Reserved names: {', '.join(RESERVED_COLUMNS)}.")
    return cols


def table_schema(grid: Grid) -> pa.Schema:
    """The pyarrow schema of ``variants.parquet`` for a grid (see the module docstring)."""
    fields = [(n, pa.string()) for n in _HEAD] + [(n, pa.string()) for n in factor_columns(grid)] + list(_TAIL)
    return pa.schema(fields)


def image_relpath(problem_id: str, cell_id: str, k: int) -> str:
    """Path of image ``k`` of a variant inside the run folder (POSIX separators)."""
    name = cell_id if k == 0 else f"{cell_id}_{k}"
    return f"{IMAGES_DIR}/{quote(problem_id, safe='')}/{name}.png"


def _num(covs: dict[str, Any], key: str) -> float | None:
    v = covs.get(key)
    return None if v is None else float(v)


def variant_row(v: Variant, grid: Grid, relpaths: list[str] | None = None) -> dict[str, Any]:
    """One ``variants.parquet`` row for a variant (``relpaths`` default to the run-folder paths)."""
    relpaths = relpaths if relpaths is not None else [image_relpath(v.problem_id, v.cell.cell_id, k)
                                                      for k in range(len(v.images))]
    labels = v.cell.labels()
    k = 0
    layout = []
    for p in v.parts:
        if isinstance(p, TextPart):
            layout.append({"type": "text", "text": p.text})
        else:
            layout.append({"type": "image", "index": k})
            k += 1
    first = dict(v.images[0].covariates) if v.images else {}
    row: dict[str, Any] = {"variant_id": v.variant_id, "problem_id": v.problem_id, "task": v.task,
                           "cell_id": v.cell.cell_id, "modality": v.modality}
    row.update({c: labels.get(c) for c in factor_columns(grid)})
    row.update({
        "seed": int(v.seed), "answer": v.answer, "answer_type": v.answer_type,
        "text_parts": canonical_json(list(v.text_parts)), "parts": canonical_json(layout),
        "n_images": len(v.images), "image_paths": relpaths,
        "image_sha256": [im.sha256 for im in v.images], "pixel_sha256": [im.pixel_sha256 for im in v.images],
        "rendered_text": "\n\n".join(im.rendered_text for im in v.images) if v.images else None,
        "contrast_ratio": _num(first, "contrast_ratio"), "x_height_px": _num(first, "x_height_px"),
        "image_width_px": v.images[0].width if v.images else None,
        "image_height_px": v.images[0].height if v.images else None,
        "image_dpi": v.images[0].dpi if v.images else None,
        "image_meta": canonical_json([{"width": im.width, "height": im.height, "dpi": im.dpi,
                                       "roles": list(im.roles), "rendered_text": im.rendered_text,
                                       "covariates": dict(im.covariates)} for im in v.images]),
        "provenance": canonical_json([dict(im.provenance) for im in v.images]),
    })
    return row


def rows_to_table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """The rows as a table with ``schema`` (keys missing from a row are null, keys not in it are ignored).

    Read through pyarrow's JSON reader rather than ``Table.from_pylist``: any conversion of Python
    objects makes pyarrow import pandas when it is installed (~0.25 s per process, paid again by
    every generate worker). JSON carries these rows exactly: floats round-trip (including NaN and
    infinities), ints up to int64, strings and lists of strings.
    """
    import pyarrow.json as pj

    if not rows:
        return schema.empty_table()
    data = b"".join(json.dumps(r, ensure_ascii=False).encode("utf-8") + b"\n" for r in rows)
    return pj.read_json(pa.py_buffer(data),
                        read_options=pj.ReadOptions(use_threads=False, block_size=len(data) + 1),
                        parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"))


def variant_from_row(row: dict[str, Any], grid: Grid, pngs: list[bytes]) -> Variant:
    """Rebuild the :class:`Variant` of a table row from its PNG bytes (the inverse of variant_row)."""
    metas, provs = json.loads(row["image_meta"]), json.loads(row["provenance"])
    images = tuple(RenderedImage(png=png, sha256=sha, pixel_sha256=psha, width=m["width"], height=m["height"],
                                 dpi=m["dpi"], rendered_text=m["rendered_text"], roles=tuple(m["roles"]),
                                 covariates=tuple(m["covariates"].items()), provenance=tuple(p.items()))
                   for png, sha, psha, m, p in zip(pngs, row["image_sha256"], row["pixel_sha256"], metas, provs,
                                                   strict=True))
    parts = tuple(TextPart(p["text"]) if p["type"] == "text" else ImagePart(png=images[p["index"]].png,
                                                                            sha256=images[p["index"]].sha256)
                  for p in json.loads(row["parts"]))
    return Variant(problem_id=row["problem_id"], task=row["task"], cell=grid.cell(row["cell_id"]),
                   seed=int(row["seed"]), parts=parts, images=images, answer=row["answer"],
                   answer_type=row["answer_type"], variant_id=row["variant_id"])


def problem_line(p: Problem) -> bytes:
    """One line of problems.jsonl: the canonical JSON of ``Problem.to_dict()``."""
    return (canonical_json(p.to_dict()) + "\n").encode("utf-8")


def problems_digest(problems: Iterable[Problem]) -> str:
    """Digest of a problem set's content: sha256 (16 hex) of its ``problem_line`` lines, in the given order.

    It equals the sha256 of a problems.jsonl holding these problems in this order. ``generate`` passes
    generation order (which decides variant order, so it counts); the runner passes id order, the
    order of the problems.jsonl it writes. Any content change (answer, choices, metadata) changes it,
    even when an explicit ``problem_id`` stays the same.
    """
    h = hashlib.sha256()
    for p in problems:
        h.update(problem_line(p))
    return h.hexdigest()[:16]


def read_problems(path: Path) -> list[Problem]:
    with open(path, encoding="utf-8") as fh:
        return [Problem.from_dict(json.loads(line)) for line in fh if line.strip()]


def check_image(path: Path, expected_sha: str, what: str) -> None:
    """Refuse an existing image whose bytes differ from the expected sha256 (both hashes shown)."""
    got = file_sha256(path)
    if got != expected_sha:
        raise CacheMismatchError(
            f"{path} ({what}) has sha256 {got} on disk but {expected_sha} was expected. The file was changed "
            "or made by a different renderer/font/library version; delete the image (or the whole run folder) "
            "to re-render it.")


class RunFolder:
    """A generated run folder (see the module docstring for the layout).

    ``variants()`` yields full :class:`Variant` objects with PNG bytes read from disk; ``table()``
    is the variant table as a polars DataFrame; ``stats`` holds the counts of the last ``generate``
    call that returned this handle (``{"rendered": n, "skipped": m, "repaired": [paths]}``; ``repaired``
    lists damaged leftovers of an interrupted run that were rebuilt), or None after ``load_run``.
    """

    def __init__(self, path: str | os.PathLike[str], stats: dict[str, Any] | None = None):
        self.path = Path(path)
        self.stats = stats
        if not (self.path / MANIFEST).exists():
            raise CacheMismatchError(f"{self.path} is not a run folder: it has no {MANIFEST}. Create one with "
                                     "restplus.variants.generation(problems, grid, out=...).")
        self.manifest: dict[str, Any] = json.loads((self.path / MANIFEST).read_text(encoding="utf-8"))
        if self.manifest.get("status") != "complete" or not (self.path / TABLE_FILE).exists():
            raise CacheMismatchError(f"run folder {self.path} is incomplete (status={self.manifest.get('status')!r});"
                                     " re-run generate with the same problems, grid and seed to finish it.")
        self._grid: Grid | None = None
        self._problems: list[Problem] | None = None

    @property
    def grid(self) -> Grid:
        if self._grid is None:
            from ..grammar.spec import load_grid

            self._grid = load_grid(self.path / GRID_FILE)
        return self._grid

    @property
    def problems(self) -> list[Problem]:
        if self._problems is None:
            self._problems = read_problems(self.path / PROBLEMS_FILE)
        return self._problems

    @property
    def seed(self) -> int:
        return int(self.manifest["seed"])

    def __len__(self) -> int:
        return pq.ParquetFile(self.path / TABLE_FILE).metadata.num_rows

    def table(self):  # -> polars.DataFrame
        """The variant table (columns in the module docstring) as a polars DataFrame."""
        import polars as pl

        return pl.read_parquet(self.path / TABLE_FILE)

    def iter_rows(self, batch_size: int = 256, columns: list[str] | None = None) -> Iterator[dict[str, Any]]:
        """Table rows as dicts, streamed in batches (memory bounded by ``batch_size``)."""
        pf = pq.ParquetFile(self.path / TABLE_FILE)
        for batch in pf.iter_batches(batch_size=batch_size, columns=columns):
            yield from batch.to_pylist()

    def read_png(self, relpath: str, sha256: str | None = None) -> bytes:
        """An image's bytes; with ``sha256``, refuse a file whose content differs (both hashes shown)."""
        data = (self.path / relpath).read_bytes()
        if sha256 is not None and sha256_bytes(data) != sha256:
            raise CacheMismatchError(f"{self.path / relpath} has sha256 {sha256_bytes(data)} but the variant table "
                                     f"records {sha256}; the file was changed. Re-generate the run folder.")
        return data

    def pngs(self, row: dict[str, Any]) -> list[bytes]:
        """The hash-checked PNG bytes of one table row (from :meth:`iter_rows`)."""
        return [self.read_png(p, s) for p, s in zip(row["image_paths"], row["image_sha256"], strict=True)]

    def variants(self, batch_size: int = 256) -> Iterator[Variant]:
        """Every variant in table order, with the exact PNG bytes that were written (hash-checked)."""
        grid = self.grid
        for row in self.iter_rows(batch_size):
            yield variant_from_row(row, grid, self.pngs(row))

    def variant(self, variant_id: str) -> Variant:
        """One variant by id (scans the table; use ``table()`` for bulk look-ups)."""
        for row in self.iter_rows():
            if row["variant_id"] == variant_id:
                return variant_from_row(row, self.grid, self.pngs(row))
        ids = self.table()["variant_id"].to_list()
        raise UnknownNameError(f"run folder {self.path} has no variant {variant_id!r}.{did_you_mean(variant_id, ids)}")

    def __repr__(self) -> str:
        m = self.manifest
        return (f"RunFolder({str(self.path)!r}: {m.get('counts', {}).get('variants')} variants, "
                f"spec_hash={m.get('spec_hash')}, seed={m.get('seed')})")


def load_run(path: str | os.PathLike[str]) -> RunFolder:
    """Open a complete run folder written by ``generate``."""
    return RunFolder(path)
