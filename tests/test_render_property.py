"""Property: arbitrary Unicode either renders faithfully or raises a RestplusError, nothing else."""

from __future__ import annotations

import io
import re

from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image

from restplus.errors import RestplusError
from restplus.render import render_text
from restplus.render.fonts import default_manifest

FONTS = default_manifest().names()
LAYOUTS = ["plain", "justified", "centered", "two_column", "narrow", "inline_options"]

# Mostly printable text with spaces and newlines, plus the whole of Unicode (surrogates included).
chars = st.one_of(st.sampled_from(list("abc XYZ 123 +-=.,\n\n\t")),
                  st.characters(codec="utf-8"),
                  st.characters(min_codepoint=0, max_codepoint=0x10FFFF, categories=None),
                  st.sampled_from(["\u0301", "\u200d", "\u05d0", "\u0627", "\ufdfd", "\u00ad", "\u2028", "\ud800"]))


@settings(database=None, derandomize=True, max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(alphabet=chars, max_size=120), font=st.sampled_from(FONTS), dpi=st.sampled_from([50, 100]),
       layout=st.sampled_from(LAYOUTS), fallback=st.booleans())
def test_any_text_renders_or_raises_a_restplus_error(text, font, dpi, layout, fallback):
    try:
        img = render_text(text, font=font, dpi=dpi, layout=layout,
                          fallback_fonts=["DejaVu Sans"] if fallback and font != "DejaVu Sans" else [])
    except RestplusError:
        return
    # rendered: a decodable PNG of the recorded size whose drawn text keeps every visible word
    im = Image.open(io.BytesIO(img.png))
    assert im.size == (img.width, img.height)
    assert img.rendered_text.strip()
    words = lambda s: [w for w in re.split(r"[ \t\r\n]+", s) if w]  # noqa: E731
    assert words(img.rendered_text) == words(text)


def test_the_property_test_exercises_both_outcomes():
    # Guard against a vacuous property: the same strategy must produce renders and errors.
    outcomes = {"ok": 0, "error": 0}

    @settings(database=None, derandomize=True, max_examples=60, deadline=None)
    @given(text=st.text(alphabet=chars, max_size=60), font=st.sampled_from(FONTS))
    def run(text, font):
        try:
            render_text(text, font=font, dpi=50)
            outcomes["ok"] += 1
        except RestplusError:
            outcomes["error"] += 1

    run()
    assert outcomes["ok"] >= 5 and outcomes["error"] >= 5, outcomes
