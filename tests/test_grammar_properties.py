"""Hypothesis properties of the grammar: round trips, id stability and uniqueness."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings, strategies as st

import restplus as rp
from restplus.grammar.grid import Grid

COLOURS = ["black", "red", "green", "blue", "yellow", "#123456", "gray", "navy"]
FONTS = ["DejaVu Sans", "Liberation Mono", "Kalam", "Liberation Serif", "Comic Neue"]


def _levels(elements, max_size=4):
    return st.lists(elements, min_size=1, max_size=max_size, unique=True)


@st.composite
def factors(draw):
    pool = {
        "dpi": _levels(st.integers(10, 1200)),
        "text_color": _levels(st.sampled_from(COLOURS)),
        "font": _levels(st.sampled_from(FONTS)),
        "font_size": _levels(st.sampled_from([6, 8, 10, 12, 14.5, 20])),
        "blur": _levels(st.sampled_from([0, 0.5, 1.0, 2.0])),
        "modality": _levels(st.sampled_from(["text", "image", "mixed"]), 3),
    }
    kinds = draw(st.lists(st.sampled_from(sorted(pool)), min_size=1, max_size=4, unique=True))
    out = []
    for k in kinds:
        levels = draw(pool[k])
        out.append(rp.factor(k, levels, reference=draw(st.sampled_from(levels))))
    return out


@st.composite
def grids(draw):
    fs = draw(factors())
    visual = [f.name for f in fs if f.visual]
    design = draw(st.sampled_from(["full", "ofat", "union", "sample"])) if visual else "full"
    if design == "ofat":
        d = rp.OneAtATime()
    elif design == "union":
        d = rp.Union([draw(st.lists(st.sampled_from(visual), min_size=1, unique=True)) for _ in range(2)])
    elif design == "sample":
        d = rp.Sample(n=draw(st.integers(1, 5)), seed=draw(st.integers(0, 99)))
    else:
        d = rp.Full()
    return rp.Grid(*fs, design=d, name=draw(st.sampled_from(["g", "rest", "x_1"])))


SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(grids())
def test_spec_round_trip(grid):
    again = Grid.from_dict(grid.to_dict())
    assert again == grid
    assert again.spec_hash == grid.spec_hash
    assert [c.cell_id for c in again.cells()] == [c.cell_id for c in grid.cells()]


@SETTINGS
@given(grids())
def test_spec_round_trip_through_file(tmp_path_factory, grid):
    path = tmp_path_factory.mktemp("spec") / "g.yaml"
    rp.save_grid(grid, str(path))
    assert rp.load_grid(str(path)) == grid


@SETTINGS
@given(grids())
def test_cell_ids_unique_and_stable_under_factor_reordering(grid):
    ids = [c.cell_id for c in grid.cells()]
    assert len(ids) == len(set(ids))
    reordered = rp.Grid(*reversed(grid.factors), design=grid.design, name=grid.name)
    by_assignment = {tuple(sorted(c.as_dict().items(), key=str)): c.cell_id for c in reordered.cells()}
    for c in grid.cells():
        assert by_assignment[tuple(sorted(c.as_dict().items(), key=str))] == c.cell_id


@SETTINGS
@given(factors())
def test_full_design_size_is_product_of_level_counts(fs):
    grid = rp.Grid(*fs)
    visual = [len(f.levels) for f in fs if f.visual]
    mods = next((f.levels for f in fs if not f.visual), ("image",))
    expected = sum(1 if m == "text" else math.prod(visual) for m in mods)
    assert grid.n_cells == expected
