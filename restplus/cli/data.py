"""CLI commands that make and export variants: generate, contact-sheet, show, export."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import SpecError
from .base import Command
from .problemfile import add_problem_file_args, problems_from_args


def _generate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", help="spec file (YAML or JSON)")
    p.add_argument("--problems", default="soe",
                   help="built-in sets (soe,arith,mcq) or a problem file (JSONL/JSON/CSV/TSV/parquet; see --preset)")
    p.add_argument("--n", type=int, default=None, help="items per built-in set (default: the whole set)")
    p.add_argument("--limit", type=int, default=None, help="only the first N problems")
    p.add_argument("--seed", type=int, default=0, help="run seed (problems and per-variant render seeds)")
    p.add_argument("--out", required=True, help="run folder to write (resumable)")
    p.add_argument("--workers", type=int, default=1, help="render processes")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_problem_file_args(p)


def run_generate(args: argparse.Namespace) -> int:
    from ..grammar.spec import load_grid
    from ..variants.generation import generate

    grid = load_grid(args.spec)
    problems = problems_from_args(args)
    folder = generate(problems, grid, seed=args.seed, out=args.out, workers=args.workers,
                      progress=not args.no_progress)
    print(f"{args.out}: {len(folder)} variants ({len(problems)} problems x {grid.n_cells} cells); {folder.stats}")
    return 0


def _sheet_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="a run folder written by `restplus generate`")
    p.add_argument("--problem", default="0", help="problem id, or its index in the run (default 0)")
    p.add_argument("--out", required=True, help="PNG path")
    p.add_argument("--columns", default=None, help="factor whose levels form the columns")


def run_contact_sheet(args: argparse.Namespace) -> int:
    from ..variants.contact import contact_sheet
    from ..variants.runfolder import load_run

    run = load_run(args.run)
    ids = [p.problem_id for p in run.problems]
    pid = ids[int(args.problem)] if args.problem.isdigit() and int(args.problem) < len(ids) else args.problem
    if pid not in ids:
        from ..errors import unknown_name

        raise unknown_name("problem id", pid, ids)
    sheet = contact_sheet([v for v in run.variants() if v.problem_id == pid], args.out, columns=args.columns)
    print(f"{args.out}: {sheet.width}x{sheet.height} px, problem {pid}")
    return 0


def _show_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("text", help="the text to render (quote it)")
    p.add_argument("--spec", required=True, help="spec file")
    p.add_argument("--out", required=True, help="PNG path")
    p.add_argument("--seed", type=int, default=0)


def run_show(args: argparse.Namespace) -> int:
    from ..grammar.spec import load_grid
    from ..variants.contact import contact_sheet
    from ..variants.ondemand import variants

    if not args.text.strip():
        raise SpecError("show: the text is empty; pass the text to render, e.g. restplus show \"2A + 3B = 12\" ...")
    vs = variants(args.text, load_grid(args.spec), seed=args.seed)
    sheet = contact_sheet(vs, args.out)
    print(f"{args.out}: {len(vs)} variants, {sheet.width}x{sheet.height} px")
    return 0


EXPORTS = ("hf-parquet", "vlmevalkit", "lmms-eval")


def _export_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="a run folder written by `restplus generate`")
    p.add_argument("--to", required=True, help=f"one of: {', '.join(EXPORTS)}")
    p.add_argument("--out", required=True, help="output file (parquet/tsv) or folder (lmms-eval)")
    p.add_argument("--task", default="restplus", help="lmms-eval task name")


def run_export(args: argparse.Namespace) -> int:
    from ..variants import exports
    from ..variants.runfolder import load_run

    if args.to not in EXPORTS:
        from ..errors import unknown_name

        raise unknown_name("export format", args.to, EXPORTS)
    run = load_run(args.run)
    if args.to == "hf-parquet":
        path = exports.export_hf_parquet(run, args.out)
    elif args.to == "vlmevalkit":
        path = exports.export_vlmevalkit_tsv(run, args.out)
    else:
        path = exports.export_lmms_eval(run, args.out, task=args.task)
    print(f"wrote {Path(path)}")
    return 0


COMMANDS = (
    Command("generate", "render every problem in every cell of a spec into a run folder",
            "restplus generate perturbations/rest_plus.yaml --problems soe,mcq --n 20 --out runs/rest_plus --workers 2",
            _generate_args, run_generate),
    Command("contact-sheet", "one PNG showing one problem across all cells of a run, labelled",
            "restplus contact-sheet runs/rest_plus --problem 0 --out reports/rest_plus_sheet.png",
            _sheet_args, run_contact_sheet),
    Command("show", "render an ad-hoc text in every cell of a spec and save a contact sheet",
            'restplus show "Solve: 2A + 3B = 12, A - B = 1" --spec perturbations/rest_plus.yaml --out sheet.png',
            _show_args, run_show),
    Command("export", "export a run folder to HF datasets parquet, a VLMEvalKit TSV or an lmms-eval task folder",
            "restplus export runs/rest_plus --to vlmevalkit --out exports/rest_plus.tsv",
            _export_args, run_export),
)
