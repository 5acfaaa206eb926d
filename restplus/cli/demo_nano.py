"""The demo's MLLM study: the embedded nano model (``models/restplus-nano``) beside the reader.

Both models answer the same two-operand sums (held out of the nano model's training) on the REST+
grid. One long table holds both runs, so every report table has a row per model: consistency
(RER, CFR, MMC) gated by each model's own transcriptions and ungated, and factor effects per model.
The nano model's hidden states give the per-layer modality gap (``measure_gap``) on the reference
cell. Everything lands in ``reports/demo/nano/``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import polars as pl

NANO_DIR = Path(__file__).resolve().parents[2] / "models" / "restplus-nano"
SPEC = "rest_plus"


def nano_available(path: Path = NANO_DIR) -> bool:
    return (path / "config.json").is_file() and (path / "model.safetensors").is_file()


def run_nano_study(grid: Any, *, n_problems: int, seed: int, workers: int, reader: Any, out: Path, runs: Path,
                   gate_threshold: float, normalization: dict[str, Any], progress: bool,
                   model_dir: Path = NANO_DIR, n_boot: int = 300, max_tokens: int | None = None) -> dict[str, Any]:
    """Run both models on ``n_problems`` held-out sums in ``grid``; write ``out``; return key figures.

    ``max_tokens`` caps every reply (tests use random models that never stop); None keeps the paper's
    decoding defaults.
    """
    from ..gap.measure import measure_gap
    from ..gap.plots import plot_gap_curves
    from ..models import load
    from ..problems import builtin_set
    from ..report.write import write_report
    from ..runner.evaluation import evaluate
    from ..schema import level_label
    from ..variants.generation import generate

    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    problems = builtin_set("sums", n=n_problems, seed=seed)
    folder = generate(problems, grid, seed=seed, out=runs / "variants", workers=workers, progress=progress)
    nano = load("hf", path=str(model_dir), name="restplus-nano")
    params_m = round(sum(p.numel() for p in nano.model.parameters()) / 1e6, 2)
    tables, gate, calls = [], {}, {}
    for label, model in (("nano", nano), ("reader", reader)):
        res = evaluate(folder, model, out=runs / label, gate_threshold=gate_threshold, normalization=normalization,
                       progress=progress, decoding=None if max_tokens is None else {"max_tokens": max_tokens})
        tables.append(res.table)
        gate[str(res.manifest.get("run_name"))] = dict(res.manifest.get("gate") or {})
        calls[label] = res.counts.get("calls")
    table = pl.concat(tables, how="vertical_relaxed")
    table.write_parquet(out / "results.parquet")
    factors = [f.name for f in grid.visual_factors]
    reference = {f.name: level_label(f.reference) for f in grid.visual_factors}
    write_report(table, out, factors=factors, reference=reference, name="nano vs reader (ungated)",
                 interactions=1, seed=seed, gate_policy="ignore", gate=gate)
    write_report(table, out / "gated", factors=factors, reference=reference, name="nano vs reader (gated)",
                 interactions=1, seed=seed, gate_policy="exclude", plot=False, gate=gate)
    gap = measure_gap(nano, folder, model="restplus-nano", seed=seed, n_boot=n_boot)
    gap.curves.write_csv(out / "gap_curves.csv")
    plot_gap_curves(gap.curves, out / "gap_curves.png")
    nano.close()
    return {"model": nano.name, "params_m": params_m, "n_problems": len(problems), "calls": calls,
            "seconds": round(time.perf_counter() - t0, 1),
            "models": _per_model(table, out), "gap": _gap_rows(gap.curves)}


def _per_model(table: pl.DataFrame, out: Path) -> dict[str, Any]:
    """Accuracy by modality, OCR pass rate and consistency (ungated and gated) per model."""
    figures: dict[str, Any] = {}
    # write_report's consistency.csv holds gate-passed units, consistency_ungated.csv all units.
    cons = {name: pl.read_csv(out / f, infer_schema_length=None)
            for name, f in (("ungated", "consistency_ungated.csv"), ("gated", "consistency.csv"))}
    for model in table["model"].unique(maintain_order=True).to_list():
        t = table.filter(pl.col("model") == model)
        solve = t.filter(pl.col("prompt_type") == "solve")
        acc = solve.group_by("modality").agg(pl.col("correct").mean())
        ocr = t.filter((pl.col("prompt_type") == "ocr") & pl.col("gate_passed").is_not_null())
        row: dict[str, Any] = {
            "accuracy_by_modality": {r["modality"]: round(float(r["correct"]), 3) for r in acc.iter_rows(named=True)},
            "ocr_pass_rate": round(float(ocr["gate_passed"].cast(pl.Float64).mean()), 3) if ocr.height else None}
        for name, c in cons.items():
            sel = c.filter(pl.col("model") == model)
            if sel.height:
                r = sel.row(0, named=True)
                row[name] = {k: None if r.get(k) is None else round(float(r[k]), 3)
                             for k in ("rer", "cfr", "mmc", "n_units")}
        figures[model] = row
    return figures


def _gap_rows(curves: pl.DataFrame) -> list[dict[str, Any]]:
    keep = ["layer", "cos_mean", "cos_ci_low", "cos_ci_high", "cos_shuffled", "i2t_r1", "t2i_r1"]
    return [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}
            for r in curves.select([c for c in keep if c in curves.columns]).iter_rows(named=True)]


def nano_section(key: dict[str, Any]) -> str:
    """The summary.md section of the nano study."""
    lines = ["## The embedded MLLM: `restplus-nano` beside the reader", "",
             f"`{key['model']}` is a tiny Qwen2-VL ({key['params_m']} M parameters) that restplus trains on its own "
             "renders (`models/restplus-nano/`, see its model card). It is a model organism for the method, not "
             "a stand-in for real MLLM results. Both models answer the same "
             f"{key['n_problems']} held-out two-operand sums on the REST+ grid; the nano model runs through the "
             "standard HF adapter (greedy decoding, the default prompts), gated by its own transcriptions.", "",
             "| model | acc text | acc image | acc mixed | OCR pass | RER ungated | RER gated | CFR ungated | "
             "MMC ungated |", "| :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]

    def f(v: Any) -> str:
        return "" if v is None else f"{float(v):.3f}"

    for model, r in key["models"].items():
        acc = r["accuracy_by_modality"]
        u, g = r.get("ungated", {}), r.get("gated", {})
        lines.append(f"| {model} | {f(acc.get('text'))} | {f(acc.get('image'))} | {f(acc.get('mixed'))} | "
                     f"{f(r.get('ocr_pass_rate'))} | {f(u.get('rer'))} | {f(g.get('rer'))} | {f(u.get('cfr'))} | "
                     f"{f(u.get('mmc'))} |")
    lines += ["", "Factor effects per model: [`nano/effects.md`](nano/effects.md) (ungated) and "
              "[`nano/gated/effects.md`](nano/gated/effects.md); gated vs ungated side by side: "
              "[`nano/effects_gate.md`](nano/effects_gate.md).", "",
              "Modality gap of the nano model (mean image-token vs text-token hidden state per layer, reference "
              "cell; shuffled pairs as the baseline): [`nano/gap_curves.csv`](nano/gap_curves.csv).", "",
              "![modality gap](nano/gap_curves.png)", "",
              "| layer | cosine (paired) | 95% CI | cosine (shuffled) | recall@1 image→text |",
              "| ---: | ---: | :--- | ---: | ---: |"]
    for r in key["gap"]:
        lines.append(f"| {r['layer']} | {f(r.get('cos_mean'))} | [{f(r.get('cos_ci_low'))}, {f(r.get('cos_ci_high'))}] "
                     f"| {f(r.get('cos_shuffled'))} | {f(r.get('i2t_r1'))} |")
    lines += ["", f"Model calls: {key['calls']}; {key['seconds']} s.", ""]
    return "\n".join(lines)
