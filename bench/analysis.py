"""Analysis speed, measured side by side in one run.

(a) ``restplus.stats.engine`` on a synthetic table of ``--rows`` rows (default 1,000,000 =
    10,000 problems x 100 cells: dpi 5 x font 4 x colour 5, image modality) ÷ the bare statsmodels
    call it wraps (``GEE(y, X, groups, Binomial, Exchangeable).fit()``) on the same design matrix.
    effects() adds input checks, gating, degenerate-data screening, the design build, marginal deltas
    with delta-method CIs, Wald tests and Holm. Target <= 1.3. For reference, the statsmodels
    formula interface (``smf.gee`` with ``C(x, Treatment(...))`` on a pandas frame) is timed too.
(b) ``restplus.stats.consistency`` (every metric overall, per level and per cell, gated and ungated,
    B = 1000 cluster-bootstrap replicates) on a ~1M-row three-modality table
    (10,000 problems x 50 conditions x image/mixed + 10,000 text rows).

    .venv/bin/python bench/analysis.py [--rows N] [--boot B] [--rounds R] [--skip-formula]

Each side is timed in ``--rounds`` alternating rounds (default 2) and the best round counts.

Writes bench/results/analysis.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
import statsmodels  # noqa: E402
import statsmodels.api as sm  # noqa: E402
import statsmodels.formula.api as smf  # noqa: E402

from restplus.stats import AnalysisWarning, consistency, effects, simulate_table  # noqa: E402
from restplus.stats.engine.design import build_design  # noqa: E402

EFFECTS = {"dpi": {"200": 0.0, "150": -0.1, "100": -0.3, "72": -0.6, "50": -1.0},
           "font": {"sans": 0.0, "serif": 0.0, "mono": -0.1, "cursive": -0.3},
           "color": {"black": 0.0, "gray": -0.2, "red": 0.1, "green": 0.0, "blue": 0.0}}
REFERENCE = {f: next(iter(levels)) for f, levels in EFFECTS.items()}
METRIC_EFFECTS = {"dpi": EFFECTS["dpi"], "font": {"sans": 0.0, "cursive": -0.3}, "color": EFFECTS["color"]}


def bare_gee(table: pl.DataFrame) -> tuple[float, float, np.ndarray]:
    """Seconds to build the same design with numpy (untimed) and fit the bare GEE (timed)."""
    factors = list(EFFECTS)
    levels = {f: list(EFFECTS[f]) for f in factors}
    design = build_design(table, factors, levels, REFERENCE)
    y = table.get_column("correct").cast(pl.Float64).to_numpy()
    groups = (table.get_column("problem_id").rank("dense") - 1).to_numpy()
    t0 = time.perf_counter()
    model = sm.GEE(y, design.X, groups=groups, family=sm.families.Binomial(), cov_struct=sm.cov_struct.Exchangeable())
    t1 = time.perf_counter()
    res = model.fit()
    t2 = time.perf_counter()
    return t2 - t0, t1 - t0, np.asarray(res.params)


def formula_gee(table: pl.DataFrame) -> float:
    pdf = table.select("problem_id", "correct", *EFFECTS).to_pandas()
    pdf["correct"] = pdf["correct"].astype(float)
    rhs = " + ".join(f"C({f}, Treatment('{REFERENCE[f]}'))" for f in EFFECTS)
    t0 = time.perf_counter()
    smf.gee(f"correct ~ {rhs}", groups="problem_id", data=pdf, family=sm.families.Binomial(),
            cov_struct=sm.cov_struct.Exchangeable()).fit()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows of the effects table (multiple of 100)")
    ap.add_argument("--boot", type=int, default=1000, help="bootstrap replicates for consistency()")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds of bare GEE and effects()")
    ap.add_argument("--skip-formula", action="store_true", help="skip the smf.gee reference timing")
    args = ap.parse_args()
    warnings.simplefilter("ignore", AnalysisWarning)
    n_problems = max(1, args.rows // 100)

    table = simulate_table(n_problems, EFFECTS, modalities=("image",), unparsed=0.0, seed=0)
    print(f"(a) effects on {table.height:,} rows ({n_problems:,} problems x 100 cells)", flush=True)
    # rounds alternate the order (bare, effects, effects, bare, ...) so warm-up and load drift hit
    # both sides; the best round of each counts
    bares, effs = [], []
    for r in range(args.rounds):
        for which in (("bare", "effects") if r % 2 == 0 else ("effects", "bare")):
            if which == "bare":
                t_bare, t_init, params = bare_gee(table)
                bares.append(t_bare)
                print(f"    bare GEE fit (statsmodels, arrays)      {t_bare:8.2f} s  (model init {t_init:.2f} s)",
                      flush=True)
            else:
                t0 = time.perf_counter()
                et = effects(table, list(EFFECTS), reference=REFERENCE)
                effs.append(time.perf_counter() - t0)
                print(f"    restplus effects()                      {effs[-1]:8.2f} s", flush=True)
    t_bare, t_eff = min(bares), min(effs)
    ours = np.log(et.frame.get_column("odds_ratio").to_numpy())
    same_fit = bool(np.allclose(np.sort(ours), np.sort(params[1:]), rtol=1e-6, atol=1e-9))
    t_formula = None
    if not args.skip_formula:
        t_formula = formula_gee(table)
        print(f"    smf.gee formula call (reference)        {t_formula:8.2f} s", flush=True)
    ratio = t_eff / t_bare
    print(f"    overhead ratio effects / bare GEE = {ratio:.3f} (target <= 1.3); same coefficients: {same_fit}")

    n_metric = max(1, args.rows // 100)
    mt = simulate_table(n_metric, METRIC_EFFECTS, modalities=("text", "image", "mixed"), seed=1, gate_fail=0.05)
    print(f"(b) consistency on {mt.height:,} rows ({n_metric:,} problems x 50 conditions x 2 modalities + text), "
          f"B = {args.boot}", flush=True)
    t0 = time.perf_counter()
    metrics = consistency(mt, list(METRIC_EFFECTS), n_boot=args.boot, seed=0)
    t_metrics = time.perf_counter() - t0
    print(f"    consistency(): {t_metrics:.2f} s for {metrics.height:,} metric rows "
          f"({mt.height / t_metrics / 1e6:.2f} M rows/s)")

    out = {
        "effects": {"rows": table.height, "problems": n_problems, "cells": 100, "n_params": int(params.size),
                    "bare_gee_s": round(t_bare, 3), "effects_s": round(t_eff, 3),
                    "bare_gee_rounds_s": [round(x, 3) for x in bares], "effects_rounds_s": [round(x, 3) for x in effs],
                    "formula_gee_s": round(t_formula, 3) if t_formula is not None else None,
                    "ratio_effects_over_bare": round(ratio, 4), "target": 1.3, "meets_target": ratio <= 1.3,
                    "same_coefficients": same_fit},
        "consistency": {"rows": mt.height, "problems": n_metric, "conditions": 50, "n_boot": args.boot,
                        "seconds": round(t_metrics, 3), "metric_rows": metrics.height},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "statsmodels": statsmodels.__version__, "polars": pl.__version__, "numpy": np.__version__},
    }
    path = ROOT / "bench" / "results" / "analysis.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
