"""Rendering edge cases, table-driven (issue 18): each gives a checked image or a named RestplusError.

An image is checked, not just produced: a decodable PNG of the recorded size, ink on the page (some
pixel differs from the background), the text drawn (``rendered_text``, the OCR reference) equal to
what was asked for after layout normalisation, and the overrides recorded in the provenance. An
error must be the named subclass, and its message must name the offending value.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageColor

import restplus as rp
from restplus.errors import (
    BidiControlError,
    GlyphError,
    ImageTooLargeError,
    RenderError,
    SpecError,
    TextOverflowError,
    UnknownNameError,
)
from restplus.grammar.factors import get_kind
from restplus.render import KIND_PARAMS, fonts, functional, render_image, render_text

PARA = "The quick brown fox jumps over the lazy dog, then sits down. " * 4
LINES = "\n".join(f"line {i}" for i in range(60))
LAYOUTS = ["plain", "centered", "justified", "two_column", "narrow", "wide", "spacious", "inline_options"]

# (id, text, overrides, expected): expected is the drawn text (an image) or (error class, fragment).
CASES = [
    # ---- text content that renders
    ("ascii", "x + 1 = 3", {}, "x + 1 = 3"),
    ("tab", "a\tb", {}, "a b"),
    ("crlf", "a\r\nb", {}, "a\nb"),
    ("line-separator", "a\u2028b", {}, "a\nb"),
    ("paragraph-separator", "a\u2029b", {}, "a\nb"),
    ("trailing-blank", "abc   \n\n\n", {}, "abc"),
    ("indent", "    indented\nnext", {}, "    indented\nnext"),
    ("paragraph-gaps", "a\n\n\nb", {}, "a\n\n\nb"),
    ("combining-marks", "e\u0301 n\u0303 a\u0308", {}, "e\u0301 n\u0303 a\u0308"),
    ("zero-width-space", "a\u200bb", {}, "a\u200bb"),
    ("zero-width-joiner", "a\u200db", {}, "a\u200db"),
    ("soft-hyphen", "co\u00adop", {}, "co\u00adop"),
    ("hebrew", "שלום עולם", {}, "שלום עולם"),
    ("arabic", "مرحبا بالعالم", {}, "مرحبا بالعالم"),
    ("bidi-mixed", "x = 5 שלום 7", {}, "x = 5 שלום 7"),
    ("greek-cyrillic", "αβγ Жизнь", {}, "αβγ Жизнь"),
    ("arabic-via-fallback", "مرحبا x", {"font": "Liberation Sans", "fallback_fonts": ["DejaVu Sans"]}, "مرحبا x"),
    ("many-lines", LINES, {}, LINES),
    *[(f"layout-{n}", PARA, {"layout": n}, None) for n in LAYOUTS],
    ("dpi-min", "Hello", {"dpi": 10}, "Hello"),
    ("dpi-max", "Hello", {"dpi": 1200}, "Hello"),
    ("font-size-min", "Hello", {"font_size_pt": 4}, "Hello"),
    ("font-size-max", "Hello", {"font_size_pt": 96}, "Hello"),
    ("colours-hex", "Hello", {"fg": "#ff0000", "bg": "#000080"}, "Hello"),
    ("colours-inverted", "Hello", {"fg": "white", "bg": "black"}, "Hello"),
    ("colours-low-contrast", "Hello", {"fg": (250, 250, 250), "bg": (255, 255, 255)}, "Hello"),
    ("blur-max", "Hello", {"blur_sigma": 20}, "Hello"),
    ("noise-max", "Hello", {"noise_sigma": 128}, "Hello"),
    ("jpeg-min", "Hello", {"jpeg_quality": 1}, "Hello"),
    ("rotation-max", "Hello", {"rotation_deg": 45}, "Hello"),
    ("rotation-min", "Hello", {"rotation_deg": -45}, "Hello"),
    # ---- text content that cannot be rendered faithfully
    ("empty", "", {}, (TextOverflowError, "empty or only whitespace")),
    ("whitespace-only", "   \n\t \u2028 ", {}, (TextOverflowError, "empty or only whitespace")),
    ("long-word", "x" * 400, {}, (TextOverflowError, "'xxxxxxxx")),
    ("long-word-two-column", "y" * 80, {"layout": "two_column"}, (TextOverflowError, "'yyyyyyyy")),
    ("max-height", "\n".join(["line"] * 2000), {}, (TextOverflowError, "at most 22.0 in")),
    ("emoji", "smile \U0001F980", {}, (GlyphError, "U+1F980 CRAB")),
    ("emoji-with-fallback", "flag \U0001F1FA\U0001F1F8", {"font": "Liberation Sans", "fallback_fonts": ["DejaVu Sans"]},
     (GlyphError, "U+1F1FA")),
    ("cjk", "中文", {}, (GlyphError, "U+4E2D")),
    ("arabic-in-kalam", "مرحبا", {"font": "Kalam"}, (GlyphError, "U+0645")),
    ("nul", "a\x00b", {}, (RenderError, "U+0000")),
    ("bell", "a\x07b", {}, (RenderError, "U+0007")),
    ("escape", "a\x1b[31mred", {}, (RenderError, "U+001B")),
    ("surrogate", "a\ud800b", {}, (RenderError, "U+D800")),
    ("private-use", "a\ue000b", {}, (RenderError, "U+E000")),
    ("unassigned", "a\u0378b", {}, (RenderError, "U+0378")),
    ("rlo", "\u202eabc", {}, (BidiControlError, "U+202E")),
    ("isolate", "a\u2066b\u2069", {}, (BidiControlError, "U+2066")),
    ("text-none", None, {}, (RenderError, "got NoneType None")),
    ("text-bytes", b"x + 1", {}, (RenderError, "got bytes b'x + 1'")),
    ("text-int", 42, {}, (RenderError, "got int 42")),
    # ---- override values out of range or of the wrong type
    ("dpi-zero", "x", {"dpi": 0}, (SpecError, "dpi=0")),
    ("dpi-negative", "x", {"dpi": -5}, (SpecError, "dpi=-5")),
    ("dpi-huge", "x", {"dpi": 100000}, (SpecError, "100000 is outside the valid range [10, 1200]")),
    ("dpi-fraction", "x", {"dpi": 50.5}, (SpecError, "dpi=50.5 must be a whole number")),
    ("dpi-string", "x", {"dpi": "100"}, (SpecError, "dpi='100'")),
    ("dpi-bool", "x", {"dpi": True}, (SpecError, "dpi=True")),
    ("font-size-zero", "x", {"font_size_pt": 0}, (SpecError, "font_size_pt=0")),
    ("font-size-huge", "x", {"font_size_pt": 1000}, (SpecError, "1000 is outside the valid range [4, 96]")),
    ("fg-unknown", "x", {"fg": "notacolour"}, (SpecError, "fg='notacolour'")),
    ("fg-typo", "x", {"fg": "reddish"}, (SpecError, "fg='reddish' is not a known colour; use a CSS name ('red'), a "
                                                    "hex code ('#cc0000') or three ints 0-255. Did you mean: red?")),
    ("fg-channel", "x", {"fg": (300, 0, 0)}, (SpecError, "fg=(300, 0, 0)")),
    ("bg-short", "x", {"bg": [1, 2]}, (SpecError, "bg=[1, 2]")),
    ("fg-equals-bg", "x", {"fg": "white"}, (RenderError, "fg=[255, 255, 255] equals the background")),
    ("blur-huge", "x", {"blur_sigma": 1e9}, (SpecError, "1000000000.0 is outside the valid range [0, 20]")),
    ("noise-negative", "x", {"noise_sigma": -5}, (SpecError, "noise_sigma=-5")),
    ("jpeg-zero", "x", {"jpeg_quality": 0}, (SpecError, "jpeg_quality=0")),
    ("jpeg-above", "x", {"jpeg_quality": 101}, (SpecError, "jpeg_quality=101")),
    ("rotation-turns", "x", {"rotation_deg": 720}, (SpecError, "720 is outside the valid range [-45, 45]")),
    ("rotation-nan", "x", {"rotation_deg": float("nan")}, (SpecError, "rotation_deg=nan")),
    ("font-unknown", "x", {"font": "Arial"}, (UnknownNameError, "'Arial'")),
    ("font-typo", "x", {"font": "DejaVu Sanz"}, (UnknownNameError, "Did you mean: DejaVu Sans")),
    ("fallback-string", "x", {"fallback_fonts": "DejaVu Sans"}, (SpecError, "fallback_fonts='DejaVu Sans'")),
    ("layout-typo", "x", {"layout": "plian"}, (UnknownNameError, "Did you mean: plain")),
    ("backend-typo", "x", {"backend": "cairo"}, (UnknownNameError, "Did you mean: cairosvg")),
    ("keyword-typo", "x", {"dip": 100}, (UnknownNameError, "'dip'. Did you mean: dpi")),
    ("keyword-kind-name", "x", {"blur": 2}, (UnknownNameError, "write blur_sigma=2")),
    ("too-many-pixels", PARA, {"max_pixels": 1000}, (ImageTooLargeError, "limit of 0.001 megapixels")),
]


def test_the_table_is_large_enough():
    ids = [c[0] for c in CASES]
    assert len(ids) >= 40 and len(set(ids)) == len(ids)
    n_images = sum(not isinstance(c[3], tuple) for c in CASES)
    assert n_images >= 20 and len(CASES) - n_images >= 20, n_images


def _ink(png: bytes, bg) -> int:
    """Pixels that differ from the background by more than rounding (a 250-on-255 text still counts)."""
    arr = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)
    return int((np.abs(arr - np.array(bg, dtype=np.int16)).max(axis=2) > 2).sum())


@pytest.mark.parametrize("text, overrides, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_edge_case_renders_or_raises_a_named_error(text, overrides, expected):
    kw = {"dpi": 50, **overrides}
    if isinstance(expected, tuple):
        cls, fragment = expected
        with pytest.raises(cls) as exc:
            render_text(text, **kw)
        assert type(exc.value) is cls, type(exc.value)  # the named subclass, not merely a parent
        assert fragment in str(exc.value) and "\n" not in str(exc.value), str(exc.value)
        return
    img = render_text(text, **kw)
    with Image.open(io.BytesIO(img.png)) as im:
        assert im.format == "PNG" and im.size == (img.width, img.height) and img.width > 0 and img.height > 0
    prov = dict(img.provenance)
    bg = prov["params"]["bg"]
    assert _ink(img.png, bg) > 0, "blank page"
    want = text if expected is None else expected
    if expected is None:  # a paragraph: every word drawn, in order, whatever the wrapping
        assert img.rendered_text.split() == want.split()
    else:
        assert img.rendered_text == want
    for k, v in overrides.items():  # what was asked for is what the provenance says was drawn
        recorded = prov["params"][k]
        if k in ("fg", "bg"):
            assert recorded == (list(ImageColor.getrgb(v)[:3]) if isinstance(v, str) else list(v)), k
        else:
            assert recorded == (list(v) if isinstance(v, (list, tuple)) else v), k
    assert dict(img.covariates)["n_lines"] == len([ln for ln in img.rendered_text.split("\n") if ln.strip()])
    if overrides.get("layout") == "two_column":
        assert prov["layout"]["columns"] == 2
    if "fallback_fonts" in overrides:
        assert set(prov["fallback_fonts_used"].values()) == {"DejaVu Sans"}


def test_degradations_at_their_limits_are_recorded_as_steps():
    steps = [dict(render_text("Hello", dpi=50, **o).provenance)["steps"] for o in
             ({"blur_sigma": 20}, {"noise_sigma": 128}, {"jpeg_quality": 1}, {"rotation_deg": 45})]
    assert [len(s) for s in steps] == [1, 1, 1, 1]
    assert [(s[0]["step"], s[0]["value"]) for s in steps] == [("blur", 20), ("noise", 128), ("jpeg", 1),
                                                               ("rotation", 45)]


def test_kind_names_map_to_the_param_their_kind_sets():
    # KIND_PARAMS is what render_text's refusal suggests; it must match each kind's own resolve()
    examples = {"text_color": "red", "background": "white", "font_size": 12, "blur": 1, "jpeg": 50, "noise": 2,
                "rotation": 3}
    assert set(KIND_PARAMS) == set(examples)
    for kind, param in KIND_PARAMS.items():
        assert list(get_kind(kind).resolve(examples[kind])) == [param]


class _Failing:
    """A Pillow font that fails like RAQM does on one marker character, and works otherwise."""

    def __init__(self, real, method):
        self.real, self.method = real, method

    def __getattr__(self, name):
        attr = getattr(self.real, name)
        if name != self.method:
            return attr

        def call(text, *a, **k):
            if "\u2603" in text:
                raise RuntimeError("raqm_layout() failed.")
            return attr(text, *a, **k)
        return call


@pytest.mark.parametrize("module, method", [(fonts, "getlength"), (functional, "getmask2")],
                         ids=["layout", "drawing"])
def test_a_raqm_failure_is_a_render_error_naming_span_problem_and_cell(monkeypatch, module, method):
    real = fonts.pil_font
    monkeypatch.setattr(module, "pil_font", lambda path, px: _Failing(real(path, px), method))
    grid = rp.Grid(rp.dpi([50]))
    cell = grid.cells()[0]
    text = f"fine words then a snowman \u2603 {method}"  # unique text: the layout cache has not seen it
    with pytest.raises(RenderError) as exc:
        render_image(text, grid.render_params(cell), 0, problem_id="soe-7", cell=cell)
    msg = str(exc.value)
    assert type(exc.value) is RenderError
    assert msg.startswith(f"problem 'soe-7' in cell {cell.cell_id}")
    assert "raqm_layout() failed" in msg and "\u2603" in msg and "U+2603 SNOWMAN" in msg and "DejaVuSans" in msg
