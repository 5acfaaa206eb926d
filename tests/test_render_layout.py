"""Layout: physical DPI, wrapping, alignment, columns, options, overflow, contrast, never clipped."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageChops, ImageDraw

from restplus.errors import TextOverflowError
from restplus.grammar.layouts import Layout
from restplus.render import contrast_ratio, render_text
from restplus.render.fonts import pil_font, resolve_font
from restplus.render.functional import draw_page, layout_page
from restplus.render.renderer import compose_blocks, layout_only, render_image

PARA = ("A train leaves the station at 9:40 and travels 132 km at an average speed of 48 km/h. "
        "A second train leaves 25 minutes later on a parallel track, at 66 km/h. At what time, to the "
        "nearest minute, does the second train draw level with the first one, and how far from the "
        "station are they then? Give both values.")
PARAMS = {"font": "DejaVu Sans", "font_size_pt": 12.0, "dpi": 100, "fg": [0, 0, 0], "bg": [255, 255, 255],
          "layout": "plain"}


def _ink_bbox(img) -> tuple[int, int, int, int]:
    im = Image.open(io.BytesIO(img.png)).convert("RGB")
    bg = Image.new("RGB", im.size, (255, 255, 255))
    box = ImageChops.difference(im, bg).getbbox()
    assert box is not None, "nothing was drawn"
    return box


@pytest.mark.parametrize("font", ["DejaVu Sans", "Liberation Mono", "Kalam", "Comic Neue"])
@pytest.mark.parametrize("layout", ["plain", "justified", "centered", "two_column", "narrow"])
def test_same_line_breaks_and_geometry_at_50_100_200_dpi(font, layout):
    imgs = {d: render_text(PARA, PARAMS, font=font, dpi=d, layout=layout) for d in (50, 100, 200)}
    texts = {img.rendered_text for img in imgs.values()}
    assert len(texts) == 1  # identical line breaks
    assert imgs[50].rendered_text.count("\n") >= 2  # the paragraph really wrapped
    for d, img in imgs.items():
        page_in = Layout().page_width_in if layout not in ("two_column", "narrow") else \
            {"two_column": 8.0, "narrow": 3.5}[layout]
        assert img.width == round(page_in * d)
        assert abs(img.height / d - imgs[200].height / 200) <= 1.0 / 50  # same physical height
        cov = dict(img.covariates)
        assert cov["font_px"] == pytest.approx(12 * d / 72, abs=1e-3)
        assert cov["dpi"] == d and cov["width_px"] == img.width


def test_resolution_scales_pixels_but_not_layout():
    low, high = render_text(PARA, PARAMS, dpi=50), render_text(PARA, PARAMS, dpi=200)
    assert high.width == 4 * low.width
    assert abs(high.height - 4 * low.height) <= 4
    xl, xh = dict(low.covariates)["x_height_px"], dict(high.covariates)["x_height_px"]
    assert xh == pytest.approx(4 * xl, abs=1e-3)
    assert 0.4 < xh / dict(high.covariates)["font_px"] < 0.65  # a plausible x-height for a Latin font


@pytest.mark.parametrize("dpi", [50, 100, 200])
@pytest.mark.parametrize("layout", ["plain", "justified", "centered", "two_column"])
def test_ink_stays_inside_the_margins(dpi, layout):
    img = render_text(PARA + "\n\nQ. jumpy (gqy) Å É", PARAMS, dpi=dpi, layout=layout)
    x0, y0, x1, y1 = _ink_bbox(img)
    m = 0.25 * dpi  # all presets used here have 0.25 in margins
    tol = max(2, 0.02 * dpi)  # side bearings and anti-aliasing may stray a pixel or two
    assert x0 >= m - tol and y0 >= m - tol
    assert x1 <= img.width - m + tol and y1 <= img.height - m + tol


def test_justified_lines_reach_the_right_margin_left_lines_do_not():
    just = layout_only(PARA, {**PARAMS, "layout": "justified"})
    left = layout_only(PARA, PARAMS)
    assert just.lines == left.lines
    right_edge = 6.0 * 72 - 0.25 * 72
    from restplus.render.fonts import advance_em

    def line_ends(page):
        ends = {}
        for r in page.runs:
            ends[r.baseline_pt] = r.x_pt + advance_em(r.font_path, r.text) * page.size_pt
        return [ends[k] for k in sorted(ends)]

    j_ends, l_ends = line_ends(just), line_ends(left)
    for e in j_ends[:-1]:  # every line but the paragraph's last is stretched to the margin
        assert e == pytest.approx(right_edge, abs=0.5)
    assert j_ends[-1] < right_edge - 5
    assert any(e < right_edge - 5 for e in l_ends[:-1])


def test_centered_lines_are_symmetric():
    page = layout_only("short line\nand a much longer second line here", {**PARAMS, "layout": "centered"})
    from restplus.render.fonts import advance_em

    for r in page.runs:
        w = advance_em(r.font_path, r.text) * page.size_pt
        left_gap, right_gap = r.x_pt - 18, 6 * 72 - 18 - (r.x_pt + w)
        assert left_gap == pytest.approx(right_gap, abs=1e-6)


def test_two_columns_reading_order_is_first_column_then_second():
    page = layout_only(PARA, {**PARAMS, "layout": "two_column"})
    one = layout_only(PARA, {**PARAMS, "layout": "narrow"})
    assert page.columns == 2
    xs = sorted({round(r.x_pt, 3) for r in page.runs})
    assert len(xs) == 2 and xs[1] > 4 * 72  # second column starts right of the page middle
    words = lambda s: s.split()  # noqa: E731
    assert words(page.text) == words(PARA)  # reading order preserved across the column break
    first_col = [r for r in page.runs if round(r.x_pt, 3) == xs[0]]
    assert len(first_col) == -(-page.n_lines // 2)
    assert page.height_pt < one.height_pt


def test_paragraphs_and_hard_lines_are_kept():
    text = "Solve the system of equations:\n3A + 2B = 7\nA - B = -1\n\nGive A and B."
    img = render_text(text, PARAMS)
    assert img.rendered_text == text
    assert dict(img.covariates)["n_lines"] == 4


def test_indentation_and_runs_of_spaces_are_drawn_as_given():
    text = "x  =  3\n    indented"
    assert render_text(text, PARAMS).rendered_text == text


def test_inline_options_run_together_lines_options_one_per_line():
    blocks = [("question", "Which is a prime?"), ("choices", "A. 4\nB. 6\nC. 7\nD. 9")]
    inline = compose_blocks(blocks, Layout(options="inline"))
    lines = compose_blocks(blocks, Layout())
    assert inline == "Which is a prime?\n\nA. 4   B. 6   C. 7   D. 9"
    assert lines == "Which is a prime?\n\nA. 4\nB. 6\nC. 7\nD. 9"
    assert render_text(inline, PARAMS, layout="inline_options").rendered_text == inline


def test_word_wider_than_the_line_raises_naming_problem_and_cell():
    word = "x" * 200
    with pytest.raises(TextOverflowError) as e:
        render_image(f"see {word} here", PARAMS, 0, problem_id="p-42", cell="c1234")
    msg = str(e.value)
    assert "p-42" in msg and "c1234" in msg and "xxxxxxxx" in msg and "never broken or clipped" in msg


def test_page_taller_than_max_height_raises():
    tall = Layout(max_height_in=2.0)
    text = "\n".join(f"line {i}" for i in range(30))
    with pytest.raises(TextOverflowError) as e:
        render_image(text, PARAMS, 0, layout=tall, problem_id="p-7", cell="cabc", context="problems.jsonl:3")
    msg = str(e.value)
    assert "p-7" in msg and "cabc" in msg and "problems.jsonl:3" in msg and "at most 2.0 in" in msg
    ok = render_image("\n".join(f"line {i}" for i in range(5)), PARAMS, 0, layout=tall)
    assert ok.height <= 2.0 * 100


def test_empty_text_is_an_error():
    with pytest.raises(TextOverflowError, match="nothing to render"):
        render_text(" \n\t\n ", PARAMS)


def test_zero_margin_glyph_ink_beyond_the_page_raises_instead_of_clipping():
    with pytest.raises(TextOverflowError, match="clipped"):
        render_image("Tj", PARAMS, 0, layout=Layout(margin_in=0.0))


def test_low_level_drawing_matches_imagedraw_text():
    font = resolve_font("DejaVu Sans")
    page = layout_page("Kerning: AVA To Wa fi fl 123", font, 12.0, Layout())
    ours = draw_page(page, 100, (10, 20, 200), (250, 250, 240))
    ref = Image.new("RGB", ours.size, (250, 250, 240))
    d = ImageDraw.Draw(ref)
    for r in page.runs:
        d.text((round(r.x_pt * 100 / 72), round(r.baseline_pt * 100 / 72)), r.text, fill=(10, 20, 200),
               font=pil_font(r.font_path, 12 * 100 / 72), anchor="ls")
    assert ours.tobytes() == ref.tobytes()


@pytest.mark.parametrize("fg, bg, expected", [
    ("#000000", "#ffffff", 21.0),
    ("#ffffff", "#ffffff", 1.0),
    ("#777777", "#ffffff", 4.48),
    ("#ffffff", "#777777", 4.48),  # symmetric
    ("#0000ff", "#ffffff", 8.59),  # published WCAG value for blue on white
])
def test_contrast_ratio_known_pairs(fg, bg, expected):
    from restplus.grammar.factors import rgb

    assert contrast_ratio(rgb(fg), rgb(bg)) == pytest.approx(expected, abs=0.01)
    img = render_text("contrast", PARAMS, fg=rgb(fg), bg=rgb(bg), dpi=50) if fg != bg else None
    if img is not None:
        assert dict(img.covariates)["contrast_ratio"] == pytest.approx(expected, abs=0.01)


def test_colours_are_applied():
    img = render_text("RED TEXT", PARAMS, fg=[255, 0, 0], bg=[255, 255, 224], dpi=50)
    im = Image.open(io.BytesIO(img.png)).convert("RGB")
    colours = {c for _, c in im.getcolors(1 << 16)}
    assert (255, 0, 0) in colours and (255, 255, 224) in colours
    assert im.getpixel((0, 0)) == (255, 255, 224)
