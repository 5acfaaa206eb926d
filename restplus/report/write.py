"""Paper-ready outputs: effect tables, the consistency table, gate pass rates, plots and summary.md.

:func:`write_report` runs the whole analysis on a long per-sample table and writes CSV (full
precision), Markdown and LaTeX booktabs tables (``\\input``-ready), PNG+PDF figures and a short
``summary.md`` into one folder. Several models (or runs) may share the table: the ``run`` column
(with ``model`` beside it) distinguishes them in every table, and effects are estimated per run.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from restplus.errors import AnalysisError, AnalysisWarning
from restplus.report import gated as gate_view, plots
from restplus.stats import EffectTable, _format as fmt, accuracy_table, consistency, effects, gate_summary, token_curve
from restplus.stats._common import to_polars

_HEADLINE = ("rer", "cfr", "mmc", "acc_text", "acc_image", "acc_mixed")
_LABELS = {"rer": "RER", "cfr": "CFR", "mmc": "MMC", "acc_text": "Text acc.", "acc_image": "Image acc.",
           "acc_mixed": "Mixed acc.", "gate_pass": "OCR pass"}


def consistency_table(metrics: pl.DataFrame, *, by: Sequence[str] = ("model",), gated: bool = True) -> pl.DataFrame:
    """The paper's table from :func:`restplus.stats.consistency` output (overall scope).

    One row per ``by`` group (e.g. run). Columns: the ``by`` columns present, ``n_units``,
    ``n_problems``, ``n_missing`` (units left out for a failed request), then for each of rer, cfr,
    mmc, acc_text, acc_image, acc_mixed (those present) the value and ``<metric>_ci_low`` /
    ``<metric>_ci_high`` on the gate-passed units (``gated=True``,
    falling back to all units when the table has no gate), and ``gate_pass`` (share of units passing
    the OCR gate, from the ungated rows; null without a gate).
    """
    by = [b for b in by if b in metrics.columns]
    overall = metrics.filter(pl.col("scope") == "overall")
    use_gated = gated and overall.filter(pl.col("gated")).height > 0
    sel = overall.filter(pl.col("gated") == use_gated)
    keys = sel.select(by).unique(maintain_order=True) if by else pl.DataFrame({"_k": [0]})
    rows: list[dict[str, Any]] = []
    for key in keys.iter_rows(named=True):
        part = sel.filter(pl.all_horizontal([pl.col(b) == v for b, v in key.items()])) if by else sel
        row: dict[str, Any] = {b: key[b] for b in by}
        n = part.filter(pl.col("metric") == "rer")
        row["n_units"] = int(n.get_column("n_units")[0]) if n.height else None
        row["n_problems"] = int(n.get_column("n_problems")[0]) if n.height else None
        row["n_missing"] = int(n.get_column("n_missing")[0]) if n.height and "n_missing" in n.columns else 0
        for m in _HEADLINE:
            r = part.filter(pl.col("metric") == m)
            if r.height:
                row[m], row[f"{m}_ci_low"], row[f"{m}_ci_high"] = (r.get_column(c)[0] for c in
                                                                    ("value", "ci_low", "ci_high"))
        ung = overall.filter(~pl.col("gated") & (pl.col("metric") == "gate_pass"))
        if by:
            ung = ung.filter(pl.all_horizontal([pl.col(b) == v for b, v in key.items()]))
        row["gate_pass"] = ung.get_column("value")[0] if ung.height else None
        rows.append(row)
    return pl.DataFrame(rows)


def _consistency_display(wide: pl.DataFrame, by: Sequence[str]) -> tuple[list[str], list[list[str]], str]:
    metrics = [m for m in _HEADLINE if m in wide.columns]
    headers = [*(b.capitalize() for b in by), "Units", "Missing", *(_LABELS[m] + " (%)" for m in metrics),
               "OCR pass (%)"]
    rows = []
    for r in wide.iter_rows(named=True):
        rows.append([*(str(r[b]) for b in by), str(r["n_units"]), str(r.get("n_missing") or 0),
                     *(fmt.interval(r[m], r[f"{m}_ci_low"], r[f"{m}_ci_high"], 1, 100.0) for m in metrics),
                     fmt.pct(r["gate_pass"])])
    return headers, rows, "l" * len(by) + "r" * (len(headers) - len(by))


def write_table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str, data: pl.DataFrame,
                stem: str | os.PathLike[str], *, caption: str = "", legend: str = "") -> dict[str, Path]:
    """Write ``<stem>.csv`` (``data``, full precision), ``<stem>.md`` and ``<stem>.tex`` (booktabs);
    ``legend`` explains markers (``*``) under the table in both."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = {"csv": stem.with_suffix(".csv"), "md": stem.with_suffix(".md"), "tex": stem.with_suffix(".tex")}
    data.write_csv(paths["csv"])
    md = (f"{caption}\n\n" if caption else "") + fmt.markdown(headers, rows, align) + (f"\n{legend}\n" if legend
                                                                                        else "")
    paths["md"].write_text(md, encoding="utf-8")
    paths["tex"].write_text(fmt.latex(headers, rows, align, comment=caption, legend=legend), encoding="utf-8")
    return paths


