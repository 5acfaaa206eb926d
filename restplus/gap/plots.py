"""Plots of the modality gap (matplotlib, Agg backend, PNG): curves per layer and RER vs similarity."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import AnalysisError
from .measure import CURVE_COLUMNS, GapCorrelation


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # headless and deterministic; never opens a window
    import matplotlib.pyplot as plt

    return plt


def plot_gap_curves(curves: pl.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Cosine (with bootstrap CI band and the shuffled baseline) and recall@1 vs layer, one line per model."""
    missing = [c for c in CURVE_COLUMNS if c not in curves.columns]
    if missing:
        raise AnalysisError(f"curves lack columns {missing}; pass the output of restplus.gap.measure.gap_curves().")
    plt = _pyplot()
    fig, (ax_cos, ax_ret) = plt.subplots(1, 2, figsize=(11, 4.2))
    for i, model in enumerate(curves["model"].unique(maintain_order=True).to_list()):
        c = curves.filter(pl.col("model") == model).sort("layer")
        x = c["layer"].to_numpy()
        color = f"C{i % 10}"
        ax_cos.plot(x, c["cos_mean"].to_numpy(), marker="o", color=color, label=f"{model} (paired)")
        ax_cos.fill_between(x, c["cos_ci_low"].to_numpy(), c["cos_ci_high"].to_numpy(), color=color, alpha=0.2)
        ax_cos.plot(x, c["cos_shuffled"].to_numpy(), linestyle=":", color=color, label=f"{model} (shuffled)")
        ax_ret.plot(x, c["i2t_r1"].to_numpy(), marker="o", color=color, label=f"{model} image→text")
        ax_ret.plot(x, c["t2i_r1"].to_numpy(), marker="s", linestyle="--", color=color, label=f"{model} text→image")
    n = int(curves["n_items"][0]) if curves.height else 0
    ax_cos.set(xlabel="layer (0 = embeddings)", ylabel="cosine similarity", title=f"image vs text mean states (n={n})")
    ax_ret.set(xlabel="layer (0 = embeddings)", ylabel="recall@1", ylim=(-0.02, 1.02),
               title=f"cross-modal retrieval (chance = {1 / n:.3f})" if n else "cross-modal retrieval")
    return _finish(plt, fig, (ax_cos, ax_ret), path)


def plot_gap_correlation(corr: GapCorrelation, path: str | os.PathLike[str]) -> Path:
    """RER vs the similarity metric, one labelled point per model, with the least-squares line."""
    import numpy as np

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    x, y = np.array(corr.similarity), np.array(corr.rer)
    ax.scatter(x, y, color="C0", zorder=3)
    for m, xi, yi in zip(corr.models, x, y):
        ax.annotate(m, (xi, yi), fontsize=7, xytext=(3, 3), textcoords="offset points")
    grid = np.linspace(x.min(), x.max(), 50)
    ax.plot(grid, corr.intercept + corr.slope * grid, color="C3",
            label=f"fit: R²={corr.r2:.3f}, r={corr.pearson_r:.3f}, ρ={corr.spearman_rho:.3f}, n={corr.n_models}")
    title = f"RER vs {corr.metric}"
    if corr.caveat:
        title += f"\n(caveat: only {corr.n_models} models)"
    ax.set(xlabel=corr.metric, ylabel="RER", title=title)
    return _finish(plt, fig, (ax,), path)


def _finish(plt: Any, fig: Any, axes: tuple[Any, ...], path: str | os.PathLike[str]) -> Path:
    """Grid, legend, tight layout, PNG at 120 dpi, close the figure."""
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=120, format="png")
    plt.close(fig)
    return out
