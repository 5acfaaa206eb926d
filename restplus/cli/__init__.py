"""The command line (``restplus COMMAND``), one module per command group."""

from .app import COMMANDS, build_parser, main
from .base import Command

__all__ = ["COMMANDS", "Command", "build_parser", "main"]