def write_effects(tables: Mapping[str, EffectTable], stem: str | os.PathLike[str], *,
                  key: str = "model") -> dict[str, Path]:
    """Effect tables of one or more models or runs: ``<stem>.csv`` (with a ``key`` column: ``model``, or
    ``run`` when the report is keyed by run), ``<stem>.md``, ``<stem>_tests.csv`` and one
    ``<stem>[_<name>].tex`` each."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    frames = [t.frame.with_columns(pl.lit(m).alias(key)).select([key, *t.frame.columns])
              for m, t in tables.items()]
    tests = [t.tests.with_columns(pl.lit(m).alias(key)).select([key, *t.tests.columns])
             for m, t in tables.items()]
    out["effects_csv"] = stem.with_suffix(".csv")
    pl.concat(frames).write_csv(out["effects_csv"])
    out["effects_tests_csv"] = stem.parent / f"{stem.name}_tests.csv"
    pl.concat(tests).write_csv(out["effects_tests_csv"])
    out["effects_md"] = stem.with_suffix(".md")
    md = "\n".join((f"## {m}\n\n" if len(tables) > 1 else "") + t.to_markdown() for m, t in tables.items())
    out["effects_md"].write_text(md, encoding="utf-8")
    for m, t in tables.items():
        tag = "" if len(tables) == 1 else f"_{_slug(m)}"
        out[f"effects_tex{tag}"] = stem.parent / f"{stem.name}{tag}.tex"
        t.to_latex(out[f"effects_tex{tag}"])
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-") or "model"


def write_report(table: Any, out_dir: str | os.PathLike[str], *, factors: Sequence[str],
                 reference: Mapping[str, Any] | None = None, name: str = "report", interactions: int = 1,
                 method: str = "gee-logit", gate_policy: str = "exclude", n_boot: int = 1000, seed: int = 0,
                 plot: bool = True, pooled: bool = False,
                 gate: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Path]:
    """Run the analysis and write every table, figure and ``summary.md`` into ``out_dir``.

    Writes: ``consistency.{csv,md,tex}`` (model x RER/CFR/MMC/accuracies/OCR pass),
    ``metrics.csv`` (every consistency metric, scope and level), ``effects.{csv,md}``,
    ``effects_tests.csv`` and ``effects[_<model>].tex``, ``gate.{csv,md,tex}`` (pass rate per cell),
    figures ``fig_*[_<model>].{png,pdf}`` and ``summary.md``. Returns name -> path.

    With a gate in the table, ``effects_gate.{csv,md,tex}`` puts the gated (``gate_policy``, or
    ``exclude`` when that is ``ignore``) and ungated effects of each run side by side, with the
    reference accuracy on the matched cells of the row's arm and the gate pass rate per level (see
    :mod:`restplus.report.gated`). ``gate`` maps run name -> the run's gate settings (its manifest's
    ``gate``: ``threshold``, ``normalization``), stated in the tables' captions and summary.md.

    A model whose effects cannot be estimated (:class:`AnalysisError`) is reported in summary.md with
    the reason instead of stopping the report.

    Every run is its own row (the ``run`` column; ``model`` beside it): two runs of one model are never
    pooled here. ``pooled=True`` only records that the caller pooled them on purpose
    (``rp.read_runs(..., pool=True)``), so summary.md says so. Failed requests are missing rows: left
    out, counted per run in summary.md and per cell in ``missing.{csv,md,tex}``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    df = to_polars(table)
    factors = list(factors)
    by = [c for c in ("run", "model") if c in df.columns]
    models = df.get_column(by[0]).unique(maintain_order=True).to_list() if by else [name]
    paths: dict[str, Path] = {}
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AnalysisWarning)
        metrics: pl.DataFrame | None = None
        headers, rows, align = [], [], ""
        ungated_rows: list[list[str]] = []
        try:
            metrics = consistency(df, factors, by=by, n_boot=n_boot, seed=seed)
        except AnalysisError as exc:  # e.g. a single modality: the rest of the report still applies
            notes.append(f"consistency metrics: not computable — {exc}")
        if metrics is not None:
            paths["metrics_csv"] = out / "metrics.csv"
            metrics.write_csv(paths["metrics_csv"])
            # Both views, always: the gate changes which units remain, and readers must see both.
            for gated, stem in ((True, "consistency"), (False, "consistency_ungated")):
                if not metrics.filter(pl.col("gated") == gated).height:
                    continue
                wide = consistency_table(metrics, by=by, gated=gated)
                h, r, a = _consistency_display(wide, by)
                caption = (f"Consistency on {'gate-passed' if gated else 'all'} units; 95% cluster-bootstrap CI; "
                           "OCR pass = share of units whose image and mixed renders all pass the gate; "
                           "Missing = units left out because a request failed")
                for k, p in write_table(h, r, a, wide, out / stem, caption=caption).items():
                    paths[f"{stem}_{k}"] = p
                if gated or not headers:
                    headers, rows, align = h, r, a
                if not gated:
                    ungated_rows = r
        gates = None
        if "gate_passed" in df.columns:
            gates = gate_summary(df, factors, by=by)
            g_rows = [[*(str(r[b]) for b in by), *(str(r[f]) if r[f] is not None else "all" for f in factors),
                       r["modality"], str(r["n"]), fmt.interval(r["pass_rate"], r["ci_low"], r["ci_high"], 1, 100.0)]
                      for r in gates.iter_rows(named=True)]
            g_head = [*(b.capitalize() for b in by), *factors, "Modality", "n", "Pass rate (%) [95% CI]"]
            for k, p in write_table(g_head, g_rows, "l" * (len(by) + len(factors) + 1) + "rr", gates, out / "gate",
                                    caption="OCR gate pass rate per cell (Wilson 95% CI)").items():
                paths[f"gate_{k}"] = p
        tables: dict[str, EffectTable] = {}
        sides: list[pl.DataFrame] = []
        curves = {}
        has_gate = "gate_passed" in df.columns and df.get_column("gate_passed").drop_nulls().len() > 0
        gated_policy = gate_policy if gate_policy != "ignore" else "exclude"
        for m in models:
            sub = df.filter(pl.col(by[0]) == m) if by else df
            fit = {}
            for policy in dict.fromkeys([gate_policy, *((gated_policy, "ignore") if has_gate else ())]):
                try:
                    fit[policy] = effects(sub, factors, reference=reference, interactions=interactions, method=method,
                                          gate_policy=policy, n_boot=n_boot, seed=seed)
                except AnalysisError as exc:
                    notes.append(f"effects for {m}: not estimable with gate_policy={policy} — {exc}")
            if gate_policy in fit:
                tables[str(m)] = fit[gate_policy]
            if has_gate and (gated_policy in fit or "ignore" in fit):
                side = gate_view.side_by_side(sub, fit.get(gated_policy), fit.get("ignore"), factors)
                sides.append(side.select([pl.lit(str(m)).alias(by[0] if by else "model"), *side.columns]))
            if "vision_tokens" in sub.columns and sub.get_column("vision_tokens").drop_nulls().n_unique() > 1:
                try:
                    curves[str(m)] = token_curve(sub, gate_policy="ignore" if gate_policy == "ignore" else "exclude",
                                                 n_boot=n_boot, seed=seed)
                except AnalysisError as exc:
                    notes.append(f"token curve for {m}: not estimable — {exc}")
        missing = _missing_table(df, factors, by)
        if missing is not None:
            m_rows = [[*(str(r[b]) for b in by), *(str(r[f]) if r[f] is not None else "all" for f in factors),
                       r["modality"], str(r["n"]), str(r["n_missing"]), fmt.pct(r["missing_rate"])]
                      for r in missing.iter_rows(named=True)]
            m_head = [*(b.capitalize() for b in by), *factors, "Modality", "n", "Missing", "Missing (%)"]
            for k, p in write_table(m_head, m_rows, "l" * (len(by) + len(factors) + 1) + "rrr", missing,
                                    out / "missing", caption="Failed requests (missing rows, left out of every "
                                    "metric) per cell").items():
                paths[f"missing_{k}"] = p
        if tables:
            paths.update(write_effects(tables, out / "effects", key=by[0] if by else "model"))
        side_frame = pl.concat(sides) if sides else None
        gate_text = _gate_settings(gate, models)
        if side_frame is not None:
            key = by[0] if by else "model"
            head = ([key.capitalize()] if len(models) > 1 else []) + list(gate_view.HEADERS)
            body = [([str(r[key])] if len(models) > 1 else []) + cells
                    for r, cells in zip(side_frame.iter_rows(named=True), gate_view.display_rows(side_frame))]
            caption = (f"Factor effects, gated (gate_policy={gated_policy}) and ungated (all rows) side by side; "
                       f"{method}; Delta = level minus reference, points, 95% CI; p adjusted (Holm) within each "
                       "view; Acc. = observed accuracy on the gated rows; Acc. ref., same arm = at the reference, "
                       "on the cells of the arm in which the factor varies; Gate pass = share of image/mixed "
                       f"answer rows at the level passing the OCR gate ({gate_text})")
            for k, p in write_table(head, body, "l" * (len(head) - len(gate_view.ALIGN)) + gate_view.ALIGN, side_frame,
                                    out / "effects_gate", caption=caption,
                                    legend=gate_view.legend(side_frame)).items():
                paths[f"effects_gate_{k}"] = p
        if plot:
            paths.update(_plots(df, metrics, gates, curves, factors, models, by, out, gate_policy, n_boot, seed))
    warned = list(dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, AnalysisWarning)))
    for w in warned:  # re-emit after recording, so callers still see them
        warnings.warn(w, AnalysisWarning, stacklevel=2)
    paths["summary_md"] = out / "summary.md"
    summary = _summary(name, df, factors, headers, rows, align, tables, gates, curves, paths, ungated_rows,
                       notes + warned, gate_policy, pooled, side_frame, gate_text)
    paths["summary_md"].write_text(summary, encoding="utf-8")
    return paths


