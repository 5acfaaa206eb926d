"""Throughput of one OpenAI-compatible adapter spread over several loopback servers.

Each server runs in its own process (as a real server does) with a fixed latency and a bounded
concurrency (``slots`` requests handled at once; more wait in its queue, like a full vLLM batch).
With ``concurrency`` requests in flight from the client, the ideal throughput is
min(concurrency, servers × slots) / latency. The default gives every server exactly its share of
the 64 client requests, so any imbalance of the least-outstanding-requests spreading shows up as
queueing, i.e. as a ratio below 1. Target: ratio >= 0.9 at 64 concurrent requests.

The wall time includes a fixed start (64 worker threads, 64 connections, the ``/v1/models``
check), and every fixed-latency round ends in a burst of 64 answers that the client parses under
one GIL. 1024 requests (16 rounds) amortise the start as a real run of thousands does; with 256
requests (4 rounds) the same setup measured 0.85 on a shared 2-core machine.

    .venv/bin/python bench/http_servers.py [--servers 2 4] [--requests 1024] [--concurrency 64] [--latency 0.5]

Merges its result into bench/results/http.json under ``"multi_server"`` (http_runner.py keeps it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from http_runner import _png, _ServerProcess  # noqa: E402

from restplus.models.openai_compat import OpenAICompatAdapter  # noqa: E402
from restplus.records import ImagePart, Request, TextPart  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "http.json"


def _one_run(requests: list[Request], n_servers: int, concurrency: int, latency: float) -> dict:
    slots = max(1, concurrency // n_servers)
    procs = [_ServerProcess(latency, slots) for _ in range(n_servers)]
    try:
        with OpenAICompatAdapter("loopback", base_url=[p.base_url for p in procs], api_key_env=None,
                                 concurrency=concurrency, timeout_s=30) as adapter:
            t0 = time.perf_counter()
            responses = adapter.generate(requests)
            wall = time.perf_counter() - t0
            sent = adapter.server_load
    finally:
        served = [p.finish() for p in procs]
    n = len(requests)
    ideal = min(concurrency, n_servers * slots) / latency
    total: Counter[str] = sum(served, Counter())
    return {"servers": n_servers, "slots_per_server": slots, "wall_s": wall, "throughput_rps": n / wall,
            "ideal_rps": ideal, "ratio": n / wall / ideal, "errors": sum(not r.ok for r in responses),
            "lost_or_duplicated": sum(1 for c in total.values() if c != 1) + (n - len(total)),
            "share": [sum(s.values()) for s in served], "attempts_per_server": list(sent.values()),
            "mean_latency_s": statistics.fmean(r.latency_s for r in responses)}


def run(server_counts: list[int], n: int, concurrency: int, latency: float, repeats: int) -> dict:
    requests = [Request(parts=(ImagePart(_png(i)), TextPart(f"Solve item {i}."))) for i in range(n)]
    runs = [_one_run(requests, k, concurrency, latency) for _ in range(repeats) for k in server_counts]
    med = {str(k): statistics.median(r["ratio"] for r in runs if r["servers"] == k) for k in server_counts}
    return {"benchmark": "http_servers", "requests": n, "concurrency": concurrency, "latency_s": latency,
            "runs": runs, "median_ratio": med, "target_ratio": 0.9, "load_avg_1min": os.getloadavg()[0],
            "python": platform.python_version(), "cpus": os.cpu_count()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--servers", type=int, nargs="+", default=[2, 4])
    ap.add_argument("--requests", type=int, default=1024)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--latency", type=float, default=0.5)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    result = run(args.servers, args.requests, args.concurrency, args.latency, args.repeats)
    for r in result["runs"]:
        print(f"{r['servers']} servers x {r['slots_per_server']} slots: wall {r['wall_s']:.3f} s  throughput "
              f"{r['throughput_rps']:.1f} req/s  ideal {r['ideal_rps']:.0f} req/s  ratio {r['ratio']:.3f}  "
              f"errors {r['errors']}  lost/dup {r['lost_or_duplicated']}  share {r['share']}")
    for k, ratio in result["median_ratio"].items():
        print(f"median ratio, {k} servers: {ratio:.3f} (target >= {result['target_ratio']})")
    merged = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    merged["multi_server"] = result
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(merged, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)} (key multi_server)")


if __name__ == "__main__":
    main()
