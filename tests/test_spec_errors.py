"""Table-driven: malformed specs each raise the expected error class with a useful message."""

from __future__ import annotations

import textwrap

import pytest

import restplus as rp
from restplus.grammar.spec import load_grid

OK_FACTORS = "factors:\n  dpi: {levels: [50, 200], reference: 200}\n"

CASES = [
    # (id, spec text, error class, message fragment)
    ("missing-version", OK_FACTORS, rp.SpecError, "restplus_spec"),
    ("wrong-version", "restplus_spec: 2\n" + OK_FACTORS, rp.SpecError, "restplus_spec=2"),
    ("version-string", "restplus_spec: 'one'\n" + OK_FACTORS, rp.SpecError, "must be the integer format version"),
    ("unknown-top-key", "restplus_spec: 1\nfactorz: {}\n" + OK_FACTORS, rp.SpecError, "Did you mean: factors"),
    ("typo-design", "restplus_spec: 1\ndesgin: full\n" + OK_FACTORS, rp.SpecError, "design"),
    ("no-factors", "restplus_spec: 1\nname: x\n", rp.SpecError, "'factors'"),
    ("factors-not-mapping", "restplus_spec: 1\nfactors: [dpi]\n", rp.SpecError, "non-empty mapping"),
    ("unknown-kind", "restplus_spec: 1\nfactors:\n  colour: {levels: [red], reference: red}\n",
     rp.UnknownNameError, "colour"),
    ("unknown-kind-explicit", "restplus_spec: 1\nfactors:\n  ink: {kind: txt_color, levels: [red], reference: red}\n",
     rp.UnknownNameError, "Did you mean: text_color"),
    ("factor-unknown-key", "restplus_spec: 1\nfactors:\n  dpi: {levels: [50], reference: 50, refrence: 50}\n",
     rp.SpecError, "Did you mean: reference"),
    ("missing-levels", "restplus_spec: 1\nfactors:\n  dpi: {reference: 50}\n", rp.SpecError, "no 'levels'"),
    ("empty-levels", "restplus_spec: 1\nfactors:\n  dpi: {levels: [], reference: 50}\n", rp.SpecError, "no levels"),
    ("levels-not-list", "restplus_spec: 1\nfactors:\n  dpi: {levels: 50, reference: 50}\n", rp.SpecError,
     "must be a list"),
    ("reference-not-level", "restplus_spec: 1\nfactors:\n  dpi: {levels: [50, 100], reference: 200}\n",
     rp.SpecError, "reference=200 is not one of its levels"),
    ("duplicate-levels", "restplus_spec: 1\nfactors:\n  dpi: {levels: [50, 50], reference: 50}\n",
     rp.SpecError, "duplicate level 50"),
    ("negative-dpi", "restplus_spec: 1\nfactors:\n  dpi: {levels: [-50, 100], reference: 100}\n",
     rp.SpecError, "-50"),
    ("zero-dpi", "restplus_spec: 1\nfactors:\n  dpi: {levels: [0, 100], reference: 100}\n", rp.SpecError, "range"),
    ("dpi-as-string", "restplus_spec: 1\nfactors:\n  dpi: {levels: ['300dpi'], reference: '300dpi'}\n",
     rp.SpecError, "Expected a number"),
    ("dpi-fractional", "restplus_spec: 1\nfactors:\n  dpi: {levels: [72.5], reference: 72.5}\n",
     rp.SpecError, "whole number"),
    ("bad-colour", "restplus_spec: 1\nfactors:\n  text_color: {levels: [blakc], reference: blakc}\n",
     rp.SpecError, "Did you mean: black"),
    ("bad-hex", "restplus_spec: 1\nfactors:\n  text_color: {levels: ['#12345'], reference: '#12345'}\n",
     rp.SpecError, "#12345"),
    ("colour-not-string", "restplus_spec: 1\nfactors:\n  background: {levels: [12], reference: 12}\n",
     rp.SpecError, "not a colour"),
    ("bad-modality", "restplus_spec: 1\nfactors:\n  modality: {levels: [text, imgae], reference: text}\n",
     rp.UnknownNameError, "Did you mean: image"),
    ("bad-layout", "restplus_spec: 1\nfactors:\n  layout: {levels: [plain, two_colum], reference: plain}\n",
     rp.UnknownNameError, "two_column"),
    ("bad-layout-setting", "restplus_spec: 1\nlayouts:\n  x: {alignment: left}\nfactors:\n"
     "  layout: {levels: [x], reference: x}\n", rp.SpecError, "Did you mean: align"),
    ("bad-layout-align", "restplus_spec: 1\nlayouts:\n  x: {align: centre}\nfactors:\n"
     "  layout: {levels: [x], reference: x}\n", rp.SpecError, "center"),
    ("font-size-zero", "restplus_spec: 1\nfactors:\n  font_size: {levels: [0, 12], reference: 12}\n",
     rp.SpecError, "range"),
    ("blur-negative", "restplus_spec: 1\nfactors:\n  blur: {levels: [-1, 0], reference: 0}\n", rp.SpecError, "-1"),
    ("jpeg-too-high", "restplus_spec: 1\nfactors:\n  jpeg: {levels: [none, 101], reference: none}\n",
     rp.SpecError, "101"),
    ("bool-level", "restplus_spec: 1\nfactors:\n  dpi: {levels: [true], reference: true}\n", rp.SpecError, "number"),
    ("unknown-design", "restplus_spec: 1\ndesign: fractional\n" + OK_FACTORS, rp.SpecError, "fractional"),
    ("design-bad-key", "restplus_spec: 1\ndesign: {type: union, armz: []}\n" + OK_FACTORS, rp.SpecError, "arms"),
    ("union-unknown-factor", "restplus_spec: 1\ndesign: {type: union, arms: [[dpo]]}\n" + OK_FACTORS,
     rp.SpecError, "Did you mean: dpi"),
    ("sample-no-size", "restplus_spec: 1\ndesign: {type: sample, seed: 1}\n" + OK_FACTORS, rp.SpecError,
     "exactly one of n or fraction"),
    ("exclude-unknown-factor", "restplus_spec: 1\nexclude: [{dpj: 50}]\n" + OK_FACTORS, rp.SpecError,
     "Did you mean: dpi"),
    ("exclude-unknown-level", "restplus_spec: 1\nexclude: [{dpi: 75}]\n" + OK_FACTORS, rp.SpecError,
     "dpi=75 is not a level"),
    ("exclude-everything", "restplus_spec: 1\nexclude: [{dpi: 50}, {dpi: 200}]\n" + OK_FACTORS, rp.DesignError,
     "no cells"),
    ("exclude-not-list", "restplus_spec: 1\nexclude: {dpi: 50}\n" + OK_FACTORS, rp.SpecError, "list"),
    ("render-unknown-key", "restplus_spec: 1\nrender: {fontsize: 12}\n" + OK_FACTORS, rp.SpecError,
     "Did you mean: font_size_pt"),
    ("render-bad-backend", "restplus_spec: 1\nrender: {backend: skia}\n" + OK_FACTORS, rp.SpecError, "pillow"),
    ("modality-plan-bad-role", "restplus_spec: 1\nmodalities: {mixed: {image_roles: [stem]}}\n" + OK_FACTORS,
     rp.SpecError, "unknown role 'stem'"),
    ("python-tag", "restplus_spec: 1\nname: !!python/object/apply:os.system ['echo pwned']\n" + OK_FACTORS,
     rp.SpecError, "never executed"),
    ("python-name-tag", "restplus_spec: 1\nname: !!python/name:os.system\n" + OK_FACTORS, rp.SpecError,
     "never executed"),
    ("not-a-mapping", "- just\n- a list\n", rp.SpecError, "mapping at top level"),
    ("invalid-yaml", "restplus_spec: 1\nfactors: {dpi: [\n", rp.SpecError, "not valid YAML"),
    ("duplicate-kind", "restplus_spec: 1\nfactors:\n  ink: {kind: text_color, levels: [red], reference: red}\n"
     "  text_color: {levels: [black], reference: black}\n", rp.SpecError, "more than one factor"),
]


