"""Minimal counterfactual: which of a failure's off-reference factors suffice to break the answer?

For a failed variant (problem, condition) whose reference cell (every factor at reference) is
correct, consider the cells of the same problem and modality whose off-reference factors are a
subset of the failure's (same levels). Among those that are wrong, the ones with the fewest
off-reference factors are the minimal counterfactuals: changing just those factors from the
reference already flips correct -> wrong. Only cells present in the table are searched, so in a
fractional design a smaller untested subset might also flip; ``n_untested_smaller`` counts those.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from restplus.errors import AnalysisError, unknown_name

from ._common import (
    check_gate_policy,
    ensure_single_model,
    factor_levels,
    level_orders,
    prepare,
    resolve_reference,
    table_columns,
)

FlipSet = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Counterfactual:
    """Result of :func:`minimal_counterfactual`.

    ``minimal_sets``: every smallest set of (factor, level) changes from the reference that is wrong on
    its own (all of the same size ``size``). ``off_reference``: the failure's full set of changes.
    ``n_checked``: subset cells found in the table; ``n_untested_smaller``: subsets smaller than
    ``size`` that the table lacks (0 means minimality is certain).
    """

    problem_id: str
    modality: str
    condition: tuple[tuple[str, str], ...]
    off_reference: FlipSet
    minimal_sets: tuple[FlipSet, ...]
    size: int
    n_checked: int
    n_untested_smaller: int

    def __str__(self) -> str:
        sets = " | ".join(", ".join(f"{f}={lv}" for f, lv in s) for s in self.minimal_sets)
        sure = "" if self.n_untested_smaller == 0 else f" ({self.n_untested_smaller} smaller subsets untested)"
        return f"{self.problem_id} [{self.modality}]: minimal flip = {sets}{sure}"


def _prepare(table: Any, factors: Sequence[str], reference: Mapping[str, Any], gate_policy: str,
             what: str) -> tuple[pl.DataFrame, list[str], dict[str, Any]]:
    """The checked single-model frame, the factor list and the resolved references."""
    check_gate_policy(gate_policy)
    df = prepare(table, factors, what=what, extra=("model",))
    ensure_single_model(df, (), what)
    factors = list(factors)
    levels = factor_levels(df, factors, level_orders(table, factors))
    return df, factors, resolve_reference(levels, reference, columns=table_columns(table))


def minimal_counterfactual(table: Any, factors: Sequence[str], reference: Mapping[str, Any], problem_id: str,
                           condition: Mapping[str, Any], *, modality: str = "image",
                           gate_policy: str = "exclude") -> Counterfactual:
    """Smallest sets of off-reference factors that flip the reference cell from correct to wrong.

    ``condition`` gives the failed variant's level of every factor. With ``gate_policy="exclude"``
    cells failing the OCR gate are not used (as evidence or as the failure).
    """
    df, factors, ref = _prepare(table, factors, reference, gate_policy, "minimal_counterfactual")
    missing_ref = [f for f in factors if f not in ref]
    if missing_ref:
        raise AnalysisError(f"reference levels are needed for every factor; missing {missing_ref}.")
    unknown = [k for k in condition if k not in factors]
    if unknown:
        raise unknown_name("factor in condition", unknown[0], factors)
    lacking = [f for f in factors if f not in condition]
    if lacking:
        raise AnalysisError(f"condition must give a level for every factor; missing {lacking}.")
    cond = {f: str(condition[f]) for f in factors}
    sub = df.filter((pl.col("problem_id") == str(problem_id)) & (pl.col("modality") == modality))
    if sub.height == 0:
        raise AnalysisError(f"no {modality} rows for problem_id={problem_id!r}.")
    if gate_policy == "exclude" and "gate_passed" in sub.columns:
        sub = sub.filter(pl.col("gate_passed").fill_null(True))
    cells: dict[tuple[str, ...], bool] = {}
    for r in sub.iter_rows(named=True):
        key = tuple(r[f] for f in factors)
        if key in cells and cells[key] != r["correct"]:
            raise AnalysisError(f"problem {problem_id!r} has conflicting rows for cell {dict(zip(factors, key))}; "
                                f"aggregate repeated samples first.")
        cells[key] = bool(r["correct"])
    fail_key = tuple(cond[f] for f in factors)
    if fail_key not in cells:
        raise AnalysisError(f"the failed variant {cond} of problem {problem_id!r} is not in the table "
                            f"(or failed the gate).")
    if cells[fail_key]:
        raise AnalysisError(f"the variant {cond} of problem {problem_id!r} is correct; nothing to explain.")
    ref_key = tuple(ref[f] for f in factors)
    if ref_key not in cells:
        raise AnalysisError(f"the reference cell {dict(zip(factors, ref_key))} of problem {problem_id!r} is not in "
                            f"the table (or failed the gate), so a flip from correct cannot be established.")
    if not cells[ref_key]:
        raise AnalysisError(f"problem {problem_id!r} is already wrong at the reference cell; no factor flips it.")
    off, found, size, n_checked, smaller = _solve(cells, factors, ref, cond)
    return Counterfactual(str(problem_id), modality, tuple(cond.items()), off, found, size, n_checked, smaller)


def _solve(cells: Mapping[tuple[str, ...], bool], factors: list[str], ref: Mapping[str, str],
           cond: Mapping[str, str]) -> tuple[FlipSet, tuple[FlipSet, ...], int, int, int]:
    """Breadth-first over subsets of the failure's changes, smallest first."""
    off = [(f, cond[f]) for f in factors if cond[f] != ref[f]]
    n_checked = 0
    for size in range(1, len(off) + 1):
        found: list[FlipSet] = []
        for subset in itertools.combinations(off, size):
            key = tuple(dict(subset).get(f, ref[f]) for f in factors)
            if key not in cells:
                continue
            n_checked += 1
            if not cells[key]:
                found.append(tuple(subset))
        if found:
            smaller = sum(_untested(cells, off, ref, factors, k) for k in range(1, size))
            return tuple(off), tuple(found), size, n_checked, smaller
    # the failure itself is a wrong cell containing all of ``off``, so the loop always returns
    raise AnalysisError(f"internal: no flipping subset found for {dict(cond)}")  # pragma: no cover


