"""Throughput of the OpenAI-compatible adapter against the loopback server at a fixed latency.

With ``concurrency`` requests in flight and every answer taking ``latency`` seconds, the ideal
throughput is concurrency / latency (16 / 0.1 s = 160 requests/s). The ratio measured / ideal shows
how much the adapter (worker threads, openai client, JSON, base64 of the PNG) costs on top. Each
request carries a small PNG, as in real runs. Two server placements are measured side by side:
``separate-process`` (the loopback server in its own process, like any real server; the target
ratio >= 0.9 applies here) and ``in-process`` (server threads share the client's GIL, so its
CPU time adds to the client's).

    .venv/bin/python bench/http_runner.py [--requests 160] [--concurrency 16] [--latency 0.1]

Writes bench/results/http.json (keeping the ``multi_server`` part that bench/http_servers.py writes).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from restplus.models.openai_compat import OpenAICompatAdapter  # noqa: E402
from restplus.records import ImagePart, Request, TextPart  # noqa: E402
from restplus.testing.server import LoopbackServer  # noqa: E402


def _png(i: int) -> bytes:
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (400, 120), "white")
    ImageDraw.Draw(im).text((10, 10), f"item {i}: 3A + 2B = 7", fill="black")
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


class _ServerProcess:
    """The loopback server in its own process (:func:`restplus.testing.server.main`)."""

    def __init__(self, latency: float, max_concurrent: int) -> None:
        serve = "from restplus.testing.server import main; main()"
        self.proc = subprocess.Popen([sys.executable, "-c", serve, "--latency", str(latency),
                                      "--max-concurrent", str(max_concurrent), "--max-lifetime", "300"],
                                     cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.base_url = self.proc.stdout.readline().strip()  # type: ignore[union-attr]

    def finish(self) -> Counter[str]:
        self.proc.stdin.close()  # type: ignore[union-attr]
        report = json.loads(self.proc.stdout.readline())  # type: ignore[union-attr]
        self.proc.wait(timeout=30)
        return Counter(report["served"])


def _one_run(requests: list[Request], concurrency: int, latency: float, mode: str) -> dict:
    if mode == "in-process":
        srv = LoopbackServer(latency_s=latency, max_concurrent=4 * concurrency).start()
        base_url = srv.base_url
    else:
        proc = _ServerProcess(latency, 4 * concurrency)
        base_url = proc.base_url
    with OpenAICompatAdapter("loopback", base_url=base_url, api_key_env="RESTPLUS_BENCH_KEY",
                             concurrency=concurrency, timeout_s=30) as adapter:
        t0 = time.perf_counter()
        responses = adapter.generate(requests)
        wall = time.perf_counter() - t0
    if mode == "in-process":
        served = srv.served()
        srv.stop()
    else:
        served = proc.finish()
    n = len(requests)
    ideal = concurrency / latency
    return {"mode": mode, "wall_s": wall, "throughput_rps": n / wall, "ratio": n / wall / ideal,
            "errors": sum(not r.ok for r in responses),
            "lost_or_duplicated": sum(1 for c in served.values() if c != 1) + (n - len(served)),
            "mean_latency_s": statistics.fmean(r.latency_s for r in responses)}


def run(n: int, concurrency: int, latency: float, repeats: int) -> dict:
    requests = [Request(parts=(ImagePart(_png(i)), TextPart(f"Solve item {i}."))) for i in range(n)]
    os.environ.setdefault("RESTPLUS_BENCH_KEY", "bench-key")  # the loopback server ignores it
    runs = [_one_run(requests, concurrency, latency, mode)
            for _ in range(repeats) for mode in ("separate-process", "in-process")]
    med = {m: statistics.median(r["ratio"] for r in runs if r["mode"] == m)
           for m in ("separate-process", "in-process")}
    return {"benchmark": "http_runner", "requests": n, "concurrency": concurrency, "latency_s": latency,
            "ideal_rps": concurrency / latency, "runs": runs, "median_ratio": med, "target_ratio": 0.9,
            "target_mode": "separate-process", "load_avg_1min": os.getloadavg()[0],
            "python": platform.python_version(), "cpus": os.cpu_count()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=160)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    result = run(args.requests, args.concurrency, args.latency, args.repeats)
    for r in result["runs"]:
        print(f"{r['mode']:>16}: wall {r['wall_s']:.3f} s  throughput {r['throughput_rps']:.1f} req/s  ideal "
              f"{result['ideal_rps']:.0f} req/s  ratio {r['ratio']:.3f}  errors {r['errors']}  "
              f"lost/dup {r['lost_or_duplicated']}")
    for mode, ratio in result["median_ratio"].items():
        print(f"median ratio {mode}: {ratio:.3f}")
    print(f"target >= {result['target_ratio']} for {result['target_mode']} (a real server is its own process; "
          "in-process the server shares the client's GIL)")
    out = ROOT / "bench" / "results" / "http.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists() and "multi_server" in (old := json.loads(out.read_text())):
        result["multi_server"] = old["multi_server"]  # bench/http_servers.py's result lives in the same file
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
