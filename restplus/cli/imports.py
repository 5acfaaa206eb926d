"""CLI command that brings peer-harness results back: import-results."""

from __future__ import annotations

import argparse

from .base import Command


def _import_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("results", nargs="+", help="lmms-eval *_samples_<task>.jsonl, or VLMEvalKit prediction file(s) "
                                              "(.xlsx/.tsv/.csv; the image and the _text dataset)")
    p.add_argument("--variants", required=True, help="the variants folder that was exported (`restplus generate`)")
    p.add_argument("--out", required=True, help="run folder to write (then: restplus analyse / report OUT)")
    p.add_argument("--harness", default=None, choices=("lmms-eval", "vlmevalkit"), help="default: from the suffix")
    p.add_argument("--model-name", default=None, help="the model column (default: from the file's name)")
    p.add_argument("--like", default=None, metavar="EVALUATED_RUN",
                   help="the export used this run's prompts and decoding (`restplus export --like`)")
    p.add_argument("--name", default=None, help="the run's label in analyses (default: the --out folder's name)")
    p.add_argument("--allow-missing", action="store_true",
                   help="import a partial run (e.g. lmms-eval --limit): variants without a result are left out")


def run_import(args: argparse.Namespace) -> int:
    from ..runner.importer import import_results
    from ..runner.peer_export import settings_from_run

    prompts, decoding = settings_from_run(args.like) if args.like else (None, None)
    res = import_results(args.results, args.variants, out=args.out, harness=args.harness,
                         model_name=args.model_name, prompts=prompts, decoding=decoding,
                         allow_missing=args.allow_missing, run_name=args.name)
    c, src = res.counts, res.manifest["source"]
    print(f"{args.out}: {c['rows']} rows from {src['harness']} {src['version']} "
          f"({len(src['files'])} file(s)); {c['errors']} failed, {c['missing']} missing; status {res.status}")
    print(f"  next: restplus analyse {args.out}   |   restplus report {args.out} --out reports/NAME")
    return 0 if res.status == "complete" else 1


COMMANDS = (
    Command("import-results", "join lmms-eval / VLMEvalKit results to the exported variants and score them "
                              "with restplus's extractors",
            "restplus import-results logs/model/2026-01-01T00-00_samples_restplus.jsonl --variants runs/rest_plus "
            "--out runs/rest_plus/model_lmms",
            _import_args, run_import),
)
