"""Fuzz: for any text and any override values, render_text returns an image or raises a
RestplusError, never another exception type (issue 18)."""

from hypothesis import HealthCheck, given, settings, strategies as st

from restplus.errors import RestplusError
from restplus.render import render_text

VALUES = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                   st.text(max_size=8), st.lists(st.integers(-300, 300), max_size=4),
                   st.sampled_from(["red", "#00ff00", "white", "DejaVu Sans", "Kalam", "two_column", "cairosvg"]))
# every built-in key, plus misspelt ones and factor-kind names (refused by name, never ignored)
KEYS = st.sampled_from(["dpi", "font_size_pt", "font", "fg", "bg", "layout", "backend", "blur_sigma",
                        "jpeg_quality", "noise_sigma", "rotation_deg", "fallback_fonts", "modality",
                        "dip", "blur", "text_color", "extra", "board_theme"])
# text that is not a str at all, as a caller could pass it
TEXTS = st.one_of(st.text(max_size=40), st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
                  st.none(), st.binary(max_size=10), st.integers(), st.lists(st.text(max_size=3), max_size=2))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, overrides=st.dictionaries(KEYS, VALUES, max_size=3))
def test_render_text_gives_an_image_or_a_restplus_error(text, overrides):
    if "dpi" not in overrides:
        overrides["dpi"] = 30  # keep successful renders small and fast
    try:
        img = render_text(text, **overrides)
    except RestplusError as exc:
        assert str(exc).strip(), "an error must say what was wrong"
        return
    assert isinstance(text, str)
    assert img.png.startswith(b"\x89PNG") and img.width > 0 and img.height > 0
