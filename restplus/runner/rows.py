"""The long per-sample table: row specs, scoring, and re-scoring of stored responses.

Scoring is a pure function of stored data (responses, gold answers, OCR references), so
:func:`rescore` can re-apply the extractors and a new gate threshold or normalisation to a finished
run without calling any model, into a new run folder beside it (the original is never rewritten).
A run folder holds, next to ``results.parquet``, ``rows.parquet``
(per row: request keys, answer type, OCR reference and OCR call state) and ``problems.jsonl``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import atomic
from ..errors import CacheMismatchError
from ..records import Response
from ..schema import CALL_COLUMNS, COVARIATE_COLUMNS, GATE_COLUMNS, ID_COLUMNS, OUTCOME_COLUMNS
from .gate import Normalization, as_normalization, check_threshold, gate_error, gate_target, passes
from .manifest import PROBLEMS, RESULTS, ROWS, read_manifest

EXT_COLUMNS = ("ext_ocr_text", "ext_ocr_cer", "ext_gate_passed")
# Per-row sidecar (rows.parquet): what rescoring needs beyond the table itself.
# ``ocr_scorer`` is "cer" or an image-native source kind (restplus.runner.gate.gate_target); a folder
# written before it existed has none, which scores as CER, as every OCR row then was.
SIDE_COLUMNS = ("variant_id", "prompt_type", "request_key", "ocr_key", "ext_ocr_key", "answer_type", "reference",
                "ocr_scorer", "ocr_state", "ext_ocr_state")


def dtypes() -> dict[str, Any]:
    import polars as pl

    s, f, i, b = pl.String, pl.Float64, pl.Int64, pl.Boolean
    return {**{c: s for c in ID_COLUMNS}, "answer": s, "parse_status": s, "gold": s, "correct": b,
            "ocr_text": s, "ocr_cer": f, "gate_passed": b, "contrast_ratio": f, "x_height_px": f,
            "image_width_px": i, "image_height_px": i, "image_dpi": i, "processed_width_px": i,
            "processed_height_px": i, "vision_tokens": i, "text_tokens": i, "response": s,
            "tokens_in": i, "tokens_out": i, "latency_s": f, "from_cache": b, "error": s,
            "ext_ocr_text": s, "ext_ocr_cer": f, "ext_gate_passed": b,
            **{c: s for c in SIDE_COLUMNS}}


def table_columns(factors: Sequence[str], external: bool) -> list[str]:
    """Column order of results.parquet: ids, factors, outcome, gate, covariates, call, ext."""
    return [*ID_COLUMNS, *factors, *OUTCOME_COLUMNS, *GATE_COLUMNS, *COVARIATE_COLUMNS, *CALL_COLUMNS,
            *(EXT_COLUMNS if external else ())]


@dataclass(frozen=True, slots=True)
class RowSpec:
    """One future table row, known before any model call (no pixels: cheap to keep for a whole run)."""

    problem_id: str
    task: str
    cell_id: str
    variant_id: str
    prompt_type: str  # "solve" | "ocr"
    modality: str
    factors: tuple[tuple[str, str | None], ...]
    gold: str
    answer_type: str
    key: str
    ocr_key: str | None  # the variant's OCR request (None for text variants)
    ext_ocr_key: str | None
    reference: str | None  # OCR reference (newline-joined rendered texts, or a drawing's notation); None for text
    covariates: tuple[tuple[str, Any], ...]
    ocr_scorer: str | None = None  # "cer" or the image-native source kind; None for text variants


def gold_of(v: Any, problem: Any, memo: dict[tuple[str, str, tuple[str, ...]], str]) -> str:
    """The variant's canonical gold answer; one problem has many variants, so ``memo`` canonicalises once."""
    from ..problems.extract import canonical_answer

    choices = problem.choices if problem is not None else ()
    gkey = (v.answer_type, v.answer, choices)
    if gkey not in memo:
        memo[gkey] = canonical_answer(v.answer_type, v.answer, choices)
    return memo[gkey]


