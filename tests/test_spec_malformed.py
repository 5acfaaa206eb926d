"""Malformed spec files, table-driven: each gives one line naming the problem, never a traceback.

Run through the CLI (`restplus validate FILE`), as a user meets them.
"""

from __future__ import annotations

import pytest

import restplus as rp
from restplus.cli import main

HEAD = "restplus_spec: 1\n"
MOD = "  modality: {levels: [text, image], reference: text}\n"

CASES = [
    # (id, file text, fragment the message must contain)
    ("not-mapping", "- 1\n- 2\n", "must contain a mapping"),
    ("empty", "", "must contain a mapping"),
    ("bad-yaml", "restplus_spec: 1\nfactors: {dpi: [\n", "not valid YAML at line"),
    ("no-version", "factors: {}\n", "missing required key 'restplus_spec'"),
    ("version-2", "restplus_spec: 2\n", "restplus_spec=2 is not supported"),
    ("version-bool", "restplus_spec: true\n", "must be the integer format version"),
    ("version-str", "restplus_spec: '1'\n", "restplus_spec='1' must be the integer format version"),
    ("unknown-top", HEAD + "factor: {}\n", "Did you mean: factors"),
    ("python-tag", HEAD + "name: !!python/object/apply:os.system ['true']\n", "never executed"),
    ("alias-bomb", HEAD + "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     "description: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n", "aliases"),
    ("deep", HEAD + "description: " + "[" * 10000 + "]" * 10000 + "\n", "nested too deeply"),
    ("dup-key", HEAD + "render: {dpi: 100}\nrender: {dpi: 200}\n", "duplicate key 'render'"),
    ("dup-key-flow", HEAD + "render: {dpi: 100, dpi: 200}\n", "duplicate key 'dpi'"),
    ("dup-factor-key", HEAD + "factors:\n  dpi: {levels: [50], reference: 50, reference: 50}\n" + MOD,
     "duplicate key 'reference'"),
    ("name-mapping", HEAD + "name: {a: 1}\nfactors:\n" + MOD, "grid name="),
    ("name-empty", HEAD + "name: ''\nfactors:\n" + MOD, "non-empty string"),
    ("description-list", HEAD + "description: [a, b]\nfactors:\n" + MOD, "description must be a string"),
    ("no-factors", HEAD + "name: x\n", "'factors' must be a non-empty mapping"),
    ("factors-list", HEAD + "factors: [dpi]\n", "'factors' must be a non-empty mapping"),
    ("factor-not-mapping", HEAD + "factors:\n  dpi: [50, 100]\n" + MOD, "must be a mapping"),
    ("factor-unknown-key", HEAD + "factors:\n  dpi: {levels: [50], reference: 50, refrence: 50}\n" + MOD,
     "Did you mean: reference"),
    ("levels-not-list", HEAD + "factors:\n  dpi: {levels: 50, reference: 50}\n" + MOD, "levels must be a list"),
    ("levels-empty", HEAD + "factors:\n  dpi: {levels: [], reference: 50}\n" + MOD, "no levels"),
    ("reference-missing", HEAD + "factors:\n  dpi: {levels: [50, 100], reference: 70}\n" + MOD,
     "not one of its levels"),
    ("dpi-string", HEAD + "factors:\n  dpi: {levels: ['50'], reference: '50'}\n" + MOD, "got '50' (type=str)"),
    ("dpi-bool", HEAD + "factors:\n  dpi: {levels: [true], reference: true}\n" + MOD, "got True (type=bool)"),
    ("dpi-range", HEAD + "factors:\n  dpi: {levels: [5], reference: 5}\n" + MOD,
     "factors.dpi: dpi level 5 is outside the valid range [10, 1200]"),
    ("dpi-float", HEAD + "factors:\n  dpi: {levels: [50.5], reference: 50.5}\n" + MOD,
     "dpi level 50.5 must be a whole number"),
    ("dpi-nan", HEAD + "factors:\n  dpi: {levels: [.nan], reference: .nan}\n" + MOD, "dpi level nan is not finite"),
    ("dup-level", HEAD + "factors:\n  font_size: {levels: [12, 12.0], reference: 12}\n" + MOD, "duplicate level"),
    ("unknown-kind", HEAD + "factors:\n  ink: {kind: txt_color, levels: [red], reference: red}\n" + MOD,
     "Did you mean: text_color"),
    ("bad-colour", HEAD + "factors:\n  text_color: {levels: [reddish], reference: reddish}\n" + MOD, "reddish"),
    ("unknown-layout", HEAD + "factors:\n  layout: {levels: [plian], reference: plian}\n" + MOD,
     "Did you mean: plain"),
    ("unknown-modality", HEAD + "factors:\n  modality: {levels: [txt, image], reference: image}\n",
     "Did you mean: text"),
    ("jpeg-range", HEAD + "factors:\n  jpeg: {levels: [0], reference: 0}\n" + MOD,
     "jpeg level 0 is outside the valid range [1, 100]"),
    ("rotation-range", HEAD + "factors:\n  rotation: {levels: [720], reference: 720}\n" + MOD,
     "rotation level 720 is outside the valid range [-45, 45]"),
    ("noise-negative", HEAD + "factors:\n  noise: {levels: [-5], reference: -5}\n" + MOD,
     "noise level -5 is outside the valid range [0, 128]"),
    ("blur-huge", HEAD + "factors:\n  blur: {levels: [1.0e9], reference: 1.0e9}\n" + MOD,
     "blur level 1000000000.0 is outside the valid range [0, 20]"),
    ("two-factors-one-kind", HEAD + "factors:\n  a: {kind: dpi, levels: [50], reference: 50}\n"
     "  b: {kind: dpi, levels: [100], reference: 100}\n" + MOD, "more than one factor"),
    ("render-unknown", HEAD + "render: {dip: 100}\nfactors:\n" + MOD, "Did you mean: dpi"),
    ("render-backend", HEAD + "render: {backend: cairo}\nfactors:\n" + MOD, "Did you mean: cairosvg"),
    ("render-fallback-str", HEAD + "render: {fallback_fonts: DejaVu Sans}\nfactors:\n" + MOD,
     "must be a list of font family names"),
    ("render-font-unknown", HEAD + "render: {font: Arial}\nfactors:\n" + MOD, "Unknown font 'Arial'"),
    ("font-level-unknown", HEAD + "factors:\n  font: {levels: [Arial, DejaVu Sans], reference: DejaVu Sans}\n"
     + MOD, "Unknown font 'Arial'"),
    ("render-dpi-str", HEAD + "render: {dpi: high}\nfactors:\n" + MOD, "render.dpi='high': Expected a number"),
    ("layout-unknown-key", HEAD + "layouts: {roomy: {line_spaceing: 2}}\nfactors:\n" + MOD,
     "Did you mean: line_spacing"),
    ("layout-width-str", HEAD + "layouts: {w: {page_width_in: wide}}\nfactors:\n" + MOD,
     "layout page_width_in='wide' must be a number"),
    ("layout-columns", HEAD + "layouts: {w: {columns: 3}}\nfactors:\n" + MOD,
     "layouts.w: layout columns=3: only 1 or 2"),
    ("layout-align", HEAD + "layouts: {w: {align: centre}}\nfactors:\n" + MOD, "align='centre' is not one of"),
    ("design-unknown", HEAD + "factors:\n" + MOD + "design: {type: ful}\n", "Did you mean: full"),
    ("design-key", HEAD + "factors:\n" + MOD + "design: {type: full, n: 3}\n", "unknown key 'n'"),
    ("sample-fraction-str", HEAD + "factors:\n" + MOD + "design: {type: sample, fraction: '0.5'}\n",
     "design sample fraction='0.5' must be a number"),
    ("sample-fraction-range", HEAD + "factors:\n" + MOD + "design: {type: sample, fraction: 1.5}\n",
     "must be in (0, 1]"),
    ("sample-both", HEAD + "factors:\n" + MOD + "design: {type: sample, n: 2, fraction: 0.5}\n",
     "exactly one of n or fraction"),
    ("sample-seed-str", HEAD + "factors:\n" + MOD + "design: {type: sample, n: 1, seed: x}\n",
     "seed='x' must be an integer"),
    ("exclude-not-list", HEAD + "factors:\n" + MOD + "exclude: {modality: text}\n", "must be a list"),
    ("modalities-unknown", HEAD + "factors:\n" + MOD + "modalities: {imag: {image_roles: [context]}}\n",
     "Did you mean: image"),
    ("modalities-key", HEAD + "factors:\n" + MOD + "modalities: {image: {roles: [context]}}\n",
     "unknown key 'roles'"),
    ("include-missing", HEAD + "include: nothere.yaml\nfactors:\n" + MOD, "does not exist"),
    ("include-not-str", HEAD + "include: [3]\nfactors:\n" + MOD, "include entries must be file paths"),
    ("include-dir", HEAD + "include: sub\nfactors:\n" + MOD, "is a directory"),
    ("include-self", HEAD + "include: spec.yaml\nfactors:\n" + MOD, "include cycle"),
    ("invisible-cell", HEAD + "factors:\n  text_color: {levels: [black, white]}\n"
     "  background: {levels: [white, black]}\n" + MOD, "draws text in its background colour"),
    ("invisible-defaults", HEAD + "render: {text_color: white}\nfactors:\n" + MOD, "text would be invisible"),
]


def test_the_table_is_large_enough():
    assert len(CASES) >= 60 and len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("text, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_spec_gives_one_named_line(tmp_path, capsys, text, fragment):
    (tmp_path / "sub").mkdir()
    spec = tmp_path / "spec.yaml"
    spec.write_text(text, encoding="utf-8")
    assert main(["validate", str(spec)]) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith("restplus validate: error:") and fragment in err, err


def test_exponent_floats_are_numbers_not_strings(tmp_path):
    # YAML 1.1 reads 1e-3 as a string; a spec reads it as the number it is (YAML 1.2 / JSON)
    spec = tmp_path / "spec.yaml"
    spec.write_text(HEAD + "factors:\n  blur: {levels: [0, 5e-1, 1.5E0]}\n  modality: {levels: [image]}\n")
    assert rp.load_grid(spec).factor("blur").levels == (0, 0.5, 1.5)
