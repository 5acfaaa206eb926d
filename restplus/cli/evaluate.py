"""``restplus run`` and ``restplus rescore``: evaluate a model on variants, re-score stored answers."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import SpecError, UnknownNameError
from .base import Command

SPEC_SUFFIXES = (".yaml", ".yml", ".json")


def add_model_and_problem_args(p: argparse.ArgumentParser, n_default: int | None) -> None:
    """--model/--base-url/--api-key-env and --problems/--n, shared by the commands that call a model."""
    p.add_argument("--model", required=True,
                   help="reader | hf:PATH | openai:MODEL | any registered adapter name (restplus.models.names())")
    p.add_argument("--base-url", help="server URL for openai:MODEL, e.g. http://127.0.0.1:8000/v1; several servers "
                   "of the same model comma-separated (URL1,URL2): requests go to the least busy one")
    p.add_argument("--api-key-env", default="OPENAI_API_KEY",
                   help="environment variable holding the API key ('none' for servers without auth)")
    o = p.add_argument_group("openai:MODEL options")
    o.add_argument("--preset", help="request preset: openai (default), openai-reasoning (gpt-5, o-series), anthropic, "
                   "gemini, vllm, sglang, ollama, or a registered one")
    o.add_argument("--extra-body", metavar="JSON",
                   help="JSON object merged into every request body; overrides any field, null deletes one, "
                   "e.g. '{\"reasoning_effort\": \"minimal\"}'")
    o.add_argument("--max-tokens", type=int, help="max answer tokens for every request (overrides the task's "
                   "1024/2048; reasoning models need more)")
    o.add_argument("--timeout", type=float, help="per-request timeout in seconds (default 120)")
    h = p.add_argument_group("hf:PATH options")
    h.add_argument("--device", help="torch device, e.g. cpu, cuda, cuda:1, or auto (device_map=auto: shard a big "
                   "model over the GPUs; needs accelerate). Default: cuda when a GPU is visible, else cpu")
    h.add_argument("--dtype", help="auto | float32 | bfloat16 | float16 (default float32)")
    h.add_argument("--attn-implementation", help="attention kernel: eager | sdpa | flash_attention_2 "
                   "(default: transformers' choice; recorded in the fingerprint)")
    h.add_argument("--min-pixels", type=int, help="Qwen-style pixel budget: lower bound per image")
    h.add_argument("--max-pixels", type=int, help="Qwen-style pixel budget: upper bound per image")
    h.add_argument("--trust-remote-code", action="store_true",
                   help="run Python code shipped in the model folder (off by default; warns when on)")
    p.add_argument("--problems", default="soe",
                   help="comma-separated built-in sets (soe, arith, mcq, chess, graph, chart) or a problem file "
                        "(JSONL/JSON/CSV/TSV/parquet; see --problems-preset)")
    p.add_argument("--n", type=int, default=n_default,
                   help=f"items per built-in set (default: {n_default or 'the whole set'})")
    from .problemfile import add_problem_file_args

    add_problem_file_args(p, with_model=True)  # --problems-preset/--fields/--on-error ..., as for generate


def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help="spec file (variants are generated into OUT/variants) or a variants run folder")
    add_model_and_problem_args(p, n_default=None)
    p.add_argument("--seed", type=int, default=0, help="problem and render seed")
    p.add_argument("--out", required=True, help="run folder (results.parquet, manifest.json, cache.sqlite)")
    p.add_argument("--name", default=None,
                   help="label of this run in analyses and reports (default: the --out folder's name)")
    p.add_argument("--workers", type=int, default=4, help="concurrent requests (HTTP/reader) and render workers")
    p.add_argument("--batch-size", type=int, default=1, help="requests per forward pass for hf:PATH models")
    p.add_argument("--limit", type=int, default=None, help="only the first N problems")
    p.add_argument("--threshold", type=float, default=0.0,
                   help="OCR gate: pass when CER <= this (default 0); for a drawing, when its transcription score "
                   ">= 1 - this")
    p.add_argument("--gate-policy", default="exclude", choices=("exclude", "covariate", "ignore"))
    p.add_argument("--casefold", action="store_true", help="OCR gate ignores case")
    p.add_argument("--ocr-first", action="store_true", help="solve prompts for image/mixed ask to transcribe first")
    p.add_argument("--external-gate", default=None, help="also run OCR with this adapter (e.g. reader)")
    p.add_argument("--max-requests", type=int, default=None, help="stop after this many model calls")
    p.add_argument("--chunk-size", type=int, default=16, help="variants per model batch")
    p.add_argument("--max-consecutive-errors", type=int, default=None,
                   help="stop once this many requests in a row failed the same way, e.g. a bad key or a dead "
                        "server (default: restplus.runner.MAX_CONSECUTIVE_ERRORS; 0 = never stop)")
    p.add_argument("--no-resume", action="store_true", help="start OUT over instead of resuming it")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


# CLI option (argparse dest) -> adapter keyword, per adapter. An option given for another adapter is
# refused: silently ignoring --dtype on an HTTP model would leave the user believing it applied.
OPENAI_OPTIONS = {"preset": "preset", "extra_body": "extra_body", "max_tokens": "max_tokens", "timeout": "timeout_s"}
HF_OPTIONS = {"device": "device", "dtype": "dtype", "min_pixels": "min_pixels", "max_pixels": "max_pixels",
              "trust_remote_code": "trust_remote_code", "attn_implementation": "attn_implementation"}


def model_options(args: argparse.Namespace) -> dict[str, Any]:
    """The adapter options given on the command line (unset ones left out)."""
    # "is" tests: 0 == False, and --timeout 0 must reach the adapter's check, not vanish.
    return {k: v for k in (*OPENAI_OPTIONS, *HF_OPTIONS)
            if (v := getattr(args, k, None)) is not None and v is not False}


def parse_extra_body(text: str) -> dict[str, Any]:
    """``--extra-body`` as a JSON object, or a SpecError that shows where the JSON is wrong."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(f"--extra-body {text!r} is not valid JSON ({exc.msg} at character {exc.pos}); write an "
                        "object, e.g. --extra-body '{\"top_p\": null, \"reasoning_effort\": \"minimal\"}'.") from exc
    if not isinstance(value, dict):
        raise SpecError(f"--extra-body must be a JSON object ({{...}}), got {type(value).__name__} {text!r}.")
    return value