def variant_specs(v: Any, factors: Sequence[str], gold: str, keys: Mapping[str, str],
                  ext_key: str | None = None) -> list[RowSpec]:
    """The rows of one variant, one per prompt type in ``keys`` (prompt type -> request key); the same
    for a native run and for results imported from another harness (which has no OCR request)."""
    labels = v.cell.labels()
    img = v.images[0] if v.images else None
    cov = dict(img.covariates) if img is not None else {}
    covariates = (("contrast_ratio", cov.get("contrast_ratio")), ("x_height_px", cov.get("x_height_px")),
                  ("image_width_px", img.width if img else None), ("image_height_px", img.height if img else None),
                  ("image_dpi", img.dpi if img else None))
    target = gate_target(v)
    ref, scorer = (None, None) if target is None else (target.reference, target.scorer)
    fl = tuple((f, labels.get(f)) for f in factors)
    return [RowSpec(v.problem_id, v.task, v.cell.cell_id, v.variant_id, pt, v.modality, fl, gold, v.answer_type, k,
                    keys.get("ocr"), ext_key, ref, covariates, scorer) for pt, k in keys.items()]


def _state(resp: Response | None) -> str | None:
    return None if resp is None else ("ok" if resp.ok else "error")


def raw_rows(specs: Iterable[RowSpec], responses: Mapping[str, tuple[Response, bool]], *, run_id: str,
             model: str, run: str | None = None) -> list[dict[str, Any]]:
    """Unscored rows for the specs whose own request has a response (pending rows are left out)."""
    rows = []
    for s in specs:
        got = responses.get(s.key)
        if got is None:
            continue
        resp, from_cache = got
        ocr = responses.get(s.ocr_key)[0] if s.ocr_key and s.ocr_key in responses else None
        ext = responses.get(s.ext_ocr_key)[0] if s.ext_ocr_key and s.ext_ocr_key in responses else None
        vt = resp.vision_tokens
        text_tokens = None if resp.tokens_in is None else resp.tokens_in - (vt or 0)
        if resp.tokens_in is not None and vt is None and s.modality != "text":
            text_tokens = None  # image tokens unknown, so the text share is unknown too
        seen = resp.image_sizes[0] if resp.image_sizes and s.modality != "text" else (None, None)
        rows.append({
            "processed_width_px": seen[0], "processed_height_px": seen[1],
            "run_id": run_id, "run": run if run is not None else run_id, "model": model,
            "problem_id": s.problem_id, "task": s.task, "cell_id": s.cell_id,
            "variant_id": s.variant_id, "prompt_type": s.prompt_type, "modality": s.modality, **dict(s.factors),
            "gold": s.gold, **dict(s.covariates), "vision_tokens": vt, "text_tokens": text_tokens,
            "response": resp.text if resp.ok else None, "tokens_in": resp.tokens_in, "tokens_out": resp.tokens_out,
            "latency_s": float(resp.latency_s), "from_cache": bool(from_cache), "error": resp.error,
            "ocr_text": ocr.text if ocr is not None and ocr.ok else None,
            "ext_ocr_text": ext.text if ext is not None and ext.ok else None,
            "request_key": s.key, "ocr_key": s.ocr_key, "ext_ocr_key": s.ext_ocr_key, "answer_type": s.answer_type,
            "reference": s.reference, "ocr_scorer": s.ocr_scorer, "ocr_state": _state(ocr),
            "ext_ocr_state": _state(ext)})
    return rows


def _gate(text: str | None, state: str | None, reference: str | None, scorer: str | None, norm: Normalization,
          threshold: float) -> tuple[float | None, bool | None]:
    """Gate error (CER, or 1 - transcription score for a drawing) and decision. An OCR call that failed
    (state "error") does not pass: the model never showed it can read the image. A pending OCR call
    (state None) leaves both null."""
    if reference is None or state is None:
        return None, None
    if state == "error" or text is None:
        return None, False
    c = gate_error(text, reference, scorer, norm)
    return c, passes(c, threshold)


