"""Fuzzing the spec loader: whatever a spec file holds, loading it either gives a Grid or a RestplusError.

Two generators: random YAML *documents* built from spec-shaped pieces (valid keys with wrong-typed,
out-of-range or misspelt values), and random *text* (bytes a user could paste or a tool could cut
short). Any other exception — TypeError, KeyError, RecursionError, a yaml error — is a bug: the CLI
would show it as a traceback.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from restplus.errors import RestplusError
from restplus.grammar.grid import Grid
from restplus.grammar.spec import load_grid

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(["black", "red", "DejaVu Sans", "Kalam", "text", "image",
                                                           "mixed", "plain", "justified", "50", "200", "#ff0000"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                      max_leaves=12)
KINDS = ["dpi", "font", "font_size", "text_color", "background", "layout", "modality", "blur", "jpeg", "noise",
         "rotation", "dpj", "colour"]
GOOD_LEVELS = {"dpi": [50, 100, 200], "font": ["DejaVu Sans", "Kalam"], "font_size": [8, 12], "text_color": ["black",
               "red"], "modality": ["text", "image", "mixed"], "blur": [0, 1.5], "jpeg": [95, 30], "rotation": [0, 5]}


def good_factor_for(k: str) -> st.SearchStrategy:
    """A valid factor of kind ``k``: some of its levels, sometimes a reference among them."""
    return st.lists(st.sampled_from(GOOD_LEVELS[k]), min_size=1, max_size=3, unique=True).flatmap(
        lambda lv: st.one_of(st.just({"levels": lv}), st.sampled_from(lv).map(lambda r: {"levels": lv,
                                                                                           "reference": r})))


good_factor = st.sampled_from(sorted(GOOD_LEVELS)).flatmap(good_factor_for)
factor_spec = st.one_of(good_factor, st.fixed_dictionaries({}, optional={
    "levels": st.one_of(st.lists(scalars, max_size=5), values), "reference": scalars, "kind": st.sampled_from(KINDS),
    "ordered": st.one_of(st.booleans(), scalars), "description": values}))
specs = st.fixed_dictionaries(
    {"restplus_spec": st.one_of(st.just(1), scalars)},
    optional={
        "name": st.one_of(st.text(max_size=10), values),
        "description": values,
        "factors": st.one_of(st.dictionaries(st.sampled_from(KINDS), factor_spec, min_size=1, max_size=4),
                             st.dictionaries(st.sampled_from(KINDS), st.one_of(factor_spec, values), max_size=4),
                             values),
        "design": st.one_of(st.fixed_dictionaries({"type": st.sampled_from(["full", "union", "sample", "ofat",
                                                                             "one_at_a_time", "fancy"])},
                                                  optional={"arms": values, "n": scalars, "fraction": scalars,
                                                            "seed": scalars}), values),
        "render": st.one_of(st.dictionaries(st.sampled_from(["font", "dpi", "font_size", "backend", "text_color",
                                                              "layout", "margin_in", "fallback_fonts", "bogus"]),
                                            values, max_size=4), values),
        "layouts": values, "exclude": values, "modalities": values,
    })

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _load(text: str | bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "spec.yaml"
        p.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
        try:
            g = load_grid(p)
        except RestplusError as exc:
            assert str(exc).strip(), "an error must say what was wrong"
            return
        assert isinstance(g, Grid) and g.n_cells >= 1


@FUZZ
@given(specs)
def test_spec_shaped_documents_load_or_raise_a_restplus_error(doc):
    _load(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))


@FUZZ
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_arbitrary_text_loads_or_raises_a_restplus_error(text):
    _load(text)


@FUZZ
@given(specs, st.integers(0, 400))
def test_a_spec_cut_short_anywhere_loads_or_raises_a_restplus_error(doc, cut):
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    _load(text[:cut])


valid_specs = st.fixed_dictionaries({
    "restplus_spec": st.just(1),
    "factors": st.lists(st.sampled_from(sorted(GOOD_LEVELS)), min_size=1, max_size=4, unique=True).flatmap(
        lambda names: st.fixed_dictionaries({n: good_factor_for(n) for n in names}))})


@FUZZ
@given(valid_specs)
def test_valid_specs_load_with_the_product_of_their_level_counts(doc):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "spec.yaml"
        p.write_text(yaml.safe_dump(doc, sort_keys=False))
        g = load_grid(p)
    visual = 1
    for name, f in doc["factors"].items():
        visual *= len(f["levels"]) if name != "modality" else 1
    mods = doc["factors"].get("modality", {"levels": ["image"]})["levels"]
    # a text cell has no visual levels: one text cell, and every visual combination per rendered modality
    assert g.n_cells == ("text" in mods) + sum(m != "text" for m in mods) * visual
    assert [f.name for f in g.factors] == list(doc["factors"])
    for name, f in doc["factors"].items():
        assert g.reference[name] == f.get("reference", f["levels"][0])


# Lines of YAML syntax a spec loader must survive: anchors and aliases (also merge keys), tags,
# timestamps and sets, several documents, duplicate keys, includes of odd targets, flow nesting.
YAML_LINES = st.sampled_from([
    "restplus_spec: 1", "restplus_spec: 1.0", "restplus_spec: !!str 1", "factors:", "factors: {}",
    "  dpi: {levels: [50, 100], reference: 50}", "  dpi: &d {levels: [50]}", "  font_size: *d",
    "  modality: {levels: [text, image]}", "  <<: *d", "base: &b {dpi: 100}", "render: {<<: *b}",
    "render:", "  dpi: 100", "  dpi: 200", "  fallback_fonts: DejaVu Sans", "  font: Arial",
    "description: !!binary aGVsbG8=", "description: !!set {a, b}", "name: 2024-01-01", "name: !!timestamp 2001-12-14",
    "name: ~", "---", "...", "include: other.yaml", "include: sub", "include: spec.yaml", "include: /dev/null",
    "include: [other.yaml, other.yaml]", "design: {type: sample, fraction: '0.5'}", "design: {type: sample, n: 2}",
    "layouts: {w: {page_width_in: wide}}", "exclude: [{dpi: 50}]", "x: [[[[[[[[[[]]]]]]]]]]", "\t- tab", "? complex",
    ": value", "key: 'unterminated", "%YAML 1.1", "!!python/name:os.system", "a: *undefined",
])


@FUZZ
@given(st.lists(YAML_LINES, min_size=1, max_size=12))
def test_yaml_syntax_mixes_load_or_raise_a_restplus_error(lines):
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "sub").mkdir()
        (Path(d) / "other.yaml").write_text("restplus_spec: 1\nrender: {dpi: 50}\n")
        p = Path(d) / "spec.yaml"
        p.write_text("\n".join(lines) + "\n", encoding="utf-8")
        try:
            g = load_grid(p)
        except RestplusError as exc:
            assert str(exc).strip() and "\n" not in str(exc).strip(), str(exc)
            return
        assert isinstance(g, Grid) and g.n_cells >= 1
