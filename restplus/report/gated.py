"""One effect table with the gated and ungated estimates side by side.

The OCR gate changes which rows an effect is estimated on, and the two views can disagree (all
gated p_adj = 1 while ungated DPI 50 is -33 points): a reader must see both, next to how often the
gate passed at each level. :func:`side_by_side` joins two :class:`~restplus.stats.EffectTable`
(gated and ungated) of one run into one frame and adds

- ``acc_reference_arm``: the reference accuracy on the *matched* cells, those of the arm in which
  the row's factor varies. In a union design ("font x dpi" in one arm, "text_color" in another) the
  reference level of ``text_color`` also occurs in every cell of the other arm; comparing
  ``blue`` with all of them mixes in the other arm's effects. In a full grid every cell is in the
  arm, so this equals the engine's ``acc_reference``;
- ``gate_pass``: the share of image/mixed answer rows at the level whose OCR gate passed.

Levels keep the grammar order the engine gives them (never re-sorted alphabetically).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from restplus.errors import AnalysisError
from restplus.stats import EffectTable, _format as fmt

INTERACTION = "interaction"
MAIN = "main"

HEADERS = ("Term", "Level", "Ref.", "Acc. level (%)", "Acc. ref., same arm (%)", "Gated Delta (pp) [95% CI]",
           "p adj.", "Ungated Delta (pp) [95% CI]", "p adj.", "Gate pass (%)")
ALIGN = "lllrrrrrrr"


def legend(frame: pl.DataFrame) -> str:
    """What the table's markers mean, only for markers it shows ('' when none)."""
    parts = []
    if frame.height and (frame.get_column("note_gated").drop_nulls().len()
                         or frame.get_column("note_ungated").drop_nulls().len()):
        parts.append("* after p marks a row with a note (LPM fallback or exact comparison; see effects.md).")
    if frame.height and (frame.get_column("kind") == INTERACTION).any():
        parts.append("Interaction rows (term a:b) are differences of differences, not main effects.")
    return ("Legend: " + " ".join(parts)) if parts else ""


def _solve(df: pl.DataFrame) -> pl.DataFrame:
    """Answer rows of the visual modalities that have an answer (failed requests are missing)."""
    out = df.filter(pl.col("modality") != "text")
    if "prompt_type" in out.columns:
        out = out.filter(pl.col("prompt_type") != "ocr")
    return out.filter(pl.col("correct").is_not_null())


def _gated_rows(df: pl.DataFrame, gated: bool) -> pl.DataFrame:
    if gated and "gate_passed" in df.columns:
        return df.filter(pl.col("gate_passed").fill_null(False))
    return df


def _arm_partners(cells: pl.DataFrame, factors: Sequence[str], reference: Mapping[str, str]) -> dict[str, set[str]]:
    """Factors that leave their reference together with ``f`` in some cell: ``f``'s arm."""
    off = cells.select([(pl.col(f).cast(pl.String) != reference[f]).fill_null(False).alias(f) for f in factors])
    partners: dict[str, set[str]] = {f: {f} for f in factors}
    for row in off.unique().iter_rows(named=True):
        moved = [f for f in factors if row[f]]
        for f in moved:
            partners[f] |= set(moved)
    return partners


def arm_reference_accuracy(df: pl.DataFrame, term: str, reference: Mapping[str, str], factors: Sequence[str],
                           partners: Mapping[str, set[str]]) -> float | None:
    """Accuracy at the reference of ``term``'s factors, on the cells of their arm: every factor
    outside the arm at its reference (for an interaction, the union of its factors' arms)."""
    terms = term.split(":")
    arm = set().union(*(partners.get(t, {t}) for t in terms))
    outside = [f for f in factors if f not in arm]
    cond = [pl.col(f).cast(pl.String) == reference[f] for f in [*terms, *outside] if f in reference]
    sub = df.filter(pl.all_horizontal(cond)) if cond else df
    return float(sub.get_column("correct").cast(pl.Float64).mean()) if sub.height else None


def gate_pass_at(df: pl.DataFrame, term: str, level: str) -> float | None:
    """Share of image/mixed answer rows at ``level`` (``:``-joined for an interaction) passing the gate."""
    if "gate_passed" not in df.columns:
        return None
    terms, levels = term.split(":"), level.split(":")
    if len(terms) != len(levels):  # a level label that itself holds ':'; no honest split
        return None
    sub = df.filter(pl.all_horizontal([pl.col(t).cast(pl.String) == lv for t, lv in zip(terms, levels)]))
    sub = sub.filter(pl.col("gate_passed").is_not_null())
    return float(sub.get_column("gate_passed").cast(pl.Float64).mean()) if sub.height else None


