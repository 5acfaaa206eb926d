"""Right-to-left and mixed-direction text: every layout draws words in the visual order `plain` does.

Word order is read from the pixels: each drawn line is cut into word crops at its widest blank
gaps (as many cuts as the line has spaces), and crops are compared position by position with the
crops of a reference render. A line drawn in logical order instead of visual order puts other
words at those positions, which the comparison catches (each test checks that it would).
"""

from __future__ import annotations

import dataclasses
import io
import math

import numpy as np
import pytest
from PIL import Image

import restplus as rp
from restplus.errors import BidiControlError, RenderError
from restplus.grammar.layouts import get_layout, layout_names
from restplus.render.fonts import resolve_font, vmetrics
from restplus.render.renderer import layout_only, render_image

HEBREW = "אחת שתיים שלוש ארבע חמש שש שבע שמונה תשע עשר " * 6
# Hebrew with Latin words, digits, punctuation and brackets (levels 1 and 2 in one line).
MIXED = "גרסה 3.11 של Python יצאה ב-2022 עם שיפורים (רבים) בביצועים, למשל ב-CPython. " * 4
# Only Hebrew words and numbers: in an RTL paragraph the words read in exactly reversed order.
HEB_NUM = "שאלה 12 מתוך 340 היא קשה 7 ו 58 נקודות ניתנו לה 9001 פעמים " * 4
PARAMS = {"font": "DejaVu Sans", "font_size_pt": 12.0, "dpi": 200, "layout": "plain"}
SAME = 0.35  # crop distance: one word drawn at two sub-pixel offsets stays below ~0.25; others are near 1


def _grid(img) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(img.png)).convert("L")) < 128


def _col_geometry(lay, size_pt, dpi):
    s = dpi / 72
    m = lay.margin_in * 72
    g = lay.column_gap_in * 72 if lay.columns == 2 else 0.0
    cw = (lay.page_width_in * 72 - 2 * m - g) / lay.columns
    return s, m, g, cw


def word_crops(img, lay, lines, size_pt=12.0, dpi=200, font="DejaVu Sans") -> list[list[np.ndarray]]:
    """Per drawn line (reading order), the word crops left to right, cut at the widest blank gaps."""
    ink = _grid(img)
    vm = vmetrics(resolve_font(font).path)
    s, m, g, cw = _col_geometry(lay, size_pt, dpi)
    k = math.ceil(len(lines) / 2) if lay.columns == 2 else len(lines)
    out = []
    for c, col in enumerate([lines[:k], lines[k:]] if lay.columns == 2 else [lines]):
        x0, x1 = round((m + c * (cw + g)) * s), round((m + c * (cw + g) + cw) * s)
        for i, text in enumerate(col):
            base = m + vm.ascent * size_pt + i * size_pt * lay.line_spacing
            band = ink[round((base - vm.ascent * size_pt) * s):round((base + vm.descent * size_pt) * s), x0:x1]
            on = np.flatnonzero(band.any(axis=0))
            assert on.size, f"line {text!r} drew nothing"
            gaps = sorted(((on[j + 1] - on[j], j) for j in range(len(on) - 1) if on[j + 1] - on[j] > 1),
                          reverse=True)
            cuts = sorted(j for _, j in gaps[:len(text.split()) - 1])
            starts = [on[0]] + [on[j + 1] for j in cuts]
            ends = [on[j] + 1 for j in cuts] + [on[-1] + 1]
            out.append([_trim(band[:, p:q]) for p, q in zip(starts, ends)])
    return out