def _adapter_kwargs(spec: str, options: Mapping[str, Any], allowed: Mapping[str, str]) -> dict[str, Any]:
    stray = [k for k in options if k not in allowed]
    if stray:
        which = "openai:MODEL" if stray[0] in OPENAI_OPTIONS else "hf:PATH"
        raise SpecError(f"--{stray[0].replace('_', '-')} applies to --model {which} only, not --model {spec!r}; "
                        "remove it.")
    kw = {allowed[k]: v for k, v in options.items()}
    if "extra_body" in kw:
        kw["extra_body"] = parse_extra_body(kw["extra_body"])
    return kw


def load_model(spec: str, *, base_url: str | None = None, api_key_env: str | None = "OPENAI_API_KEY",
               workers: int = 4, batch_size: int = 1, options: Mapping[str, Any] | None = None) -> Any:
    """An adapter from a CLI model string: ``reader``, ``hf:PATH``, ``openai:MODEL`` or a registered name.

    ``options`` are the adapter options from the command line (:func:`model_options`).
    """
    from .. import models

    options = dict(options or {})
    name, _, arg = spec.partition(":")
    if name == "hf":
        if not arg:
            raise SpecError("--model hf:PATH needs the model folder, e.g. --model hf:models/qwen2-vl-2b.")
        return models.load("hf", path=arg, batch_size=batch_size, **_adapter_kwargs(spec, options, HF_OPTIONS))
    if name == "openai":
        if not arg or not base_url:
            raise SpecError("--model openai:MODEL needs a model name and --base-url, e.g. --model openai:qwen2.5-vl "
                            "--base-url http://127.0.0.1:8000/v1.")
        key_env = None if (api_key_env or "").lower() in ("", "none") else api_key_env
        return models.load("openai", model=arg, base_url=base_url, api_key_env=key_env, concurrency=workers,
                           **_adapter_kwargs(spec, options, OPENAI_OPTIONS))
    _adapter_kwargs(spec, options, {})  # reader and registered names take none of these options
    if name == "reader":
        return models.load("reader", concurrency=workers)
    if name not in models.names():
        from ..errors import unknown_name

        raise unknown_name("model", spec, [*models.names(), "hf:PATH", "openai:MODEL"])
    if arg:
        raise UnknownNameError(f"model {spec!r}: adapter {name!r} takes no ':' argument on the command line.")
    return models.load(name)


def run_run(args: argparse.Namespace) -> int:
    from ..grammar.spec import load_grid
    from ..runner.evaluation import evaluate
    from ..variants.generation import generate
    from ..variants.runfolder import load_run

    out = Path(args.out)
    src = Path(args.source)
    if not (src.is_dir() or (src.is_file() and src.suffix in SPEC_SUFFIXES)):
        raise SpecError(f"source {str(src)!r} is neither a spec file ({', '.join(SPEC_SUFFIXES)}) nor a variants "
                        "run folder; check the path.")
    # Models first: a typo in --model fails in a second, not after rendering every variant.
    model = load_model(args.model, base_url=args.base_url, api_key_env=args.api_key_env, workers=args.workers,
                       batch_size=args.batch_size, options=model_options(args))
    ext = load_model(args.external_gate, workers=args.workers) if args.external_gate else None
    limit = args.limit
    try:
        if src.is_file():
            grid = load_grid(src)
            from .problemfile import problems_from_args

            probs = problems_from_args(args)
            # generate() resumes a finished folder for free and refuses one made from other inputs.
            source: Any = generate(probs, grid, args.seed, out / "variants", workers=args.workers,
                                   progress=not args.no_progress)
            limit = None  # already applied to the problems
        else:
            source = load_run(src)
        res = evaluate(source, model, out=out, gate_threshold=args.threshold, gate_policy=args.gate_policy,
                       normalization={"casefold": args.casefold},
                       prompts={"ocr_first": True} if args.ocr_first else None,
                       progress=not args.no_progress, max_requests=args.max_requests, external_gate=ext,
                       resume=not args.no_resume, limit=limit, chunk_size=args.chunk_size, run_name=args.name,
                       **_streak_arg(args.max_consecutive_errors))
    finally:
        model.close()
        if ext is not None:
            ext.close()
    print(summary(res.table, res.manifest))
    return _exit_status(res.manifest)


