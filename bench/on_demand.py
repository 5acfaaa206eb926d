"""On-demand access vs generation: random-access render throughput ÷ sequential generate throughput.

The same variants (SoE problems x the 9-cell smoke grid, one seed) are produced two ways in one
process: ``VariantSet[i]`` for every index in a shuffled order (rendering on access, no disk),
and ``generate(..., workers=1)`` into a fresh run folder (rendering plus PNG and table writes).
Runs alternate (generate, random, random, generate) so both get warm caches; the best of each
counts. Target ratio >= 0.9: on-demand access must not be slower than batch generation.

    .venv/bin/python bench/on_demand.py [--problems 150]

Writes bench/results/on_demand.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from restplus.grammar import factors as F  # noqa: E402
from restplus.grammar.grid import Grid  # noqa: E402
from restplus.problems.builtin import builtin_set  # noqa: E402
from restplus.variants.generation import generate  # noqa: E402
from restplus.variants.ondemand import VariantSet  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--problems", type=int, default=150)
    args = ap.parse_args()
    grid = Grid(F.dpi([50, 200], reference=200), F.text_color(["black", "red"]),
                F.modality(["text", "image", "mixed"], reference="text"))
    problems = list(builtin_set("soe", n=args.problems, seed=4))
    n = len(problems) * grid.n_cells
    order = list(range(n))
    random.Random(0).shuffle(order)
    gen_s: list[float] = []
    rand_s: list[float] = []
    checksum = {}
    with tempfile.TemporaryDirectory(prefix="restplus-ondemand-") as d:
        for step, kind in enumerate(("generate", "random", "random", "generate")):
            t0 = time.perf_counter()
            if kind == "generate":
                generate(problems, grid, seed=0, out=Path(d) / f"run{step}", workers=1, progress=False)
                gen_s.append(time.perf_counter() - t0)
            else:
                vs = VariantSet(problems, grid, seed=0)
                total = 0
                for i in order:
                    total += sum(len(im.png) for im in vs[i].images)
                rand_s.append(time.perf_counter() - t0)
                checksum[step] = total
    assert len(set(checksum.values())) == 1, "random access must be deterministic"
    result = {
        "platform": platform.platform(), "loadavg": os.getloadavg(), "variants": n,
        "generate_variants_per_s": round(n / min(gen_s), 1), "random_access_variants_per_s": round(n / min(rand_s), 1),
        "generate_seconds": [round(s, 2) for s in gen_s], "random_seconds": [round(s, 2) for s in rand_s],
        "ratio": round(min(gen_s) / min(rand_s), 3), "target": ">= 0.9",
    }
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results" / "on_demand.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
