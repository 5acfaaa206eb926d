"""Consistency units: one row per (problem, visual condition) with every modality side by side.

A *condition* is the tuple of factor levels of an image/mixed row. The problem's single text row has
no levels, so it is paired with every condition of that problem. A unit is *gate-passed* when all its
non-null ``gate_passed`` values are true (text rows carry null).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from restplus.errors import AnalysisError
from restplus.schema import MODALITIES

from ._common import warn
from .missing import MISSING


def present_modalities(df: pl.DataFrame, modalities: Sequence[str] | None) -> list[str]:
    seen = set(df.get_column("modality").unique().to_list())
    if modalities is None:
        mods = [m for m in MODALITIES if m in seen]
    else:
        mods = list(dict.fromkeys(modalities))
        bad = [m for m in mods if m not in MODALITIES]
        if bad:
            from restplus.errors import unknown_name

            raise unknown_name("modality", bad[0], MODALITIES)
        absent = [m for m in mods if m not in seen]
        if absent:
            raise AnalysisError(f"modalities={mods} asks for {absent}, which the table has no rows of "
                                f"(present: {sorted(seen)}).")
    return mods


def _duplicate_error(dups: pl.DataFrame, keys: list[str], modality: str, by: Sequence[str]) -> AnalysisError:
    row = dups.row(0, named=True)
    where = ", ".join(f"{k}={row[k]!r}" for k in keys)
    hint = ("pass by=['model'] (or 'run_id') so each run is analysed on its own" if not by else
            "aggregate repeated samples first (e.g. majority answer per unit)")
    return AnalysisError(
        f"{dups.height} unit(s) have more than one {modality} row (first: {where}, {row['_n']} rows). "
        f"Consistency needs one answer per (problem, condition, modality): {hint}."
    )


def build_units(df: pl.DataFrame, factors: Sequence[str], *, by: Sequence[str] = (),
                modalities: Sequence[str], sink: list[str] | None = None,
                missing_sink: list[pl.DataFrame] | None = None) -> pl.DataFrame:
    """Wide unit frame.

    Columns: the ``by`` columns, ``problem_id``, the factor columns (levels of the condition), then
    for every modality ``m`` in ``modalities``: ``answer_m`` (str), ``correct_m`` (bool), and
    ``gate_ok`` (bool; null when the table has no ``gate_passed`` column). Units lacking one of the
    requested modalities are dropped with an :class:`AnalysisWarning` stating how many.

    When ``df`` flags missing rows (``_missing``, from ``prepare(..., keep_missing=True)``), a unit with
    a missing row in any compared modality is left out and counted; its keys are appended to
    ``missing_sink`` (one frame) so callers can report ``n_missing`` per scope.
    """
    has_gate = "gate_passed" in df.columns
    has_answer = "answer" in df.columns
    by = list(by)
    visual = [m for m in modalities if m != "text"]
    pkeys = [*by, "problem_id"]
    keys = [*pkeys, *factors]
    if not visual:
        raise AnalysisError("consistency units need at least one image or mixed modality; the table "
                            f"only has {list(modalities)}.")
    has_missing = MISSING in df.columns
    vis = df.filter(pl.col("modality").is_in(visual))
    aggs: list[pl.Expr] = []
    for m in visual:
        is_m = pl.col("modality") == m
        aggs.append(is_m.sum().alias(f"_n_{m}"))
        if has_missing:
            aggs.append(pl.col(MISSING).filter(is_m).any().alias(f"_miss_{m}"))
        aggs.append(pl.col("correct").filter(is_m).first().alias(f"correct_{m}"))
        if has_answer:
            aggs.append(pl.col("answer").filter(is_m).first().alias(f"answer_{m}"))
        if has_gate:
            aggs.append(pl.col("gate_passed").filter(is_m).first().alias(f"_gate_{m}"))
    units = vis.group_by(keys).agg(aggs)
    for m in visual:
        dups = units.filter(pl.col(f"_n_{m}") > 1).rename({f"_n_{m}": "_n"})
        if dups.height:
            raise _duplicate_error(dups, keys, m, by)
    if "text" in modalities:
        txt_aggs = [pl.len().alias("_n"), pl.col("correct").first().alias("correct_text"),
                    *([pl.col(MISSING).any().alias("_miss_text")] if has_missing else [])]
        if has_answer:
            txt_aggs.append(pl.col("answer").first().alias("answer_text"))
        txt = df.filter(pl.col("modality") == "text").group_by(pkeys).agg(txt_aggs)
        dups = txt.filter(pl.col("_n") > 1)
        if dups.height:
            raise _duplicate_error(dups, pkeys, "text", by)
        units = units.join(txt.drop("_n"), on=pkeys, how="left")
    if has_missing:
        # A unit with a failed request in any modality cannot be scored (RER, CFR, MMC need every answer):
        # it is left out and counted, apart from units that lack a modality altogether.
        flags = [pl.col(f"_miss_{m}").fill_null(False) for m in modalities if f"_miss_{m}" in units.columns]
        units = units.with_columns(pl.any_horizontal(flags).alias(MISSING))
        n_miss = int(units.get_column(MISSING).sum())
        if n_miss:
            warn(f"{n_miss} of {units.height} unit(s) have a failed request (a missing row) in one of "
                 f"{list(modalities)} and are left out of the consistency metrics (counted in n_missing).", sink)
        if missing_sink is not None:
            missing_sink.append(units.filter(pl.col(MISSING)).select(keys))
        units = units.filter(~pl.col(MISSING))
    complete = pl.all_horizontal([pl.col(f"correct_{m}").is_not_null() for m in modalities])
    n_all = units.height
    units = units.filter(complete)
    dropped = n_all - units.height
    if dropped:
        warn(f"{dropped} of {n_all} unit(s) lack one of the modalities {list(modalities)} and are left out "
             f"of the consistency metrics (a unit needs an answer in every modality compared).", sink)
    if units.height == 0:
        raise AnalysisError(f"no unit has rows in all of {list(modalities)}; check that image/mixed rows "
                            f"and the text row share problem_id (and the by= columns).")
    gate = (pl.all_horizontal([pl.col(f"_gate_{m}").fill_null(True) for m in visual]) if has_gate
            else pl.lit(None, dtype=pl.Boolean))
    units = units.with_columns(gate.alias("gate_ok"))
    order = [*keys, *[c for m in modalities for c in (f"answer_{m}", f"correct_{m}")
                      if c in units.columns], "gate_ok"]
    return units.select(order).sort(keys)
