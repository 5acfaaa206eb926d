"""A CLI command: its name, help, example, argument builder and handler, declared beside its code."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    """One subcommand. ``add_args(parser)`` adds its arguments; ``run(args)`` returns the exit code."""

    name: str
    help: str
    example: str
    add_args: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int | None]
