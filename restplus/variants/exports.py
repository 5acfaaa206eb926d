"""Exports of a variant set to the formats other harnesses read.

Sources: a :class:`~restplus.variants.runfolder.RunFolder` (or its path) or a
:class:`~restplus.variants.ondemand.VariantSet`. Every exporter streams variants, so memory stays bounded.

- :func:`export_hf_parquet` — parquet that ``datasets.load_dataset("parquet", data_files=...)`` loads
  with ``Image`` features (images embedded as ``{"bytes", "path"}`` structs, features declared in the
  schema's ``huggingface`` metadata). Columns are those of :func:`restplus.variants.hfrows.hf_features`.
- :func:`export_vlmevalkit_tsv` — a VLMEvalKit custom-benchmark TSV (conventions in its docstring).
- :func:`export_lmms_eval` — an lmms-eval task folder: task YAML, ``utils.py`` and the parquet.

The PNG bytes are exported unchanged, so every exported image has the sha256 of the run folder.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .. import atomic
from ..errors import SpecError
from ..grammar.grid import Grid
from ..hashing import canonical_json
from ..problems.base import Problem
from .hfrows import arrow_schema, hf_row
from .runfolder import RunFolder, factor_columns, load_run
from .variant import Variant


def _source(source: Any) -> tuple[Grid, Iterator[tuple[Variant, Problem]], dict[str, Any]]:
    from .ondemand import VariantSet

    if isinstance(source, (str, os.PathLike)):
        source = load_run(source)
    if isinstance(source, RunFolder):
        probs = {p.problem_id: p for p in source.problems}
        return source.grid, ((v, probs[v.problem_id]) for v in source.variants()), \
            {"spec_hash": source.manifest.get("spec_hash"), "seed": source.seed, "problems": source.problems}
    if isinstance(source, VariantSet):
        probs = {p.problem_id: p for p in source.problems}
        return source.grid, ((v, probs[v.problem_id]) for v in source.iter()), \
            {"spec_hash": source.grid.spec_hash, "seed": source.seed, "problems": source.problems}
    raise SpecError(f"export source must be a RunFolder, a run-folder path or a VariantSet, got "
                    f"{type(source).__name__}.")


def export_hf_parquet(source: Any, path: str | os.PathLike[str], *, batch_size: int = 256) -> Path:
    """Write a HF-datasets-loadable parquet with embedded images; returns the path.

    ``datasets.load_dataset("parquet", data_files=str(path))["train"]`` gives ``Image`` features;
    polars/pyarrow read it as plain structs. Streams in row groups of ``batch_size`` variants.
    """
    grid, pairs, _ = _source(source)
    path = Path(path)
    schema = arrow_schema(grid)
    rows: list[dict[str, Any]] = []
    with atomic.replacing(path) as tmp, pq.ParquetWriter(tmp, schema) as w:  # the writer closes first
        for v, p in pairs:
            rows.append(hf_row(v, grid, p))
            if len(rows) >= batch_size:
                w.write_table(pa.Table.from_pylist(rows, schema=schema))
                rows = []
        if rows:
            w.write_table(pa.Table.from_pylist(rows, schema=schema))
    return path


DEFAULT_EMPTY_QUESTION = "Answer the question shown in the image."
LETTERS = "ABCDEFGHIJ"


def export_vlmevalkit_tsv(source: Any, path: str | os.PathLike[str], *,
                          empty_question: str = DEFAULT_EMPTY_QUESTION, batch_size: int = 256) -> Path:
    """Write a VLMEvalKit custom-benchmark TSV (put it under ``$LMUData``); returns the path.

    Conventions (one row per variant that has an image; text-modality variants are skipped):

    - ``index``: 0..n-1 in variant order; ``image``: base64 PNG (bytes unchanged). A variant with
      several images stores them as a Python-list string of base64 strings plus an ``image_path``
      list, as VLMEvalKit's multi-image datasets do; ``image_path`` is ``<variant_id>.png`` otherwise.
    - ``question``: exactly the variant's text parts (blank-line joined). When the choices are text
      (mixed modality) they move from the question to the option columns ``A``, ``B``, ... (as many
      as the largest choice list), which VLMEvalKit prints as options; when the choices are drawn in
      the image the option columns stay empty, so the stimulus is not leaked as text
      (``choices_json`` keeps them for scoring). An empty question (everything in the image)
      becomes ``empty_question``.
    - ``answer``: gold answer (a letter for MCQ); ``category``: modality (VLMEvalKit splits
      accuracy by it); ``l2-category``: task. Our ids, every factor level, ``answer_type``,
      ``image_sha256`` and ``choices_json`` follow as extra columns.
    """
    import polars as pl

    grid, pairs, info = _source(source)
    n_opt = max(len(p.choices) for p in info["problems"])
    if n_opt > len(LETTERS):
        raise SpecError(f"a problem has {n_opt} choices; the TSV export supports at most {len(LETTERS)} (A..J).")
    path = Path(path)
    n = 0
    with atomic.replacing(path) as tmp:  # an error below removes the temporary file
        with open(tmp, "wb") as fh:
            rows: list[dict[str, Any]] = []
            for v, p in pairs:
                if not v.images:
                    continue
                rows.append({"index": n, **_tsv_row(v, p, grid, empty_question, LETTERS[:n_opt])})
                n += 1
                if len(rows) >= batch_size:
                    _write_tsv(pl, fh, rows, header=n == len(rows))
                    rows = []
            if rows:
                _write_tsv(pl, fh, rows, header=n == len(rows))
        if n == 0:
            raise SpecError("no variant has an image (text modality only); a VLMEvalKit TSV needs image rows. "
                            "Add image or mixed modalities to the grid.")
    return path


def _tsv_row(v: Variant, p: Problem, grid: Grid, empty_question: str, letters: str) -> dict[str, Any]:
    in_image = any("choices" in im.roles for im in v.images)
    question = "\n\n".join(v.text_parts)
    choice_text = next((s.text for s in p.segments if s.role == "choices"), "")
    if p.choices and not in_image and choice_text and choice_text in question:
        question = question.replace(choice_text, "").strip()
    b64 = [base64.b64encode(im.png).decode("ascii") for im in v.images]
    row: dict[str, Any] = {
        "image": b64[0] if len(b64) == 1 else repr(b64),
        "image_path": f"{v.variant_id}.png" if len(b64) == 1 else repr([f"{v.variant_id}_{k}.png"
                                                                         for k in range(len(b64))]),
        "question": question or empty_question}
    for k, letter in enumerate(letters):
        row[letter] = p.choices[k] if (k < len(p.choices) and not in_image) else None
    row.update({"answer": v.answer, "category": v.modality, "l2-category": v.task, "variant_id": v.variant_id,
                "problem_id": v.problem_id, "cell_id": v.cell.cell_id, "task": v.task,
                "answer_type": v.answer_type, "choices_json": canonical_json(list(p.choices)),
                "image_sha256": ",".join(im.sha256 for im in v.images)})
    labels = v.cell.labels()
    row.update({c: labels.get(c) for c in factor_columns(grid)})
    return row


def _write_tsv(pl: Any, fh: Any, rows: list[dict[str, Any]], header: bool) -> None:
    # All-null columns (options of image rows, levels of one batch) must stay strings, not Null.
    df = pl.DataFrame(rows, schema_overrides={k: pl.String for k in rows[0] if k != "index"})
    df.write_csv(fh, separator="\t", include_header=header, quote_style="necessary")


_LMMS_UTILS = r'''"""lmms-eval hooks for a restplus export (generated by restplus.variants.exports.export_lmms_eval).

