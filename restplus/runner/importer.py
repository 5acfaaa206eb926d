"""Import results of peer harnesses (lmms-eval, VLMEvalKit) as a restplus run folder.

A variant set exported with :mod:`restplus.runner.peer_export` is run by lmms-eval or VLMEvalKit; their
per-sample files are joined back to the variants here, and the table is built by the runner's own
code — :func:`~restplus.runner.rows.raw_rows`, :func:`~restplus.runner.rows.score_rows` (restplus's
extractors on the harness's raw responses, as for a native run) and
:func:`~restplus.runner.rows.write_outputs` — with a manifest from
:func:`~restplus.runner.manifest.build_manifest`. The result folder is a run folder like any other:
``effects()``, ``consistency()``, ``analyse``, ``report`` and ``rescore`` read it.

Formats read (columns as the harnesses document them):

- lmms-eval ``--log_samples`` (``<date>_samples_<task>.jsonl``): one JSON object per line with ``doc_id``
  (the row of the task parquet), ``target``, ``filtered_resps`` and, when it differs or in older versions,
  ``resps`` (the raw output), older versions also the ``doc`` (its non-image fields, so our ids). The raw
  output is scored (``resps`` when present, else ``filtered_resps``). The harness version comes from the
  ``<date>_results.json`` beside it (``lmms_eval_version``), whose task ``metadata`` also carries the
  export's ``restplus_variants_digest`` (the row order), checked when present.
- VLMEvalKit prediction files (``<model>_<dataset>.xlsx`` / ``.tsv`` / ``.csv``): the dataset's columns
  (our ``index``, ``variant_id`` ...) plus ``prediction``. A prediction starting with VLMEvalKit's failure
  text ("Failed to obtain answer") is a failed request. The text-modality rows are a separate dataset
  (``<stem>_text.tsv``): pass both prediction files.

The join is by position (lmms-eval ``doc_id``, VLMEvalKit ``index``: both the variant's position in the
export) and is verified against every id the file carries (``variant_id``, the gold ``target`` /
``answer``); any disagreement, a missing, duplicate or extra row is a :class:`ResultsImportError` with
counts and the first ids. Harness runs have no OCR transcriptions, so ``gate_passed`` is null (ungated).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import atomic
from ..errors import ResultsImportError, SpecError, unknown_name
from ..hashing import sha256_bytes
from ..records import Response
from ..variants.exports import variants_digest
from ..variants.runfolder import RunFolder, load_run, problems_digest
from .evaluation import RunResult
from .gate import Normalization, as_normalization, check_threshold
from .manifest import (
    build_manifest,
    font_checksums,
    make_identity,
    new_run_id,
    problem_ids_digest,
    read_manifest,
    run_label,
)
from .prompts import as_prompts, build_requests, decoding_for
from .rows import RowSpec, gold_of, raw_rows, score_rows, variant_specs, write_outputs, write_problems

HARNESSES = ("lmms-eval", "vlmevalkit")
VLMEVALKIT_FAIL = "Failed to obtain answer"  # VLMEvalKit's FAIL_MSG prefix for a request that failed
SHOW = 5  # ids shown in an error message


@dataclass(frozen=True, slots=True)
class PeerRow:
    """One answered sample of a peer file: the variant position it claims, the response and what to verify."""

    position: int
    response: str | None
    error: str | None
    checks: tuple[tuple[str, str], ...]  # (field, value) that must equal the variant's
    where: str  # "file:line" for messages
    tokens: tuple[int | None, int | None] = (None, None)  # (in, out) when the harness logged them


@dataclass(frozen=True)
class PeerFile:
    harness: str
    path: Path
    sha256: str
    version: str
    rows: list[PeerRow]
    info: dict[str, Any] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        return {"path": str(self.path), "sha256": self.sha256, "harness": self.harness, "version": self.version,
                "rows": len(self.rows), **self.info}


# ---------------------------------------------------------------------------------------- reading
def detect_harness(path: Path) -> str:
    """lmms-eval for ``.jsonl``; VLMEvalKit for ``.xlsx`` / ``.tsv`` / ``.csv``."""
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return "lmms-eval"
    if suffix in (".xlsx", ".xls", ".tsv", ".csv"):
        return "vlmevalkit"
    raise ResultsImportError(f"cannot tell which harness wrote {str(path)!r} (suffix {suffix or 'none'!r}); "
                             "expected an lmms-eval --log_samples file (*_samples_<task>.jsonl) or a VLMEvalKit "
                             "prediction file (.xlsx, .tsv or .csv), or pass harness='lmms-eval' / 'vlmevalkit'.")


def _one_text(value: Any, where: str, field_name: str) -> str:
    """The single response in lmms-eval's nesting (``"t"``, ``["t"]`` or ``[["t"]]`` by version)."""
    while isinstance(value, list):
        if len(value) != 1:
            raise ResultsImportError(f"{where}: {field_name} holds {len(value)} responses; restplus scores one "
                                     "response per variant (run lmms-eval without repeats / n > 1).")
        value = value[0]
    if not isinstance(value, str):
        raise ResultsImportError(f"{where}: {field_name} is {type(value).__name__} {value!r}, not generated text; only "
                                 "generate_until tasks (the restplus export) can be imported.")
    return value


