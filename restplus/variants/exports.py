"""Exports of a variant set to the formats other harnesses read.

Sources: a :class:`~restplus.variants.runfolder.RunFolder` (or its path) or a
:class:`~restplus.variants.ondemand.VariantSet`. Every exporter streams variants, so memory stays bounded.

- :func:`export_hf_parquet` — parquet that ``datasets.load_dataset("parquet", data_files=...)`` loads
  with ``Image`` features (images embedded as ``{"bytes", "path"}`` structs, features declared in the
  schema's ``huggingface`` metadata). Columns are those of :func:`restplus.variants.hfrows.hf_features`.
- :func:`export_vlmevalkit_tsv` — VLMEvalKit custom-benchmark TSVs: the image and mixed variants, and the
  text variants in a second, image-less file (conventions in its docstring).
- :func:`export_lmms_eval` — a relocatable lmms-eval task folder: task YAML, ``utils.py`` and the parquet.

Every export carries the ids the way back needs (``variant_id``, ``problem_id``, ``cell_id``, ``modality``,
the factor levels; :mod:`restplus.runner.importer` joins harness results on them). The prompts and decoding
of a run are added by :mod:`restplus.runner.peer_export` (variants never import the runner). The PNG bytes
are exported unchanged, so every exported image has the sha256 of the run folder.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .. import atomic
from ..errors import SpecError
from ..grammar.grid import Grid
from ..hashing import canonical_json, digest
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
Instruction = Callable[[Variant], str]


@dataclass(frozen=True, slots=True)
class VlmevalkitExport:
    """What :func:`export_vlmevalkit_tsv` wrote. Path-like: ``os.fspath(x)`` is the image TSV (or the text
    TSV when the set has no image variant).

    path         the image TSV (image and mixed variants), or None when there are none
    text_path    the text TSV (text variants, no image column), or None when there are none
    n_image_rows, n_text_rows  rows in each file; together they are every variant of the source
    """

    path: Path | None
    text_path: Path | None
    n_image_rows: int
    n_text_rows: int

    def __fspath__(self) -> str:
        return os.fspath(self.path if self.path is not None else self.text_path)  # type: ignore[arg-type]

    @property
    def files(self) -> tuple[Path, ...]:
        return tuple(p for p in (self.path, self.text_path) if p is not None)


def text_tsv_path(path: str | os.PathLike[str]) -> Path:
    """``exports/rest.tsv`` -> ``exports/rest_text.tsv``: the text rows' file (a separate VLMEvalKit dataset)."""
    path = Path(path)
    return path.with_name(f"{path.stem}_text{path.suffix or '.tsv'}")


