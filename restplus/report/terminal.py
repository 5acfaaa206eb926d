"""A compact plain-text summary of an analysis that fits a terminal (``restplus analyse``).

Wide polars frames wrap into unreadable columns at 80 characters, so the terminal gets, per run:
RER/CFR/MMC with their CIs, then the largest factor effects (delta in points, CI, adjusted p),
with every line cut to the terminal width; the full tables are files (``restplus report``).
Plain text, not ``rich``: the content is two short tables, and plain lines stay greppable and
identical in a pipe, a log file and a terminal.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Sequence
from typing import Any

import polars as pl

from restplus.stats import EffectTable, _format as fmt

MIN_WIDTH = 60
_METRICS = (("rer", "RER"), ("cfr", "CFR"), ("mmc", "MMC"))


def width() -> int:
    """The terminal width (``COLUMNS`` when set), at least :data:`MIN_WIDTH`."""
    return max(MIN_WIDTH, shutil.get_terminal_size((80, 24)).columns)


def _cut(text: str, w: int) -> str:
    return text if len(text) <= w else text[: w - 3] + "..."


def wrap(text: str, w: int, indent: str = "") -> list[str]:
    return textwrap.wrap(text, w, initial_indent=indent, subsequent_indent=indent + "  ",
                         break_long_words=True, break_on_hyphens=False) or [indent]


def metric_lines(metrics: pl.DataFrame | None, key: str | None, run: Any, w: int) -> list[str]:
    """RER/CFR/MMC with CIs, gated (gate-passed units) and ungated (all units) side by side."""
    if metrics is None:
        return []
    over = metrics.filter(pl.col("scope") == "overall")
    if key is not None and key in over.columns:
        over = over.filter(pl.col(key) == run)
    views = [(g, name) for g, name in ((True, "gated"), (False, "ungated")) if over.filter(pl.col("gated") == g).height]
    if not views:
        return []
    rows = []
    for m, label in _METRICS:
        cells = [label]
        for g, _ in views:
            r = over.filter((pl.col("gated") == g) & (pl.col("metric") == m))
            cells.append(fmt.interval(*(r.get_column(c)[0] for c in ("value", "ci_low", "ci_high")), 1, 100.0)
                         if r.height else "")
        rows.append(cells)
    n = over.filter(pl.col("metric") == "rer")
    head = ["metric (%)", *(f"{name} [95% CI]" for _, name in views)]
    table = fmt.fixed_width(head, rows, "l" + "r" * len(views)).splitlines()
    counts = [f"{name} {int(n.filter(pl.col('gated') == g).get_column('n_units')[0])}" for g, name in views
              if n.filter(pl.col("gated") == g).height]
    units = f"units: {', '.join(counts)}" if counts else ""
    if units and "n_missing" in n.columns and n.get_column("n_missing").max():
        units += f"; left out for a failed request: {int(n.get_column('n_missing').max())}"
    return [_cut("  " + ln, w) for ln in table] + ([_cut("  " + units, w)] if units else [])


def effect_lines(table: EffectTable, w: int, top: int = 8) -> list[str]:
    """The ``top`` largest effects by |delta|: main effects first, interactions after, labelled."""
    frame = table.frame.with_columns(pl.col("delta").abs().alias("_a"))
    out = wrap(f"effects ({table.method}, gate_policy={table.gate_policy}, n={table.n_obs}, "
               f"{table.n_problems} problems; p adj. {table.correction}):", w, "  ")
    for label, part in (("main effects", frame.filter(~pl.col("term").str.contains(":"))),
                        ("interactions (difference of differences)", frame.filter(pl.col("term").str.contains(":")))):
        if not part.height:
            continue
        part = part.sort("_a", descending=True, nulls_last=True)
        shown = part.head(top)
        rows = [[f"{r['term']}={r['level']} vs {r['reference']}",
                 fmt.interval(r["delta"], r["delta_ci_low"], r["delta_ci_high"], 1, 100.0),
                 fmt.pvalue(r["p_adj"]) + ("*" if r["note"] else "")] for r in shown.iter_rows(named=True)]
        budget = w - 4 - 2 - max(len("delta (pp) [95% CI]"), *(len(r[1]) for r in rows)) - 2 - 7
        rows = [[_cut(r[0], max(12, budget)), r[1], r[2]] for r in rows]
        lines = fmt.fixed_width([label, "delta (pp) [95% CI]", "p adj."], rows, "lrr").splitlines()
        out += [_cut("    " + ln, w) for ln in lines]
        if part.height > top:
            out.append(_cut(f"    ... and {part.height - top} more rows", w))
    if table.frame.get_column("note").drop_nulls().len():
        out += wrap("* row with a note (fallback or exact comparison; see the full table).", w, "    ")
    return out


def summary_lines(runs: Sequence[Any], key: str | None, tables: dict[Any, EffectTable | str],
                  metrics: pl.DataFrame | None, paths: Sequence[str], w: int | None = None) -> list[str]:
    """The whole terminal summary; ``tables`` maps run -> its EffectTable or why it is missing."""
    w = w or width()
    out: list[str] = []
    for r in runs:
        out.append(_cut(f"== {r if r is not None else 'run'}", w))
        out += metric_lines(metrics, key, r, w)
        t = tables.get(r)
        if isinstance(t, EffectTable):
            out += effect_lines(t, w)
        elif t:
            out += wrap(f"effects: not estimable: {t}", w, "  ")
        out.append("")
    out += wrap("Full tables (every effect, joint tests, metrics per level, gated and ungated side by "
                f"side, LaTeX): restplus report {' '.join(paths)} --out reports/NAME", w)
    return out