@pytest.mark.parametrize("case_id,text,err,fragment", CASES, ids=[c[0] for c in CASES])
def test_malformed_spec(tmp_path, case_id, text, err, fragment):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    with pytest.raises(err) as info:
        load_grid(path)
    assert isinstance(info.value, rp.RestplusError)
    assert fragment in str(info.value), str(info.value)


def test_there_are_at_least_thirty_cases():
    assert len(CASES) >= 30


def test_include_cycle(tmp_path):
    (tmp_path / "a.yaml").write_text("restplus_spec: 1\ninclude: b.yaml\n" + OK_FACTORS)
    (tmp_path / "b.yaml").write_text("restplus_spec: 1\ninclude: a.yaml\n")
    with pytest.raises(rp.SpecError, match="include cycle: a.yaml -> b.yaml -> a.yaml"):
        load_grid(tmp_path / "a.yaml")


def test_missing_include(tmp_path):
    (tmp_path / "a.yaml").write_text("restplus_spec: 1\ninclude: nope.yaml\n" + OK_FACTORS)
    with pytest.raises(rp.SpecError, match="nope.yaml"):
        load_grid(tmp_path / "a.yaml")


def test_include_merges_and_overrides(tmp_path):
    (tmp_path / "base.yaml").write_text("restplus_spec: 1\nrender: {font: Kalam, dpi: 100}\n")
    (tmp_path / "a.yaml").write_text(textwrap.dedent("""\
        restplus_spec: 1
        include: base.yaml
        render: {dpi: 150}
        factors:
          text_color: {levels: [black, red], reference: black}
        """))
    g = load_grid(tmp_path / "a.yaml")
    assert g.render.font == "Kalam" and g.render.dpi == 150


