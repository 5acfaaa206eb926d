"""HF rows of variants: the ``datasets`` features, the arrow schema and one row per variant.

A leaf of the variants part: the parquet exporter and ``VariantSet.to_hf`` both build on it.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from ..grammar.grid import Grid
from ..problems.base import Problem
from .runfolder import factor_columns, image_relpath, variant_row
from .variant import Variant

HF_COLUMNS_DOC = """variant_id, problem_id, task, cell_id, modality  string
<factor columns>     string — level label of each factor (null on text rows)
seed                 int64  — per-variant seed
answer, answer_type  string — gold answer and its type (choice/number/soe/exact)
choices              list<string> — raw options of multiple-choice problems (else empty)
texts                list<string> — the variant's text parts, in order
parts                string — JSON message layout: [{"type": "image", "index": 0}, {"type": "text", ...}]
images               list<Image> — the PNGs, bytes unchanged ({"bytes", "path"} in parquet)
image_sha256         list<string> — sha256 of each PNG
rendered_text        string — exact text drawn (OCR reference); null on text rows"""


def _features_json(grid: Grid) -> dict[str, Any]:
    s = {"dtype": "string", "_type": "Value"}
    slist = {"feature": s, "_type": "List"}
    cols: dict[str, Any] = {c: s for c in ("variant_id", "problem_id", "task", "cell_id", "modality")}
    cols.update({c: s for c in factor_columns(grid)})
    cols.update({"seed": {"dtype": "int64", "_type": "Value"}, "answer": s, "answer_type": s, "choices": slist,
                 "texts": slist, "parts": s, "images": {"feature": {"_type": "Image"}, "_type": "List"},
                 "image_sha256": slist, "rendered_text": s})
    return cols


def hf_features(grid: Grid):  # -> datasets.Features
    """The HF ``datasets.Features`` of exported rows (columns: see ``HF_COLUMNS_DOC``)."""
    import datasets

    return datasets.Features.from_dict(_features_json(grid))


def arrow_schema(grid: Grid) -> pa.Schema:
    img = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    types = {"seed": pa.int64(), "choices": pa.list_(pa.string()), "texts": pa.list_(pa.string()),
             "images": pa.list_(img), "image_sha256": pa.list_(pa.string())}
    fj = _features_json(grid)
    meta = {"huggingface": json.dumps({"info": {"features": fj}})}
    return pa.schema([(c, types.get(c, pa.string())) for c in fj], metadata=meta)


def hf_row(v: Variant, grid: Grid, problem: Problem | None = None) -> dict[str, Any]:
    """One exported row for a variant (see ``HF_COLUMNS_DOC``)."""
    r = variant_row(v, grid)
    row = {k: r[k] for k in ("variant_id", "problem_id", "task", "cell_id", "modality", "seed", "answer",
                             "answer_type", "parts", "image_sha256", "rendered_text")}
    row.update({c: r[c] for c in factor_columns(grid)})
    row["choices"] = list(problem.choices) if problem is not None else []
    row["texts"] = list(v.text_parts)
    row["images"] = [{"bytes": im.png, "path": image_relpath(v.problem_id, v.cell.cell_id, k)}
                     for k, im in enumerate(v.images)]
    return row
