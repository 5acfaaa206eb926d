"""Synthetic per-sample tables with planted effects, for tests, benchmarks and method checks.

The generative model is a logistic random-intercept (optionally random-slope) model:

    logit P(correct) = intercept + u_p + modality_effect[m] + sum_f (beta_f[level] + v_pf[level])

with ``u_p ~ N(0, problem_sd^2)`` per problem and ``v_pf[level] ~ N(0, slope_sd[f]^2)`` per problem
and non-reference level. Text rows carry no visual factor levels (null) and get only the intercept,
the problem effect and the text modality effect. The grid is fully crossed within every problem.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl

from restplus.errors import AnalysisError
from restplus.schema import level_label


def simulate_table(n_problems: int, effects: Mapping[str, Mapping[str, float]], *,
                   modalities: Sequence[str] = ("text", "image", "mixed"), intercept: float = 0.5,
                   problem_sd: float = 1.0, slope_sd: Mapping[str, float] | None = None,
                   modality_effects: Mapping[str, float] | None = None, gate_fail: float = 0.0,
                   unparsed: float = 0.05, n_wrong_answers: int = 3, tokens: bool = False,
                   model: str | None = None, seed: int = 0) -> pl.DataFrame:
    """Simulate the long table of :mod:`restplus.schema` (analysis columns only).

    ``effects`` maps factor -> {level: log-odds}; the reference level is the one with effect 0
    (write it first). Wrong answers are one of ``n_wrong_answers`` distractors, or null with
    probability ``unparsed``. ``gate_fail`` is the chance an image/mixed row fails the OCR gate
    (independent of correctness). ``tokens=True`` adds ``text_tokens`` per problem and
    ``vision_tokens`` per image/mixed row (proportional to the square of a ``dpi`` level if present).

    Columns: ``model`` (if given), ``problem_id``, ``prompt_type`` ("solve"), ``modality``, one column
    per factor (a polars ``Enum`` of the level labels in the order of ``effects``, like a run's results
    table; null on text rows), ``answer``, ``gold``, ``correct``, ``gate_passed`` (null on text),
    and with ``tokens`` ``text_tokens``, ``vision_tokens``.
    """
    if n_problems < 1:
        raise AnalysisError(f"n_problems must be >= 1, got {n_problems}.")
    rng = np.random.default_rng(seed)
    factors = list(effects)
    levels = {f: list(effects[f]) for f in factors}
    labels = {f: [level_label(lv) for lv in levels[f]] for f in factors}
    dup = next((f for f in factors if len(set(labels[f])) < len(labels[f])), None)
    if dup is not None:  # 12 and 12.0 are one level label: the Enum (and a real grid) refuse them
        raise AnalysisError(f"effects[{dup!r}] names one level twice ({list(effects[dup])} have labels "
                            f"{labels[dup]}); give each level once.")
    enums = {f: pl.Enum(labels[f]) for f in factors}
    mod_eff = {"text": 0.3, "image": -0.3, "mixed": 0.0, **(modality_effects or {})}
    slope_sd = dict(slope_sd or {})
    cells = list(itertools.product(*[range(len(levels[f])) for f in factors])) if factors else [()]
    visual = [m for m in modalities if m != "text"]
    n_cells = len(cells)
    u = rng.normal(0.0, problem_sd, n_problems)
    # per-problem random slopes, one per (factor, level); zero for the reference level
    slopes = {f: rng.normal(0.0, slope_sd.get(f, 0.0), (n_problems, len(levels[f]))) for f in factors}
    for f in factors:
        slopes[f][:, 0] = 0.0
    cell_codes = np.array(cells, dtype=np.int64).reshape(n_cells, len(factors))
    parts: list[pl.DataFrame] = []
    pid = np.array([f"p{i:05d}" for i in range(n_problems)])
    text_tokens = rng.integers(40, 240, n_problems)
    for m in visual:
        p_idx = np.repeat(np.arange(n_problems), n_cells)
        c_idx = np.tile(np.arange(n_cells), n_problems)
        eta = intercept + u[p_idx] + mod_eff[m]
        cols: dict[str, object] = {}
        for j, f in enumerate(factors):
            code = cell_codes[c_idx, j]
            beta = np.array([effects[f][lv] for lv in levels[f]])
            eta = eta + beta[code] + slopes[f][p_idx, code]
            cols[f] = code
        frame = _rows(rng, pid[p_idx], m, eta, unparsed, n_wrong_answers)
        # factor columns hold level labels (level_label) as an Enum in the order of ``effects``, as a
        # real run's results table does (runner.rows.to_frames): analyses then see the same levels,
        # order and default reference. Built from lists: polars infers a dtype from a numpy object
        # array's first elements, which failed for int levels.
        frame = frame.with_columns([pl.Series(f, np.array(labels[f], dtype=object)[cols[f]].tolist(),
                                              dtype=enums[f]) for f in factors])
        frame = frame.with_columns(pl.Series("gate_passed", rng.random(p_idx.size) >= gate_fail))
        if tokens:
            scale = np.ones(p_idx.size)
            if "dpi" in factors:
                dpi = np.array(levels["dpi"], dtype=float)[cols["dpi"]]
                scale = (dpi / 100.0) ** 2
            vt = np.maximum(4, np.round(text_tokens[p_idx] * 1.5 * scale)).astype(np.int64)
            frame = frame.with_columns(pl.Series("vision_tokens", vt), pl.Series("text_tokens", text_tokens[p_idx]))
        parts.append(frame)
    if "text" in modalities:
        eta = intercept + u + mod_eff["text"]
        frame = _rows(rng, pid, "text", eta, unparsed, n_wrong_answers)
        frame = frame.with_columns([pl.lit(None, dtype=enums[f]).alias(f) for f in factors])
        frame = frame.with_columns(pl.lit(None, dtype=pl.Boolean).alias("gate_passed"))
        if tokens:
            frame = frame.with_columns(pl.lit(None, dtype=pl.Int64).alias("vision_tokens"),
                                       pl.Series("text_tokens", text_tokens))
        parts.insert(0, frame)
    out = pl.concat([p.select(parts[0].columns) for p in parts])
    if model is not None:
        out = out.with_columns(pl.lit(model).alias("model")).select(["model", *out.columns])
    return out


def _rows(rng: np.random.Generator, pid: np.ndarray, modality: str, eta: np.ndarray, unparsed: float,
          n_wrong: int) -> pl.DataFrame:
    correct = rng.random(eta.size) < 1.0 / (1.0 + np.exp(-eta))
    wrong = np.array([f"w{k}" for k in range(n_wrong)], dtype=object)[rng.integers(0, n_wrong, eta.size)]
    answer = np.where(correct, "gold", wrong).astype(object)
    answer[(~correct) & (rng.random(eta.size) < unparsed)] = None
    return pl.DataFrame({"problem_id": pid, "prompt_type": "solve", "modality": modality,
                         "answer": pl.Series(answer.tolist(), dtype=pl.Utf8), "gold": "gold", "correct": correct})


def restrict_to_grid(table: pl.DataFrame, grid) -> pl.DataFrame:
    """The rows of a simulated (fully crossed) table whose visual levels form a cell of ``grid``.

    ``simulate_table`` crosses every level; a union design such as REST+ has only some of those
    combinations. Text rows (null visual levels) are kept. Levels are compared by their labels.
    """
    visual = [f.name for f in grid.visual_factors]
    missing = [f for f in visual if f not in table.columns]
    if missing:
        raise AnalysisError(f"the table has no column(s) {missing} for the grid's visual factors {visual}.")
    cells = {tuple(level_label(c[f]) for f in visual) for c in grid.cells() if c.modality != "text"}
    rows = table.select(visual).iter_rows()
    return table.filter(pl.Series([r in cells or all(v is None for v in r) for r in rows]))
