"""Modality gap: how close a model's hidden representations of the same content as text and as image are.

**What the numbers mean.** For each item (the same content once as text and once as a rendered
image) the model runs two separate forward passes, text alone and image alone. At every layer ℓ
(ℓ = 0 is the input embeddings, so a model has ``num_hidden_layers + 1`` layers here) we average the
hidden states over the image-token positions of the image pass and over the content's text-token
positions of the text pass; chat-template markup, instructions and special tokens are excluded on
both sides (a template space that the tokenizer merges into the first word counts as content).
``cos_mean`` is the mean cosine similarity of an item's image vector and its own text vector, with a
seeded percentile-bootstrap CI over items. ``cos_shuffled`` is the same mean over mismatched pairs
(a seeded derangement: no item keeps its own partner); it is the baseline that says how similar any
image is to any text at that layer, so only ``cos_mean - cos_shuffled`` is evidence of shared
content. ``i2t_r1`` / ``i2t_r5`` is the share of images whose own text is among the 1 / 5 most
cosine-similar texts of all items (``t2i`` the reverse); ties count against the item, and chance
is k / n_items, so with 5 or fewer items recall@5 is 1 by construction. Per model we report, as the
REST paper does, the maximum of ``cos_mean`` over layers and the layer where it occurs. Across
models (or one model at several settings) this maximum is correlated with the model's RER (the
paper reports R² = 0.611 over its models): Pearson and Spearman from scipy, R² of the linear fit,
the number of models, and an explicit ``caveat`` whenever fewer than 5 models enter the fit
(fewer than 3 are refused: two points always give r = ±1).

**Tiny random models.** The test models of ``restplus.testing`` are randomly initialised; their
hidden states encode nothing, so their similarities, retrieval scores and correlations are
meaningless numbers. The plumbing is still exact: the tests check the layer count, that image and
text positions are exactly the processor's image-token ids and the user-text tokens, and that the
math gives similarity 1 and perfect retrieval when both sides are identical. Real conclusions need
real checkpoints and a few hundred items.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from ..errors import AnalysisError, FewModelsWarning, did_you_mean
from ..hashing import derive_seed
from .extract import LayerMeans, extract_means, gap_pairs

CURVE_COLUMNS = ("model", "layer", "cos_mean", "cos_ci_low", "cos_ci_high", "cos_shuffled",
                 "i2t_r1", "i2t_r5", "t2i_r1", "t2i_r5", "n_items")
SUMMARY_METRICS = ("cos_max", "cos_gain_max", "i2t_r1_max", "t2i_r1_max")
MIN_MODELS = 5  # below this a cross-model correlation is reported with an explicit caveat


# ---------------------------------------------------------------- math on (items x hidden) matrices

def _unit_rows(a: np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2:
        raise AnalysisError(f"{what} must be a 2-d (items, hidden) array, got shape {a.shape}.")
    norms = np.linalg.norm(a, axis=1)
    bad = np.flatnonzero(~(norms > 0) | ~np.isfinite(norms))
    if bad.size:
        raise AnalysisError(f"{what}: rows {bad[:5].tolist()} are zero or non-finite vectors; cosine similarity "
                            "is undefined for them.")
    return a / norms[:, None]


def cosine_matrix(image: np.ndarray, text: np.ndarray) -> np.ndarray:
    """(n, m) cosine similarities: row i = image item i, column j = text item j."""
    a, b = _unit_rows(image, "image vectors"), _unit_rows(text, "text vectors")
    if a.shape[1] != b.shape[1]:
        raise AnalysisError(f"image vectors have {a.shape[1]} dims but text vectors {b.shape[1]}.")
    return a @ b.T


def derangement(n: int, seed: int) -> np.ndarray:
    """A seeded random permutation with no fixed point (item i is paired with ``perm[i] != i``)."""
    if n < 2:
        raise AnalysisError(f"a shuffled baseline needs at least 2 items, got {n}.")
    rng = np.random.default_rng(seed)
    while True:  # rejection sampling: a uniform permutation is a derangement with probability ~1/e
        perm = rng.permutation(n)
        if not np.any(perm == np.arange(n)):
            return perm


def recall_at_k(sim: np.ndarray, k: int) -> tuple[float, float]:
    """(image→text, text→image) recall@k of a square similarity matrix whose diagonal holds true pairs.

    An item's rank is the number of *other* candidates at least as similar as its true partner, so
    ties count against it (identical vectors for every item give recall k / n, not 1).
    """
    sim = np.asarray(sim, dtype=np.float64)
    if sim.ndim != 2 or sim.shape[0] != sim.shape[1]:
        raise AnalysisError(f"retrieval needs a square similarity matrix, got shape {sim.shape}.")
    if k < 1:
        raise AnalysisError(f"recall@k needs k >= 1, got {k}.")
    true = np.diag(sim)
    off = ~np.eye(sim.shape[0], dtype=bool)
    rank_i2t = ((sim >= true[:, None]) & off).sum(axis=1)
    rank_t2i = ((sim >= true[None, :]) & off).sum(axis=0)
    return float(np.mean(rank_i2t < k)), float(np.mean(rank_t2i < k))


def bootstrap_mean_ci(values: np.ndarray, *, n_boot: int, seed: int, ci: float = 0.95
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Percentile-bootstrap CI of the mean over items (axis 0) of an (items, layers) array.

    Items are resampled jointly across layers. ``n_boot=0`` gives NaN bounds.
    """
    from scipy import stats

    v = np.asarray(values, dtype=np.float64)
    if n_boot == 0:
        nan = np.full(v.shape[1:], np.nan)
        return nan, nan.copy()
    if n_boot < 0 or not 0 < ci < 1:
        raise AnalysisError(f"bootstrap needs n_boot >= 0 and 0 < ci < 1, got n_boot={n_boot}, ci={ci}.")
    res = stats.bootstrap((v,), np.mean, axis=0, vectorized=True, n_resamples=n_boot, confidence_level=ci,
                          method="percentile", rng=np.random.default_rng(seed), batch=100)
    return np.asarray(res.confidence_interval.low), np.asarray(res.confidence_interval.high)


