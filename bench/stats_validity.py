"""Validity of restplus's intervals and tests against planted truth (Monte Carlo).

Three simulations, each ``--reps`` replicates of :func:`restplus.stats.simulate_table` (logistic
random-intercept model, problem SD 1, image + mixed + text rows), seeds 0..reps-1:

(a) per-cell consistency intervals: 15 problems, ``dpi {200, 100, 50} x text_color {black, red,
    yellow}``; the cell ``dpi=50, text_color=yellow`` is rare (true RER ~0.07, all-correct ~0.05, so
    all-correct is 0/15 in a third of samples). Coverage of the 95 % interval of RER, CFR and
    all-correct in every cell; truth = the same metric on a 40,000-problem table (MC error ~0.002).
(b) per-level effects: ``effects(interactions=2)`` on 30 problems, ``dpi`` with effects and
    ``color`` with none. Coverage of every row's delta CI against the true marginal difference
    (Gauss-Hermite integral over the problem effect), type-I error of ``p`` on the null ``color``
    rows, and how often ``p`` and the CI disagree (CI excludes 0 while p >= 0.05 or the reverse).
(c) joint tests: the null 4-df ``dpi:color`` interaction (null exactly, on the population-averaged
    scale too, because ``color`` has no effect) at G = 20, 30, 100 problems; rejection rate at 0.05
    of the reported test (``dist``) and, for comparison, of F = W / q on (q, G - 1).

Every rate carries its Monte Carlo standard error sqrt(r (1 - r) / reps). Targets: coverage >= 0.93,
type-I <= 0.06.

    .venv/bin/python bench/stats_validity.py [--reps 200] [--parts cells,effects,joint]

Writes bench/results/stats_validity.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
from scipy.special import expit  # noqa: E402
from scipy.stats import f as f_dist  # noqa: E402

from restplus.stats import AnalysisWarning, consistency, effects, simulate_table  # noqa: E402

CELL_EFFECTS = {"dpi": {"200": 0.0, "100": -0.8, "50": -2.7}, "text_color": {"black": 0.0, "red": -0.4,
                                                                              "yellow": -1.2}}
CELL_INTERCEPT = 2.5
CELL_METRICS = ("rer", "cfr", "all_correct")
EFFECT_EFFECTS = {"dpi": {"200": 0.0, "100": -0.5, "50": -1.2}, "color": {"black": 0.0, "red": 0.0, "blue": 0.0}}
EFFECT_REFERENCE = {"dpi": "200", "color": "black"}
MODALITY = {"image": -0.3, "mixed": 0.0}  # simulate_table's defaults, for the planted truth
INTERCEPT = 0.5
TARGET_COVERAGE, TARGET_TYPE1 = 0.93, 0.06


def rate(hits: list[bool]) -> dict[str, float]:
    r = float(np.mean(hits)) if hits else float("nan")
    return {"rate": round(r, 4), "mc_se": round(float(np.sqrt(r * (1 - r) / max(len(hits), 1))), 4),
            "reps": len(hits)}


def cell_truth() -> dict[tuple[str, str], float]:
    big = simulate_table(40_000, CELL_EFFECTS, intercept=CELL_INTERCEPT, seed=10_000)
    m = consistency(big, list(CELL_EFFECTS), scopes=["cell"], gated="ungated", n_boot=0)
    m = m.filter(pl.col("metric").is_in(CELL_METRICS))
    return {(r["level"], r["metric"]): r["value"] for r in m.iter_rows(named=True)}


def cells(reps: int, n_boot: int) -> dict[str, object]:
    truth = cell_truth()
    hits: dict[tuple[str, str], list[bool]] = {k: [] for k in truth}
    boundary: dict[tuple[str, str], list[bool]] = {k: [] for k in truth}
    for seed in range(reps):
        t = simulate_table(15, CELL_EFFECTS, intercept=CELL_INTERCEPT, seed=seed)
        m = consistency(t, list(CELL_EFFECTS), scopes=["cell"], gated="ungated", n_boot=n_boot, seed=seed)
        for r in m.filter(pl.col("metric").is_in(CELL_METRICS)).iter_rows(named=True):
            key = (r["level"], r["metric"])
            lo, hi = r["ci_low"], r["ci_high"]
            hits[key].append(lo is not None and lo - 1e-12 <= truth[key] <= hi + 1e-12)
            boundary[key].append(bool(r["note"]) and "Clopper-Pearson" in r["note"])
    out = {f"{lv} {metric}": {"truth": round(truth[(lv, metric)], 4), **rate(h),
                              "boundary_rule_share": round(float(np.mean(boundary[(lv, metric)])), 3)}
           for (lv, metric), h in hits.items()}
    worst = min(v["rate"] for v in out.values())
    return {"problems": 15, "n_boot": n_boot, "cells": out, "min_coverage": worst,
            "meets_target": worst >= TARGET_COVERAGE}


def true_delta(level: str) -> float:
    """Population marginal difference dpi=level minus dpi=200, averaged over image/mixed (color: none)."""
    x, w = np.polynomial.hermite_e.hermegauss(80)
    w = w / w.sum()
    out = 0.0
    for m_eff in MODALITY.values():
        base = INTERCEPT + x + m_eff  # problem SD 1
        out += float(w @ (expit(base + EFFECT_EFFECTS["dpi"][level]) - expit(base)))
    return out / len(MODALITY)


def effect_rows(reps: int, n_problems: int) -> dict[str, object]:
    truth = {("dpi", lv): true_delta(lv) for lv in EFFECT_EFFECTS["dpi"] if lv != "200"}
    truth.update({("color", lv): 0.0 for lv in EFFECT_EFFECTS["color"] if lv != "black"})
    cover: dict[str, list[bool]] = {f"{t}={lv}": [] for t, lv in truth}
    type1: dict[str, list[bool]] = {f"color={lv}": [] for (t, lv) in truth if t == "color"}
    type1_coef: dict[str, list[bool]] = {k: [] for k in type1}
    disagree: list[bool] = []
    for seed in range(reps):
        t = simulate_table(n_problems, EFFECT_EFFECTS, modalities=("image", "mixed"), seed=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AnalysisWarning)
            tab = effects(t, list(EFFECT_EFFECTS), reference=EFFECT_REFERENCE, interactions=2)
        for r in tab.frame.iter_rows(named=True):
            if ":" in r["term"] or r["delta_ci_low"] is None:
                continue
            key = f"{r['term']}={r['level']}"
            cover[key].append(r["delta_ci_low"] <= truth[(r["term"], r["level"])] <= r["delta_ci_high"])
            if key in type1:
                type1[key].append(r["p"] < 0.05)
                if "p_coef" in r:
                    type1_coef[key].append(r["p_coef"] < 0.05)
            excludes = r["delta_ci_low"] > 0 or r["delta_ci_high"] < 0
            disagree.append(excludes != (r["p"] < 0.05))
    cov = {k: {"truth": round(truth[tuple(k.split("="))], 4), **rate(v)} for k, v in cover.items()}  # type: ignore[index]
    t1 = {k: rate(v) for k, v in type1.items()}
    worst_cov = min(v["rate"] for v in cov.values())
    worst_t1 = max(v["rate"] for v in t1.values())
    return {"problems": n_problems, "interactions": 2, "coverage": cov, "type1": t1,
            "type1_coefficient_test": {k: rate(v) for k, v in type1_coef.items() if v},
            "ci_p_disagreement": rate(disagree), "min_coverage": worst_cov, "max_type1": worst_t1,
            "meets_target": worst_cov >= TARGET_COVERAGE and worst_t1 <= TARGET_TYPE1}


def joint(reps: int, sizes: tuple[int, ...]) -> dict[str, object]:
    out: dict[str, object] = {}
    ok = True
    for g in sizes:
        reported: list[bool] = []
        naive: list[bool] = []
        dists: set[str] = set()
        for seed in range(reps):
            t = simulate_table(g, EFFECT_EFFECTS, modalities=("image", "mixed"), seed=100_000 + seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", AnalysisWarning)
                tab = effects(t, list(EFFECT_EFFECTS), reference=EFFECT_REFERENCE, interactions=2)
            row = tab.tests.filter(pl.col("term") == "dpi:color").row(0, named=True)
            reported.append(row["p"] < 0.05)
            dists.add(str(row["dist"]))
            q = row["df"]
            naive.append(float(f_dist.sf(row["chi2"] / q, q, g - 1)) < 0.05)
        rep = rate(reported)
        ok = ok and rep["rate"] <= TARGET_TYPE1
        out[f"G={g}"] = {"df": 4, "reported": {**rep, "dist": sorted(dists)}, "F(q,G-1)": rate(naive)}
    return {"term": "dpi:color (null)", "sizes": out, "meets_target": ok}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--boot", type=int, default=1000, help="bootstrap replicates per consistency call")
    ap.add_argument("--parts", default="cells,effects,joint")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "stats_validity.json"))
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    result: dict[str, object] = {"reps": args.reps, "targets": {"coverage": TARGET_COVERAGE,
                                                                "type1": TARGET_TYPE1},
                                 "python": platform.python_version()}
    for name, run in (("cells", lambda: cells(args.reps, args.boot)),
                      ("effects", lambda: effect_rows(args.reps, 30)),
                      ("joint", lambda: joint(args.reps, (20, 30, 100)))):
        if name not in parts:
            continue
        t0 = time.perf_counter()
        res = run()
        res["seconds"] = round(time.perf_counter() - t0, 1)
        result[name] = res
        print(f"{name}: {json.dumps({k: v for k, v in res.items() if k not in ('cells', 'coverage')})}")
        if name == "cells":
            for k, v in res["cells"].items():  # type: ignore[union-attr]
                print(f"  {k:24s} truth {v['truth']:.3f} coverage {v['rate']:.3f} ± {v['mc_se']:.3f}")
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