def export_vlmevalkit_tsv(source: Any, path: str | os.PathLike[str], *, instruction: Instruction | None = None,
                          empty_question: str = DEFAULT_EMPTY_QUESTION, batch_size: int = 256) -> VlmevalkitExport:
    """Write VLMEvalKit custom-benchmark TSVs (put them under ``$LMUData``); returns a :class:`VlmevalkitExport`.

    Every variant is exported; none is dropped. VLMEvalKit's image datasets skip rows without an image, so the
    text-modality variants go to a second file, :func:`text_tsv_path` (``<stem>_text.tsv``, no image columns,
    always option columns ``A``/``B`` so VLMEvalKit loads it as a text multiple-choice dataset); run it as its
    own dataset. Conventions:

    - ``index``: the variant's position in the source (0..n-1 across both files, so an index names one
      variant even when the files' predictions are combined); ``image``: base64 PNG (bytes unchanged). A
      variant with several images stores them as a Python-list string of base64 strings plus an ``image_path``
      list, as VLMEvalKit's multi-image datasets do; ``image_path`` is ``<variant_id>.png`` otherwise.
    - ``question``: the variant's text parts (blank-line joined), then ``instruction(variant)`` when given
      (:func:`restplus.runner.peer_export.export_vlmevalkit_tsv` passes the run's solve prompt, so the model is
      asked for the final ``Answer:`` line restplus's extractors read). When the choices are text (text and
      mixed modality) they move from the question to the option columns ``A``, ``B``, ... (as many as the
      largest choice list), which VLMEvalKit prints as options; when the choices are drawn in the image the
      option columns stay empty, so the stimulus is not leaked as text (``choices_json`` keeps them). An
      empty question (everything in the image, no instruction) becomes ``empty_question``.
    - ``answer``: gold answer (a letter for MCQ); ``category``: modality (VLMEvalKit splits accuracy by it);
      ``l2-category``: task. Our ids (``variant_id``, ``problem_id``, ``cell_id``), every factor level,
      ``modality``, ``answer_type``, ``image_sha256`` and ``choices_json`` follow as extra columns; VLMEvalKit
      copies them into its prediction file, which is how :func:`restplus.runner.importer.import_results` joins
      the predictions back.
    """
    import polars as pl

    grid, pairs, info = _source(source)
    n_opt = max(len(p.choices) for p in info["problems"]) if info["problems"] else 0
    if n_opt > len(LETTERS):
        raise SpecError(f"a problem has {n_opt} choices; the TSV export supports at most {len(LETTERS)} (A..J).")
    targets = {"image": Path(path), "text": text_tsv_path(path)}
    letters = {"image": LETTERS[:n_opt], "text": LETTERS[:max(n_opt, 2)]}  # text file: A/B so it is text MCQ
    tmps = {k: atomic.temp_path(p) for k, p in targets.items()}
    counts = {"image": 0, "text": 0}
    handles = {}
    try:
        for k in tmps:
            handles[k] = open(tmps[k], "wb")  # noqa: SIM115 - closed in the finally block below
        buffers: dict[str, list[dict[str, Any]]] = {"image": [], "text": []}
        for index, (v, p) in enumerate(pairs):
            kind = "image" if v.images else "text"
            q = instruction(v) if instruction is not None else None
            buffers[kind].append({"index": index, **_tsv_row(v, p, grid, empty_question, letters[kind], q)})
            counts[kind] += 1
            if len(buffers[kind]) >= batch_size:
                _write_tsv(pl, handles[kind], buffers[kind], header=counts[kind] == len(buffers[kind]))
                buffers[kind] = []
        for kind, rows in buffers.items():
            if rows:
                _write_tsv(pl, handles[kind], rows, header=counts[kind] == len(rows))
        for h in handles.values():
            h.close()
        if not any(counts.values()):
            raise SpecError("the source has no variants; generate some first (restplus generate ...).")
        for k, n in counts.items():
            if n:
                atomic.commit(tmps[k], targets[k])
            else:
                tmps[k].unlink(missing_ok=True)
                targets[k].unlink(missing_ok=True)  # a stale file from an earlier export would look current
    except BaseException:
        for k, h in handles.items():
            h.close()
            tmps[k].unlink(missing_ok=True)
        raise
    return VlmevalkitExport(targets["image"] if counts["image"] else None, targets["text"] if counts["text"] else None,
                            counts["image"], counts["text"])


