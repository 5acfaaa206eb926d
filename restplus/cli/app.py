"""The ``restplus`` command line: one module per command group, registered explicitly here.

Each group module declares ``COMMANDS``; heavy imports stay inside the handlers, so ``--help`` is fast.
Errors reach the user as one clear line (exit code 2) unless ``--debug`` is given: restplus's own
errors, and ordinary OS failures (permissions, full disk, a file where a folder should be), which
:mod:`.oserrors` words with the path and what to do. A closed output pipe ends quietly (status 141).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

from ..errors import RestplusError
from . import data, evaluate, gap, grammar, imports, report, search
from .base import Command
from .oserrors import describe_os_error

GROUPS = (grammar, data, evaluate, imports, report, search, gap)  # help lists commands in this order


def _collect() -> dict[str, Command]:
    out: dict[str, Command] = {}
    for group in GROUPS:
        for c in group.COMMANDS:
            if c.name in out:  # two groups claiming one name is a programming error, caught by the tests
                raise RestplusError(f"CLI command {c.name!r} is declared twice; rename one of them.")
            out[c.name] = c
    return out


COMMANDS: dict[str, Command] = _collect()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="restplus",
        description="restplus: render-equivalence stress tests for multimodal LLMs.",
        epilog="Example: restplus describe perturbations/rest_plus.yaml",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for c in COMMANDS.values():
        p = sub.add_parser(c.name, help=c.help, description=c.help, epilog=f"Example:\n  {c.example}",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--debug", action="store_true", help="show full tracebacks")
        c.add_args(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    shown: set[str] = set()

    def one_line(message: object, category: type[Warning], filename: str, lineno: int, line: str | None = None) -> str:
        # A user reads what happened, not the source line that warned; the same warning raised from two
        # places (gated and ungated fits, say) is shown once.
        text = f"restplus {args.command}: warning: {message} [{category.__name__}]\n"
        if text in shown:
            return ""
        shown.add(text)
        return text

    previous, warnings.formatwarning = warnings.formatwarning, one_line  # type: ignore[assignment]
    try:
        return int(COMMANDS[args.command].run(args) or 0)
    except BrokenPipeError:
        # `restplus describe SPEC | head`: the reader left. Stop quietly, as other tools do, and point
        # stdout at /dev/null so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, the status a shell reports for a tool cut off by its pipe
    except (RestplusError, OSError) as exc:
        if args.debug:
            raise
        text = str(exc) if isinstance(exc, RestplusError) else describe_os_error(exc, getattr(args, "out", None))
        print(f"restplus {args.command}: error: {text}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"restplus {args.command}: interrupted; work done so far is kept.", file=sys.stderr)
        return 130
    finally:
        warnings.formatwarning = previous
