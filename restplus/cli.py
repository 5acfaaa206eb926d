"""The ``restplus`` command line. Each subcommand lives in a small function; heavy imports are lazy.

Errors reach the user as one clear line (exit code 2) unless ``--debug`` is given.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from .errors import RestplusError

# Modules that add subcommands (import-time registration keeps each command beside its code).
EXTENSIONS = ("restplus.cli_data", "restplus.cli_eval", "restplus.cli_gap", "restplus.cli_report",
              "restplus.cli_search")

COMMANDS: dict[str, tuple[str, str, Callable[[argparse.ArgumentParser], None], str]] = {}


def command(name: str, help_: str, example: str, module: str = "") -> Callable:
    """Register a subcommand: ``fn(parser)`` adds arguments; the handler is ``run_<name>``."""
    def deco(add_args: Callable[[argparse.ArgumentParser], None]) -> Callable:
        COMMANDS[name] = (help_, example, add_args, module)
        return add_args
    return deco


# ---------------------------------------------------------------- grammar commands

@command("validate", "check a spec file and print its cell count",
         "restplus validate perturbations/rest_plus.yaml")
def _validate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", nargs="+", help="spec file(s) (YAML or JSON)")


def run_validate(args: argparse.Namespace) -> int:
    from .spec import load_grid

    for path in args.spec:
        g = load_grid(path)
        print(f"{path}: ok — {g.n_cells} cells, spec_hash {g.spec_hash}")
    return 0


@command("describe", "print factors, levels, references, cell count and design balance",
         "restplus describe perturbations/rest_plus.yaml")
def _describe_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", help="spec file (YAML or JSON)")
    p.add_argument("--cells", action="store_true", help="also list every cell with its id")


def run_describe(args: argparse.Namespace) -> int:
    from .spec import describe, load_grid

    g = load_grid(args.spec)
    print(describe(g))
    if args.cells:
        for c in g.cells():
            print(f"  {c.cell_id}  {c.short()}")
    return 0


def _load_extensions() -> None:
    """Register subcommands defined in other modules (each adds itself to COMMANDS on import)."""
    import importlib

    for mod in EXTENSIONS:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:  # a real missing dependency inside the module: surface it
                raise


def build_parser() -> argparse.ArgumentParser:
    _load_extensions()
    parser = argparse.ArgumentParser(
        prog="restplus",
        description="restplus: render-equivalence stress tests for multimodal LLMs.",
        epilog="Example: restplus describe perturbations/rest_plus.yaml",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_, example, add_args, _) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_, epilog=f"Example:\n  {example}",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--debug", action="store_true", help="show full tracebacks")
        add_args(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    handler = None
    for modname in ("restplus.cli", *EXTENSIONS):
        mod = sys.modules.get(modname)
        if mod is not None and hasattr(mod, f"run_{args.command.replace('-', '_')}"):
            handler = getattr(mod, f"run_{args.command.replace('-', '_')}")
    assert handler is not None, args.command
    try:
        return int(handler(args) or 0)
    except RestplusError as exc:
        if args.debug:
            raise
        print(f"restplus {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"restplus {args.command}: interrupted; work done so far is kept.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    # Run through the imported module so that extension commands register into the same registry.
    from restplus.cli import main as _main

    sys.exit(_main())
