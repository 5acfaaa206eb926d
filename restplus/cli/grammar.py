"""Grammar commands: ``validate`` and ``describe`` a spec file."""

from __future__ import annotations

import argparse

from .base import Command


def _validate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", nargs="+", help="spec file(s) (YAML or JSON)")


def run_validate(args: argparse.Namespace) -> int:
    from ..errors import RestplusError
    from ..grammar.spec import load_grid
    from ..render import grid_fonts

    for path in args.spec:
        g = load_grid(path)
        try:  # fonts are checked here, not first at render time: a typo fails before any work
            fonts = grid_fonts(g)
        except RestplusError as exc:
            raise type(exc)(f"{path}: {exc}") from None
        print(f"{path}: ok — {g.n_cells} cells, {len(fonts)} fonts verified, spec_hash {g.spec_hash}")
    return 0


def _describe_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", help="spec file (YAML or JSON)")
    p.add_argument("--cells", action="store_true", help="also list every cell with its id")


def run_describe(args: argparse.Namespace) -> int:
    from ..errors import GridTooLargeError
    from ..grammar.spec import describe, factor_lines, load_grid

    try:
        g = load_grid(args.spec)
    except GridTooLargeError as exc:  # what was counted, then the one-line refusal
        print("\n".join(factor_lines(exc.factors)))
        print(f"cells: {exc.n_cells:,} (counted, not enumerated)")
        raise
    print(describe(g))
    if args.cells:
        for c in g.cells():
            print(f"  {c.cell_id}  {c.short()}")
    return 0


COMMANDS = (
    Command("validate", "check a spec file and print its cell count",
            "restplus validate perturbations/rest_plus.yaml", _validate_args, run_validate),
    Command("describe", "print factors, levels, references, cell count and design balance",
            "restplus describe perturbations/rest_plus.yaml", _describe_args, run_describe),
)
