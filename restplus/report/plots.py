"""Figures for papers: marginal accuracy, interactions, RER per level, vision tokens, gate pass rates.

Every function draws on a fresh :class:`matplotlib.figure.Figure` (Agg canvas, no pyplot, no global
backend switch) and writes ``<stem>.png`` and ``<stem>.pdf``; it returns both paths. Inputs are the
tidy frames of :mod:`restplus.stats`, so figures can be redrawn from saved CSVs.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from restplus.errors import AnalysisError
from restplus.stats import TokenCurve

_COLORS = {"text": "#4d4d4d", "image": "#1f77b4", "mixed": "#ff7f0e"}
_CYCLE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"]
MAX_GATE_CELLS = 40  # beyond this the gate plot shows the lowest pass rates only


def _save(fig: Figure, stem: str | os.PathLike[str]) -> list[Path]:
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    # constrained layout already fits the labels; bbox_inches="tight" would cost another full draw
    fig.savefig(paths[0], dpi=150)
    fig.savefig(paths[1], metadata={"CreationDate": None})  # no timestamp: re-runs give identical files
    return paths


def _err(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    lo = np.where(np.isfinite(lo), lo, values)
    hi = np.where(np.isfinite(hi), hi, values)
    return np.vstack([np.clip(values - lo, 0, None), np.clip(hi - values, 0, None)])


def _col(frame: pl.DataFrame, name: str) -> np.ndarray:
    return frame.get_column(name).cast(pl.Float64).fill_null(float("nan")).to_numpy()


def _pick_gated(metrics: pl.DataFrame, gated: bool | None = None) -> tuple[pl.DataFrame, str]:
    """Gated rows when asked (or, by default, when there are any), else all units."""
    if gated is not False and metrics.filter(pl.col("gated")).height:
        return metrics.filter(pl.col("gated")), "gate-passed units"
    return metrics.filter(~pl.col("gated")), "all units"


def _grid(n: int, width: float = 4.2, height: float = 3.2) -> tuple[Figure, list]:
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(width * cols, height * rows), layout="constrained")
    axes = [fig.add_subplot(rows, cols, i + 1) for i in range(n)]
    return fig, axes


def plot_marginal_accuracy(metrics: pl.DataFrame, factors: Sequence[str], stem: str | os.PathLike[str], *,
                           title: str = "", gated: bool | None = None) -> list[Path]:
    """Accuracy per level of each factor and modality, with cluster-bootstrap CIs.

    ``metrics``: output of :func:`restplus.stats.consistency` (scope ``factor``; gated rows preferred).
    """
    data, which = _pick_gated(metrics.filter(pl.col("scope") == "factor"), gated)
    factors = [f for f in factors if data.filter(pl.col("factor") == f).height]
    if not factors:
        raise AnalysisError("plot_marginal_accuracy: the metrics frame has no factor-level rows.")
    fig, axes = _grid(len(factors))
    for ax, f in zip(axes, factors):
        sub = data.filter((pl.col("factor") == f) & pl.col("metric").str.starts_with("acc_"))
        levels = list(dict.fromkeys(sub.get_column("level").to_list()))
        mods = list(dict.fromkeys(m.removeprefix("acc_") for m in sub.get_column("metric").to_list()))
        x = np.arange(len(levels))
        for k, m in enumerate(mods):
            s = sub.filter(pl.col("metric") == f"acc_{m}")
            order = [s.get_column("level").to_list().index(lv) for lv in levels]
            v, lo, hi = (_col(s, c)[order] for c in ("value", "ci_low", "ci_high"))
            off = (k - (len(mods) - 1) / 2) * 0.12
            style = "--" if m == "text" else "-"
            ax.errorbar(x + off, v, yerr=_err(v, lo, hi), marker="o", ls=style, capsize=3, label=m,
                        color=_COLORS.get(m))
        ax.set_xticks(x, levels)
        ax.set_xlabel(f)
        ax.set_ylabel("accuracy")
        ax.set_ylim(0, 1.02)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(title="modality", fontsize=8)
    fig.suptitle(f"{title} ({which}, 95% cluster-bootstrap CI)" if title else
                 f"Accuracy per factor level ({which}, 95% cluster-bootstrap CI)")
    return _save(fig, stem)


def plot_interaction(acc: pl.DataFrame, x_factor: str, line_factor: str, stem: str | os.PathLike[str], *,
                     title: str = "") -> list[Path]:
    """Interaction plot: accuracy by ``x_factor`` (x axis), one line per ``line_factor`` level, one
    panel per modality. ``acc``: :func:`restplus.stats.accuracy_table` with ``by=[x_factor, line_factor]``."""
    for c in (x_factor, line_factor, "modality", "accuracy"):
        if c not in acc.columns:
            raise AnalysisError(f"plot_interaction: column {c!r} missing; build acc with "
                                f"accuracy_table(table, by=[{x_factor!r}, {line_factor!r}]).")
    mods = list(dict.fromkeys(acc.get_column("modality").to_list()))
    fig, axes = _grid(len(mods))
    xs = list(dict.fromkeys(acc.get_column(x_factor).to_list()))
    lines = list(dict.fromkeys(acc.get_column(line_factor).to_list()))
    for ax, m in zip(axes, mods):
        for k, lv in enumerate(lines):
            s = acc.filter((pl.col("modality") == m) & (pl.col(line_factor) == lv))
            pos = [xs.index(v) for v in s.get_column(x_factor).to_list()]
            v, lo, hi = (_col(s, c) for c in ("accuracy", "ci_low", "ci_high"))
            off = (k - (len(lines) - 1) / 2) * 0.08
            ax.errorbar(np.array(pos) + off, v, yerr=_err(v, lo, hi), marker="o", capsize=3, label=str(lv),
                        color=_CYCLE[k % len(_CYCLE)])
        ax.set_xticks(range(len(xs)), xs)
        ax.set_xlabel(x_factor)
        ax.set_ylabel("accuracy")
        ax.set_title(m)
        ax.set_ylim(0, 1.02)
        ax.grid(axis="y", alpha=0.3)
    axes[-1].legend(title=line_factor, fontsize=8)
    fig.suptitle(title or f"Interaction {x_factor} x {line_factor} (95% cluster-bootstrap CI)")
    return _save(fig, stem)


def plot_rer(metrics: pl.DataFrame, factors: Sequence[str], stem: str | os.PathLike[str], *,
             title: str = "", gated: bool | None = None) -> list[Path]:
    """Render-equivalence rate per level of each factor (bars with CIs; overall RER as a line)."""
    data, which = _pick_gated(metrics.filter(pl.col("metric") == "rer"), gated)
    factors = [f for f in factors if data.filter(pl.col("factor") == f).height]
    if not factors:
        raise AnalysisError("plot_rer: the metrics frame has no RER rows per factor level.")
    overall = data.filter(pl.col("scope") == "overall")
    fig, axes = _grid(len(factors), width=3.8)
    for ax, f in zip(axes, factors):
        s = data.filter((pl.col("scope") == "factor") & (pl.col("factor") == f))
        v, lo, hi = (_col(s, c) for c in ("value", "ci_low", "ci_high"))
        x = np.arange(s.height)
        ax.bar(x, v, yerr=_err(v, lo, hi), capsize=3, color="#6a9fd4")
        if overall.height:
            ax.axhline(float(overall.get_column("value")[0]), color="k", ls="--", lw=1, label="overall")
        ax.set_xticks(x, s.get_column("level").to_list())
        ax.set_xlabel(f)
        ax.set_ylabel("RER")
        ax.set_ylim(0, 1.02)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{title} ({which}, 95% CI)" if title else f"Render-equivalence rate per level ({which}, 95% CI)")
    return _save(fig, stem)


def plot_tokens(curve: TokenCurve, stem: str | os.PathLike[str], *, title: str = "") -> list[Path]:
    """Accuracy vs vision tokens (bins with CIs, fitted logistic curve, text accuracy for reference)."""
    fig = Figure(figsize=(6.0, 4.0), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    b = curve.bins
    x, v, lo, hi = (_col(b, c) for c in ("tokens_median", "accuracy", "ci_low", "ci_high"))
    ax.errorbar(x, v, yerr=_err(v, lo, hi), fmt="o", capsize=3, color=_COLORS["image"], label="vision (binned)")
    grid = np.geomspace(max(1.0, float(_col(b, "tokens_low").min())), float(_col(b, "tokens_high").max()), 200)
    ax.plot(grid, curve.predict(grid), color=_COLORS["image"], lw=1.5,
            label=f"fit: slope {curve.slope:.2f} per log-token")
    if curve.text_bins.height:
        tb = curve.text_bins
        tx, tv, tlo, thi = (_col(tb, c) for c in ("tokens_median", "accuracy", "ci_low", "ci_high"))
        ax.errorbar(tx, tv, yerr=_err(tv, tlo, thi), fmt="s", capsize=3, color=_COLORS["text"],
                    label="text (by text tokens)")
    if math.isfinite(curve.text_accuracy):
        ax.axhline(curve.text_accuracy, color=_COLORS["text"], ls="--", lw=1,
                   label=f"text accuracy {curve.text_accuracy:.0%}")
    if math.isfinite(curve.tokens_to_match_text):
        ax.axvline(curve.tokens_to_match_text, color="#d62728", ls=":", lw=1.2,
                   label=f"matches text at ~{curve.tokens_to_match_text:.0f} tokens")
    ax.set_xscale("log")
    ax.set_xlabel("tokens (log scale)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title or "Accuracy vs vision tokens (95% cluster-bootstrap CI)")
    return _save(fig, stem)


def plot_gate(gates: pl.DataFrame, factors: Sequence[str], stem: str | os.PathLike[str], *,
              title: str = "") -> list[Path]:
    """OCR-gate pass rate per cell (horizontal bars, Wilson CI), one panel per modality.

    ``gates``: :func:`restplus.stats.gate_summary`. More than 40 cells: the 40 lowest are shown.
    """
    cells = gates.filter(pl.all_horizontal([pl.col(f).is_not_null() for f in factors])) if factors else gates
    mods = list(dict.fromkeys(cells.get_column("modality").to_list()))
    if not mods:
        raise AnalysisError("plot_gate: no gate results to plot.")
    n_show = min(MAX_GATE_CELLS, max(cells.filter(pl.col("modality") == m).height for m in mods))
    fig = Figure(figsize=(5.0 * len(mods), 1.2 + 0.26 * n_show), layout="constrained")
    for i, m in enumerate(mods):
        ax = fig.add_subplot(1, len(mods), i + 1)
        s = cells.filter(pl.col("modality") == m).sort("pass_rate").head(MAX_GATE_CELLS)
        labels = [", ".join(f"{f}={r[f]}" for f in factors) or "all" for r in s.iter_rows(named=True)]
        v, lo, hi = (_col(s, c) for c in ("pass_rate", "ci_low", "ci_high"))
        y = np.arange(s.height)
        ax.barh(y, v, xerr=_err(v, lo, hi), capsize=2, color=_COLORS.get(m, "#1f77b4"))
        ax.set_yticks(y, labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlim(0, 1.02)
        ax.set_xlabel("gate pass rate")
        shown = "" if s.height == cells.filter(pl.col("modality") == m).height else f" (lowest {s.height})"
        ax.set_title(f"{m}{shown}")
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(title or "OCR gate pass rate per cell (95% Wilson CI)")
    return _save(fig, stem)