def _plots(df: pl.DataFrame, metrics: pl.DataFrame | None, gates: pl.DataFrame | None, curves: Mapping[str, Any],
           factors: list[str], models: list[Any], by: list[str], out: Path, gate_policy: str, n_boot: int,
           seed: int) -> dict[str, Path]:
    paths: dict[str, Path] = {}
    for m in models:
        tag = f"_{_slug(m)}" if by and len(models) > 1 else ""
        mm = (metrics.filter(pl.col(by[0]) == m) if by else metrics) if metrics is not None else None
        sub = df.filter(pl.col(by[0]) == m) if by else df
        if factors and mm is not None:
            for key, fn in (("marginal", plots.plot_marginal_accuracy), ("rer", plots.plot_rer)):
                png, pdf = fn(mm, factors, out / f"fig_{key}{tag}", title=f"{m}: " + ("accuracy per level" if
                              key == "marginal" else "RER per level"), gated=gate_policy != "ignore")
                paths[f"fig_{key}{tag}_png"], paths[f"fig_{key}{tag}_pdf"] = png, pdf
        if len(factors) >= 2:
            acc = accuracy_table(sub, factors[:2], gate_policy="exclude" if gate_policy == "exclude" else "ignore",
                                 n_boot=n_boot, seed=seed)
            png, pdf = plots.plot_interaction(acc, factors[0], factors[1], out / f"fig_interaction{tag}",
                                              title=f"{m}: {factors[0]} x {factors[1]}")
            paths[f"fig_interaction{tag}_png"], paths[f"fig_interaction{tag}_pdf"] = png, pdf
        if str(m) in curves:
            png, pdf = plots.plot_tokens(curves[str(m)], out / f"fig_tokens{tag}",
                                         title=f"{m}: accuracy vs vision tokens")
            paths[f"fig_tokens{tag}_png"], paths[f"fig_tokens{tag}_pdf"] = png, pdf
        if gates is not None and gates.height:
            g = gates.filter(pl.col(by[0]) == m) if by else gates
            png, pdf = plots.plot_gate(g, factors, out / f"fig_gate{tag}", title=f"{m}: OCR gate pass rate per cell")
            paths[f"fig_gate{tag}_png"], paths[f"fig_gate{tag}_pdf"] = png, pdf
    return paths