# ---------------------------------------------------------------- per-layer curves and summary

def gap_curves(means: LayerMeans, *, seed: int = 0, n_boot: int = 1000, ci: float = 0.95) -> pl.DataFrame:
    """Per-layer similarity and retrieval of one model's :class:`LayerMeans`.

    Columns (one row per layer):
        model         str   model label
        layer         i64   hidden-state index (0 = input embeddings)
        cos_mean      f64   mean cosine(image mean, own text mean) over items
        cos_ci_low, cos_ci_high  f64  percentile-bootstrap CI of cos_mean (items resampled; NaN if n_boot=0)
        cos_shuffled  f64   mean cosine over deranged (mismatched) pairs: the no-shared-content baseline
        i2t_r1, i2t_r5  f64 share of images whose own text ranks 1st / in the top 5 among all texts
        t2i_r1, t2i_r5  f64 share of texts whose own image ranks 1st / in the top 5 among all images
        n_items       i64   number of paired items
    The derangement and bootstrap seeds derive from ``seed`` only, so the same items get the same
    shuffle and resamples for every model.
    """
    n, n_layers = means.image.shape[:2]
    if means.text.shape != means.image.shape:
        raise AnalysisError(f"image means {means.image.shape} and text means {means.text.shape} differ in shape.")
    if n < 2:
        raise AnalysisError(f"the modality gap needs at least 2 items, got {n}.")
    perm = derangement(n, derive_seed(seed, "gap-derangement"))
    cos = np.empty((n, n_layers))
    rows: list[dict[str, Any]] = []
    for li in range(n_layers):
        sim = cosine_matrix(means.image[:, li], means.text[:, li])
        cos[:, li] = np.diag(sim)
        i2t1, t2i1 = recall_at_k(sim, 1)
        i2t5, t2i5 = recall_at_k(sim, 5)
        rows.append({"model": means.model, "layer": int(means.layers[li]), "cos_mean": float(cos[:, li].mean()),
                     "cos_shuffled": float(sim[np.arange(n), perm].mean()), "i2t_r1": i2t1, "i2t_r5": i2t5,
                     "t2i_r1": t2i1, "t2i_r5": t2i5, "n_items": n})
    lo, hi = bootstrap_mean_ci(cos, n_boot=n_boot, seed=derive_seed(seed, "gap-bootstrap"), ci=ci)
    for li, row in enumerate(rows):
        row["cos_ci_low"], row["cos_ci_high"] = float(lo[li]), float(hi[li])
    schema = {"model": pl.String, "layer": pl.Int64, "n_items": pl.Int64,
              **{c: pl.Float64 for c in CURVE_COLUMNS if c not in ("model", "layer", "n_items")}}
    return pl.DataFrame(rows, schema=schema).select(CURVE_COLUMNS)