def _streak_arg(n: int | None) -> dict[str, Any]:
    if n is None:
        return {}  # evaluate()'s default
    if n < 0:
        raise SpecError(f"--max-consecutive-errors {n} must be >= 0 (0 = never stop early).")
    return {"max_consecutive_errors": n or None}


def _exit_status(manifest: dict[str, Any]) -> int:
    """0 when every request was answered; else 1, with one line on stderr saying what failed."""
    c = manifest.get("counts", {})
    failed = (c.get("errors") or 0) + (c.get("ext_errors") or 0)
    if not failed:
        return 0
    kinds = ", ".join(f"{k} x{n}" for k, n in (c.get("errors_by_kind") or {}).items())
    first = str(c.get("first_error") or "")
    first = first if len(first) <= 200 else first[:197] + "..."
    print(f"restplus run: {manifest.get('status')}: {failed} of {c.get('calls', 0) + c.get('ext_calls', 0)} model "
          f"calls failed ({kinds}); first: {first}. Failed requests are not cached: re-run to retry them.",
          file=sys.stderr)
    return 1


def summary(table: Any, manifest: dict[str, Any]) -> str:
    """A few lines: status, counts, accuracy per modality (all and gated), OCR pass rate."""
    import polars as pl

    c = manifest.get("counts", {})
    lines = [f"{manifest.get('status')}: {table.height} rows -> {manifest.get('files', {}).get('results')} "
             f"(requests {c.get('requests')}, cache hits {c.get('cache_hits')}, model calls {c.get('calls')}, "
             f"errors {c.get('errors')}, pending {c.get('pending')})"]
    solve = table.filter(pl.col("prompt_type") == "solve")
    if solve.height:
        # correct is null on failed requests (missing, not wrong): mean() leaves them out, n_missing counts them
        acc = (solve.group_by("modality").agg(pl.len().alias("n"), pl.col("correct").mean().alias("acc"),
                                               pl.col("error").is_not_null().sum().alias("n_missing"),
                                               pl.col("correct").filter(pl.col("gate_passed").is_null()
                                                                        | pl.col("gate_passed")).mean().alias("gated"))
               .sort("modality"))
        for m, n, a, miss, gt in acc.iter_rows():
            gtxt = "n/a" if gt is None else f"{gt:.3f}"
            atxt = "n/a" if a is None else f"{a:.3f}"
            lines.append(f"  {m:<6} n={n:<5} accuracy={atxt}  gated={gtxt}  missing={miss}")
    ocr = table.filter(pl.col("prompt_type") == "ocr")
    if ocr.height:
        lines.append(f"  OCR gate (CER <= {manifest['gate']['threshold']}): "
                     f"{ocr['gate_passed'].fill_null(False).mean():.3f} of {ocr.height} transcriptions pass")
    return "\n".join(lines)


def _rescore_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="a run folder written by `restplus run`")
    p.add_argument("--threshold", type=float, default=None, help="new CER threshold (default: the run's)")
    p.add_argument("--out", default=None,
                   help="folder for the rescored run (default: the sibling RUN.rescored-cer<threshold>); the "
                        "original run folder is never rewritten")
    p.add_argument("--name", default=None, help="name of the rescored run (default: the original name with the "
                                                "same .rescored-... suffix)")
    case = p.add_mutually_exclusive_group()
    case.add_argument("--casefold", dest="casefold", action="store_true", default=None, help="ignore case in CER")
    case.add_argument("--no-casefold", dest="casefold", action="store_false", help="case matters in CER")


def run_rescore(args: argparse.Namespace) -> int:
    from ..runner.gate import Normalization
    from ..runner.manifest import read_manifest
    from ..runner.rows import rescore, rescore_out

    norm = None
    if args.casefold is not None:
        m = read_manifest(args.run) or {}
        base = dict((m.get("gate") or {}).get("normalization") or Normalization().to_dict())
        norm = {**base, "casefold": args.casefold}
    out = args.out or str(rescore_out(args.run, args.threshold, norm))  # named here so the message says where
    table = rescore(args.run, threshold=args.threshold, normalization=norm, out=out, name=args.name)
    print(summary(table, read_manifest(out) or {}))
    print(f"wrote the rescored run to {out} ({args.run} is unchanged)")
    return 0


COMMANDS = (
    Command("run", "evaluate a model on a spec's variants (generated first) or on a variants run folder",
            "restplus run perturbations/smoke.yaml --model reader --problems soe --limit 4 --out runs/smoke",
            _run_args, run_run),
    Command("rescore", "re-apply answer extraction and the OCR gate to a run's stored responses (no model calls)",
            "restplus rescore runs/smoke --threshold 0.02 --casefold",
            _rescore_args, run_rescore),
)