def test_json_spec_accepted(tmp_path):
    p = tmp_path / "s.json"
    p.write_text('{"restplus_spec": 1, "factors": {"dpi": {"levels": [50, 200], "reference": 200}}}')
    assert load_grid(p).n_cells == 2


def test_reference_defaults_to_the_first_level_in_spec_files_as_in_python(tmp_path):
    # one rule in both: the first level is the reference unless `reference` names another
    p = tmp_path / "s.yaml"
    p.write_text("restplus_spec: 1\nfactors:\n  dpi: {levels: [50, 100]}\n  modality: {levels: [text, image]}\n")
    g = rp.load_grid(p)
    assert g.reference["dpi"] == 50 == rp.dpi([50, 100]).reference
    assert g.spec_hash == rp.Grid(rp.dpi([50, 100]), rp.modality(["text", "image"])).spec_hash


@pytest.mark.parametrize("key", ["layouts", "render", "modalities"])
def test_a_section_that_must_be_a_mapping_is_named_when_it_is_a_list(tmp_path, key):
    # found by tests/test_spec_fuzz.py: `layouts: [a, b]` gave AttributeError ('list' object has no 'items')
    p = tmp_path / "s.yaml"
    p.write_text(f"restplus_spec: 1\n{key}: [a, b]\nfactors:\n  dpi: {{levels: [50]}}\n")
    with pytest.raises(rp.SpecError, match=rf"s.yaml: '{key}' must be a mapping .*got list"):
        rp.load_grid(p)


def test_a_missing_include_names_the_include_and_where_it_was_looked_for(tmp_path):
    p = tmp_path / "copied.yaml"
    p.write_text("restplus_spec: 1\ninclude: _defaults.yaml\nfactors:\n  dpi: {levels: [50]}\n")
    with pytest.raises(rp.SpecError) as ei:
        rp.load_grid(p)
    msg = str(ei.value)
    assert "copied.yaml: include '_defaults.yaml' was looked for at" in msg and str(tmp_path / "_defaults.yaml") in msg
    assert "perturbations/_defaults.yaml" in msg


def test_the_files_a_spec_was_read_from_are_recorded_with_their_sha256(tmp_path):
    import hashlib
    import json

    from restplus.problems import builtin_set

    (tmp_path / "base.yaml").write_text("restplus_spec: 1\nrender: {dpi: 100}\n")
    p = tmp_path / "s.yaml"
    p.write_text("restplus_spec: 1\ninclude: base.yaml\nfactors:\n  dpi: {levels: [50]}\n")
    g = rp.load_grid(p)
    want = [(str(f.resolve()), hashlib.sha256(f.read_bytes()).hexdigest()) for f in (p, tmp_path / "base.yaml")]
    assert list(g.sources) == want
    assert g.spec_hash == rp.Grid.from_dict(g.to_dict()).spec_hash  # provenance, not identity
    run = rp.generate(builtin_set("arith", n=1), g, out=tmp_path / "run", progress=False)
    files = json.loads((run.path / "manifest.json").read_text())["spec_files"]
    assert [(f["path"], f["sha256"]) for f in files] == want
