"""Accuracy against the number of vision tokens, and the tokens needed to match text accuracy.

The paper reports that most models need more vision tokens than text tokens to reach the same
accuracy. :func:`token_curve` bins image/mixed rows by ``vision_tokens`` (and text rows by
``text_tokens``), fits ``logit P(correct) = a + b log(vision_tokens)`` (GLM, problem-clustered SE)
and solves for the vision-token count whose fitted accuracy equals the text accuracy of the same
problems. The solution is only reported inside the observed token range (no extrapolation); outside
it the value is NaN with a warning. Caveat: problems with more content have more tokens of both
kinds, so the pooled curve mixes resolution with content length.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import statsmodels.api as sm
from scipy.special import expit, logit

from restplus.errors import AnalysisError

from ._common import check_gate_policy, ensure_single_model, prepare, warn, z_value
from .bootstrap import cluster_sums, percentile_ci, ratio, replicate_sums

BIN_COLUMNS = ("modality", "bin", "tokens_low", "tokens_high", "tokens_median", "n", "n_problems", "accuracy",
               "ci_low", "ci_high")


@dataclass(frozen=True, slots=True, eq=False)
class TokenCurve:
    """Result of :func:`token_curve`.

    ``bins`` / ``text_bins`` columns: ``modality``, ``bin`` (0-based), ``tokens_low``, ``tokens_high``
    (bin edges, inclusive), ``tokens_median``, ``n`` (rows), ``n_problems``, ``accuracy``, ``ci_low``,
    ``ci_high`` (cluster-bootstrap percentile interval over problems).
    """

    bins: pl.DataFrame
    text_bins: pl.DataFrame
    intercept: float
    slope: float  # change in log odds per e-fold increase in vision tokens
    slope_ci_low: float
    slope_ci_high: float
    slope_p: float
    text_accuracy: float
    tokens_to_match_text: float  # NaN when not reached inside the observed range
    median_text_tokens: float
    token_ratio: float  # tokens_to_match_text / median_text_tokens
    n_obs: int
    n_problems: int
    warnings: tuple[str, ...] = ()

    def predict(self, tokens: Sequence[float] | np.ndarray) -> np.ndarray:
        """Fitted accuracy at the given vision-token counts."""
        t = np.asarray(tokens, dtype=float)
        return expit(self.intercept + self.slope * np.log(t))


def token_curve(table: Any, *, modality: str | None = None, n_bins: int = 6, gate_policy: str = "exclude",
                n_boot: int = 1000, seed: int = 0, ci: float = 0.95) -> TokenCurve:
    """Accuracy vs vision tokens (see the module docstring).

    Reads ``problem_id``, ``modality``, ``correct``, ``vision_tokens`` (image/mixed rows),
    ``text_tokens`` (text rows) and ``gate_passed``. ``modality`` restricts the vision rows to
    ``"image"`` or ``"mixed"`` (default: both). Bins are quantile bins (ties merge bins).
    """
    check_gate_policy(gate_policy)
    sink: list[str] = []
    zc = z_value(ci)
    df = prepare(table, (), what="token_curve", extra=("vision_tokens", "text_tokens", "model"))
    ensure_single_model(df, (), "token_curve")
    if "vision_tokens" not in df.columns:
        raise AnalysisError("token_curve needs a vision_tokens column (tokens each image became); the table "
                            "has none. The runner records it where the adapter reports it.")
    vis_mods = [modality] if modality else ["image", "mixed"]
    vis = df.filter(pl.col("modality").is_in(vis_mods) & pl.col("vision_tokens").is_not_null()
                    & (pl.col("vision_tokens") > 0))
    if gate_policy == "exclude" and "gate_passed" in vis.columns:
        vis = vis.filter(pl.col("gate_passed").fill_null(True))
    if vis.height < 2 or vis.get_column("vision_tokens").n_unique() < 2:
        raise AnalysisError(f"token_curve: need image/mixed rows with at least two distinct vision_tokens "
                            f"values; found {vis.height} row(s) with "
                            f"{vis.get_column('vision_tokens').n_unique()} distinct value(s).")
    bins = _binned(vis, "vision_tokens", n_bins, n_boot, seed, ci)
    txt = df.filter((pl.col("modality") == "text")
                    & pl.col("problem_id").is_in(vis.get_column("problem_id").unique().implode()))
    text_bins = (_binned(txt.filter(pl.col("text_tokens").is_not_null()), "text_tokens", n_bins, n_boot, seed, ci)
                 if "text_tokens" in txt.columns and txt.filter(pl.col("text_tokens").is_not_null()).height
                 else pl.DataFrame(schema=bins.schema))
    x = np.log(vis.get_column("vision_tokens").cast(pl.Float64).to_numpy())
    y = vis.get_column("correct").cast(pl.Float64).to_numpy()
    g = (vis.get_column("problem_id").rank("dense") - 1).to_numpy().astype(np.int64)
    if np.unique(y).size < 2:
        raise AnalysisError("token_curve: every analysed image/mixed row is correct (or every one wrong); "
                            "no curve can be fitted.")
    X = np.column_stack([np.ones_like(x), x])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kw = {"cov_type": "cluster", "cov_kwds": {"groups": g}} if g.max() > 0 else {}
        res = sm.GLM(y, X, family=sm.families.Binomial()).fit(**kw)
    for w in caught:
        warn(f"token_curve fit: {type(w.message).__name__}: {w.message}", sink)
    a, b = (float(v) for v in res.params)
    se_b = float(res.bse[1])
    text_acc = float(txt.get_column("correct").mean()) if txt.height else float("nan")
    lo_t, hi_t = float(np.exp(x.min())), float(np.exp(x.max()))
    t_star = float("nan")
    if not math.isfinite(text_acc):
        warn("token_curve: no text rows for these problems; tokens_to_match_text is NaN.", sink)
    elif text_acc in (0.0, 1.0):
        warn(f"token_curve: text accuracy is {text_acc:.0%}, which a logistic curve never reaches; "
             f"tokens_to_match_text is NaN.", sink)
    elif b <= 0:
        warn(f"token_curve: accuracy does not increase with vision tokens (slope {b:.3f}); text accuracy "
             f"{text_acc:.1%} is not reached, tokens_to_match_text is NaN.", sink)
    else:
        cand = math.exp((float(logit(text_acc)) - a) / b)
        if lo_t <= cand <= hi_t:
            t_star = cand
        else:
            side = "above the largest" if cand > hi_t else "below the smallest"
            warn(f"token_curve: the fitted curve reaches text accuracy {text_acc:.1%} at ~{cand:.0f} vision "
                 f"tokens, {side} observed count ({lo_t:.0f}-{hi_t:.0f}); not extrapolated, "
                 f"tokens_to_match_text is NaN.", sink)
    med_text = (float(txt.get_column("text_tokens").median()) if "text_tokens" in txt.columns
                and txt.get_column("text_tokens").drop_nulls().len() else float("nan"))
    return TokenCurve(bins=bins, text_bins=text_bins, intercept=a, slope=b, slope_ci_low=b - zc * se_b,
                      slope_ci_high=b + zc * se_b, slope_p=float(res.pvalues[1]), text_accuracy=text_acc,
                      tokens_to_match_text=t_star, median_text_tokens=med_text,
                      token_ratio=t_star / med_text if med_text and math.isfinite(med_text) else float("nan"),
                      n_obs=vis.height, n_problems=int(g.max()) + 1, warnings=tuple(sink))


def _binned(df: pl.DataFrame, col: str, n_bins: int, n_boot: int, seed: int, ci: float) -> pl.DataFrame:
    tokens = df.get_column(col).cast(pl.Float64).to_numpy()
    edges = np.unique(np.quantile(tokens, np.linspace(0, 1, n_bins + 1)))
    code = np.clip(np.searchsorted(edges, tokens, side="right") - 1, 0, max(len(edges) - 2, 0))
    n_groups = int(code.max()) + 1
    pcode = (df.get_column("problem_id").rank("dense") - 1).to_numpy().astype(np.int64)
    y = df.get_column("correct").cast(pl.Float64).to_numpy()
    cs = cluster_sums(code, pcode, np.column_stack([np.ones_like(y), y]), n_groups, int(pcode.max()) + 1)
    tot = cs.totals()
    acc = ratio(tot[:, 1], tot[:, 0])
    if n_boot:
        reps = replicate_sums(cs, n_boot, seed)
        lo, hi, _ = percentile_ci(ratio(reps[:, :, 1], reps[:, :, 0]), ci)
    else:
        lo = hi = np.full(n_groups, np.nan)
    rows = []
    mods = df.get_column("modality").unique().sort().to_list()
    for k in range(n_groups):
        sel = code == k
        if not sel.any():
            continue
        rows.append({"modality": ",".join(mods), "bin": k, "tokens_low": float(tokens[sel].min()),
                     "tokens_high": float(tokens[sel].max()), "tokens_median": float(np.median(tokens[sel])),
                     "n": int(sel.sum()), "n_problems": int(np.unique(pcode[sel]).size), "accuracy": float(acc[k]),
                     "ci_low": float(lo[k]), "ci_high": float(hi[k])})
    return pl.DataFrame(rows, schema={"modality": pl.Utf8, "bin": pl.Int64, "tokens_low": pl.Float64,
                                      "tokens_high": pl.Float64, "tokens_median": pl.Float64, "n": pl.Int64,
                                      "n_problems": pl.Int64, "accuracy": pl.Float64, "ci_low": pl.Float64,
                                      "ci_high": pl.Float64})
