"""The flat public API: every exported name resolves, and key reprs are stable."""

from __future__ import annotations

import pytest

import restplus as rp


def test_every_exported_name_resolves():
    for name in rp.__all__:
        assert getattr(rp, name) is not None, name


def test_core_names_are_exported():
    core = {"Grid", "dpi", "font", "text_color", "modality", "load_grid", "generate", "VariantSet", "variants",
            "evaluate", "effects", "consistency", "write_report", "realize", "models", "RestplusError"}
    assert core <= set(rp.__all__)


def test_unknown_attribute_suggests_nearest():
    with pytest.raises(AttributeError, match="Did you mean: evaluate"):
        rp.evaluat  # noqa: B018


def test_factor_and_grid_reprs():
    f = rp.dpi([50, 100, 200], reference=200)
    assert repr(f) == "rp.dpi([50, 100, 200], reference=200)"
    g = rp.Grid(f, rp.modality(["text", "image"]), name="x")
    assert repr(g) == ("rp.Grid(rp.dpi([50, 100, 200], reference=200), "
                       "rp.modality(['text', 'image'], reference='text'), name='x')")
