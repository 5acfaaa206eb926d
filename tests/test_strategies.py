"""Hypothesis strategies over search spaces, tested with Hypothesis itself: every draw validates and
renders, and shrinking ends at the reference (the least-perturbed render)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings, strategies as st
from PIL import Image

from restplus.grammar.factors import get_kind
from restplus.grammar.grid import Grid, variant_seed
from restplus.grammar.layouts import get_layout
from restplus.problems import builtin_set
from restplus.render import contrast_ratio
from restplus.search.space import Space, contrast_axis, levels_axis, load_space, range_axis, rgb_axis
from restplus.search.strategies import axis_values, cells, perturbations
from restplus.variants.realization import realize

ROOT = Path(__file__).resolve().parents[1]
# No rendering happens inside these find() calls, so many draws are cheap; derandomize keeps CI
# deterministic (with random seeds the shrunk results below were the same for 12 of 12 seeds).
FIND = settings(database=None, max_examples=200, phases=(Phase.generate, Phase.shrink), deadline=None,
                derandomize=True)


@pytest.fixture(scope="module")
def space() -> Space:
    return load_space(ROOT / "perturbations" / "search_space.yaml")


@pytest.fixture(scope="module")
def problem():
    # the longest of the first four SoE items: most lines, so the most likely to overflow a page
    return max(builtin_set("soe", n=4), key=lambda p: len(p.segments[0].text))


WIDE = Space((range_axis("dpi", 30, 300, reference=200), contrast_axis(1.2, 12, reference=12),
              rgb_axis([[215, 255], [215, 255], [215, 255]], reference="#ffffff", kind="background"),
              range_axis("font_size", 6, 24, reference=12), range_axis("line_spacing", 1.0, 2.5, reference=1.3),
              range_axis("rotation", -10, 10, reference=0), range_axis("noise", 0, 40, reference=0),
              levels_axis("font", ["DejaVu Sans", "Kalam", "Liberation Mono"])), name="wide")


@pytest.mark.slow
@settings(max_examples=20, database=None, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_draw_validates_and_renders(space, problem, data):
    sp = data.draw(st.sampled_from([space, WIDE]), label="space")
    point = data.draw(perturbations(sp), label="point")
    assert set(point) == set(sp.names)
    assert sp.complete(point) == point  # already normalised: in range, whole numbers where required
    grid = sp.grid(point)
    assert grid.n_cells == 1 and all(len(f.levels) == 1 for f in grid.factors)
    for f in grid.factors:  # every level passes its kind's validator (layouts: the grid's derived presets)
        if f.kind == "layout":
            assert get_layout(f.levels[0], dict(grid.layouts)).line_spacing == point.get("line_spacing", 1.3)
        else:
            assert get_kind(f.kind).validate(f.levels[0]) == f.levels[0]
    assert isinstance(point["dpi"], int) and grid.factor("dpi").levels[0] == point["dpi"]
    cell = grid.cells()[0]
    v = realize(problem, grid, cell, variant_seed(0, problem.problem_id, cell))  # never raises for these spaces
    img = v.images[0]
    assert img.dpi == point["dpi"] and img.rendered_text.startswith(problem.segments[0].text.split("\n")[0][:5])
    with Image.open(io.BytesIO(img.png)) as im:
        assert round(im.info["dpi"][0]) == point["dpi"]


@settings(max_examples=25, database=None, derandomize=True, deadline=None)
@given(data=st.data())
def test_contrast_draws_render_at_the_drawn_contrast(data):
    """The colour a contrast value resolves to has that WCAG contrast on the drawn background."""
    point = data.draw(perturbations(WIDE))
    levels = WIDE.levels(point)
    got = contrast_ratio(Image.new("RGB", (1, 1), levels["text_color"]).getpixel((0, 0)),
                         Image.new("RGB", (1, 1), levels["background"]).getpixel((0, 0)))
    # 8-bit colours: neighbouring greys differ by < 0.2 in contrast anywhere in [1.2, 12]
    assert abs(got - point["text_color"]) < 0.2


def test_find_with_an_always_true_condition_returns_the_reference(space):
    assert find(perturbations(space), lambda p: True, settings=FIND) == space.reference
    assert find(perturbations(WIDE), lambda p: True, settings=FIND) == WIDE.reference


@pytest.mark.parametrize("axis, condition, expected", [
    ("dpi", lambda p: p["dpi"] < 100, 99),                     # integer below the reference
    ("dpi", lambda p: p["dpi"] > 250, 251),                    # integer above it
    ("rotation", lambda p: p["rotation"] <= -3.46, -3.5),      # float: lattice of the tolerance (0.1)
    ("font", lambda p: p["font"] == "Kalam", "Kalam"),         # a level
])
def test_shrinking_moves_only_the_factor_that_matters(axis, condition, expected):
    got = find(perturbations(WIDE), condition, settings=FIND)
    assert got[axis] == expected
    assert {k: v for k, v in got.items() if k != axis} == {k: v for k, v in WIDE.reference.items() if k != axis}
    assert WIDE.changed(got) == [axis]


def test_contrast_shrinks_to_within_one_tolerance_of_the_threshold():
    got = find(perturbations(WIDE), lambda p: p["text_color"] < 3.0, settings=FIND)
    assert got["text_color"] == 2.99 and WIDE.changed(got) == ["text_color"]  # tolerance 0.01


@settings(max_examples=15, database=None, derandomize=True, deadline=None)
@given(grid=cells(WIDE))
def test_cells_are_one_cell_grids(grid):
    assert isinstance(grid, Grid) and grid.n_cells == 1
    assert grid.cells()[0].modality == "image"
    assert set(grid.factor_names) == {"dpi", "text_color", "background", "font_size", "layout", "rotation",
                                      "noise", "font", "modality"}


def test_axis_values_stay_inside_their_range():
    ax = range_axis("blur", 0.25, 0.75, reference=0.5)
    # draws reach both ends of the range, not only the reference (that they never leave it: below)
    assert find(axis_values(ax), lambda v: v > 0.7, settings=FIND) > 0.7
    assert find(axis_values(ax), lambda v: v < 0.3, settings=FIND) < 0.3

    @settings(max_examples=50, database=None, derandomize=True)
    @given(axis_values(ax))
    def inside(v):
        assert 0.25 <= v <= 0.75 and round(v, 4) == v
    inside()


def test_strategies_reject_non_spaces():
    from restplus.errors import SpecError

    with pytest.raises(SpecError, match="Space"):
        perturbations({"dpi": [1, 2]})
    with pytest.raises(SpecError, match="Axis"):
        axis_values("dpi")