def _lmms_results(path: Path) -> dict[str, Any]:
    """The ``<date>_results.json`` written beside ``<date>_samples_<task>.jsonl``, or {} when absent."""
    m = re.match(r"^(?P<date>.*)_samples_(?P<task>.+)\.jsonl$", path.name)
    if m is None:
        return {}
    sibling = path.with_name(f"{m['date']}_results.json")
    if not sibling.exists():
        return {}
    try:
        data = json.loads(sibling.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultsImportError(f"{sibling} (beside the samples) is not valid JSON ({exc}); restore it or move it "
                                 "away to import the samples without it.") from None
    config = ((data.get("configs") or {}).get(m["task"]) or {}) if isinstance(data, dict) else {}
    return {"file": sibling, "task": m["task"], "version": data.get("lmms_eval_version"), "config": config}


_LMMS_FIELDS = {"doc_id", "doc", "target", "arguments", "resps", "filtered_resps", "doc_hash", "prompt_hash",
                "target_hash", "input", "token_counts", "input_media"}


def _tokens(counts: Any) -> tuple[int | None, int | None]:
    """(input, output) tokens from lmms-eval's ``token_counts`` (a list with one dict per request, by version)."""
    while isinstance(counts, list) and len(counts) == 1:
        counts = counts[0]
    if not isinstance(counts, dict):
        return None, None
    ins, outs = counts.get("input_tokens"), counts.get("output_tokens")
    return (ins if isinstance(ins, int) else None), (outs if isinstance(outs, int) else None)


def read_lmms_eval(path: str | os.PathLike[str]) -> PeerFile:
    """Parse an lmms-eval ``--log_samples`` file (see the module docstring for the fields used)."""
    path = Path(path)
    raw = path.read_bytes()
    rows: list[PeerRow] = []
    fields_used: set[str] = set()
    metrics: dict[str, list[float]] = {}
    for lineno, line in enumerate(raw.decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path.name}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ResultsImportError(f"{where} is not JSON ({exc.msg}); an lmms-eval samples file has one JSON "
                                     "object per line.") from None
        if not isinstance(obj, dict) or "doc_id" not in obj:
            raise ResultsImportError(f"{where} has no 'doc_id': is {path.name} an lmms-eval --log_samples file "
                                     "(<date>_samples_<task>.jsonl)?")
        doc_id = obj["doc_id"]
        if isinstance(doc_id, bool) or not isinstance(doc_id, int):
            raise ResultsImportError(f"{where}: doc_id {doc_id!r} is not an integer row index.")
        resp_field = "resps" if "resps" in obj else "filtered_resps"
        if resp_field not in obj:
            raise ResultsImportError(f"{where} (doc_id {doc_id}) has neither 'resps' nor 'filtered_resps': the "
                                     "model's output is not in the file.")
        fields_used.add(resp_field)
        text = _one_text(obj[resp_field], where, resp_field)
        checks: list[tuple[str, str]] = []
        doc = obj.get("doc")
        if isinstance(doc, dict) and doc.get("variant_id") is not None:  # lmms-eval < 0.4 logs the doc
            checks.append(("variant_id", str(doc["variant_id"])))
        if obj.get("target") is not None:
            checks.append(("answer", str(obj["target"])))
        rows.append(PeerRow(doc_id, text, None, tuple(checks), where, _tokens(obj.get("token_counts"))))
        for k, val in obj.items():  # the harness's own per-sample metrics, kept for comparison
            if k not in _LMMS_FIELDS and isinstance(val, (int, float)) and not isinstance(val, bool):
                metrics.setdefault(k, []).append(float(val))
    if not rows:
        raise ResultsImportError(f"{path} has no samples; was lmms-eval run with --log_samples on the exported task?")
    res = _lmms_results(path)
    info: dict[str, Any] = {"response_field": sorted(fields_used),
                            "harness_metrics": {k: sum(v) / len(v) for k, v in sorted(metrics.items())}}
    if res:
        info["results_file"] = str(res["file"])
        meta = res["config"].get("metadata") or {}
        info["task"] = res["task"]
        if meta.get("restplus_variants_digest"):
            info["restplus_variants_digest"] = meta["restplus_variants_digest"]
        if res["config"].get("generation_kwargs"):
            info["generation_kwargs"] = res["config"]["generation_kwargs"]
    return PeerFile("lmms-eval", path, sha256_bytes(raw), str(res.get("version") or "unknown"), rows, info)


def _table(path: Path) -> list[dict[str, Any]]:
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xls"):
        try:
            import openpyxl  # noqa: F401  (pandas reads .xlsx through it)
        except ImportError:
            raise ResultsImportError(
                f"{path.name} is an Excel file and reading it needs openpyxl, which is not installed. Either "
                "`pip install openpyxl`, or convert it: python -c \"import pandas as pd; "
                f"pd.read_excel('{path}').to_csv('{path.with_suffix('.tsv')}', sep='\\t', index=False)\", "
                "or re-run VLMEvalKit with PRED_FORMAT=tsv; then import the .tsv.") from None
        import pandas as pd

        frame = pd.read_excel(path, dtype=str, keep_default_na=False)
        return [{k: (None if v == "" else v) for k, v in r.items()} for r in frame.to_dict("records")]
    import polars as pl

    try:
        frame = pl.read_csv(path, separator="\t" if suffix == ".tsv" else ",", infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        raise ResultsImportError(f"{path} is not a readable {suffix} table ({exc}).") from None
    return frame.to_dicts()


def read_vlmevalkit(path: str | os.PathLike[str]) -> PeerFile:
    """Parse a VLMEvalKit prediction file (see the module docstring)."""
    path = Path(path)
    records = _table(path)
    cols = list(records[0]) if records else []
    missing = [c for c in ("index", "prediction") if c not in cols]
    if missing:
        raise ResultsImportError(f"{path.name} lacks column(s) {missing} (has {cols[:12]}); a VLMEvalKit prediction "
                                 "file has the dataset's columns plus 'prediction'.")
    rows: list[PeerRow] = []
    for k, r in enumerate(records, 2):  # line 1 is the header
        where = f"{path.name}:{k}"
        try:
            value = float(r["index"])
        except (TypeError, ValueError):
            value = float("nan")
        if not value.is_integer():  # "3" and "3.0" (a spreadsheet round trip) are row 3; "3.5" is no row
            raise ResultsImportError(f"{where}: index {r['index']!r} is not an integer.")
        index = int(value)
        pred = r["prediction"] if r["prediction"] is not None else ""
        error = f"vlmevalkit: {pred}" if pred.startswith(VLMEVALKIT_FAIL) else None
        checks = tuple(("variant_id", str(r[c])) for c in ("variant_id",) if r.get(c) is not None)
        rows.append(PeerRow(index, None if error else pred, error, checks, where))
    if not rows:
        raise ResultsImportError(f"{path} has no rows.")
    return PeerFile("vlmevalkit", path, sha256_bytes(path.read_bytes()), "unknown", rows,
                    {"response_field": ["prediction"]})


READERS = {"lmms-eval": read_lmms_eval, "vlmevalkit": read_vlmevalkit}


# ---------------------------------------------------------------------------------------- joining
def _ids(items: Iterable[Any]) -> str:
    items = list(items)
    more = f" (and {len(items) - SHOW} more)" if len(items) > SHOW else ""
    return ", ".join(str(x) for x in items[:SHOW]) + more


def join(files: Sequence[PeerFile], variant_ids: Sequence[str], answers: Sequence[str], *,
         allow_missing: bool = False) -> dict[int, PeerRow]:
    """``{variant position: row}``, refusing duplicates, positions outside the export, id disagreements and
    (unless ``allow_missing``) variants without a row."""
    n = len(variant_ids)
    got: dict[int, PeerRow] = {}
    dup: list[str] = []
    extra: list[str] = []
    for f in files:
        for r in f.rows:
            if not 0 <= r.position < n:
                extra.append(f"{r.where} (position {r.position})")
            elif r.position in got:
                dup.append(f"{r.where} (position {r.position}, also {got[r.position].where})")
            else:
                got[r.position] = r
    if extra:
        raise ResultsImportError(f"{len(extra)} row(s) point past the {n} exported variants: {_ids(extra)}. The "
                                 "results belong to another (larger) export; pass the variants folder it came from.")
    if dup:
        raise ResultsImportError(f"{len(dup)} variant(s) answered twice: {_ids(dup)}. Pass each results file once "
                                 "(and not a file with repeats).")
    bad = []
    for pos, r in sorted(got.items()):
        want = {"variant_id": variant_ids[pos], "answer": answers[pos]}
        bad += [f"{r.where}: {k} {v!r} but variant {pos} has {want[k]!r}" for k, v in r.checks if v != want[k]]
    if bad:
        raise ResultsImportError(f"{len(bad)} row(s) do not match the exported variant at their position: "
                                 f"{_ids(bad)}. The file is from another export (or a re-ordered one); import it "
                                 "against the variants folder it was exported from.")
    missing = [i for i in range(n) if i not in got]
    if missing and not allow_missing:
        raise ResultsImportError(f"{len(missing)} of {n} exported variants have no result (first: "
                                 f"{_ids(variant_ids[i] for i in missing)}). Pass every results file (VLMEvalKit "
                                 "writes one per dataset: the image TSV and <stem>_text.tsv), or allow_missing=True "
                                 "(--allow-missing) to import a partial run.")
    return got


# ---------------------------------------------------------------------------------------- the table
@dataclass
class _Rows:
    ids: list[str] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)  # as exported (lmms-eval's ``target``)
    specs: list[RowSpec] = field(default_factory=list)
    decodings: dict[str, Any] = field(default_factory=dict)
    provenances: list[dict[str, Any]] = field(default_factory=list)


def _variant_rows(folder: RunFolder, problems: Mapping[str, Any], factors: list[str], pset: Any, decoding: Any,
                  fp: Mapping[str, Any]) -> _Rows:
    """One pass over the exported variants (images read once): ids, exported answers, row specs, decodings."""
    out = _Rows()
    golds: dict[tuple[str, str, tuple[str, ...]], str] = {}
    for v in folder.variants():
        dec = decoding_for(v.task, decoding)
        out.decodings.setdefault(v.task, dec.to_dict())
        out.ids.append(v.variant_id)
        out.answers.append(str(v.answer))
        # no OCR request: harnesses don't transcribe, so only the solve row (as a native run builds it)
        key = build_requests(v, pset, dec)["solve"].key(dict(fp))
        out.specs.extend(variant_specs(v, factors, gold_of(v, problems.get(v.problem_id), golds), {"solve": key}))
        out.provenances.extend(dict(im.provenance) for im in v.images)
    return out


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def import_results(results: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], variants: Any, *,
                   out: str | os.PathLike[str], harness: str | None = None, model_name: str | None = None,
                   prompts: Any = None, decoding: Any = None, allow_missing: bool = False,
                   gate_threshold: float = 0.0, normalization: Normalization | Mapping[str, Any] | None = None,
                   run_name: str | None = None) -> RunResult:
    """Join peer-harness results to the variant set they were exported from; write a run folder to ``out``.

    results       one file or several (e.g. VLMEvalKit's image and text prediction files, or lmms-eval samples)
    variants      the variants folder that was exported (``restplus generate`` output), or its ``load_run()``
    harness       "lmms-eval" or "vlmevalkit" (default: from the suffix)
    model_name    the ``model`` column (default: lmms-eval's model folder name / VLMEvalKit's file stem)
    prompts, decoding  what the export asked (default: the paper's, as ``restplus export`` uses); recorded in
                  the manifest and used for the request keys
    allow_missing import a partial run: variants without a result are left out (status "partial") instead
                  of refused
    gate_threshold, normalization  recorded gate settings (rows are ungated: no OCR in a harness run)

    Returns a :class:`~restplus.runner.evaluation.RunResult`; ``manifest["source"]`` records the harness, its
    version ("unknown" when the file does not say) and every file's sha256.
    """
    paths = [Path(results)] if isinstance(results, (str, os.PathLike)) else [Path(p) for p in results]
    if not paths:
        raise SpecError("import_results needs at least one results file.")
    for p in paths:
        if not p.is_file():
            raise ResultsImportError(f"results file {str(p)!r} does not exist (or is not a file).")
    kinds = {detect_harness(p) if harness is None else harness for p in paths}
    for k in kinds:
        if k not in HARNESSES:
            raise unknown_name("harness", k, HARNESSES)
    if len(kinds) > 1:
        raise ResultsImportError(f"the files come from different harnesses ({sorted(kinds)}); import each harness's "
                                 "results into its own folder.")
    kind = kinds.pop()
    files = [READERS[kind](p) for p in paths]
    folder = variants if isinstance(variants, RunFolder) else load_run(variants)
    threshold, norm, pset = check_threshold(gate_threshold), as_normalization(normalization), as_prompts(prompts)
    grid, problems = folder.grid, {p.problem_id: p for p in folder.problems}
    factors = [f.name for f in grid.visual_factors]

    name = model_name or (paths[0].parent.name if kind == "lmms-eval" else paths[0].stem)
    versions = sorted({f.version for f in files})
    fp = {"adapter": "import", "harness": kind, "version": versions, "model": name,
          "files": sorted(f.sha256 for f in files)}
    vr = _variant_rows(folder, problems, factors, pset, decoding, fp)
    ids, specs = vr.ids, vr.specs
    order = variants_digest(ids)
    for f in files:
        claimed = f.info.get("restplus_variants_digest")
        if claimed is not None and claimed != order:
            raise ResultsImportError(f"{f.path.name}: its task was exported from a variant set with row order "
                                     f"{claimed}, but {folder.path} has {order}; import it against the variants "
                                     "folder it was exported from.")
    got = join(files, ids, vr.answers, allow_missing=allow_missing)

    responses = {specs[pos].key: (Response(text=r.response or "", error=r.error, tokens_in=r.tokens[0],
                                           tokens_out=r.tokens[1]), False) for pos, r in got.items()}
    identity = make_identity(grid.spec_hash, problem_ids_digest(problems), fp,
                             problems_digest(p for _, p in sorted(problems.items())))
    out = Path(out)
    started = _now()
    with atomic.folder_lock(out, "import-results"):
        old = read_manifest(out)
        # like a native run: a unique id (kept when the same files are imported again) and a user label
        run_id = (old or {}).get("run_id") or new_run_id(identity, pset.content_hash)
        label = run_label(out, run_name if run_name is not None else (old or {}).get("run_name"))
        if old is not None and old.get("identity") != identity:  # re-importing the same files may replace
            raise ResultsImportError(
                f"{out} already holds another run ({old.get('run_id')}, model "
                f"{(old.get('model') or {}).get('name')!r}); importing here would replace its results. Choose a "
                "new --out folder for these results.")
        rows = raw_rows(specs, responses, run_id=run_id, model=name, run=label)
        for r in rows:  # the harness measured none of these: unknown, not zero (tokens: only if it logged them)
            r["latency_s"] = None
        rows = score_rows(rows, problems, threshold=threshold, normalization=norm)
        table = write_outputs(out, rows, factors, False, grid.level_labels())
        write_problems(out, problems)
        errors = sum(1 for r in got.values() if r.error is not None)
        missing = len(ids) - len(got)
        status = "partial" if (missing or errors) else "complete"
        counts = {"variants": len(ids), "rows": table.height, "requests": len(got), "calls": 0, "cache_hits": 0,
                  "errors": errors, "pending": missing, "missing": missing}
        source = {"kind": "import", "harness": kind, "version": versions[0] if len(versions) == 1 else versions,
                  "variants": str(folder.path), "variants_digest": order, "files": [f.record() for f in files]}
        man = build_manifest(
            run_id=run_id, run_name=label, status=status, identity=identity, model_name=name, model_fp=fp,
            spec=grid.to_dict(),
            prompts=pset.to_dict(), prompt_hash=pset.content_hash, decoding=vr.decodings,
            gate={"threshold": threshold, "normalization": norm.to_dict(), "policy": "exclude", "image_join": "\\n",
                  "note": f"no OCR in a {kind} run: gate_passed is null (ungated)"},
            counts=counts, fonts=font_checksums(vr.provenances), factors=factors, source=source, external_gate=None,
            started=started, finished=_now())
        atomic.write_json(out / "manifest.json", man)
    return RunResult(out, table, man, status)


__all__ = ["HARNESSES", "PeerFile", "PeerRow", "detect_harness", "import_results", "join", "read_lmms_eval",
           "read_vlmevalkit"]
