"""Bounded memory: a pixel limit per image, bounded spec includes, a level-count limit."""

from __future__ import annotations

import os
import time

import pytest

import restplus as rp
from restplus.errors import ImageTooLargeError, SpecError
from restplus.grammar import factors, spec
from restplus.grammar.grid import Grid
from restplus.grammar.layouts import Layout
from restplus.render import MAX_PIXELS, functional
from restplus.render.renderer import render_image


@pytest.fixture
def no_canvas(monkeypatch):
    """Fail the test if a canvas is allocated: the limit must be checked before drawing."""
    def refuse(*a, **k):
        raise AssertionError(f"Image.new{a} was called")
    monkeypatch.setattr(functional.Image, "new", refuse)
    monkeypatch.delenv("RESTPLUS_MAX_PIXELS", raising=False)


def test_default_limit_is_50_megapixels(monkeypatch):
    monkeypatch.delenv("RESTPLUS_MAX_PIXELS", raising=False)
    assert MAX_PIXELS == 50_000_000 == functional.pixel_limit()


def test_wide_page_at_1200_dpi_is_refused_before_allocation(no_canvas):
    wide = Layout(page_width_in=40.0, max_height_in=None)
    with pytest.raises(ImageTooLargeError) as exc:
        render_image("a few words\n" * 4, {"dpi": 1200}, 0, layout=wide)
    msg = str(exc.value)
    assert "48000 x" in msg and "50 megapixels" in msg and "max_pixels=" in msg and "RESTPLUS_MAX_PIXELS" in msg


def test_unbounded_page_with_long_text_is_refused_quickly(no_canvas):
    t = time.perf_counter()
    with pytest.raises(ImageTooLargeError, match=r"1200 x \d+ px"):
        render_image("word " * 40_000, {"dpi": 200}, 0, layout=Layout(max_height_in=None))
    assert time.perf_counter() - t < 30


def test_rotation_expansion_counts(no_canvas):
    page = rp.render.layout_only("x " * 500, {"dpi": 200})
    w, h = functional.canvas_size(page, 200)
    limit = w * h + 10  # the page fits, its 45-degree rotation does not
    with pytest.raises(ImageTooLargeError, match="rotated by 45"):
        render_image("x " * 500, {"dpi": 200, "rotation_deg": 45.0}, 0, max_pixels=limit)


def test_limit_can_be_raised_and_lowered(monkeypatch):
    img = rp.render_text("hello", dpi=100)
    n = img.width * img.height
    with pytest.raises(ImageTooLargeError, match=f"limit of {(n - 1) / 1e6:g} megapixels"):
        rp.render_text("hello", dpi=100, max_pixels=n - 1)
    assert rp.render_text("hello", dpi=100, max_pixels=n).png == img.png
    monkeypatch.setenv("RESTPLUS_MAX_PIXELS", str(n - 1))
    with pytest.raises(ImageTooLargeError, match="RESTPLUS_MAX_PIXELS"):
        rp.render_text("hello", dpi=100)
    monkeypatch.setenv("RESTPLUS_MAX_PIXELS", "lots")
    with pytest.raises(ImageTooLargeError, match="not a whole number"):
        rp.render_text("hello", dpi=100)
    with pytest.raises(ImageTooLargeError, match="positive"):
        rp.render_text("hello", dpi=100, max_pixels=0)


# ---------------------------------------------------------------- spec includes

def _spec(tmp_path, include):
    p = tmp_path / "main.yaml"
    p.write_text(f"restplus_spec: 1\nname: x\ninclude: {include}\nfactors:\n  dpi: {{levels: [50], reference: 50}}\n")
    return p


@pytest.mark.parametrize("target", ["/dev/zero", "/dev/null"])
def test_include_of_a_device_is_refused(tmp_path, target):
    t = time.perf_counter()
    with pytest.raises(SpecError, match="not a regular file"):
        spec.load_spec_dict(_spec(tmp_path, target))
    assert time.perf_counter() - t < 5


def test_include_of_a_fifo_is_refused(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    with pytest.raises(SpecError, match="not a regular file"):  # never opened: opening would block
        spec.load_spec_dict(_spec(tmp_path, "pipe.yaml"))


def test_include_of_a_directory_is_refused(tmp_path):
    (tmp_path / "sub").mkdir()
    with pytest.raises(SpecError, match="is a directory"):
        spec.load_spec_dict(_spec(tmp_path, "sub"))


def test_include_is_bounded_like_the_main_file(tmp_path):
    (tmp_path / "big.yaml").write_text("restplus_spec: 1\n# " + "x" * spec.MAX_SPEC_BYTES + "\n")
    with pytest.raises(SpecError, match="big.yaml.*above the limit of 1,000,000"):
        spec.load_spec_dict(_spec(tmp_path, "big.yaml"))


def test_main_spec_read_is_bounded_even_without_a_size(tmp_path):
    # /dev/zero reports size 0; the main file may be any readable path, but is read only up to the limit.
    t = time.perf_counter()
    with pytest.raises(SpecError, match="more than 1,000,000 bytes"):
        spec.load_spec_dict("/dev/zero")
    assert time.perf_counter() - t < 5


# ---------------------------------------------------------------- level count

def test_a_factor_above_the_level_limit_is_refused_early():
    n = 5_000_000
    t = time.perf_counter()
    with pytest.raises(SpecError) as exc:
        Grid.from_dict({"restplus_spec": 1, "name": "x",
                        "factors": {"font": {"levels": [f"f{i}" for i in range(n)], "reference": "f0"}}})
    assert time.perf_counter() - t < 10
    msg = str(exc.value)
    assert "factors.font" in msg and "5,000,000 levels" in msg and f"{factors.MAX_LEVELS:,}" in msg


def test_the_level_limit_is_inclusive():
    levels = [f"f{i}" for i in range(factors.MAX_LEVELS)]
    assert len(rp.font(levels).levels) == factors.MAX_LEVELS
    with pytest.raises(SpecError, match="10,001 levels"):
        rp.font([*levels, "one more"])


def test_the_cairosvg_backend_has_the_same_pixel_limit(tmp_path, monkeypatch):
    p = tmp_path / "s.yaml"
    p.write_text("restplus_spec: 1\nrender: {backend: cairosvg}\nfactors:\n  dpi: {levels: [200]}\n")
    monkeypatch.setenv("RESTPLUS_MAX_PIXELS", "100000")
    with pytest.raises(rp.ImageTooLargeError):
        rp.variants("hello", rp.load_grid(p))
