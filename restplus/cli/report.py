"""CLI commands for analysis and the demo: analyse, report, demo."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import SpecError, unknown_name
from .base import Command


def read_runs(runs: list[str], pool: bool = False) -> tuple[Any, list[str], dict[str, str]]:
    """The runs' long table (keyed by run name), factors and references: see :func:`restplus.read_runs`."""
    got = _read_runs(runs, pool)
    return got.table, got.factors, got.reference


def _read_runs(runs: list[str], pool: bool) -> Any:
    from ..runner.runs import read_runs as _read

    return _read(runs, pool=pool)


def gate_settings(paths: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """Run name -> the gate (CER threshold, normalisation) its manifest records."""
    from ..runner.manifest import read_manifest

    return {name: dict((read_manifest(folder) or {}).get("gate") or {}) for name, folder in paths.items()}


def analysis_keys(table: Any) -> list[str]:
    """Columns one analysis row stands for: the run (and its model) when the table names runs."""
    return [c for c in ("run", "model") if c in table.columns]


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="+", help="evaluated run folder(s); each run is its own row (the same run twice "
                                           "is refused)")
    p.add_argument("--pool", action="store_true",
                   help="pool the runs of each model into one sample (default: every run is analysed on its own)")
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
    import sys
    import warnings

    import polars as pl

    from ..errors import AnalysisError, AnalysisWarning
    from ..report.terminal import summary_lines, width, wrap
    from ..stats import consistency, effects

    table, factors, reference = read_runs(args.runs, pool=args.pool)
    reference = with_references(reference, args.reference, factors)
    by = analysis_keys(table)
    key = by[0] if by else None
    runs = table.get_column(key).unique(maintain_order=True).to_list() if key else [None]
    tables: dict[Any, Any] = {}
    metrics = None
    # Warnings are collected and printed once, wrapped to the terminal, after the summary.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AnalysisWarning)
        for r in runs:
            sub = table if r is None else table.filter(pl.col(key) == r)
            try:
                eff = effects(sub, factors, reference=reference, interactions=args.interactions, method=args.method,
                              gate_policy=args.gate_policy, seed=args.seed)
            except AnalysisError as exc:
                if len(runs) == 1:
                    raise
                tables[r] = str(exc)
                continue
            tables[r] = eff
            if args.latex:  # one file per run when there are several, so none overwrites another
                path = Path(args.latex)
                if len(runs) > 1:
                    path = path.with_name(f"{path.stem}-{r}{path.suffix}")
                path.write_text(eff.to_latex())
        try:
            metrics = consistency(table, factors, by=by, seed=args.seed)
        except AnalysisError as exc:
            print(f"consistency metrics: not computable: {exc}", file=sys.stderr)
    w = width()
    print("\n".join(summary_lines(runs, key, tables, metrics, args.runs, w)), flush=True)
    for msg in dict.fromkeys(str(c.message) for c in caught if issubclass(c.category, AnalysisWarning)):
        print("\n".join(wrap(f"warning: {msg}", w)), file=sys.stderr)
    for c in caught:  # anything else is not ours to reformat
        if not issubclass(c.category, AnalysisWarning):
            warnings.warn_explicit(c.message, c.category, c.filename, c.lineno)
    return 0


def _report_args(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--out", required=True, help="report folder, e.g. reports/<name>")
    p.add_argument("--name", default=None, help="title (default: the folder name)")


def run_report(args: argparse.Namespace) -> int:
    from ..report.write import write_report

    got = _read_runs(args.runs, args.pool)
    table, factors = got.table, got.factors
    reference = with_references(got.reference, args.reference, factors)
    paths = write_report(table, args.out, factors=factors, reference=reference, name=args.name or Path(args.out).name,
                         interactions=args.interactions, method=args.method, gate_policy=args.gate_policy,
                         seed=args.seed, pooled=args.pool, gate=gate_settings(got.paths))
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
    Command("demo", "run the offline REST+ study (reader baseline and the nano MLLM) and write reports/demo/",
            "restplus demo --out reports/demo",
            _demo_args, run_demo),
)