def _trim(crop: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero(crop.any(axis=1))
    return crop[rows[0]:rows[-1] + 1]


def dist(a: np.ndarray, b: np.ndarray) -> float:
    """0 for the same ink, ~1 for different words (XOR over union, top-left aligned; sizes must agree)."""
    if abs(a.shape[0] - b.shape[0]) > 2 or abs(a.shape[1] - b.shape[1]) > 2:
        return 1.0
    h, w = max(a.shape[0], b.shape[0]), max(a.shape[1], b.shape[1])
    pa, pb = (np.pad(x, ((0, h - x.shape[0]), (0, w - x.shape[1]))) for x in (a, b))
    return float((pa ^ pb).sum() / max(1, (pa | pb).sum()))


def assert_same_order(got: list[np.ndarray], want: list[np.ndarray], what: str) -> None:
    assert len(got) == len(want), what
    d = [round(dist(x, y), 2) for x, y in zip(got, want)]
    assert max(d) < SAME, f"{what}: word crops differ from the reference at positions {d}"
    # The comparison can fail: the same crops in reversed order do not match.
    if len(want) > 2:
        assert max(dist(x, y) for x, y in zip(got, want[::-1])) > SAME, what


def _twin(lay):
    """A left-aligned single-column layout whose line holds exactly one column of ``lay``."""
    _, m, _, cw = _col_geometry(lay, 12.0, 200)
    return dataclasses.replace(lay, align="left", columns=1, page_width_in=(cw + 2 * m) / 72,
                               max_height_in=None)


@pytest.mark.parametrize("name", layout_names())
@pytest.mark.parametrize("text", [HEBREW, MIXED], ids=["hebrew", "mixed"])
def test_every_layout_draws_bidi_words_in_plains_order(name, text):
    lay = get_layout(name)
    twin = _twin(lay)
    page = layout_only(text, PARAMS, layout=lay)
    ref_page = layout_only(text, PARAMS, layout=twin)
    assert page.lines == ref_page.lines  # same line breaks: only placement may differ
    assert page.text == rp.render.layout_only(text, PARAMS, layout=twin).text  # reference text stays logical
    got = word_crops(render_image(text, PARAMS, 0, layout=lay), lay, list(page.lines))
    want = word_crops(render_image(text, PARAMS, 0, layout=twin), twin, list(ref_page.lines))
    for i, (g, w) in enumerate(zip(got, want)):
        assert_same_order(g, w, f"layout {name!r}, line {i} ({page.lines[i][:30]!r}...)")


def _alone(word: str, params: dict) -> np.ndarray:
    img = render_image(word, params, 0)
    (crop,), = word_crops(img, get_layout("plain"), [word], font=params["font"])
    return crop


@pytest.mark.parametrize("name", ["plain", "justified", "centered", "two_column"])
def test_rtl_lines_read_right_to_left(name):
    # An oracle that does not come from the layout: each word rendered on its own, in reversed order.
    lay = get_layout(name)
    page = layout_only(HEB_NUM, PARAMS, layout=lay)
    lines = word_crops(render_image(HEB_NUM, PARAMS, 0, layout=lay), lay, list(page.lines))
    for text, crops in list(zip(page.lines, lines))[:3]:
        want = [_alone(w, PARAMS) for w in reversed(text.split())]
        assert_same_order(crops, want, f"{name}: {text!r}")


def test_fallback_font_pieces_keep_visual_order():
    # Comic Neue has no Hebrew: Hebrew comes from the fallback, digits from Comic Neue, so every
    # line is cut into pieces per font (the placement the justified layout also uses).
    params = {**PARAMS, "font": "Comic Neue", "fallback_fonts": ["DejaVu Sans"]}
    img = render_image(HEB_NUM, params, 0)
    page = layout_only(HEB_NUM, params)
    assert "DejaVu Sans" in {v for v in dict(img.provenance)["fallback_fonts_used"].values()}
    lines = word_crops(img, get_layout("plain"), list(page.lines), font="Comic Neue")
    for text, crops in list(zip(page.lines, lines))[:2]:
        assert_same_order(crops, [_alone(w, params) for w in reversed(text.split())], text)


@pytest.mark.parametrize("name", ["plain", "justified"])
def test_wrapped_line_keeps_the_paragraphs_direction(name):
    # A Hebrew paragraph whose second line starts with a Latin word: that line is still RTL.
    text = "מילים " * 12 + "Python 3 היא שפה נוחה ומהירה וגם פופולרית מאוד " * 2
    lay = get_layout(name)
    page = layout_only(text, PARAMS, layout=lay)
    line = page.lines[1]
    assert line.startswith("Python"), page.lines  # the premise of the test
    got = word_crops(render_image(text, PARAMS, 0, layout=lay), lay, list(page.lines))[1]
    # Oracle: RAQM's own ordering of that line as an RTL paragraph (an RLM sets the direction).
    want = word_crops(render_image("\u200f" + line, PARAMS, 0), get_layout("plain"), [line])[0]
    assert_same_order(got, want, line)  # crops, not positions: justified spreads the words


def test_ltr_text_takes_the_unchanged_path():
    page = layout_only("Plain English text, justified over a few lines. " * 5, PARAMS, layout=get_layout("justified"))
    assert all(r.direction is None for r in page.runs)
    rtl = layout_only(HEBREW, PARAMS, layout=get_layout("justified"))
    assert {r.direction for r in rtl.runs} == {"rtl"}


def test_cairosvg_refuses_rtl_text():
    with pytest.raises(RenderError, match="cannot draw right-to-left text.*backend: pillow"):
        render_image("שלום עולם", {**PARAMS, "backend": "cairosvg"}, 0)


@pytest.mark.parametrize("sep", ["\u2028", "\u2029"])
def test_line_and_paragraph_separators_break_lines(sep):
    a = render_image(f"first words{sep}second words", PARAMS, 0)
    b = render_image("first words\nsecond words", PARAMS, 0)
    assert a.png == b.png
    assert a.rendered_text == "first words\nsecond words"


@pytest.mark.parametrize("code", [0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069])
def test_explicit_bidi_controls_are_refused(code):
    text = f"abc\nשלום {chr(code)}עולם"
    with pytest.raises(BidiControlError) as exc:
        rp.render_text(text)
    msg = str(exc.value)
    assert f"U+{code:04X}" in msg and "character 9" in msg and "line 2, column 6" in msg and "strip" in msg
    with pytest.raises(BidiControlError):
        layout_only(text, PARAMS)


def test_implicit_marks_are_allowed():
    img = rp.render_text("\u200fשלום abc\u200e 12")
    assert img.rendered_text == "\u200fשלום abc\u200e 12"
