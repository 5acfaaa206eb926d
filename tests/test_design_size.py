"""Grid size is counted arithmetically: impossible grids are refused before enumeration, and a
sample of a huge full factorial is drawn without enumerating it."""

import pytest

import restplus as rp
from restplus.cli import main
from restplus.grammar.designs import MAX_ENUMERATE
from restplus.grammar.grid import MAX_CELLS

COLOURS = ["black", "red", "blue", "green", "purple", "navy", "maroon", "teal", "olive", "gray"]
TEN = [("dpi", [50, 60, 70, 80, 90, 100, 110, 120, 130, 140]), ("font_size", list(range(6, 16))),
       ("blur", list(range(10))), ("noise", list(range(10))), ("rotation", list(range(10))),
       ("jpeg", list(range(10, 101, 10))), ("text_color", COLOURS)]


def factors(order=1):
    return [rp.factor(k, lv) for k, lv in TEN[::order]]


@pytest.mark.parametrize("design, n", [(rp.Full(), 10**7), (rp.OneAtATime(), 1 + 7 * 9),
                                       (rp.Union([["dpi", "font_size"], ["blur"]]), 100 + 10),
                                       (rp.Sample(n=40, seed=3), 40), (rp.Sample(fraction=1e-6, seed=3), 10)])
def test_count_is_arithmetic_and_matches_small_enumerations(design, n):
    assert design.count(factors()) == n
    small = [rp.factor("dpi", [50, 100, 200]), rp.factor("font_size", [8, 12]), rp.factor("blur", [0, 1])]
    got, counted = len(design.conditions(small)), design.count(small)
    # exact, except a union's count, an upper bound (arms share the reference condition)
    assert got == counted if not isinstance(design, rp.Union) else got == counted - 1


def test_huge_full_grid_is_refused_with_the_count_and_a_way_out():
    with pytest.raises(rp.DesignError) as err:
        rp.Grid(*factors(), rp.modality(["text", "image"]))
    msg = str(err.value)
    assert "10,000,001 cells" in msg and f"{MAX_CELLS:,}" in msg and "type: sample" in msg


def test_sample_of_a_huge_full_factorial_is_drawn_not_enumerated():
    assert rp.Full().count(factors()) > MAX_ENUMERATE
    g = rp.Grid(*factors(), rp.modality(["text", "image"]), design=rp.Sample(n=200, seed=7))
    assert g.n_cells == 201  # 200 image cells (reference included) + the text cell
    ref = {f.name: f.reference for f in factors()}
    image = [c for c in g.cells() if c.modality == "image"]
    assert any(all(c[k] == v for k, v in ref.items()) for c in image)
    # the draw is independent of factor order and stable across calls
    again = rp.Grid(*factors(-1), rp.modality(["text", "image"]), design=rp.Sample(n=200, seed=7))
    assert sorted(c.cell_id for c in g.cells()) == sorted(c.cell_id for c in again.cells())
    other = rp.Grid(*factors(), rp.modality(["text", "image"]), design=rp.Sample(n=200, seed=8))
    assert {c.cell_id for c in g.cells()} != {c.cell_id for c in other.cells()}


def test_describe_of_a_huge_spec_names_the_count(tmp_path, capsys):
    lines = ["restplus_spec: 1", "factors:"] + [f"  {k}: {{levels: {lv}, reference: {lv[0]}}}" for k, lv in TEN]
    lines.append("  modality: {levels: [image], reference: image}")
    spec = tmp_path / "huge.yaml"
    spec.write_text("\n".join(lines) + "\n")
    assert main(["describe", str(spec)]) == 2
    out, err = capsys.readouterr()
    assert "10,000,000 cells" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    # what was counted is printed first: every factor with its levels, and the count
    assert "cells: 10,000,000 (counted, not enumerated)" in out
    assert all(f"  {k} [{k}]" in out for k, _ in TEN) and "*black*, red, blue" in out


def test_a_grid_of_billions_of_cells_is_counted_not_built():
    import time

    more = [rp.factor("layout_seed", list(range(10))), rp.font(["DejaVu Sans", "Kalam", "Comic Neue", "Liberation Mono",
                                                      "Liberation Sans", "Liberation Serif"]),
            rp.factor("board_theme", ["classic", "green", "gray"])]
    t = time.perf_counter()
    with pytest.raises(rp.GridTooLargeError) as err:
        rp.Grid(*factors(), *more, rp.background(["white", "ivory"]), rp.modality(["text", "image"]))
    assert time.perf_counter() - t < 5
    assert err.value.n_cells == 10**8 * 6 * 3 * 2 + 1 and "3,600,000,001 cells" in str(err.value)
    assert [f.name for f in err.value.factors][-1] == "modality"
