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
                   help="built-in sets (soe,arith,mcq,chess,graph,chart; see rp.builtin_names()) or a problem file "
                        "(JSONL/JSON/CSV/TSV/parquet; see --preset)")
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
    p.add_argument("--out", required=True, help="PNG path (big grids: OUT-1.png, OUT-2.png ... one per page)")
    p.add_argument("--columns", default=None, help="factor whose levels form the columns")
    p.add_argument("--filter", action="append", default=[], metavar="FACTOR=LEVEL[,LEVEL]",
                   help="only cells at these levels (repeatable; the text cell always stays)")
    p.add_argument("--cells", default=None, help="only these cell ids (comma-separated; see describe --cells)")
    p.add_argument("--max-side", type=int, default=None, help="px per side of a page (default 4096)")


def parse_filters(items: list[str]) -> dict[str, list[str]]:
    """``["dpi=50,100", "font=Kalam"]`` -> ``{"dpi": ["50", "100"], "font": ["Kalam"]}``."""
    out: dict[str, list[str]] = {}
    for item in items:
        name, eq, levels = item.partition("=")
        if not eq or not name.strip() or not levels.strip():
            raise SpecError(f"--filter {item!r} must be FACTOR=LEVEL or FACTOR=LEVEL,LEVEL, e.g. --filter dpi=50.")
        out.setdefault(name.strip(), []).extend(x.strip() for x in levels.split(",") if x.strip())
    return out


def run_contact_sheet(args: argparse.Namespace) -> int:
    from ..grammar.select import filter_cells
    from ..variants.contact import MAX_SIDE, contact_sheet_pages, page_paths
    from ..variants.runfolder import load_run

    run = load_run(args.run)
    ids = [p.problem_id for p in run.problems]
    pid = ids[int(args.problem)] if args.problem.isdigit() and int(args.problem) < len(ids) else args.problem
    if pid not in ids:
        from ..errors import unknown_name

        raise unknown_name("problem id", pid, ids)
    cells = run.grid.cells()
    if args.filter:
        cells = filter_cells(run.grid, cells, parse_filters(args.filter))
    if args.cells:
        known = {c.cell_id for c in run.grid.cells()}
        want = [c.strip() for c in args.cells.split(",") if c.strip()]
        for cid in want:
            if cid not in known:
                from ..errors import unknown_name

                raise unknown_name("cell id", cid, sorted(known))
        cells = [c for c in cells if c.cell_id in set(want)]
        if not cells:
            raise SpecError(f"--cells {args.cells} and --filter {args.filter} leave no cell in common.")
    keep = {c.cell_id for c in cells}
    from ..variants.runfolder import variant_from_row

    # Rows first, PNGs only for the chosen cells: a big run is not read whole for one sheet.
    variants = [variant_from_row(r, run.grid, run.pngs(r)) for r in run.iter_rows()
                if r["problem_id"] == pid and r["cell_id"] in keep]
    pages = contact_sheet_pages(variants, args.out, columns=args.columns, max_side=args.max_side or MAX_SIDE)
    paths = page_paths(args.out, len(pages))
    size = ", ".join(f"{p.width}x{p.height}" for p in pages)
    print(f"{', '.join(map(str, paths))}: {len(variants)} variants of problem {pid}, {len(pages)} page(s) ({size} px)")
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
    p.add_argument("--like", default=None, metavar="EVALUATED_RUN",
                   help="take the prompts and decoding from this evaluated run's manifest (default: the paper's)")


def run_export(args: argparse.Namespace) -> int:
    from ..runner import peer_export
    from ..variants import exports
    from ..variants.runfolder import load_run

    if args.to not in EXPORTS:
        from ..errors import unknown_name

        raise unknown_name("export format", args.to, EXPORTS)
    run = load_run(args.run)
    if args.to == "hf-parquet":
        print(f"wrote {Path(exports.export_hf_parquet(run, args.out))}")
    elif args.to == "vlmevalkit":
        res = peer_export.export_vlmevalkit_tsv(run, args.out, like=args.like)
        for path, n, what in ((res.path, res.n_image_rows, "image and mixed"), (res.text_path, res.n_text_rows,
                                                                                "text")):
            if path is not None:
                print(f"wrote {path}: {n} {what} variants")
        if res.text_path is not None and res.path is not None:
            print(f"  VLMEvalKit skips image-less rows, so the text variants are their own dataset "
                  f"({res.text_path.stem}); run both and import both prediction files")
    else:
        print(f"wrote {Path(peer_export.export_lmms_eval(run, args.out, task=args.task, like=args.like))}")
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
            "restplus export runs/rest_plus --to lmms-eval --out exports/rest_plus_lmms --like runs/rest_plus/qwen",
            _export_args, run_export),
)
