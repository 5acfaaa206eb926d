"""``--problems FILE`` with every ``rp.load_problems`` keyword as an option: --preset, --fields ...

The options are passed through unchanged, so the CLI validates (with did-you-mean) and behaves
exactly as the Python call; only ``--fields`` needs a text syntax for the mapping.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import ProblemError

# option dest -> load_problems keyword (the two differ only for --keep-latex)
KEYWORDS = {"problems_preset": "preset", "fields": "fields", "format": "format", "answer_type": "answer_type",
            "answer_format": "answer_format", "task": "task", "max_chars": "max_chars",
            "keep_latex": "drop_latex", "on_error": "on_error"}
MULTI_COLUMN = ("choices", "meta")  # logical fields that may name several columns
SHOWN_ERRORS = 10  # skipped rows printed by --on-error skip; the summary counts them all


def add_problem_file_args(p: argparse.ArgumentParser, with_model: bool = False) -> None:
    """The load_problems options. Commands that call a model (``with_model``) also have the model's
    request ``--preset``, so there the dataset preset is spelled ``--problems-preset`` only."""
    # SUPPRESS: an option not given leaves no attribute, so load_problems keeps its own default.
    g = p.add_argument_group("problem file options (with --problems FILE; as in rp.load_problems)",
                             argument_default=argparse.SUPPRESS)
    flags = ("--problems-preset",) if with_model else ("--preset", "--problems-preset")
    g.add_argument(*flags, dest="problems_preset", help="column mapping of a known dataset: mmlu, arc, gsm8k, restplus "
                                    "(default: restplus JSONL, one Problem per line)")
    g.add_argument("--fields", help="LOGICAL=COLUMN pairs, e.g. question=prompt,answer=target; several "
                                    "columns for choices/meta joined by '+' (choices=A+B+C+D); or a JSON object")
    g.add_argument("--format", help="jsonl, json, csv, tsv or parquet (default: from the file extension)")
    g.add_argument("--answer-type", help="answer type of mapped rows, e.g. number, choice, exact")
    g.add_argument("--answer-format", help="how the answer names the right option: auto, index, letter, text, gsm8k")
    g.add_argument("--task", help="task name of mapped rows (default: the preset's name, or 'custom')")
    g.add_argument("--max-chars", type=_max_chars,
                   help="drop items longer than this many characters (default 800; 'none' keeps all)")
    g.add_argument("--keep-latex", action="store_false",
                   help="keep items containing LaTeX (dropped by default, as in the paper)")
    g.add_argument("--on-error", help="bad rows: 'raise' (default) stops at the first, 'skip' loads the rest "
                                      "and lists them")


def _max_chars(text: str) -> int | None:
    if text.strip().lower() == "none":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number or 'none'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1 (or 'none' for no limit)")
    return value


def parse_fields(text: str) -> dict[str, Any]:
    """The ``fields=`` mapping from ``--fields`` text (the logical names are checked by load_problems)."""
    s = text.strip()
    if s.startswith("{"):
        try:
            value = json.loads(s)
        except json.JSONDecodeError as exc:
            raise ProblemError(f"--fields {text!r}: not a valid JSON object ({exc.msg} at column "
                               f"{exc.colno}).") from None
        if not isinstance(value, dict):
            raise ProblemError(f"--fields {text!r}: expected a JSON object, got {type(value).__name__}.")
        return value
    out: dict[str, Any] = {}
    for part in s.split(","):
        key, eq, column = (x.strip() for x in part.partition("="))
        columns = [c.strip() for c in column.split("+")] if key in MULTI_COLUMN else [column]
        if not (eq and key and all(columns)):
            raise ProblemError(f"--fields: {part.strip()!r} is not LOGICAL=COLUMN. Write pairs joined by commas, "
                               "e.g. --fields question=prompt,answer=target (choices=A+B+C+D for one column "
                               "per option), or a JSON object for column names with ',', '=' or '+'.")
        if key in out:
            raise ProblemError(f"--fields maps {key!r} twice; give each logical field once.")
        out[key] = tuple(columns) if len(columns) > 1 else columns[0]
    return out


def load_options(args: argparse.Namespace) -> dict[str, Any]:
    """The load_problems keywords given on the command line (the others keep their defaults)."""
    out = {KEYWORDS[k]: v for k, v in vars(args).items() if k in KEYWORDS}
    if "fields" in out:
        out["fields"] = parse_fields(out["fields"])
    return out


def parse_problems(arg: str, n: int | None, seed: int, limit: int | None) -> list[Any]:
    """Problems from a CLI value: comma-separated built-in set names, or a problem file."""
    from ..problems import builtin_names, builtin_set, load_problems

    if Path(arg).is_file():
        probs = list(load_problems(arg))
    else:
        probs = []
        for name in [a.strip() for a in arg.split(",") if a.strip()]:
            if name not in builtin_names():
                from ..errors import unknown_name

                raise unknown_name("problem set (or file)", name, builtin_names())
            probs.extend(builtin_set(name, n=n, seed=seed))
    return probs[:limit] if limit is not None else probs


def problems_from_args(args: argparse.Namespace) -> list[Any]:
    """``--problems``: a problem file loaded with the options above, or built-in sets (no options)."""
    from ..problems import load_problems

    options = load_options(args)
    if not Path(args.problems).is_file():
        if options:
            given = ", ".join(f"--{k.replace('_', '-')}" for k in vars(args) if k in KEYWORDS)
            raise ProblemError(f"{given}: only for a problem file, but --problems {args.problems!r} is not a "
                               "file (built-in sets take no such options); check the path.")
        return parse_problems(args.problems, args.n, args.seed, args.limit)
    loaded = load_problems(args.problems, **options)
    report = loaded.report
    # On stderr: stdout carries the command's result line; dropped and skipped rows are never silent.
    print(report.summary(), file=sys.stderr)
    for err in report.errors[:SHOWN_ERRORS]:
        print(f"  skipped {err}", file=sys.stderr)
    if len(report.errors) > SHOWN_ERRORS:
        print(f"  ... and {len(report.errors) - SHOWN_ERRORS} more skipped rows", file=sys.stderr)
    problems = list(loaded)
    if not problems:
        raise ProblemError(f"no problems left to generate ({report.summary()}). See the rows listed above, "
                           "or pass --max-chars / --keep-latex if the filters dropped them.")
    return problems[:args.limit] if args.limit is not None else problems
