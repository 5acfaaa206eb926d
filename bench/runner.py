"""Runner overhead and cache benefit, measured side by side in one run.

Prints and writes bench/results/runner.json:
* rerun_over_first: time of an identical re-run (every answer from the SQLite cache) ÷ time of the
  first run, with a zero-latency fake model (so the first run is pure runner work) and with a fake
  that takes ``--latency-ms`` per request (a stand-in for a real model);
* overhead per sample: (evaluate time − time of calling the fake directly on the same requests) ÷
  number of requests, with the instant fake: what the runner adds (request building, hashing,
  cache writes, scoring, parquet) around a model call.

Variants are rendered before timing starts. Usage: ``python bench/runner.py [--n 20] [--latency-ms 5]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from restplus.grammar.spec import load_grid  # noqa: E402
from restplus.models.base import ModelAdapter  # noqa: E402
from restplus.problems import builtin_set  # noqa: E402
from restplus.records import Request, Response  # noqa: E402
from restplus.runner.evaluation import evaluate  # noqa: E402
from restplus.runner.gate import reference_text  # noqa: E402
from restplus.runner.prompts import PromptSet, build_requests, decoding_for  # noqa: E402
from restplus.variants.ondemand import VariantSet  # noqa: E402


class Oracle(ModelAdapter):
    """Answers gold / exact transcriptions from a dict, after an optional fixed delay per request."""

    name = "oracle"

    def __init__(self, answers: dict[str, str], latency_s: float = 0.0) -> None:
        self.answers, self.latency_s = answers, latency_s

    def fingerprint(self) -> dict[str, Any]:
        return {"adapter": "bench-oracle", "latency_s": self.latency_s}

    def iter_generate(self, requests: Sequence[Request]) -> Iterator[tuple[int, Response]]:
        for i, r in enumerate(requests):
            if self.latency_s:
                time.sleep(self.latency_s)
            yield i, Response(text=self.answers[r.tag], tokens_in=100, tokens_out=20)


def answers_for(variants: list[Any]) -> dict[str, str]:
    out = {}
    for v in variants:
        out[f"solve:{v.answer_type}:{v.variant_id}"] = f"Answer: {v.answer}"
        if v.images:
            out[f"ocr:{v.answer_type}:{v.variant_id}"] = reference_text([i.rendered_text for i in v.images])
    return out


def timed_runs(variants: list[Any], grid: Any, model: ModelAdapter, work: Path) -> tuple[float, float, int]:
    out = work / f"run-{model.fingerprint()['latency_s']}"
    t0 = time.perf_counter()
    first = evaluate(variants, model, out=out, grid=grid, progress=False)
    t1 = time.perf_counter()
    again = evaluate(variants, model, out=out, grid=grid, progress=False)
    t2 = time.perf_counter()
    assert again.counts["calls"] == 0 and first.table["correct"].drop_nulls().all()
    return t1 - t0, t2 - t1, first.counts["requests"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20, help="SoE problems (x 9 cells of smoke.yaml)")
    ap.add_argument("--latency-ms", type=float, default=5.0, help="per-request delay of the slow fake")
    args = ap.parse_args()
    grid = load_grid(ROOT / "perturbations" / "smoke.yaml")
    variants = list(VariantSet(builtin_set("soe", n=args.n), grid, 0))
    answers = answers_for(variants)
    work = Path(tempfile.mkdtemp(prefix="restplus-bench-runner-"))
    try:
        instant = Oracle(answers)
        # warm-up on two variants: imports (polars, pyarrow ...) are not runner overhead
        evaluate(variants[:2], instant, out=work / "warmup", grid=grid, progress=False)
        requests = [r for v in variants for r in build_requests(v, PromptSet(), decoding_for(v.task)).values()]
        t = time.perf_counter()
        instant.generate(requests)
        direct = time.perf_counter() - t
        first0, rerun0, n_req = timed_runs(variants, grid, instant, work)
        first1, rerun1, _ = timed_runs(variants, grid, Oracle(answers, args.latency_ms / 1000), work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    res = {
        "variants": len(variants), "requests": n_req, "latency_ms_slow_fake": args.latency_ms,
        "instant_fake": {"first_s": round(first0, 4), "rerun_s": round(rerun0, 4),
                         "rerun_over_first": round(rerun0 / first0, 4), "direct_fake_s": round(direct, 4),
                         "evaluate_over_direct": round(first0 / direct, 1),
                         "overhead_ms_per_request": round((first0 - direct) / n_req * 1000, 3),
                         "overhead_ms_per_variant": round((first0 - direct) / len(variants) * 1000, 3)},
        "slow_fake": {"first_s": round(first1, 4), "rerun_s": round(rerun1, 4),
                      "rerun_over_first": round(rerun1 / first1, 4),
                      "model_time_s": round(n_req * args.latency_ms / 1000, 4)},
        "platform": platform.platform(), "python": platform.python_version(),
    }
    i, s = res["instant_fake"], res["slow_fake"]
    print(f"{len(variants)} variants, {n_req} requests")
    print(f"instant fake : first {i['first_s']:.3f}s, cached re-run {i['rerun_s']:.3f}s -> re-run/first = "
          f"{i['rerun_over_first']:.3f}")
    print(f"               runner overhead {i['overhead_ms_per_request']:.3f} ms/request "
          f"({i['overhead_ms_per_variant']:.3f} ms/variant); evaluate/direct = {i['evaluate_over_direct']}x "
          f"(direct fake calls {i['direct_fake_s']:.4f}s)")
    print(f"{args.latency_ms:g} ms fake    : first {s['first_s']:.3f}s, cached re-run {s['rerun_s']:.3f}s -> "
          f"re-run/first = {s['rerun_over_first']:.3f}")
    dest = ROOT / "bench" / "results" / "runner.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(res, indent=2) + "\n")
    print(f"wrote {dest.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
