"""The embedded nano model's bars (models/restplus-nano), measured through the real pipeline.

Problems: ``builtin_set("sums", n=--n, seed=1)``, held out of training (see the model card).
Grid: DejaVu Sans, black on white, 12 pt (all training levels), ``dpi {50, 100, 200}`` x
``modality {text, image, mixed}``. The variants are generated and evaluated exactly as a user's run
is (``rp.generate`` then ``rp.evaluate`` with the HF adapter, greedy decoding, default prompts), so
the figures are the ones ``make demo`` and any study would see.

Figures (rates over problems; each with its binomial standard error):

- ``ocr_exact_<dpi>``   image variants whose transcription has CER = 0 (NFKC only, nothing ignored)
- ``ocr_gate_<dpi>``    the same with whitespace ignored (the demo's gate)
- ``accuracy_text``     solve accuracy, text variants
- ``accuracy_<modality>_<dpi>``  solve accuracy of image and mixed variants

Bars (issue 17): ocr_exact_200 >= 0.80; accuracy_text >= 0.70; 0.30 <= accuracy_image_200 <
accuracy_text; at 50 DPI, OCR and image accuracy clearly lower (by >= 0.2 and >= 0.1).

    .venv/bin/python bench/nano.py [--model models/restplus-nano] [--n 200]

Writes bench/results/nano.json (``--json`` to change).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import polars as pl  # noqa: E402

import restplus as rp  # noqa: E402
from restplus.runner.gate import cer  # noqa: E402

DPIS = (50, 100, 200)


def _rate(values: list[bool]) -> dict[str, float | int]:
    n = len(values)
    r = sum(values) / n if n else float("nan")
    return {"rate": round(r, 4), "se": round(math.sqrt(r * (1 - r) / n), 4) if n else None, "n": n}


def measure(model_path: str | Path, n: int, seed: int = 1, workers: int = 2) -> dict:
    grid = rp.Grid(rp.dpi(list(DPIS), reference=200), rp.modality(["text", "image", "mixed"], reference="text"),
                   name="nano_bench")
    problems = rp.builtin_set("sums", n=n, seed=seed)
    model = rp.models.load("hf", path=str(model_path))
    with tempfile.TemporaryDirectory() as tmp:
        folder = rp.generate(problems, grid, seed=0, out=Path(tmp) / "variants", workers=workers, progress=False)
        t0 = time.perf_counter()
        run = rp.evaluate(folder, model, out=Path(tmp) / "nano", progress=False)
        seconds = time.perf_counter() - t0
        table = run.table
        refs = reference_texts(folder)  # before the temporary folder goes
    figures: dict[str, dict] = {}
    ocr = table.filter((pl.col("prompt_type") == "ocr") & (pl.col("modality") == "image"))
    for dpi in DPIS:
        rows = ocr.filter(pl.col("dpi") == str(dpi))
        exact = [cer(t or "", refs[v]) == 0 for v, t in zip(rows["variant_id"], rows["ocr_text"], strict=True)]
        figures[f"ocr_exact_{dpi}"] = _rate(exact)
        figures[f"ocr_gate_{dpi}"] = _rate([bool(x) for x in rows["gate_passed"]])
    solve = table.filter(pl.col("prompt_type") == "solve")
    figures["accuracy_text"] = _rate([bool(x) for x in solve.filter(pl.col("modality") == "text")["correct"]])
    for mod in ("image", "mixed"):
        for dpi in DPIS:
            rows = solve.filter((pl.col("modality") == mod) & (pl.col("dpi") == str(dpi)))
            figures[f"accuracy_{mod}_{dpi}"] = _rate([bool(x) for x in rows["correct"]])
    vt = table.filter(pl.col("vision_tokens").is_not_null()).group_by("dpi").agg(pl.col("vision_tokens").mean())
    tokens = {r["dpi"]: round(float(r["vision_tokens"]), 1) for r in vt.iter_rows(named=True)}
    r = {k: v["rate"] for k, v in figures.items()}
    bars = {
        "ocr_exact_200 >= 0.80": r["ocr_exact_200"] >= 0.80,
        "accuracy_text >= 0.70": r["accuracy_text"] >= 0.70,
        "0.30 <= accuracy_image_200 < accuracy_text": 0.30 <= r["accuracy_image_200"] < r["accuracy_text"],
        "ocr_exact_50 <= ocr_exact_200 - 0.20": r["ocr_exact_50"] <= r["ocr_exact_200"] - 0.20,
        "accuracy_image_50 <= accuracy_image_200 - 0.10": r["accuracy_image_50"] <= r["accuracy_image_200"] - 0.10,
    }
    return {"model": str(model_path), "problems": f"builtin_set('sums', n={n}, seed={seed})", "figures": figures,
            "vision_tokens_by_dpi": tokens, "bars": bars, "all_bars_met": all(bars.values()),
            "requests": run.counts.get("calls"), "evaluate_seconds": round(seconds, 1)}


def reference_texts(folder) -> dict[str, str]:
    """variant id -> the text drawn in its (first) image: the OCR reference."""
    return {v.variant_id: v.images[0].rendered_text for v in folder.variants() if v.images}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=str(ROOT / "models" / "restplus-nano"))
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", default=str(ROOT / "bench" / "results" / "nano.json"))
    a = ap.parse_args(argv)
    res = measure(a.model, a.n, workers=a.workers)
    res["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count()}
    for k, v in res["figures"].items():
        print(f"{k:24s} {v['rate']:.3f} (se {v['se']}, n {v['n']})")
    for k, ok in res["bars"].items():
        print(f"{'MET ' if ok else 'MISS'} {k}")
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