def gap_summary(curves: pl.DataFrame) -> pl.DataFrame:
    """Per-model summary of :func:`gap_curves` rows (several models may be concatenated).

    Columns (one row per model, in order of first appearance):
        model              str
        cos_max            f64  max over layers of cos_mean (the paper's per-model number)
        cos_max_layer      i64  layer of cos_max (the lowest such layer on ties)
        cos_ci_low, cos_ci_high  f64  bootstrap CI of cos_mean at cos_max_layer
        cos_shuffled       f64  shuffled baseline at cos_max_layer
        cos_gain_max       f64  max over layers of cos_mean - cos_shuffled
        cos_gain_max_layer i64
        i2t_r1_max, t2i_r1_max   f64  best recall@1 over layers, each direction
        i2t_r1_max_layer, t2i_r1_max_layer  i64
        n_layers, n_items  i64
    """
    missing = [c for c in CURVE_COLUMNS if c not in curves.columns]
    if missing:
        raise AnalysisError(f"curves lack columns {missing}; pass the output of gap_curves().")
    out: list[dict[str, Any]] = []
    for model in curves["model"].unique(maintain_order=True).to_list():
        c = curves.filter(pl.col("model") == model).sort("layer")
        layers = c["layer"].to_numpy()
        cos, shuf = c["cos_mean"].to_numpy(), c["cos_shuffled"].to_numpy()
        k, g = int(np.argmax(cos)), int(np.argmax(cos - shuf))  # argmax keeps the first (lowest) layer on ties
        i2t, t2i = c["i2t_r1"].to_numpy(), c["t2i_r1"].to_numpy()
        out.append({"model": model, "cos_max": float(cos[k]), "cos_max_layer": int(layers[k]),
                    "cos_ci_low": float(c["cos_ci_low"][k]), "cos_ci_high": float(c["cos_ci_high"][k]),
                    "cos_shuffled": float(shuf[k]), "cos_gain_max": float(cos[g] - shuf[g]),
                    "cos_gain_max_layer": int(layers[g]), "i2t_r1_max": float(i2t.max()),
                    "i2t_r1_max_layer": int(layers[int(np.argmax(i2t))]), "t2i_r1_max": float(t2i.max()),
                    "t2i_r1_max_layer": int(layers[int(np.argmax(t2i))]), "n_layers": len(layers),
                    "n_items": int(c["n_items"][0])})
    return pl.DataFrame(out)


# ---------------------------------------------------------------- link to consistency (RER)

EXACT_SPEARMAN_MAX_N = 8  # 8! = 40320 orderings, vectorised: well under a second


def spearman_p(x: np.ndarray, y: np.ndarray) -> float:
    """Two-sided p-value of Spearman's rho: exact permutation test for small n, else scipy's."""
    from scipy import stats

    n = len(x)
    if n > EXACT_SPEARMAN_MAX_N:
        return float(stats.spearmanr(x, y).pvalue)
    ry = stats.rankdata(y)
    b = ry - ry.mean()

    def rho(rx: np.ndarray, axis: int = -1) -> np.ndarray:  # Pearson on ranks, vectorised over orderings
        a = rx - rx.mean(axis=axis, keepdims=True)
        return (a * b).sum(axis=axis) / np.sqrt((a ** 2).sum(axis=axis) * (b ** 2).sum())

    res = stats.permutation_test((stats.rankdata(x),), rho, permutation_type="pairings", vectorized=True,
                                 n_resamples=math.factorial(n))
    return float(res.pvalue)


@dataclass(frozen=True, slots=True)
class GapCorrelation:
    """Correlation of a per-model gap metric with RER across models.

    ``r2`` is the R² of the least-squares line RER = intercept + slope * similarity (= pearson_r²).
    ``pearson_p`` is scipy's t-test (assumes normality). ``spearman_p`` is an exact permutation test
    over all n! orderings for n <= 8 models (scipy's t approximation would say p = 0 for any perfect
    ranking of 3 points) and scipy's asymptotic value above that.
    ``caveat`` is set (and a :class:`FewModelsWarning` issued) when n_models < 5. ``excluded``:
    models measured but absent from the RER mapping.
    """

    metric: str
    n_models: int
    pearson_r: float
    pearson_p: float
    spearman_rho: float
    spearman_p: float
    r2: float
    slope: float
    intercept: float
    models: tuple[str, ...]
    similarity: tuple[float, ...]
    rer: tuple[float, ...]
    excluded: tuple[str, ...] = ()
    caveat: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}