def counterfactuals(table: Any, factors: Sequence[str], reference: Mapping[str, Any], *, modality: str = "image",
                    gate_policy: str = "exclude") -> pl.DataFrame:
    """:func:`minimal_counterfactual` for every explainable failure (reference cell present and correct).

    Returns a polars frame: ``problem_id``, ``modality``, ``condition`` ("f=level, ..."), ``n_off``
    (the failure's off-reference factors), ``minimal_sets`` (sets joined by " | "), ``size``,
    ``n_untested_smaller``. Failures whose reference cell is missing or wrong are not listed.
    """
    df, factors, ref = _prepare(table, factors, reference, gate_policy, "counterfactuals")
    sub = df.filter(pl.col("modality") == modality)
    if gate_policy == "exclude" and "gate_passed" in sub.columns:
        sub = sub.filter(pl.col("gate_passed").fill_null(True))
    rows: list[dict[str, Any]] = []
    for (pid,), part in sub.partition_by("problem_id", as_dict=True, maintain_order=True).items():
        cells = {tuple(r[:-1]): bool(r[-1]) for r in part.select([*factors, "correct"]).iter_rows()}
        if len(cells) < part.height:
            raise AnalysisError(f"problem {pid!r} has several {modality} rows for one cell; aggregate repeated "
                                f"samples first (or filter to one model/run).")
        ref_key = tuple(ref[f] for f in factors)
        if not cells.get(ref_key, False):
            continue
        for key, ok in cells.items():
            if ok:
                continue
            cond = dict(zip(factors, key))
            off, found, size, _, smaller = _solve(cells, factors, ref, cond)
            rows.append({"problem_id": pid, "modality": modality,
                         "condition": ", ".join(f"{f}={v}" for f, v in cond.items()), "n_off": len(off),
                         "minimal_sets": " | ".join(", ".join(f"{f}={lv}" for f, lv in s) for s in found),
                         "size": size, "n_untested_smaller": smaller})
    return pl.DataFrame(rows, schema={"problem_id": pl.Utf8, "modality": pl.Utf8, "condition": pl.Utf8,
                                      "n_off": pl.Int64, "minimal_sets": pl.Utf8, "size": pl.Int64,
                                      "n_untested_smaller": pl.Int64})


def _untested(cells: Mapping[tuple[str, ...], bool], off: list[tuple[str, str]], ref: Mapping[str, str],
              factors: list[str], size: int) -> int:
    return sum(1 for s in itertools.combinations(off, size)
               if tuple(dict(s).get(f, ref[f]) for f in factors) not in cells)
