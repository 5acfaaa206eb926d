"""RenderParams: the one copy of the render defaults, and the dict it records stays the old dict."""

from __future__ import annotations

import dataclasses

import pytest
from PIL import Image

import restplus as rp
from restplus.errors import SpecError
from restplus.grammar.factors import KINDS, FactorKind, register_factor_kind, rgb
from restplus.grammar.params import BASE, RenderParams
from restplus.render import render_text
from restplus.render.degrade import DEGRADATIONS, Degradation, apply_degradations

# The dict literal Grid.render_params and render.DEFAULT_TEXT_PARAMS built before RenderParams.
OLD_DEFAULTS = {
    "font": "DejaVu Sans", "font_size_pt": 12.0, "dpi": 200, "fg": [0, 0, 0], "bg": [255, 255, 255],
    "layout": "plain", "backend": "pillow", "fallback_fonts": [], "blur_sigma": 0.0, "jpeg_quality": None,
    "noise_sigma": 0.0, "rotation_deg": 0.0, "modality": "image"}


def test_defaults_serialise_to_exactly_the_old_dict():
    d = RenderParams().to_dict()
    assert d == OLD_DEFAULTS and list(d) == list(OLD_DEFAULTS)
    assert [type(v) for v in d.values()] == [type(v) for v in OLD_DEFAULTS.values()]
    assert BASE == RenderParams() and RenderParams.from_dict(d) == BASE and hash(BASE) == hash(RenderParams())


def test_render_defaults_take_their_defaults_from_base():
    r = rp.RenderDefaults()
    assert (r.font, r.font_size_pt, r.dpi, r.layout, r.backend, r.fallback_fonts) == \
        (BASE.font, BASE.font_size_pt, BASE.dpi, BASE.layout, BASE.backend, BASE.fallback_fonts)
    assert tuple(rgb(r.text_color)) == BASE.fg and tuple(rgb(r.background)) == BASE.bg
    assert r.params("image") == BASE
    assert r.params("mixed") == BASE.replace(modality="mixed")
    # the spec section keeps its keys and colour names: the spec hash depends on them
    assert r.to_dict()["text_color"] == "black" and rp.RenderDefaults.from_dict(r.to_dict()) == r


def test_grid_render_params_equal_the_old_dict():
    g = rp.Grid(rp.text_color(["black", "#ff0000"], reference="black"), rp.dpi([50, 200], reference=200),
                rp.blur([0, 1.5], reference=0), rp.modality(["text", "image"], reference="text"),
                render={"font": "Kalam", "font_size_pt": 14, "background": "ivory"})
    c = next(c for c in g.cells() if c["dpi"] == 50 and c["text_color"] == "#ff0000" and c["blur"] == 1.5)
    p = g.render_params(c)
    assert isinstance(p, RenderParams)
    want = {**OLD_DEFAULTS, "font": "Kalam", "font_size_pt": 14, "dpi": 50, "fg": [255, 0, 0],
            "bg": [255, 255, 240], "blur_sigma": 1.5}
    assert p.to_dict() == want and list(p.to_dict()) == list(want)
    assert type(p.to_dict()["font_size_pt"]) is int  # an int from the spec stays an int (spec hash, provenance)
    text = next(c for c in g.cells() if c.modality == "text")
    assert g.render_params(text).to_dict() == {**want, "dpi": 200, "fg": [0, 0, 0], "blur_sigma": 0.0,
                                               "modality": "text"}


def test_provenance_records_the_dict():
    g = rp.Grid(rp.dpi([50], reference=50), rp.jpeg([40], reference=40))
    c = g.cells()[0]
    img = render_text("x = 1", g.render_params(c))
    prov = dict(img.provenance)["params"]
    assert prov == dict(sorted(g.render_params(c).to_dict().items()))
    assert prov["jpeg_quality"] == 40 and prov["fg"] == [0, 0, 0] and prov["fallback_fonts"] == []
    # a RenderParams and the equivalent dict give the same bytes
    assert render_text("x = 1", g.render_params(c).to_dict()).png == img.png