def score_rows(rows: list[dict[str, Any]], problems: Mapping[str, Any], *, threshold: float,
               normalization: Normalization) -> list[dict[str, Any]]:
    """Fill answer, parse_status, correct, ocr_cer, gate_passed (and ext_*) in place."""
    from ..problems.extract import extract

    for r in rows:
        scorer = r.get("ocr_scorer")
        r["ocr_cer"], r["gate_passed"] = _gate(r["ocr_text"], r["ocr_state"], r["reference"], scorer, normalization,
                                               threshold)
        r["ext_ocr_cer"], r["ext_gate_passed"] = _gate(r.get("ext_ocr_text"), r.get("ext_ocr_state"), r["reference"],
                                                       scorer, normalization, threshold)
        if r["prompt_type"] == "ocr":  # transcription rows carry no answer
            r["answer"], r["parse_status"], r["correct"] = None, "ok" if r["error"] is None else "error", None
        elif r["error"] is not None or r["response"] is None:
            # A failed request is missing data, not a wrong answer: scoring it False would turn transport
            # failures (e.g. timeouts on large renders) into an apparent effect of whatever factor they
            # correlate with. Analyses leave these rows out and count them (restplus.stats.missingness).
            r["answer"], r["parse_status"], r["correct"] = None, "error", None
        else:
            ex = extract(r["answer_type"], r["response"], problems.get(r["problem_id"]))
            r["answer"], r["parse_status"] = ex.answer, ex.status
            r["correct"] = bool(ex.ok and ex.answer == r["gold"])  # unparsed counts as wrong
    return rows


def to_frames(rows: list[dict[str, Any]], factors: Sequence[str], external: bool,
              levels: Mapping[str, Sequence[str]] | None = None) -> tuple[Any, Any]:
    """(results table, rows sidecar) as polars DataFrames with fixed column order and dtypes.

    A factor column whose level labels are known (``levels``, from :meth:`Grid.level_labels`) is a polars
    ``Enum`` with the categories in spec order, so the grammar's order reaches the analysis (and parquet)
    without being re-derived from text; other factor columns are strings.
    """
    import polars as pl

    types = dtypes()
    cols = table_columns(factors, external)
    schema = {c: types.get(c, pl.String) for c in dict.fromkeys([*cols, *SIDE_COLUMNS])}
    df = pl.DataFrame([{c: r.get(c) for c in schema} for r in rows], schema=schema, orient="row")
    enums = {f: pl.Enum(list(levels[f])) for f in factors if levels and f in levels}
    if enums:
        df = df.cast(enums)  # type: ignore[arg-type]
    df = df.sort(["problem_id", "cell_id", "prompt_type"])
    return df.select(cols), df.select(SIDE_COLUMNS)


def write_outputs(out: Path, rows: list[dict[str, Any]], factors: Sequence[str], external: bool,
                  levels: Mapping[str, Sequence[str]] | None = None) -> Any:
    table, side = to_frames(rows, factors, external, levels)
    atomic.write_parquet(out / ROWS, side)
    atomic.write_parquet(out / RESULTS, table)  # last: its presence means a consistent pair
    return table


def write_problems(out: Path, problems: Mapping[str, Any]) -> None:
    """problems.jsonl in id order, one ``problem_line`` each: its digest is the identity's ``problems_digest``."""
    from ..variants.runfolder import problem_line

    atomic.write_bytes(out / PROBLEMS, b"".join(problem_line(p) for _, p in sorted(problems.items())))