def _gate_settings(gate: Mapping[str, Mapping[str, Any]] | None, models: Sequence[Any]) -> str:
    """'CER <= 0.02 after NFKC, ...' per run (one phrase when all runs agree)."""
    if not gate:
        return "CER threshold and normalisation: see each run's manifest.json"

    def one(g: Mapping[str, Any]) -> str:
        norm = g.get("normalization") or {}
        on = [k.replace("_", " ") for k, v in norm.items() if v]
        return f"CER <= {g.get('threshold')}" + (f" after normalisation: {', '.join(on)}" if on else
                                                 " with no normalisation")

    phrases = {str(m): one(g) for m, g in gate.items()}
    if len(set(phrases.values())) == 1:
        return next(iter(phrases.values()))
    return "; ".join(f"{m}: {t}" for m, t in phrases.items())


def _missing_table(df: pl.DataFrame, factors: list[str], by: list[str]) -> pl.DataFrame | None:
    """Answer rows and failed requests per (run, cell, modality), with an overall row per modality
    (null factor levels); None when the table has no ``error`` column or nothing failed."""
    if "error" not in df.columns:
        return None
    solve = df.filter(pl.col("prompt_type") != "ocr") if "prompt_type" in df.columns else df
    if solve.get_column("error").null_count() == solve.height:
        return None
    facs = [f for f in factors if f in solve.columns]
    agg = [pl.len().alias("n"), pl.col("error").is_not_null().sum().cast(pl.Int64).alias("n_missing")]
    # Factor columns keep their dtype: an Enum sorts in spec order (200, 100, 50), not as text.
    cells = solve.group_by([*by, *facs, "modality"]).agg(agg)
    overall = solve.group_by([*by, "modality"]).agg(agg).with_columns(
        [pl.lit(None, dtype=solve.schema[f]).alias(f) for f in facs]).select(cells.columns)
    out = pl.concat([cells.filter(pl.col("modality") != "text") if facs else cells, overall])
    out = out.sort([*by, *[pl.col(f).is_null() for f in facs], *facs, "modality"], nulls_last=True)
    out = out.with_columns([pl.col(f).cast(pl.String) for f in facs])
    return out.with_columns((pl.col("n_missing") / pl.col("n")).alias("missing_rate"))


