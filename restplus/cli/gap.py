"""``restplus gap``: per-layer modality gap of local models, and its correlation with RER.

Outputs under ``--out``: ``<model>/gap_curves.parquet``, ``<model>/gap_summary.parquet``,
``<model>/means.npz`` per model; ``gap_curves.parquet`` and ``gap_summary.parquet`` over all models;
``gap_curves.png``; with ``--rer``: ``gap_correlation.json`` and ``gap_rer.png``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from ..errors import SpecError
from .base import Command


def _gap_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", action="append", required=True, metavar="PATH",
                   help="local HF model folder; repeat for several models")
    p.add_argument("--name", action="append", default=None, metavar="LABEL",
                   help="label per --model (default hf:<folder name>); must match the keys of --rer")
    src = p.add_argument_group("items (one source)")
    src.add_argument("--variants", metavar="RUN_DIR", help="run folder written by restplus generate")
    src.add_argument("--cell", metavar="CELL_ID", help="image cell to pair with the text (default: reference cell)")
    src.add_argument("--text-from", choices=("text_variant", "rendered"), default="text_variant",
                     help="text side: the text-modality variant's parts, or the exact string drawn in the image")
    src.add_argument("--images", metavar="DIR", help="folder of natural images (with --labels)")
    src.add_argument("--labels", metavar="FILE", help="CSV (header image,label) or JSONL {image, label}")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--layers", metavar="LIST", help="hidden-state indices, e.g. 0,4,8,-1 (default: all)")
    p.add_argument("--rer", action="append", default=[], metavar="SPEC",
                   help="RER per model: LABEL=VALUE, or a .json {label: rer} / .csv (model,rer) file; repeatable")
    p.add_argument("--metric", default="cos_max", help="summary column correlated with RER (default cos_max)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap replicates (0 = no CI)")
    p.add_argument("--device", default=None, help="torch device or auto (default: cuda when available, else cpu)")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--attn-implementation", default=None, help="eager | sdpa | flash_attention_2")
    p.add_argument("--min-pixels", type=int, default=None, help="Qwen-style pixel budget")
    p.add_argument("--max-pixels", type=int, default=None, help="Qwen-style pixel budget")
    p.add_argument("--no-progress", action="store_true")


def parse_rer(specs: list[str]) -> dict[str, float]:
    """``LABEL=VALUE`` items and .json / .csv files merged into one model → RER mapping."""
    out: dict[str, float] = {}
    for spec in specs:
        path = Path(spec)
        if path.suffix.lower() == ".json" and path.is_file():
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise SpecError(f"--rer {spec}: expected a JSON object {{model: rer}}, got {type(data).__name__}.")
            items = list(data.items())
        elif path.suffix.lower() == ".csv" and path.is_file():
            with open(path, newline="", encoding="utf-8") as fh:
                rows = list(csv.DictReader(fh))
            if rows and not {"model", "rer"} <= set(rows[0]):
                raise SpecError(f"--rer {spec}: the CSV needs columns model,rer; found {sorted(rows[0])}.")
            items = [(r["model"], r["rer"]) for r in rows]
        elif "=" in spec:
            items = [tuple(spec.rsplit("=", 1))]
        else:
            raise SpecError(f"--rer {spec!r} is neither LABEL=VALUE nor an existing .json/.csv file.")
        for label, value in items:
            try:
                out[str(label)] = float(value)
            except (TypeError, ValueError):
                raise SpecError(f"--rer: RER of {label!r} is {value!r}, not a number.") from None
    return out


def _layers(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise SpecError(f"--layers {text!r} must be comma-separated integers, e.g. 0,4,-1.") from None


MIN_CORRELATION_MODELS = 3  # gap_correlation refuses fewer: any two points give r = ±1


def run_gap(args: argparse.Namespace) -> int:
    import polars as pl

    from ..gap.extract import pairs_from_images
    from ..gap.measure import gap_correlation, measure_gap, write_correlation
    from ..gap.plots import plot_gap_correlation, plot_gap_curves
    from ..models import resolve

    if bool(args.variants) == bool(args.images):
        raise SpecError("pass exactly one item source: --variants RUN_DIR, or --images DIR with --labels FILE.")
    if args.images and not args.labels:
        raise SpecError("--images needs --labels FILE (CSV image,label or JSONL).")
    names = args.name or []
    if names and len(names) != len(args.model):
        raise SpecError(f"got {len(names)} --name for {len(args.model)} --model; give one label per model or none.")
    rer = parse_rer(args.rer)
    if rer and len(args.model) < MIN_CORRELATION_MODELS:  # say so now, not after measuring every model
        print(f"note: a correlation with RER needs >= {MIN_CORRELATION_MODELS} models, got {len(args.model)} "
              "--model; the per-model curves are written and the correlation is skipped.", file=sys.stderr)
    layers = _layers(args.layers)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    curves, summaries = [], []
    for i, path in enumerate(args.model):
        # resolve(), not load(): load's own first parameter is called ``name`` and would clash with the label.
        adapter = resolve("hf")(path=path, device=args.device, dtype=args.dtype, min_pixels=args.min_pixels,
                                max_pixels=args.max_pixels, attn_implementation=args.attn_implementation,
                                name=names[i] if names else None)
        try:
            # A fresh pair iterator per model: pairs stream from disk and are consumed once.
            source = pairs_from_images(args.images, args.labels) if args.images else args.variants
            res = measure_gap(adapter, source, model=adapter.name, cell=args.cell, text_from=args.text_from,
                              layers=layers, seed=args.seed, n_boot=args.n_boot, progress=not args.no_progress)
        finally:
            adapter.close()
        res.save(out)
        curves.append(res.curves)
        summaries.append(res.summary)
        s = res.summary.row(0, named=True)
        print(f"{s['model']}: cos_max {s['cos_max']:.4f} at layer {s['cos_max_layer']} "
              f"[{s['cos_ci_low']:.4f}, {s['cos_ci_high']:.4f}], shuffled {s['cos_shuffled']:.4f}, "
              f"i2t@1 max {s['i2t_r1_max']:.3f}, t2i@1 max {s['t2i_r1_max']:.3f}, n_items {s['n_items']}")
    all_curves, summary = pl.concat(curves), pl.concat(summaries)
    all_curves.write_parquet(out / "gap_curves.parquet")
    summary.write_parquet(out / "gap_summary.parquet")
    plot_gap_curves(all_curves, out / "gap_curves.png")
    with_rer = [m for m in summary["model"].to_list() if m in rer]
    if rer and len(with_rer) < MIN_CORRELATION_MODELS:
        print(f"correlation skipped: {len(with_rer)} measured model(s) have an RER ({', '.join(with_rer) or '-'}); "
              f"it needs >= {MIN_CORRELATION_MODELS}.")
    elif rer:
        corr = gap_correlation(summary, rer, metric=args.metric)  # also warns when n_models < 5
        write_correlation(corr, out / "gap_correlation.json")
        plot_gap_correlation(corr, out / "gap_rer.png")
        print(f"RER vs {corr.metric}: n_models {corr.n_models}, "
              f"pearson r {corr.pearson_r:.3f} (p {corr.pearson_p:.3g}), "
              f"spearman rho {corr.spearman_rho:.3f} (p {corr.spearman_p:.3g}), R² {corr.r2:.3f}")
        if corr.excluded:
            print(f"excluded (no RER given): {', '.join(corr.excluded)}")
        if corr.caveat:
            print(f"caveat: {corr.caveat}")
    print(f"wrote {out}")
    return 0


COMMANDS = (
    Command("gap", "modality gap: per-layer text/image hidden-state similarity and retrieval",
            "restplus gap --model models/qwen2-vl-2b --variants runs/rest --out reports/gap",
            _gap_args, run_gap),
)
