"""CLI commands for analysis and the demo: analyse, report, demo."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..errors import SpecError, unknown_name
from ..schema import level_label
from .base import Command


def read_runs(runs: list[str]) -> tuple[Any, list[str], dict[str, str]]:
    """Concatenate the long tables of run folders; factors and references from their manifests."""
    import polars as pl

    from ..runner.rows import concat_results

    tables, factors, reference = [], [], {}
    for run in runs:
        folder = Path(run)
        res, man = folder / "results.parquet", folder / "manifest.json"
        if not res.exists() or not man.exists():
            raise SpecError(f"{run} is not an evaluated run folder (no results.parquet/manifest.json); "
                            "make one with `restplus run SPEC --model ... --out DIR`.")
        manifest = json.loads(man.read_text())
        tables.append(pl.read_parquet(res))
        for f in manifest.get("factors", []):
            if f not in factors:
                factors.append(f)
            spec_f = (manifest.get("spec") or {}).get("factors", {}).get(f)
            if spec_f is not None:
                reference.setdefault(f, level_label(spec_f["reference"]))
    return concat_results(tables), factors, reference


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="+", help="evaluated run folder(s); several models combine into one table")
    p.add_argument("--interactions", type=int, default=1, help="highest interaction order (2 = all pairs)")
    p.add_argument("--gate-policy", default="exclude", choices=("exclude", "covariate", "ignore"))
    p.add_argument("--method", default="gee-logit", choices=("gee-logit", "fe-logit"))
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument("--reference", action="append", default=[], metavar="FACTOR=LEVEL",
                   help="compare against this level instead of the spec's reference (repeatable); the level "
                        "is matched as the spec wrote it, so dpi=200 and font_size=12.0 both work")


def with_references(reference: dict[str, str], overrides: list[str], factors: list[str]) -> dict[str, str]:
    """The manifests' references with ``FACTOR=LEVEL`` overrides from the command line."""
    out = dict(reference)
    for item in overrides:
        name, sep, level = item.partition("=")
        name, level = name.strip(), level.strip()
        if not sep or not name or not level:
            raise SpecError(f"--reference {item!r} must look like FACTOR=LEVEL, e.g. --reference dpi=200.")
        if name not in factors:
            raise unknown_name("factor for --reference", name, factors)
        out[name] = level
    return out


def _analyse_args(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--latex", default=None, help="also write the effect table as LaTeX to this path")


def run_analyse(args: argparse.Namespace) -> int:
    import polars as pl

    from ..stats import consistency, effects

    table, factors, reference = read_runs(args.runs)
    reference = with_references(reference, args.reference, factors)
    models = table.get_column("model").unique(maintain_order=True).to_list() if "model" in table.columns else [None]
    for m in models:
        sub = table if m is None else table.filter(pl.col("model") == m)
        eff = effects(sub, factors, reference=reference, interactions=args.interactions, method=args.method,
                      gate_policy=args.gate_policy, seed=args.seed)
        print(f"== {m or 'run'}\n{eff}\n")
        if args.latex:  # one file per model when there are several, so none overwrites another
            path = Path(args.latex)
            if len(models) > 1:
                path = path.with_name(f"{path.stem}-{m}{path.suffix}")
            path.write_text(eff.to_latex())
    metrics = consistency(table, factors, by=["model"] if "model" in table.columns else [], seed=args.seed)
    overall = metrics.filter(pl.col("scope") == "overall")
    with pl.Config(tbl_rows=60, tbl_cols=12):
        print(overall)
    return 0


def _report_args(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--out", required=True, help="report folder, e.g. reports/<name>")
    p.add_argument("--name", default=None, help="title (default: the folder name)")


def run_report(args: argparse.Namespace) -> int:
    from ..report.write import write_report

    table, factors, reference = read_runs(args.runs)
    reference = with_references(reference, args.reference, factors)
    paths = write_report(table, args.out, factors=factors, reference=reference, name=args.name or Path(args.out).name,
                         interactions=args.interactions, method=args.method, gate_policy=args.gate_policy,
                         seed=args.seed)
    print(f"wrote {len(paths)} files to {args.out}; read {paths['summary_md']} first")
    return 0


def _demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="reports/demo", help="report folder (small, committed artefacts)")
    p.add_argument("--runs", default="runs/demo", help="bulky run folders (images, caches; gitignored)")
    p.add_argument("--quick", action="store_true", help="a few problems per set (CI smoke run)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def run_demo(args: argparse.Namespace) -> int:
    from .demo import DemoPlan, run_demo as _run

    figures = _run(out=args.out, runs=args.runs, plan=DemoPlan.quick() if args.quick else None,
                   progress=not args.no_progress)
    print(f"demo finished in {figures['seconds']} s; read {Path(args.out) / 'summary.md'}")
    return 0


COMMANDS = (
    Command("analyse", "print the factor-effect table and consistency metrics of evaluated runs",
            "restplus analyse runs/rest_plus/reader --interactions 2 --gate-policy ignore",
            _analyse_args, run_analyse),
    Command("report", "write tables (CSV/Markdown/LaTeX), plots and summary.md for evaluated runs",
            "restplus report runs/rest_plus/reader --out reports/rest_plus",
            _report_args, run_report),
    Command("demo", "run the offline REST+ study (reader baseline) and write reports/demo/",
            "restplus demo --out reports/demo",
            _demo_args, run_demo),
)
