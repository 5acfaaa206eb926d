"""One Registry type behind every plug-in point: same verb, same clash rule, same did-you-mean."""

import pytest

import restplus as rp
from restplus.errors import ExtractionError, ModelError, RenderError, SpecError, UnknownNameError
from restplus.grammar.factors import KINDS
from restplus.grammar.layouts import PRESETS
from restplus.models import ADAPTERS
from restplus.problems.extract import EXTRACTORS
from restplus.registry import Registry
from restplus.render.degrade import DEGRADATIONS, Degradation


def test_register_replace_unregister_and_order():
    r: Registry[int] = Registry("widget", SpecError)
    r.register("a", 1)
    r.register("c", 3)
    r.register("b", 2, before="c")
    assert r.names() == ["a", "b", "c"]
    assert r.register("a", 1) == 1  # the same item again is a no-op (modules re-imported)
    with pytest.raises(SpecError, match="widget 'a' is already registered .*replace=True"):
        r.register("a", 9)
    r.register("a", 9, replace=True)
    assert r["a"] == 9 and r.names() == ["a", "b", "c"]  # replacing keeps the place
    r.register("c", 30, replace=True, before="a")
    assert r.names() == ["c", "a", "b"]
    assert r.unregister("b") == 2 and "b" not in r
    with pytest.raises(UnknownNameError, match="Unknown widget 'cc'. Did you mean: c\\?"):
        r["cc"]
    with pytest.raises(UnknownNameError, match="Unknown widget"):
        r.register("d", 4, before="zz")
    with pytest.raises(SpecError, match="non-empty string"):
        r.register("", 5)
    with pytest.raises(UnknownNameError):
        r[["unhashable"]]  # a list from a spec file is an unknown name, not a TypeError


@pytest.mark.parametrize("reg, what, error", [
    (KINDS, "factor kind", SpecError), (PRESETS, "layout", SpecError),
    (DEGRADATIONS, "degradation", RenderError), (EXTRACTORS, "answer extractor", ExtractionError),
    (ADAPTERS, "model adapter", ModelError)])
def test_every_plugin_point_is_a_registry(reg, what, error):
    assert isinstance(reg, Registry) and reg.what == what and reg.error is error
    name = reg.names()[0]
    with pytest.raises(UnknownNameError, match=f"Unknown {what} '{name}x'. Did you mean: {name}"):
        reg[name + "x"]


def test_public_register_functions_share_the_verb():
    lay = rp.Layout(page_width_in=5.0)
    rp.register_layout("test_five", lay)
    try:
        with pytest.raises(SpecError, match="already registered"):
            rp.register_layout("test_five", rp.Layout(page_width_in=6.0))
        rp.register_layout("test_five", rp.Layout(page_width_in=6.0), replace=True)
        assert PRESETS["test_five"].page_width_in == 6.0
    finally:
        PRESETS.unregister("test_five")
    step = Degradation("test_step", "test_param", bool, lambda im, v, s, c: (im, {}))
    rp.register_degradation(step, before="jpeg")
    try:
        assert DEGRADATIONS.names()[-2:] == ["test_step", "jpeg"]
    finally:
        DEGRADATIONS.unregister("test_step")