Plain Python + Pillow; restplus is not needed at evaluation time. Rows are those of the task
parquet: images (list of images; lmms-eval decodes them to PIL, raw rows hold {"bytes", "path"}),
texts (the variant's text parts), answer, answer_type, choices, modality, ids and factor levels.
Images come first and the text parts follow, as in restplus's image and mixed variants.
"""

import io
import re

FORMAT = {  # answer-format line appended to every prompt, per answer type
    "choice": "Answer with the letter of the correct option only.",
    "number": "Answer with the final number only.",
    "soe": "Give the values of all unknowns in the form A=..., B=....",
    "exact": "Answer with the exact answer only.",
}


def _pil(img):
    from PIL import Image

    if isinstance(img, dict):
        img = Image.open(io.BytesIO(img["bytes"]))
    return img.convert("RGB")


def doc_to_visual(doc):
    return [_pil(im) for im in (doc.get("images") or [])]


def doc_to_text(doc, lmms_eval_specific_kwargs=None):
    kw = lmms_eval_specific_kwargs or {}
    body = "\n\n".join(t for t in (doc.get("texts") or []) if t)
    fmt = FORMAT.get(doc.get("answer_type"), FORMAT["exact"])
    return "\n\n".join(x for x in (kw.get("pre_prompt", ""), body, fmt, kw.get("post_prompt", "")) if x)


_NUM = r"-?\d+(?:\.\d+)?"


def extract(text, answer_type):
    """Deterministic extraction: last option letter / last number / all X=value pairs / whole text."""
    t = (text or "").strip()
    if answer_type == "choice":
        found = re.findall(r"\b([A-J])\b", t)
        return found[-1] if found else None
    if answer_type == "number":
        found = re.findall(_NUM, t.replace(",", ""))
        return float(found[-1]) if found else None
    if answer_type == "soe":
        pairs = {k: float(v) for k, v in re.findall(r"\b([A-Za-z])\s*=\s*(" + _NUM + ")", t)}
        return pairs or None
    return " ".join(t.split()).lower() or None


def process_results(doc, results):
    pred = extract(results[0] if results else "", doc["answer_type"])
    gold = extract(str(doc["answer"]), doc["answer_type"])
    return {"exact_match": float(pred is not None and pred == gold)}
'''

_LMMS_YAML = """# Generated by restplus.variants.exports.export_lmms_eval: a restplus variant set as an lmms-eval task.
# Run: python -m lmms_eval --include_path {folder} --tasks {task} --model ... --log_samples
# The parquet path is absolute; re-export (or edit data_files) after moving the folder.
# lmms-eval >= 0.6 can add `cluster_key: problem_id` for SEs clustered by base problem.
task: {task_q}
dataset_path: parquet
dataset_kwargs:
  data_files:
    test: {data_q}
test_split: test
output_type: generate_until
doc_to_visual: !function utils.doc_to_visual
doc_to_text: !function utils.doc_to_text
doc_to_target: answer
process_results: !function utils.process_results
generation_kwargs:
  max_new_tokens: 256
  temperature: 0
  do_sample: false
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
lmms_eval_specific_kwargs:
  default:
    pre_prompt: ""
    post_prompt: ""
metadata:
  version: 1
  restplus_spec_hash: {spec_q}
  restplus_seed: {seed}
"""


def export_lmms_eval(source: Any, folder: str | os.PathLike[str], *, task: str = "restplus") -> Path:
    """Write an lmms-eval task folder; returns the path of the task YAML.

    Files: ``<task>.yaml`` (``dataset_path: parquet`` with an absolute ``data_files`` path,
    ``doc_to_visual`` / ``doc_to_text`` / ``process_results`` pointing at ``utils.py``, exact-match
    metric, greedy decoding), ``utils.py`` (standalone hooks; see its docstring) and
    ``<task>.parquet`` (:func:`export_hf_parquet`). No network is needed to run it.
    """
    import re

    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", task):
        raise SpecError(f"task={task!r} must be an identifier (letters, digits, underscores), e.g. 'restplus_smoke'.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(source, (str, os.PathLike)):
        source = load_run(source)
    _, _, info = _source(source)
    data = export_hf_parquet(source, folder / f"{task}.parquet").resolve()
    atomic.write_text(folder / "utils.py", _LMMS_UTILS)
    yml = folder / f"{task}.yaml"
    atomic.write_text(yml, _LMMS_YAML.format(folder=folder, task=task, task_q=json.dumps(task),
                                             data_q=json.dumps(str(data)), spec_q=json.dumps(info["spec_hash"]),
                                             seed=int(info["seed"])))
    return yml