def side_by_side(table: Any, gated: EffectTable | None, ungated: EffectTable | None,
                 factors: Sequence[str]) -> pl.DataFrame:
    """One row per (term, level) of either table, in the engine's order (gated rows first).

    Columns: ``term``, ``kind`` (``main`` / ``interaction``), ``level``, ``reference``, ``n``, ``acc_level``
    and ``acc_reference_arm`` (observed, on the rows ``gated`` was fitted to, else all rows), then
    ``delta_gated``, ``delta_gated_ci_low``, ``delta_gated_ci_high``, ``p_adj_gated``, ``note_gated`` and
    the same with ``_ungated``, and ``gate_pass`` (see the module docstring).
    """
    base = gated if gated is not None else ungated
    if base is None:
        raise AnalysisError("side_by_side needs a gated or an ungated EffectTable; both are None.")
    df = _solve(table if isinstance(table, pl.DataFrame) else pl.DataFrame(table))
    reference = dict(base.reference)
    facs = [f for f in factors if f in df.columns and f in reference]
    # observed accuracies on the rows the base table was fitted to ('covariate' keeps them all)
    acc_rows = _gated_rows(df, gated is not None and gated.gate_policy == "exclude")
    partners = _arm_partners(df.select(facs).unique(), facs, reference) if facs else {}
    keys: list[tuple[str, str]] = []
    for t in (gated, ungated):
        if t is not None:
            keys += [k for k in zip(t.frame.get_column("term").to_list(), t.frame.get_column("level").to_list())
                     if k not in keys]

    def pick(t: EffectTable | None) -> dict[tuple[str, str], dict[str, Any]]:
        return {} if t is None else {(r["term"], r["level"]): r for r in t.frame.iter_rows(named=True)}

    g, u, b = pick(gated), pick(ungated), pick(base)
    rows = []
    for term, level in keys:
        first = b.get((term, level)) or u.get((term, level)) or {}
        row: dict[str, Any] = {"term": term, "kind": INTERACTION if ":" in term else MAIN, "level": level,
                               "reference": first.get("reference"), "n": first.get("n"),
                               "acc_level": first.get("acc_level"),
                               "acc_reference_arm": arm_reference_accuracy(acc_rows, term, reference, facs, partners)
                               if all(t in facs for t in term.split(":")) else first.get("acc_reference")}
        for tag, src in (("gated", g), ("ungated", u)):
            r = src.get((term, level)) or {}
            row[f"delta_{tag}"] = r.get("delta")
            row[f"delta_{tag}_ci_low"] = r.get("delta_ci_low")
            row[f"delta_{tag}_ci_high"] = r.get("delta_ci_high")
            row[f"p_adj_{tag}"] = r.get("p_adj")
            row[f"note_{tag}"] = r.get("note")
        row["gate_pass"] = gate_pass_at(df, term, level)
        rows.append(row)
    schema = {"term": pl.String, "kind": pl.String, "level": pl.String, "reference": pl.String, "n": pl.Int64,
              "acc_level": pl.Float64, "acc_reference_arm": pl.Float64,
              **{f"{c}_{tag}{s}": (pl.String if c == "note" else pl.Float64)
                 for tag in ("gated", "ungated") for c, s in (("delta", ""), ("delta", "_ci_low"),
                                                              ("delta", "_ci_high"), ("p_adj", ""), ("note", ""))},
              "gate_pass": pl.Float64}
    return pl.DataFrame(rows, schema=schema)


def display_rows(frame: pl.DataFrame) -> list[list[str]]:
    """Formatted cells (points, p with ``*`` for a row with a note) in :data:`HEADERS` order."""
    out = []
    for r in frame.iter_rows(named=True):
        term = r["term"] + (" (interaction)" if r["kind"] == INTERACTION else "")
        cells = [term, str(r["level"]), str(r["reference"] or ""), fmt.pct(r["acc_level"]),
                 fmt.pct(r["acc_reference_arm"])]
        for tag in ("gated", "ungated"):
            cells.append(fmt.interval(r[f"delta_{tag}"], r[f"delta_{tag}_ci_low"], r[f"delta_{tag}_ci_high"], 1, 100.0))
            cells.append(fmt.pvalue(r[f"p_adj_{tag}"]) + ("*" if r[f"note_{tag}"] else ""))
        cells.append(fmt.pct(r["gate_pass"]))
        out.append(cells)
    return out
