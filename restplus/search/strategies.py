"""Hypothesis strategies over a search :class:`~restplus.search.space.Space`.

Every strategy draws only valid points and **shrinks toward the reference**: a numeric axis draws
an integer *offset* from its reference (in units of 1 for integer axes, of the axis tolerance for
float axes, so floats lie on the lattice reference + k x tolerance and an endpoint off that lattice
is never drawn; integers shrink toward 0, so toward the reference),
a level list puts the reference first (``sampled_from`` shrinks toward the first element), an
rgb axis draws per-channel offsets. The minimal example of a failing property is therefore the
least-perturbed render: factors that do not matter go back to their reference, and the one that
does is pulled as close to its reference as still fails.

Write your own property tests against a model::

    from hypothesis import given, settings
    import restplus as rp
    from restplus.search.strategies import perturbations

    space = rp.load_space("perturbations/search_space.yaml")
    problem = rp.builtin_set("soe", n=1)[0]
    probe = rp.Probe(space, rp.models.load("reader"), out="reports/search/probe")  # cached answers

    @settings(max_examples=20, database=None, derandomize=True, deadline=None)
    @given(perturbations(space))
    def test_image_answer_equals_text_answer(point):
        assert probe.outcome(problem, point).answer == probe.text(problem).answer

``rp.search`` runs the same kind of property with a call budget, shrinking and bisection, and
writes the results to a folder.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import strategies as st

from ..errors import SpecError
from .space import DIGITS, Axis, Space, hex_colour

__all__ = ["axis_values", "perturbations", "cells"]


def _clip(axis: Axis, v: float) -> float:
    # ref + offset can leave [low, high] by one ulp; rounding to DIGITS can too
    return min(max(round(v, DIGITS), float(axis.low)), float(axis.high))  # type: ignore[arg-type]


def axis_values(axis: Axis) -> st.SearchStrategy[Any]:
    """Values of one axis, shrinking toward its reference."""
    if not isinstance(axis, Axis):
        raise SpecError(f"axis_values() takes a restplus.search.space.Axis, got {type(axis).__name__}.")
    ref = axis.reference
    if axis.mode == "levels":
        return st.sampled_from([ref, *[v for v in axis.levels if v != ref]])
    if axis.mode == "rgb":
        base = [int(ref[i:i + 2], 16) for i in (1, 3, 5)]  # type: ignore[index]
        offsets = [st.integers(lo - b, hi - b) for (lo, hi), b in zip(axis.channels, base)]
        return st.tuples(*offsets).map(lambda d: hex_colour([b + x for b, x in zip(base, d)]))
    lo, hi = axis.low, axis.high
    if axis.integer:
        r = int(ref)  # type: ignore[arg-type]
        return st.integers(int(lo) - r, int(hi) - r).map(lambda d: r + d)  # type: ignore[arg-type]
    # Floats live on a lattice ref + k * step (step = the axis tolerance): integer k shrinks by binary
    # search toward 0, so a minimal example ends within one tolerance of the boundary (Hypothesis
    # floats would instead shrink to "simple" numbers such as whole ones, overshooting it).
    rf, step = float(ref), axis.step  # type: ignore[arg-type]
    k_lo = math.ceil((float(lo) - rf) / step - 1e-9)  # type: ignore[arg-type]
    k_hi = math.floor((float(hi) - rf) / step + 1e-9)  # type: ignore[arg-type]
    return st.integers(k_lo, k_hi).map(lambda k: _clip(axis, rf + k * step))


def perturbations(space: Space) -> st.SearchStrategy[dict[str, Any]]:
    """Points of ``space``: dict axis name -> value (contrast axes hold the ratio, rgb a hex code).

    Pass a point to ``space.grid(point)`` for its one-cell grid, ``space.levels(point)`` for the
    grid levels, ``space.changed(point)`` for the axes it moves off reference.
    """
    if not isinstance(space, Space):
        raise SpecError(f"perturbations() takes a restplus Space (rp.load_space(...)), got {type(space).__name__}.")
    return st.fixed_dictionaries({a.name: axis_values(a) for a in space.axes})


def cells(space: Space) -> st.SearchStrategy[Any]:
    """One-cell :class:`~restplus.grammar.grid.Grid` s of ``space`` (``grid.cells()[0]`` is the cell), ready
    for :func:`restplus.render.realize` and the runner."""
    return perturbations(space).map(space.grid)
