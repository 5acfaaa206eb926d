"""Vendored fonts: manifest, hash verification, glyph coverage, declared fallbacks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont

from restplus.errors import FontError, GlyphError, RestplusError, UnknownNameError
from restplus.render import render_text
from restplus.render.fonts import FONTS_DIR, FontManifest, default_manifest, missing_glyphs, resolve_font

FAMILIES = ["DejaVu Sans", "Liberation Mono", "Liberation Serif", "Liberation Sans", "Kalam", "Comic Neue"]


def test_manifest_lists_the_vendored_families_with_licences_beside_them():
    m = default_manifest()
    assert m.names() == FAMILIES
    raw = json.loads((FONTS_DIR / "fonts.json").read_text())
    for e in raw["families"]:
        font = FONTS_DIR / e["file"]
        lic = FONTS_DIR / e["licence_file"]
        assert font.is_file() and lic.is_file(), e["family"]
        assert lic.parent == font.parent  # licence kept beside the font
        assert len(lic.read_text()) > 1000  # a real licence text, not a stub
        # the family name the grid uses is the font's own name-table family (no aliasing)
        assert TTFont(font, lazy=True)["name"].getDebugName(1) == e["family"]


def test_manifest_coverage_notes_match_the_cmap():
    raw = json.loads((FONTS_DIR / "fonts.json").read_text())
    for e in raw["families"]:
        cov = e["glyph_coverage"]
        info = resolve_font(e["family"])
        assert "".join(missing_glyphs(info, cov["checked_symbols"])) == "".join(sorted(cov["missing_symbols"]))
    by = {e["family"]: e for e in raw["families"]}
    assert by["DejaVu Sans"]["glyph_coverage"]["missing_symbols"] == ""
    assert "→" in by["Kalam"]["glyph_coverage"]["missing_symbols"]
    assert "Courier New" in by["Liberation Mono"]["substitute_for"]


def test_unknown_font_suggests_the_nearest_name_and_never_aliases():
    with pytest.raises(UnknownNameError) as e:
        resolve_font("Dejavu Sans")
    assert "Did you mean: DejaVu Sans" in str(e.value)
    with pytest.raises(UnknownNameError) as e:  # the proprietary name is not silently substituted
        resolve_font("Courier New")
    assert "Liberation Mono" in str(e.value)  # listed among available names


def _tampered_manifest(tmp_path: Path) -> Path:
    src = FONTS_DIR / "kalam" / "Kalam-Regular.ttf"
    dst = tmp_path / "Kalam-Regular.ttf"
    shutil.copy(src, dst)
    data = bytearray(dst.read_bytes())
    data[-1] ^= 0xFF  # alter one byte
    dst.write_bytes(bytes(data))
    entry = next(e for e in json.loads((FONTS_DIR / "fonts.json").read_text())["families"] if e["family"] == "Kalam")
    entry = {**entry, "file": "Kalam-Regular.ttf"}
    path = tmp_path / "fonts.json"
    path.write_text(json.dumps({"schema": 1, "families": [entry]}))
    return path


def test_font_hash_mismatch_names_both_hashes(tmp_path):
    manifest = FontManifest.load(_tampered_manifest(tmp_path))
    expected = manifest.get("Kalam").sha256
    with pytest.raises(FontError) as e:
        resolve_font("Kalam", manifest)
    msg = str(e.value)
    assert expected in msg
    import hashlib

    actual = hashlib.sha256((tmp_path / "Kalam-Regular.ttf").read_bytes()).hexdigest()
    assert actual in msg and actual != expected


def test_font_hash_mismatch_blocks_rendering(tmp_path):
    from restplus.render.renderer import render_image

    manifest = FontManifest.load(_tampered_manifest(tmp_path))
    params = {"font": "Kalam", "font_size_pt": 12, "dpi": 50, "fg": [0, 0, 0], "bg": [255, 255, 255]}
    with pytest.raises(FontError):
        render_image("hello", params, 0, manifest=manifest)


def test_missing_manifest_is_a_font_error(tmp_path):
    with pytest.raises(FontError, match="does not exist"):
        FontManifest.load(tmp_path / "nope.json")


@pytest.mark.parametrize("font, text, chars", [
    ("Kalam", "Let α + β = γ", ["α", "β", "γ"]),
    ("Comic Neue", "x → y and a ≤ b", ["→", "≤"]),
])
def test_missing_glyph_is_an_error_naming_chars_codes_and_font(font, text, chars):
    with pytest.raises(GlyphError) as e:
        render_text(text, font=font, dpi=50)
    msg = str(e.value)
    assert repr(font) in msg
    for c in chars:
        assert f"U+{ord(c):04X}" in msg and repr(c) in msg
    assert "fallback_fonts" in msg  # says how to fix it


def test_declared_fallback_draws_the_missing_chars_and_is_recorded():
    text = "Let α + β = 3 → done"
    img = render_text(text, font="Kalam", dpi=100, fallback_fonts=["Comic Neue", "DejaVu Sans"])
    prov = dict(img.provenance)
    # Comic Neue lacks these too, so the first fallback that covers them (DejaVu Sans) is used
    assert prov["fallback_fonts_used"] == {"α": "DejaVu Sans", "β": "DejaVu Sans", "→": "DejaVu Sans"}
    assert img.rendered_text == text
    plain = render_text("Let a + b = 3 - done", font="Kalam", dpi=100)
    assert dict(plain.provenance)["fallback_fonts_used"] == {}
    assert img.pixel_sha256 != plain.pixel_sha256


def test_fallback_that_covers_nothing_still_raises():
    with pytest.raises(GlyphError) as e:
        render_text("α", font="Kalam", dpi=50, fallback_fonts=["Comic Neue"])
    assert "Comic Neue" in str(e.value)


def test_control_characters_are_rejected_not_drawn():
    with pytest.raises(RestplusError, match="U\\+0007"):
        render_text("bell\x07", dpi=50)


def test_raqm_unavailable_is_an_error_not_a_basic_fallback(monkeypatch):
    from PIL import features

    from restplus.errors import RenderError
    from restplus.render.fonts import pil_font

    real = features.check
    monkeypatch.setattr(features, "check", lambda name: False if name == "raqm" else real(name))
    with pytest.raises(RenderError, match="RAQM"):
        pil_font.__wrapped__(resolve_font("DejaVu Sans").path, 13.0)


def test_unknown_backend_is_named():
    with pytest.raises(UnknownNameError, match="Did you mean: cairosvg"):
        render_text("x", backend="cairo-svg")


def test_grid_fonts_lists_and_verifies_every_family():
    from restplus.grammar.factors import font, modality
    from restplus.grammar.grid import Grid
    from restplus.render import grid_fonts

    g = Grid(font(["Kalam", "Liberation Mono"]), modality(["text", "image"]),
             render={"fallback_fonts": ["DejaVu Sans"]})
    got = grid_fonts(g)
    assert list(got) == ["DejaVu Sans", "Kalam", "Liberation Mono"]
    assert got["Kalam"] == default_manifest().get("Kalam").sha256
    with pytest.raises(UnknownNameError):
        grid_fonts(Grid(font(["Comic Sans"]), modality(["image"])))


@pytest.mark.parametrize("name, twin", [("Arial", "Liberation Sans"), ("Times New Roman", "Liberation Serif"),
                                        ("courier  new", "Liberation Mono"), ("Helvetica", "Liberation Sans")])
def test_a_proprietary_family_names_its_vendored_metric_twin(name, twin):
    from restplus.render.fonts import resolve_font

    with pytest.raises(UnknownNameError, match=f"metric-compatible twin '{twin}'"):
        resolve_font(name)


def test_the_twin_hint_reaches_the_cli(tmp_path, capsys):
    from restplus.cli import main

    p = tmp_path / "s.yaml"
    p.write_text("restplus_spec: 1\nfactors:\n  font: {levels: [Arial, DejaVu Sans]}\n")
    assert main(["validate", str(p)]) == 2
    assert "twin 'Liberation Sans'" in capsys.readouterr().err