def test_custom_kind_key_round_trips_and_reaches_a_custom_degradation():
    seen: list = []

    def apply(im, value, seed, ctx):
        seen.append(value)
        return im, {"got": value}

    register_factor_kind(FactorKind("test_tint", lambda v: v, lambda v: {"test_tint_amount": float(v)}))
    DEGRADATIONS.register("test_tint", Degradation("test_tint", "test_tint_amount", lambda v: v > 0, apply))
    try:
        g = rp.Grid(rp.factor("test_tint", [0, 2], reference=0), rp.dpi([50], reference=50))
        c = next(c for c in g.cells() if c["test_tint"] == 2)
        p = g.render_params(c)
        assert p.extra == (("test_tint_amount", 2.0),) and p.get("test_tint_amount") == 2.0
        assert p.get("nope", "dflt") == "dflt" and p.get("dpi") == 50
        d = p.to_dict()
        assert d["test_tint_amount"] == 2.0 and list(d)[-1] == "test_tint_amount"
        assert RenderParams.from_dict(d) == p and RenderParams.coerce(d).to_dict() == d
        img = render_text("tint", p)
        step = dict(img.provenance)["steps"][-1]
        assert seen == [2.0] and step["step"] == "test_tint" and step["got"] == 2.0
        assert dict(img.provenance)["params"]["test_tint_amount"] == 2.0
        off = g.render_params(next(c for c in g.cells() if c["test_tint"] == 0))
        _, steps = apply_degradations(Image.new("RGB", (4, 4), "white"), off, 0, 50)
        assert steps == [] and seen == [2.0]  # inactive at 0: the custom step reads the extra, not a default
    finally:
        DEGRADATIONS.unregister("test_tint")
        KINDS.unregister("test_tint")


def test_replace_routes_known_fields_and_extras():
    p = BASE.replace(dpi=72, my_key=[1, 2])
    assert p.dpi == 72 and p.extra == (("my_key", [1, 2]),) and BASE.dpi == 200  # BASE is untouched
    assert p.replace(my_key=3).get("my_key") == 3 and p.replace() is p
    assert BASE.replace(b=1, a=2) == BASE.replace(a=2, b=1)  # extras are sorted: order never matters
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.dpi = 10  # type: ignore[misc]


def test_coerce_accepts_colour_strings_and_fills_defaults():
    p = RenderParams.coerce({"fg": "red", "bg": "#fffff0", "dpi": 100})
    assert p.fg == (255, 0, 0) and p.bg == (255, 255, 240) and p.dpi == 100 and p.font == BASE.font
    assert RenderParams.coerce(p) is p and RenderParams.coerce(None) is BASE
    assert BASE.replace(fg="blue").to_dict()["fg"] == [0, 0, 255]
    assert render_text("c", fg="red", dpi=50).png == render_text("c", {"fg": [255, 0, 0]}, dpi=50).png


@pytest.mark.parametrize(("change", "field", "fix"), [
    ({"fg": [0, 0, 300]}, "fg", "0-255"),
    ({"bg": "not-a-colour"}, "bg", "CSS name"),
    ({"dpi": 0}, "dpi", "positive"),
    ({"dpi": 72.5}, "dpi", "whole number"),
    ({"font_size_pt": "12"}, "font_size_pt", "number"),
    ({"jpeg_quality": 0}, "jpeg_quality", "1 and 100"),
    ({"blur_sigma": -1.0}, "blur_sigma", "at least 0"),
    ({"modality": "imgae"}, "modality", "Did you mean: image"),
    ({"font": ""}, "font", "non-empty"),
    ({"fallback_fonts": "DejaVu Sans"}, "fallback_fonts", "list"),
])
def test_bad_values_raise_spec_errors_naming_the_field(change, field, fix):
    with pytest.raises(SpecError, match=field) as info:
        RenderParams.coerce(change)
    assert fix in str(info.value) and repr(next(iter(change.values()))) in str(info.value)


def test_coerce_refuses_other_types():
    with pytest.raises(SpecError, match="RenderParams or a mapping"):
        RenderParams.coerce([("dpi", 100)])  # type: ignore[arg-type]
