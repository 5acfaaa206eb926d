"""``restplus search``: where does a model break in a factor space, and what is the simplest failure?"""

from __future__ import annotations

import argparse

from ..errors import SpecError
from .base import Command
from .evaluate import add_model_and_problem_args


def _search_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("space", help="search-space spec file (restplus_spec: 1 with range/contrast/levels factors)")
    add_model_and_problem_args(p, n_default=3)
    p.add_argument("--limit", type=int, default=None, help="only the first N problems")
    p.add_argument("--budget", type=int, default=200, help="most model calls this run may make (cache hits are free)")
    p.add_argument("--out", required=True, help="results folder (tables, renders, contact sheets, cache)")
    p.add_argument("--property", default="consistency", help="consistency | correctness | ocr_pass")
    p.add_argument("--seed", type=int, default=0, help="problem, render and search seed")
    p.add_argument("--max-examples", type=int, default=20, help="Hypothesis draws per problem before shrinking")
    p.add_argument("--axes", default=None, help="comma-separated ordered axes to bisect (default: all ordered)")
    p.add_argument("--no-thresholds", action="store_true", help="skip the per-factor bisection")
    p.add_argument("--no-minimal", action="store_true", help="skip the minimal-failure search")
    p.add_argument("--no-sheets", action="store_true", help="write tables only (no PNGs, no contact sheets)")
    p.add_argument("--threshold", type=float, default=0.0, help="OCR gate for ocr_pass: pass when CER <= this")
    p.add_argument("--casefold", action="store_true", help="OCR gate ignores case")
    p.add_argument("--workers", type=int, default=2, help="concurrent requests (HTTP/reader)")
    p.add_argument("--batch-size", type=int, default=1, help="requests per forward pass for hf:PATH models")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run_search(args: argparse.Namespace) -> int:
    from ..search.run import search
    from ..search.space import load_space
    from .evaluate import load_model, model_options
    from .problemfile import problems_from_args

    space = load_space(args.space)  # a bad spec fails before a model is loaded
    if args.n is not None and args.n < 1:
        raise SpecError(f"--n {args.n}: give a positive number of items per built-in set.")
    probs = problems_from_args(args)
    axes = [a.strip() for a in args.axes.split(",") if a.strip()] if args.axes else None
    model = load_model(args.model, base_url=args.base_url, api_key_env=args.api_key_env, workers=args.workers,
                       batch_size=args.batch_size, options=model_options(args))
    try:
        res = search(probs, space, model, out=args.out, property=args.property, budget=args.budget, seed=args.seed,
                     max_examples=args.max_examples, thresholds=not args.no_thresholds, minimal=not args.no_minimal,
                     axes=axes, gate_threshold=args.threshold, normalization={"casefold": args.casefold},
                     sheets=not args.no_sheets, progress=not args.no_progress)
    finally:
        model.close()
    print(res)
    return 0


COMMANDS = (
    Command("search", "bisect each factor of a search space for the model's threshold and shrink to the minimal "
                      "failing perturbation (cached, within a call budget)",
            "restplus search perturbations/search_space.yaml --model reader --problems soe --n 3 --budget 200 "
            "--out reports/search/reader",
            _search_args, run_search),
)
