"""Search results as tables and files: parquet + JSON, the renders of every reported point as PNG,
and contact sheets (reference next to the minimal failure; each bisection trail along its axis).

Folder layout (``out/``)::

    search.json            config, counts, status, and the minimal / thresholds records
    evaluations.parquet    every distinct evaluation (see rp.search for all columns)
    minimal.parquet        one row per problem
    thresholds.parquet     one row per problem x ordered axis x direction
    renders/<problem>/     reference.png, minimal.png, <axis>-<direction>-last_pass.png / -first_fail.png
    contact/<problem>-minimal.png, contact/<problem>-<axis>-<direction>.png
    cache.sqlite           the response cache (re-running the search costs no model call)
    runner/                the runner's folder of the latest batch
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import atomic
from .probe import Outcome

MINIMAL_COLUMNS = ("problem_id", "property", "status", "source", "complete", "n_changed", "changed", "answer",
                   "expected", "gold", "contrast_ratio", "levels", "png", "n_examined", "n_evals", "calls")
THRESHOLD_COLUMNS = ("problem_id", "property", "factor", "kind", "mode", "direction", "status", "reference",
                     "last_pass", "first_fail", "last_pass_level", "first_fail_level", "last_pass_contrast",
                     "first_fail_contrast", "tolerance", "n_evals", "calls", "png_last_pass", "png_first_fail")

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_name(s: str) -> str:
    return _SAFE.sub("_", str(s))


def save_png(out: Path, o: Outcome | None, rel: str) -> str | None:
    """Write the first image of ``o``'s variant to ``out/rel``; the relative path, or None."""
    if o is None or o.variant is None or not o.variant.images:
        return None
    atomic.write_bytes(out / rel, o.variant.images[0].png)
    return rel


def frame(rows: Sequence[dict[str, Any]], columns: Sequence[str], axes: Sequence[str] = ()) -> Any:
    """A polars DataFrame with ``columns`` then one column per axis (empty tables keep the columns)."""
    import polars as pl

    cols = [*columns, *[a for a in axes if a not in columns]]
    if not rows:
        return pl.DataFrame({c: [] for c in cols})
    return pl.DataFrame([{c: r.get(c) for c in cols} for r in rows], infer_schema_length=None)


def write_tables(out: Path, evaluations: Any, minimal: Any, thresholds: Any, summary: dict[str, Any]) -> None:
    atomic.write_parquet(out / "evaluations.parquet", evaluations)
    atomic.write_parquet(out / "minimal.parquet", minimal)
    atomic.write_parquet(out / "thresholds.parquet", thresholds)
    atomic.write_json(out / "search.json", {**summary, "minimal": _jsonable(minimal.to_dicts()),
                                            "thresholds": _jsonable(thresholds.to_dicts())})


def _jsonable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: (list(v) if isinstance(v, tuple) else v) for k, v in r.items()} for r in rows]


def sheet(out: Path, rel: str, outcomes: Sequence[Outcome], title: str, columns: str | None = None) -> str | None:
    """A contact sheet of the distinct image variants of ``outcomes`` (one problem); its path or None."""
    from ..variants.contact import contact_sheet

    seen: dict[str, Any] = {}
    for o in outcomes:
        if o is not None and o.variant is not None and o.variant.images:
            seen.setdefault(o.variant.variant_id, o.variant)
    if not seen:
        return None
    contact_sheet(list(seen.values()), out / rel, thumb_height=150, columns=columns, title=title)
    return rel


def describe_result(summary: dict[str, Any], minimal: Any, thresholds: Any) -> str:
    """A few human-readable lines: status, calls, thresholds found, minimal failures."""
    lines = [f"search {summary['status']}: {summary['counts']['calls']} model calls of budget {summary['budget']} "
             f"({summary['counts']['evaluations']} evaluations, property {summary['property']}) -> {summary['out']}"]
    if thresholds.height:
        lines.append("thresholds (others at reference): last value that holds | first that fails")
        for r in thresholds.iter_rows(named=True):
            if r["status"] == "found":
                detail = f"holds at {r['last_pass']:g}, fails at {r['first_fail']:g}"
            elif r["status"] == "holds_across_range":
                detail = f"holds across the range (to {r['last_pass']:g})"
            else:
                detail = r["status"]
            lines.append(f"  {r['problem_id']}  {r['factor']} {r['direction']}: {detail}  "
                         f"[{r['n_evals']} evals, {r['calls']} calls]")
    for r in minimal.iter_rows(named=True):
        if r["status"] == "found":
            ch = ", ".join(f"{a}={r[a]}" for a in r["changed"]) or "(reference)"
            lines.append(f"  {r['problem_id']}  minimal failure: {ch}  answer {r['answer']!r} vs {r['expected']!r}"
                         + ("" if r["complete"] else "  (shrinking cut short by the budget)"))
        else:
            lines.append(f"  {r['problem_id']}  minimal failure: {r['status']}")
    return "\n".join(lines)