def _error_lines(df: pl.DataFrame) -> list[str]:
    """Failed requests per run (answer and OCR rows): missing data, left out of every metric."""
    if "error" not in df.columns:
        return []
    key = "run" if "run" in df.columns else "model" if "model" in df.columns else None
    pt = pl.col("prompt_type") if "prompt_type" in df.columns else pl.lit("solve")
    err = pl.col("error").is_not_null()
    groups = df.group_by(key, maintain_order=True) if key else [((None,), df)]
    lines = []
    for k, g in groups:
        solve, ocr = g.filter(pt != "ocr"), g.filter(pt == "ocr")
        who = f"{k[0]}: " if key else ""
        lines.append(f"- {who}failed requests: {solve.filter(err).height} of {solve.height} answer rows (missing: left "
                     f"out of every metric, counted in `missing.csv`); {ocr.filter(err).height} of {ocr.height} OCR "
                     "calls (those rows fail the gate)")
    return lines


def _summary(name: str, df: pl.DataFrame, factors: list[str], headers: list[str], rows: list[list[str]], align: str,
             tables: Mapping[str, EffectTable],
             gates: pl.DataFrame | None, curves: Mapping[str, Any], paths: Mapping[str, Path],
             ungated_rows: list[list[str]], notes: list[str], gate_policy: str, pooled: bool = False,
             side: pl.DataFrame | None = None, gate_text: str = "") -> str:
    solve = df.filter(pl.col("prompt_type") != "ocr") if "prompt_type" in df.columns else df
    runs = (f", {solve.get_column('run').n_unique()} run(s)" if "run" in solve.columns else "")
    lines = [f"# {name}", "",
             f"- {solve.height} answer rows, {solve.get_column('problem_id').n_unique()} problems"
             + (f", {solve.get_column('model').n_unique()} model(s)" if "model" in solve.columns else "") + runs
             + (" (runs of each model pooled on request)" if pooled else ""),
             f"- factors: {', '.join(factors) or '(none)'}; gate policy: {gate_policy}",
             *([f"- OCR gate: {gate_text}"] if "gate_passed" in df.columns else []),
             *_error_lines(df), ""]
    if rows:
        lines += ["## Consistency (gate-passed units)", "", fmt.markdown(headers, rows, align), ""]
    if ungated_rows:
        lines += ["## Consistency (all units, ungated)", "", fmt.markdown(headers, ungated_rows, align), ""]
    if side is not None and side.height:
        key = "run" if "run" in side.columns else "model"
        lines += ["## Factor effects, gated and ungated", "",
                  f"Delta in points [95% CI], level minus reference; gate: {gate_text}. Acc. ref. is on the cells of "
                  "the arm in which the factor varies. Full table: `effects_gate.md` (LaTeX: `effects_gate.tex`).", ""]
        mains = side.filter(pl.col("kind") == gate_view.MAIN)
        for m in mains.get_column(key).unique(maintain_order=True).to_list():
            part = mains.filter(pl.col(key) == m)
            if mains.get_column(key).n_unique() > 1:
                lines += [f"**{m}**", ""]
            lines += [fmt.markdown(gate_view.HEADERS, gate_view.display_rows(part), gate_view.ALIGN), ""]
        if gate_view.legend(mains):
            lines += [gate_view.legend(mains), ""]
    if tables:
        lines += [f"## Largest factor effects (adjusted p < 0.05; gate policy {gate_policy})", ""]
        for m, t in tables.items():
            ref = ", ".join(f"{f}={lv}" for f, lv in t.reference)
            sig = t.frame.filter(pl.col("p_adj") < 0.05).with_columns(pl.col("delta").abs().alias("_a")).sort(
                "_a", descending=True)
            lines.append(f"- **{m}** (reference {ref}; {t.method}, n={t.n_obs}):")
            main, inter = sig.filter(~pl.col("term").str.contains(":")), sig.filter(pl.col("term").str.contains(":"))
            if sig.height == 0:
                lines.append("  no level differs from its reference after correction.")
            for label, part in (("main effects", main), ("interaction terms (difference of differences, not main "
                                                         "effects)", inter)):
                if not part.height:
                    continue
                lines.append(f"  - {label}:")
                for r in part.head(5).iter_rows(named=True):
                    odds = "" if r["odds_ratio"] is None else f"OR {fmt.num(r['odds_ratio'], 2)}, "
                    delta = fmt.interval(r["delta"], r["delta_ci_low"], r["delta_ci_high"], 1, 100.0)
                    lines.append(f"    - {r['term']}={r['level']}: {delta} points ({odds}p_adj "
                                 f"{fmt.pvalue(r['p_adj'])})")
        lines.append("")
    if gates is not None and gates.height:
        cells = gates.filter(pl.all_horizontal([pl.col(f).is_not_null() for f in factors])) if factors else gates
        over = gates.filter(pl.all_horizontal([pl.col(f).is_null() for f in factors])) if factors else gates
        lines += ["## OCR gate", ""]
        for r in over.iter_rows(named=True):
            who = "".join(f"{r[b]} " for b in ("run", "model") if b in r)
            failed = f" ({r['n_ocr_missing']} more whose OCR call failed are left out)" if r.get("n_ocr_missing") \
                else ""
            lines.append(f"- {who}{r['modality']}: {fmt.pct(r['pass_rate'])}% of {r['n']} rows pass{failed}")
        if cells.height and factors:
            worst = cells.sort("pass_rate").row(0, named=True)
            lines.append("- lowest cell: " + ", ".join(f"{f}={worst[f]}" for f in factors)
                         + f" ({worst['modality']}): {fmt.pct(worst['pass_rate'])}%")
        lines.append("")
    if curves:
        lines += ["## Vision tokens", ""]
        for m, c in curves.items():
            match = (f"matches text accuracy ({c.text_accuracy:.1%}) at ~{c.tokens_to_match_text:.0f} vision tokens "
                     f"({c.token_ratio:.1f}x the median text tokens)" if math.isfinite(c.tokens_to_match_text)
                     else f"does not reach text accuracy ({c.text_accuracy:.1%}) in the observed range")
            lines.append(f"- {m}: slope {c.slope:.2f} log-odds per e-fold tokens; {match}")
        lines.append("")
    if notes:
        lines += ["## Warnings", "", *[f"- {n}" for n in notes], ""]
    lines += ["## Files", "", *[f"- `{p.name}`" for k, p in paths.items() if k != "summary_md"], ""]
    return "\n".join(lines)