def _tsv_row(v: Variant, p: Problem, grid: Grid, empty_question: str, letters: str,
             instruction: str | None) -> dict[str, Any]:
    in_image = any("choices" in im.roles for im in v.images)
    question = "\n\n".join(v.text_parts)
    choice_text = next((s.text for s in p.segments if s.role == "choices"), "")
    if p.choices and not in_image and choice_text and choice_text in question:
        question = question.replace(choice_text, "").strip()
    if instruction:
        question = "\n\n".join(x for x in (question, instruction) if x)
    row: dict[str, Any] = {}
    if v.images:
        b64 = [base64.b64encode(im.png).decode("ascii") for im in v.images]
        row["image"] = b64[0] if len(b64) == 1 else repr(b64)
        row["image_path"] = f"{v.variant_id}.png" if len(b64) == 1 else repr([f"{v.variant_id}_{k}.png"
                                                                              for k in range(len(b64))])
    row["question"] = question or empty_question
    for k, letter in enumerate(letters):
        row[letter] = p.choices[k] if (k < len(p.choices) and not in_image) else None
    row.update({"answer": v.answer, "category": v.modality, "l2-category": v.task, "variant_id": v.variant_id,
                "problem_id": v.problem_id, "cell_id": v.cell.cell_id, "modality": v.modality, "task": v.task,
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
Images come first and the text parts follow, as in restplus's image and mixed variants; the run's
solve instruction (INSTRUCTIONS) comes last, as in a native restplus request.

The parquet is found beside this file (``data_files`` below, read by the task YAML through
``!function utils.data_files``), so the folder can be moved or copied as a whole.

``process_results`` gives lmms-eval an approximate exact_match; restplus's own scoring (the
extractors of a native run) comes from ``restplus import-results`` on the --log_samples file.
"""

import io
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
data_files = {"test": os.path.join(HERE, __PARQUET__)}

# (modality, task, answer_type) -> the run's solve instruction, appended after the variant's text parts.
INSTRUCTIONS = __INSTRUCTIONS__

FORMAT = {  # fallback answer-format line for a (modality, task, answer_type) not in INSTRUCTIONS
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


def instruction(doc):
    key = "|".join(str(doc.get(k)) for k in ("modality", "task", "answer_type"))
    return INSTRUCTIONS.get(key) or FORMAT.get(doc.get("answer_type"), FORMAT["exact"])


def doc_to_text(doc, lmms_eval_specific_kwargs=None):
    kw = lmms_eval_specific_kwargs or {}
    body = "\n\n".join(t for t in (doc.get("texts") or []) if t)
    return "\n\n".join(x for x in (kw.get("pre_prompt", ""), body, instruction(doc), kw.get("post_prompt", "")) if x)


_NUM = r"-?\d+(?:\.\d+)?"
_ANSWER = re.compile(r"answer\s*\**\s*:\s*\**(.*)", re.IGNORECASE)


def extract(text, answer_type):
    """Approximate extraction: the segment after the last "Answer:" (else the whole text), then the last
    option letter / last number / all X=value pairs / the normalised text."""
    t = (text or "").strip()
    marks = _ANSWER.findall(t)
    if marks:
        t = marks[-1].strip()
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
# Run: python -m lmms_eval --include_path FOLDER --tasks {task} --model ... --log_samples --output_path logs/
# Then score it exactly as restplus would: restplus import-results logs/.../*_samples_{task}.jsonl --variants RUN
# The parquet path comes from utils.py (beside it), so this folder can be moved as a whole.
# lmms-eval >= 0.6 can add `cluster_key: problem_id` for SEs clustered by base problem.
task: {task_q}
dataset_path: parquet
dataset_kwargs:
  data_files: !function utils.data_files
test_split: test
output_type: generate_until
doc_to_visual: !function utils.doc_to_visual
doc_to_text: !function utils.doc_to_text
doc_to_target: answer
process_results: !function utils.process_results
generation_kwargs:
{generation}
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
  restplus_n_variants: {n}
  restplus_variants_digest: {order_q}
{extra}"""

DEFAULT_GENERATION: dict[str, Any] = {"max_new_tokens": 256, "temperature": 0, "do_sample": False}


def variants_digest(variant_ids: Iterable[str]) -> str:
    """Digest of the variant ids *in export order*: the row order lmms-eval's ``doc_id`` indexes into."""
    return digest(list(variant_ids), 16)


def export_lmms_eval(source: Any, folder: str | os.PathLike[str], *, task: str = "restplus",
                     instruction: Instruction | None = None, generation: Mapping[str, Any] | None = None,
                     metadata: Mapping[str, Any] | None = None) -> Path:
    """Write an lmms-eval task folder; returns the path of the task YAML.

    Files: ``<task>.yaml`` (``dataset_path: parquet`` whose ``data_files`` come from ``utils.py``, which
    finds the parquet beside itself, so the folder is relocatable; ``doc_to_visual`` / ``doc_to_text`` /
    ``process_results`` pointing at ``utils.py``; exact-match metric; ``generation`` as
    ``generation_kwargs``, default greedy with 256 new tokens), ``utils.py`` (standalone hooks; see its
    docstring) and ``<task>.parquet`` (:func:`export_hf_parquet`). ``instruction(variant)`` is appended after
    each variant's text parts (one text per modality, task and answer type);
    :func:`restplus.runner.peer_export.export_lmms_eval` passes the run's solve prompts and decoding.
    ``metadata`` entries are added to the YAML's ``metadata``. No network is needed to run it.
    """
    import re

    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", task):
        raise SpecError(f"task={task!r} must be an identifier (letters, digits, underscores), e.g. 'restplus_smoke'.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(source, (str, os.PathLike)):
        source = load_run(source)
    _, pairs, info = _source(source)
    instructions: dict[str, str] = {}
    ids: list[str] = []
    for v, _ in pairs:
        ids.append(v.variant_id)
        if instruction is not None:
            key = f"{v.modality}|{v.task}|{v.answer_type}"
            text = instruction(v)
            if instructions.setdefault(key, text) != text:
                raise SpecError(f"instruction() gave two texts for {key!r} (modality|task|answer_type); the lmms-eval "
                                "task holds one instruction per modality, task and answer type.")
    export_hf_parquet(source, folder / f"{task}.parquet")
    utils = (_LMMS_UTILS.replace("__PARQUET__", json.dumps(f"{task}.parquet"))
             .replace("__INSTRUCTIONS__", json.dumps(instructions, indent=4, sort_keys=True, ensure_ascii=False)))
    atomic.write_text(folder / "utils.py", utils)
    gen = dict(DEFAULT_GENERATION if generation is None else generation)
    extra = "".join(f"  {k}: {json.dumps(v, sort_keys=True)}\n" for k, v in (metadata or {}).items())
    yml = folder / f"{task}.yaml"
    atomic.write_text(yml, _LMMS_YAML.format(
        task=task, task_q=json.dumps(task), spec_q=json.dumps(info["spec_hash"]), seed=int(info["seed"]),
        n=len(ids), order_q=json.dumps(variants_digest(ids)), extra=extra,
        generation="".join(f"  {k}: {json.dumps(v)}\n" for k, v in gen.items()).rstrip("\n")))
    return yml