def gap_correlation(summary: pl.DataFrame | Mapping[str, float], rer: Mapping[str, float], *,
                    metric: str = "cos_max") -> GapCorrelation:
    """Pearson, Spearman and R² between ``metric`` of :func:`gap_summary` (or a model → value mapping) and RER.

    ``rer`` maps model label → RER (e.g. the overall ``rer`` of ``restplus.stats.consistency`` per
    model). Every model in ``rer`` must have been measured; measured models without an RER are
    excluded and listed. With fewer than 5 models the result carries a ``caveat``.
    """
    from scipy import stats

    if isinstance(summary, pl.DataFrame):
        if metric not in summary.columns:
            raise AnalysisError(f"summary has no metric {metric!r}.{did_you_mean(metric, summary.columns)} "
                                f"Use one of {', '.join(SUMMARY_METRICS)}.")
        sim = dict(zip(summary["model"].to_list(), summary[metric].to_list()))
    else:
        sim = {str(k): float(v) for k, v in summary.items()}
    unknown = [m for m in rer if m not in sim]
    if unknown:
        raise AnalysisError(f"RER given for model(s) {unknown} that were not measured."
                            f"{did_you_mean(unknown[0], sim)} Measured: {', '.join(sim)}.")
    models = [m for m in sim if m in rer]
    x = np.array([float(sim[m]) for m in models])
    y = np.array([float(rer[m]) for m in models])
    if len(models) < 3:
        raise AnalysisError(f"a correlation needs at least 3 models, got {len(models)} ({models}); with 2 any "
                            "two points give r = ±1.")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise AnalysisError(f"non-finite similarity or RER among models {models}: {x.tolist()} / {y.tolist()}.")
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        raise AnalysisError(f"{'similarity' if np.ptp(x) == 0 else 'RER'} is identical for all {len(models)} "
                            "models, so the correlation is undefined.")
    fit = stats.linregress(x, y)
    sp = stats.spearmanr(x, y)
    caveat = None
    if len(models) < MIN_MODELS:
        caveat = (f"only {len(models)} models (< {MIN_MODELS}): the correlation, its p-values and R² are "
                  "unstable and should not be read as evidence either way.")
        warnings.warn(caveat, FewModelsWarning, stacklevel=2)
    return GapCorrelation(metric=metric, n_models=len(models), pearson_r=float(fit.rvalue), pearson_p=float(fit.pvalue),
                          spearman_rho=float(sp.statistic), spearman_p=spearman_p(x, y), r2=float(fit.rvalue ** 2),
                          slope=float(fit.slope), intercept=float(fit.intercept), models=tuple(models),
                          similarity=tuple(x.tolist()), rer=tuple(y.tolist()),
                          excluded=tuple(m for m in sim if m not in rer), caveat=caveat)


# ---------------------------------------------------------------- one-call measurement

@dataclass(frozen=True, slots=True, eq=False)
class GapResult:
    """One model's modality-gap measurement: the kept means, per-layer curves and the summary row."""

    means: LayerMeans
    curves: pl.DataFrame
    summary: pl.DataFrame

    def save(self, out: str | os.PathLike[str]) -> dict[str, Path]:
        """Write ``gap_curves.parquet``, ``gap_summary.parquet`` and ``means.npz`` under ``out/<model>/``."""
        d = Path(out) / safe_name(self.means.model)
        d.mkdir(parents=True, exist_ok=True)
        paths = {"curves": d / "gap_curves.parquet", "summary": d / "gap_summary.parquet", "means": d / "means.npz"}
        self.curves.write_parquet(paths["curves"])
        self.summary.write_parquet(paths["summary"])
        self.means.save(paths["means"])
        return paths


def safe_name(label: str) -> str:
    """A model label as one path component (slashes and colons of ``hf:name`` / ``org/model`` replaced)."""
    return "".join(ch if ch.isalnum() or ch in "-_.=@" else "_" for ch in label) or "model"


def measure_gap(adapter: Any, source: Any, *, model: str | None = None, cell: str | None = None,
                text_from: str = "text_variant", layers: Sequence[int] | None = None, seed: int = 0,
                n_boot: int = 1000, ci: float = 0.95, progress: bool = False) -> GapResult:
    """Measure one model: ``source`` is a run folder, Variants, or :class:`GapPair` s (see :func:`gap_pairs`)."""
    pairs = gap_pairs(source, cell=cell, text_from=text_from)
    means = extract_means(adapter, pairs, model=model, layers=layers, progress=progress)
    curves = gap_curves(means, seed=seed, n_boot=n_boot, ci=ci)
    return GapResult(means, curves, gap_summary(curves))


def write_correlation(corr: GapCorrelation, path: str | os.PathLike[str]) -> None:
    """The correlation as JSON (NaN p-values become null)."""
    d = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in corr.to_dict().items()}
    Path(path).write_text(json.dumps(d, indent=2) + "\n", encoding="utf-8")
