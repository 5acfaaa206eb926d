"""Documented bounds: pixels per image, levels per factor (cells and spec bytes have their own tests)."""

from __future__ import annotations

import pytest

import restplus as rp
from restplus.grammar.factors import MAX_LEVELS
from restplus.render.functional import MAX_PIXELS, MAX_PIXELS_ENV

WIDE = ("restplus_spec: 1\nlayouts:\n  wide: {page_width_in: 40}\nrender: {layout: wide}\n"
        "factors:\n  dpi: {levels: [%d]}\n")


def _grid(tmp_path, dpi: int) -> rp.Grid:
    p = tmp_path / "s.yaml"
    p.write_text(WIDE % dpi)
    return rp.load_grid(p)


def test_a_render_above_the_pixel_budget_is_refused_before_allocating(tmp_path):
    with pytest.raises(rp.PixelBudgetError) as ei:
        rp.variants("hello world " * 50, _grid(tmp_path, 1200))
    msg = str(ei.value)
    assert "48000x" in msg and f"budget of {MAX_PIXELS / 1e6:g} MP" in msg and MAX_PIXELS_ENV in msg
    assert isinstance(ei.value, rp.RenderError)


def test_the_budget_is_raised_and_validated_through_the_environment(tmp_path, monkeypatch):
    grid = _grid(tmp_path, 300)  # 12000 px wide: fine under the default
    assert rp.variants("hello", grid)[0].images[0].width == 12000
    monkeypatch.setenv(MAX_PIXELS_ENV, "1000000")
    with pytest.raises(rp.PixelBudgetError, match="above the budget of 1 MP"):
        rp.variants("hello", grid)
    monkeypatch.setenv(MAX_PIXELS_ENV, "lots")
    with pytest.raises(rp.PixelBudgetError, match="must be a positive whole number"):
        rp.variants("hello", grid)


def test_cairosvg_backend_has_the_same_budget(tmp_path, monkeypatch):
    p = tmp_path / "s.yaml"
    p.write_text("restplus_spec: 1\nrender: {backend: cairosvg}\nfactors:\n  dpi: {levels: [200]}\n")
    monkeypatch.setenv(MAX_PIXELS_ENV, "100000")
    with pytest.raises(rp.PixelBudgetError, match="at 200 DPI"):
        rp.variants("hello", rp.load_grid(p))


def test_a_factor_with_too_many_levels_is_refused_at_once():
    with pytest.raises(rp.SpecError, match=f"5000000 levels, above the limit of {MAX_LEVELS}"):
        rp.dpi(list(range(1, 5_000_001)))
    assert len(rp.font_size(list(range(4, 33))).levels) == 29
