"""Contact sheets: one problem across all cells, thumbnails keep low-DPI coarseness."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from restplus.errors import ProblemError, UnknownNameError
from restplus.grammar import factors as F
from restplus.grammar.grid import Grid
from restplus.problems.base import Problem, Segment
from restplus.variants.contact import _section, _thumb, contact_sheet
from restplus.variants.ondemand import variants

PROBLEM = Problem(segments=(Segment("context", "3A + 2B = 7 and A - B = -1."), Segment("question", "Find A and B.")),
                  answer="A=1, B=2", answer_type="soe", task="soe")


def make_grid(**kw) -> Grid:
    return Grid(F.dpi([50, 100], reference=100), F.text_color(["black", "red"]),
                F.modality(["text", "image", "mixed"], reference="text"), **kw)


def colours(im: Image.Image) -> set[tuple[int, ...]]:
    return {tuple(c) for c in np.asarray(im.convert("RGB")).reshape(-1, 3)}


def test_sheet_is_written_and_shows_every_cell(tmp_path):
    vs = variants(PROBLEM, make_grid())
    sheet = contact_sheet(vs, tmp_path / "sheet.png")
    on_disk = Image.open(tmp_path / "sheet.png")
    assert on_disk.size == sheet.size and on_disk.format == "PNG"
    # the red cells are in the sheet, and the tallest render is shown at full height
    arr = np.asarray(sheet).astype(int)
    assert ((arr[..., 0] > 200) & (arr[..., 1] < 60) & (arr[..., 2] < 60)).sum() > 100
    tallest = max(im.height for v in vs for im in v.images)
    assert sheet.height > 2 * 2 * tallest  # image and mixed sections, two rows each


def test_upscaled_thumbnails_stay_blocky():
    low = next(v for v in variants(PROBLEM, make_grid()) if v.modality == "image" and v.cell["dpi"] == 50)
    src = Image.open(io.BytesIO(low.images[0].png)).convert("RGB")
    big = _thumb(low.images[0].png, src.height * 4)
    assert big.size == (src.width * 4, src.height * 4)
    # nearest neighbour: every source pixel becomes a uniform 4x4 block, no new (interpolated) colours
    assert colours(big) <= colours(src)
    assert np.array_equal(np.asarray(big)[::4, ::4], np.asarray(src))
    small = _thumb(low.images[0].png, src.height // 2)
    assert small.height == src.height // 2


def test_grouping_by_factor():
    vs = [v for v in variants(PROBLEM, make_grid()) if v.modality == "image"]
    varying, cols, rows, info = _section(vs, None)
    assert varying == ["dpi", "text_color"] and cols == ["black", "red"] and rows == [(50,), (100,)]
    varying, cols, rows, info = _section(vs, "dpi")
    assert cols == [50, 100] and rows == [("black",), ("red",)]
    assert info["where"][(("red",), 50)].cell["text_color"] == "red"


def test_fractional_design_leaves_an_empty_tile():
    grid = make_grid(exclude=[{"dpi": 50, "text_color": "red"}])
    vs = [v for v in variants(PROBLEM, grid) if v.modality == "image"]
    _, cols, rows, info = _section(vs, None)
    assert len(vs) == 3 and ((50,), "red") not in info["where"] and len(rows) * len(cols) == 4
    # the left-out cell is blank space in an unchanged layout: same sheet size as the full design,
    # every other red tile in the same place, and the missing tile's red ink replaced by background
    full, frac = contact_sheet(variants(PROBLEM, make_grid())), contact_sheet(variants(PROBLEM, grid))
    assert frac.size == full.size
    red = lambda a: (a[..., 0] > 200) & (a[..., 1] < 60) & (a[..., 2] < 60)  # noqa: E731
    a_full, a_frac = np.asarray(full).astype(int), np.asarray(frac).astype(int)
    r_full, r_frac = red(a_full), red(a_frac)
    assert r_frac.sum() > 100 and not (r_frac & ~r_full).any()
    gone = r_full & ~r_frac
    assert gone.sum() > 100 and (a_frac[gone] == 255).all()


def test_bad_inputs():
    other = Problem(segments=(Segment("question", "What is 2 + 2?"),), answer="4", answer_type="number")
    with pytest.raises(ProblemError, match="one problem"):
        contact_sheet(variants(PROBLEM, make_grid())[:2] + variants(other, make_grid())[:1])
    with pytest.raises(ProblemError, match="no variants"):
        contact_sheet([])
    with pytest.raises(UnknownNameError, match="Did you mean: dpi"):
        contact_sheet(variants(PROBLEM, make_grid()), columns="dpj")


# ------------------------------------------------------------------ size budget, pages, CLI selection
def big_grid() -> Grid:  # 125 image cells, as in a full 5 x 5 x 5 design
    return Grid(F.dpi([50, 100, 150, 200, 300], reference=100),
                F.text_color(["black", "red", "blue", "green", "gray"]),
                F.font_size([8, 10, 12, 14, 16], reference=12), F.modality(["image"], reference="image"))


@pytest.fixture(scope="module")
def big():
    return variants(PROBLEM, big_grid())


def test_a_125_cell_sheet_stays_within_the_size_budget(big, tmp_path):
    sheet = contact_sheet(big, tmp_path / "s.png")
    assert max(sheet.size) <= 4096
    with Image.open(tmp_path / "s.png") as im:  # PIL opens it without a DecompressionBombError
        assert im.size == sheet.size
    unbounded = contact_sheet(big, max_side=100_000)
    assert max(unbounded.size) > 4096  # the budget, not the content, kept it small


def test_pages_split_rows_and_each_page_fits(big, tmp_path):
    from restplus.variants.contact import contact_sheet_pages, page_paths

    with pytest.raises(ProblemError, match="contact_sheet_pages"):
        contact_sheet(big, max_side=2500, min_thumb_height=80)
    pages = contact_sheet_pages(big, tmp_path / "s.png", max_side=2500, min_thumb_height=80)
    assert len(pages) > 1 and all(max(p.size) <= 2500 for p in pages)
    paths = page_paths(tmp_path / "s.png", len(pages))
    assert [p.name for p in paths] == [f"s-{k}.png" for k in range(1, len(pages) + 1)]
    assert all(p.exists() for p in paths)
    assert not (tmp_path / "s.png").exists()


def test_cli_contact_sheet_filter_and_cells(tmp_path, capsys):
    from restplus.cli import main
    from restplus.variants.generation import generate

    run = generate([PROBLEM], make_grid(), out=tmp_path / "run", progress=False)
    assert main(["contact-sheet", str(run.path), "--out", str(tmp_path / "a.png"), "--filter", "dpi=50"]) == 0
    out = capsys.readouterr().out
    assert "5 variants of problem" in out  # text + (image, mixed) x 2 colours at dpi 50
    red = [c.cell_id for c in make_grid().cells() if c.labels().get("text_color") == "red"]
    assert main(["contact-sheet", str(run.path), "--out", str(tmp_path / "b.png"), "--cells", ",".join(red)]) == 0
    assert f"{len(red)} variants of problem" in capsys.readouterr().out
    assert main(["contact-sheet", str(run.path), "--out", str(tmp_path / "c.png"), "--filter", "dpi=75"]) == 2
    assert "Levels: 50, 100" in capsys.readouterr().err
    assert main(["contact-sheet", str(run.path), "--out", str(tmp_path / "c.png"), "--cells", "nope"]) == 2
    assert "cell id" in capsys.readouterr().err


def test_a_row_wider_than_the_budget_is_a_clear_error(big):
    with pytest.raises(ProblemError, match=r"px wide even with 150 px thumbnails.*--columns"):
        contact_sheet(big, max_side=4000, min_thumb_height=150)