def read_problems(out: Path) -> dict[str, Any]:
    from ..problems.base import Problem

    p = out / PROBLEMS
    if not p.exists():
        return {}
    probs = [Problem.from_dict(json.loads(ln)) for ln in p.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return {pr.problem_id: pr for pr in probs}


def rescored_name(name: str, threshold: float, normalization: Normalization, original: Normalization) -> str:
    """The default name of a rescored copy: ``NAME.rescored-cer0.02`` (``-norm<hash>`` when the
    normalisation changed too), so the settings are readable from the folder listing."""
    from ..hashing import digest

    tag = f"{name}.rescored-cer{threshold:g}"
    if normalization != original:
        tag += "-norm" + digest(normalization.to_dict(), 6)
    return tag


def rescore_out(run_dir: str | Path, threshold: float | None = None,
                normalization: "Normalization | dict[str, Any] | None" = None) -> Path:
    """The default folder of :func:`rescore`: the sibling ``<run_dir>.rescored-cer<threshold>``."""
    src = Path(run_dir)
    gate = dict((read_manifest(src) or {}).get("gate") or {})
    old = as_normalization(gate.get("normalization"))
    thr = check_threshold(gate.get("threshold", 0.0) if threshold is None else threshold)
    norm = old if normalization is None else as_normalization(normalization)
    return src.with_name(rescored_name(src.name, thr, norm, old))


def rescore(run_dir: str | Path, threshold: float | None = None,
            normalization: "Normalization | dict[str, Any] | None" = None, *,
            out: str | Path | None = None, name: str | None = None) -> Any:
    """Re-score a finished run's stored responses with the extractors and a (new) gate into a new run
    folder; no model is called and ``run_dir`` is left byte-identical.

    ``threshold`` / ``normalization`` default to the run's recorded settings. ``out`` defaults to the
    sibling folder ``<run_dir>.rescored-cer<threshold>`` (see :func:`rescored_name`); it must not be
    ``run_dir`` and may only hold an earlier rescore of the same run. The copy is a run of its own:
    a new ``run_id`` derived from the original's and the gate settings, ``run`` named ``name``
    (default the original name with the same ``.rescored-...`` suffix), and ``manifest["rescored_from"]``
    recording the source folder, run id and gate. Returns the table (polars DataFrame).
    """
    import shutil

    import polars as pl

    from ..hashing import digest

    src = Path(run_dir)
    manifest = read_manifest(src)
    if manifest is None or not (src / RESULTS).exists() or not (src / ROWS).exists():
        raise CacheMismatchError(f"{str(src)!r} is not a finished restplus run folder (needs manifest.json, "
                                 f"{RESULTS} and {ROWS}); run `restplus run ... --out {src}` first.")
    gate = dict(manifest.get("gate") or {})
    old_norm = as_normalization(gate.get("normalization"))
    thr = check_threshold(gate.get("threshold", 0.0) if threshold is None else threshold)
    norm = as_normalization(gate.get("normalization") if normalization is None else normalization)
    table = pl.read_parquet(src / RESULTS)
    old_name = str(manifest.get("run_name") or (table.get_column("run")[0] if "run" in table.columns and
                                                 table.height else src.resolve().name))
    dest = Path(out) if out is not None else rescore_out(src, thr, norm)
    if dest.resolve() == src.resolve():
        raise CacheMismatchError(f"rescore --out {str(dest)!r} is the run folder itself; a rescore never overwrites "
                                 "the original. Pass another --out (or none: the default is the sibling folder "
                                 f"{str(rescore_out(src, thr, norm))!r}).")
    old_id = str(manifest.get("run_id") or "")
    existing = read_manifest(dest) if dest.exists() else None
    if dest.exists() and any(dest.iterdir()) and (existing or {}).get("rescored_from", {}).get("run_id") != old_id:
        raise CacheMismatchError(f"rescore --out {str(dest)!r} already holds something other than a rescore of "
                                 f"run {old_id} ({src}); choose an empty or new folder.")
    side = pl.read_parquet(src / ROWS)
    if table.height != side.height:
        raise CacheMismatchError(f"{str(src)!r}: {RESULTS} has {table.height} rows but {ROWS} has {side.height}; "
                                 "the folder was edited or is from an interrupted write. Re-run `restplus run`.")
    external = "ext_ocr_cer" in table.columns
    factors = list(manifest.get("factors") or [])
    joined = table.drop([c for c in ("ocr_cer", "gate_passed", "ext_ocr_cer", "ext_gate_passed")
                         if c in table.columns]).join(side, on=["variant_id", "prompt_type"], how="left")
    rows = score_rows(joined.to_dicts(), read_problems(src), threshold=thr, normalization=norm)
    # A run of its own: the same id for the same source and gate (a repeated rescore replaces its
    # own copy), never the source's id, so read_runs can put original and rescore side by side.
    new_id = f"{old_id}.rescored-{digest({'t': thr, 'n': norm.to_dict()}, 8)}"
    label = name if name is not None else rescored_name(old_name, thr, norm, old_norm)
    for r in rows:
        r["run_id"], r["run"] = new_id, label
    levels = {c: dt.categories.to_list() for c, dt in table.schema.items() if isinstance(dt, pl.Enum)}
    dest.mkdir(parents=True, exist_ok=True)
    if (src / PROBLEMS).exists():
        shutil.copyfile(src / PROBLEMS, dest / PROBLEMS)
    new = write_outputs(dest, rows, factors, external, levels)
    new_gate = {**gate, "threshold": thr, "normalization": norm.to_dict()}
    atomic.write_json(dest / "manifest.json", {
        **manifest, "run_id": new_id, "run_name": label, "gate": new_gate,
        "rescored_from": {"path": str(src.resolve()), "run_id": old_id, "run_name": old_name, "gate": gate}})
    return new
