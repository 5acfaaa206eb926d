"""The flat public API: every exported name resolves, and key reprs are stable."""

from __future__ import annotations

import types

import pytest

import restplus as rp


def test_every_exported_name_resolves():
    assert len(set(rp.__all__)) == len(rp.__all__)  # no name listed twice
    for name in rp.__all__:
        obj = getattr(rp, name)  # raises AttributeError if the lazy export is broken
        if isinstance(obj, (int, str)):  # SPEC_VERSION, __version__
            assert obj, name
            continue
        # the flat API re-exports restplus' own objects, not a third-party name of the same spelling
        where = obj.__name__ if isinstance(obj, types.ModuleType) else obj.__module__
        assert where == "restplus" or where.startswith("restplus."), (name, where)


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
