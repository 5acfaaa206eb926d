"""Treatment-coded design matrices built with numpy, and the 'set a factor to a level' operator.

Each column is described by its *assignment*: the factor levels whose indicator product it is
(``{}`` is the intercept, ``{"dpi": "50"}`` a main-effect dummy, ``{"dpi": "50", "font": "mono"}`` an
interaction). Hierarchy holds: the assignment minus any factor is also a column. That makes the
counterfactual design "every row with factor f set to level l" a column remap of X:

    X_set = X @ M,  M[k, j] = 1  where column j's assignment agrees with the setting and k is the
                                 column of the assignment with the set factors removed,

so marginal predictions and their gradients cost two mat-vec products each (no copy of X).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

GATE_COLUMN = "gate_passed"


@dataclass(frozen=True, slots=True)
class Column:
    """One design column: an indicator product of factor levels (or the gate covariate)."""

    assign: tuple[tuple[str, str], ...]  # sorted by factor order; () = intercept
    covariate: str | None = None

    @property
    def factors(self) -> tuple[str, ...]:
        return tuple(f for f, _ in self.assign)

    @property
    def term(self) -> str:
        return self.covariate or (":".join(self.factors) if self.assign else "Intercept")

    @property
    def level(self) -> str:
        return ":".join(lv for _, lv in self.assign)


@dataclass(frozen=True, slots=True)
class Design:
    """Design matrix plus column metadata. ``X`` is (n, p) float64."""

    X: np.ndarray
    columns: tuple[Column, ...]
    factors: tuple[str, ...]
    levels: Mapping[str, tuple[str, ...]]  # reference first
    reference: Mapping[str, str]
    codes: Mapping[str, np.ndarray] = field(repr=False)  # level index per row (0 = reference)

    def index(self, assign: Mapping[str, str]) -> int | None:
        key = tuple((f, assign[f]) for f in self.factors if f in assign)
        for j, c in enumerate(self.columns):
            if c.covariate is None and c.assign == key:
                return j
        return None

    def term_columns(self, term: str) -> list[int]:
        return [j for j, c in enumerate(self.columns) if c.term == term]

    def setting_matrix(self, setting: Mapping[str, str]) -> np.ndarray:
        """M with ``X @ M`` = the design with every row's ``setting`` factors set to the given levels.

        Setting a factor to its reference zeroes every column involving it.
        """
        p = len(self.columns)
        m = np.zeros((p, p))
        lookup = {c.assign: j for j, c in enumerate(self.columns) if c.covariate is None}
        for j, c in enumerate(self.columns):
            involved = [(f, lv) for f, lv in c.assign if f in setting]
            if not involved:
                m[j, j] = 1.0
                continue
            if any(setting[f] != lv for f, lv in involved):
                continue  # indicator is 0 under the setting
            k = lookup.get(tuple((f, lv) for f, lv in c.assign if f not in setting))
            if k is None:  # hierarchy broken (a lower-order column was dropped): treat as absent
                continue
            m[k, j] = 1.0
        return m


def formula_text(columns: Sequence[Column], reference: Mapping[str, str], factors: Sequence[str]) -> str:
    """A patsy-style description of the fitted model (for the record; not parsed)."""
    def c(f: str) -> str:
        return f"C({f}, Treatment({reference[f]!r}))"

    terms: list[str] = []
    for col in columns:
        if col.covariate:
            t = col.covariate
        elif not col.assign:
            continue
        else:
            t = ":".join(c(f) for f in col.factors)
        if t not in terms:
            terms.append(t)
    return "correct ~ " + (" + ".join(terms) if terms else "1")


def build_design(df: pl.DataFrame, factors: Sequence[str], levels: Mapping[str, Sequence[str]],
                 reference: Mapping[str, str], *, interactions: int = 1, covariate: str | None = None,
                 drop: Sequence[Mapping[str, str]] = ()) -> Design:
    """Treatment-coded design for ``correct ~ factors`` with all interactions up to ``interactions``.

    ``levels[f]`` lists the levels kept (any order; the reference is moved first). ``drop`` lists
    interaction assignments to leave out (empty or constant cells). Rows whose level is not in
    ``levels[f]`` must have been filtered out by the caller.
    """
    factors = list(factors)
    lv = {f: (reference[f], *[x for x in levels[f] if x != reference[f]]) for f in factors}
    codes: dict[str, np.ndarray] = {}
    for f in factors:
        mapping = {x: i for i, x in enumerate(lv[f])}
        codes[f] = df.get_column(f).replace_strict(mapping, return_dtype=pl.Int32).to_numpy()
    dropped = {tuple(sorted(d.items(), key=lambda kv: factors.index(kv[0]))) for d in drop}
    n = df.height
    cols: list[Column] = [Column(())]
    data: list[np.ndarray] = [np.ones(n)]
    main: dict[tuple[str, str], np.ndarray] = {}
    for f in factors:
        for i, level in enumerate(lv[f][1:], start=1):
            v = (codes[f] == i).astype(np.float64)
            main[(f, level)] = v
            cols.append(Column(((f, level),)))
            data.append(v)
    for order in range(2, interactions + 1):
        for combo in itertools.combinations(factors, order):
            for levels_combo in itertools.product(*[lv[f][1:] for f in combo]):
                assign = tuple(zip(combo, levels_combo))
                if assign in dropped:
                    continue
                # keep hierarchy: every lower-order sub-assignment must be present
                if any(sub in dropped for k in range(2, order) for sub in itertools.combinations(assign, k)):
                    continue
                v = np.prod([main[a] for a in assign], axis=0)
                cols.append(Column(assign))
                data.append(v)
    if covariate is not None:
        cols.append(Column((), covariate=covariate))
        data.append(df.get_column(covariate).cast(pl.Float64).to_numpy())
    X = np.column_stack(data)
    return Design(X=X, columns=tuple(cols), factors=tuple(factors), levels=lv, reference=dict(reference),
                  codes=codes)
