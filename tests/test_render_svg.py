"""The cairosvg backend: vendored fonts only, verified resolution, same layout as Pillow."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from restplus.errors import FontError
from restplus.grammar.factors import dpi, modality
from restplus.grammar.grid import Grid
from restplus.problems.base import Problem, Segment
from restplus.render import render_text
from restplus.render.fonts import default_manifest
from restplus.render.svg import fontconfig_file, fontconfig_match, verify_family
from restplus.variants.realization import realize

TEXT = "Ada buys 3 boxes of 12 pencils and gives away 7 of them. How many pencils are left over at the end?"


@pytest.mark.parametrize("family", default_manifest().names())
def test_every_vendored_family_resolves_to_its_vendored_file(family):
    assert os.path.realpath(fontconfig_match(family)) == os.path.realpath(default_manifest().get(family).path)


def test_fontconfig_sees_no_host_fonts():
    conf = Path(fontconfig_file()).read_text()
    assert "/etc/fonts" not in conf and "/usr/share/fonts" not in conf
    # a host font family falls back to a vendored file instead of resolving on the host
    assert fontconfig_match("Noto Sans").startswith(str(default_manifest().get("DejaVu Sans").path.rsplit("/", 2)[0]))


def test_unresolved_family_is_a_font_error():
    # The family exists but resolves to another file than the one we claim: cairo would draw the wrong font.
    with pytest.raises(FontError, match="silently"):
        verify_family("Kalam", default_manifest().get("Comic Neue").path)
    with pytest.raises(FontError):
        verify_family("No Such Family", default_manifest().get("DejaVu Sans").path + ".x")


@pytest.mark.parametrize("family", ["DejaVu Sans", "Kalam", "Liberation Mono"])
def test_cairosvg_matches_pillow_geometry_and_text(family):
    pil = render_text(TEXT, font=family, dpi=100)
    svg = render_text(TEXT, font=family, dpi=100, backend="cairosvg")
    assert (svg.width, svg.height) == (pil.width, pil.height)
    assert svg.rendered_text == pil.rendered_text
    prov = dict(svg.provenance)
    assert prov["backend"] == "cairosvg" and prov["libraries"]["cairosvg"] and prov["libraries"]["fontconfig"]
    # the same font draws ink in nearly the same places (cairo does not kern; hinting differs)
    a = np.asarray(Image.open(io.BytesIO(pil.png)).convert("L")) < 128
    b = np.asarray(Image.open(io.BytesIO(svg.png)).convert("L")) < 128
    assert a.sum() > 0 and abs(int(a.sum()) - int(b.sum())) / a.sum() < 0.25
    rows_a, rows_b = np.flatnonzero(a.any(axis=1)), np.flatnonzero(b.any(axis=1))
    assert abs(rows_a[0] - rows_b[0]) <= 2 and abs(rows_a[-1] - rows_b[-1]) <= 2


def test_cairosvg_draws_different_fonts_differently():
    a = render_text(TEXT, font="DejaVu Sans", dpi=50, backend="cairosvg")
    b = render_text(TEXT, font="Kalam", dpi=50, backend="cairosvg")
    assert a.pixel_sha256 != b.pixel_sha256


def test_cairosvg_fallback_font_runs():
    img = render_text("Let α = 3 → done", font="Kalam", dpi=100, backend="cairosvg", fallback_fonts=["DejaVu Sans"])
    assert dict(img.provenance)["fallback_fonts_used"] == {"α": "DejaVu Sans", "→": "DejaVu Sans"}


def test_cairosvg_backend_through_realize_is_deterministic_across_processes():
    code = ("from restplus.render import render_text;"
            "print(render_text('Solve: 3A + 2B = 7', font='Kalam', dpi=100, backend='cairosvg').sha256)")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    env.pop("FONTCONFIG_FILE", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == render_text("Solve: 3A + 2B = 7", font="Kalam", dpi=100, backend="cairosvg").sha256
    g = Grid(dpi([50, 100], reference=100), modality(["image"]), render={"backend": "cairosvg"})
    p = Problem(segments=(Segment("question", "What is 2 + 3?"),), answer="5", answer_type="number")
    v = [realize(p, g, c, 0) for c in g.cells()]
    assert [dict(x.images[0].provenance)["backend"] for x in v] == ["cairosvg", "cairosvg"]
    assert v[0].images[0].rendered_text == v[1].images[0].rendered_text == "What is 2 + 3?"
