"""Search spaces: spec files share the grammar's loader and errors; points become one-cell grids whose
levels pass the kind validators; contrast targets resolve to colours of that contrast."""

from __future__ import annotations

from pathlib import Path

import pytest

from restplus.errors import SpecError, UnknownNameError
from restplus.grammar.layouts import get_layout
from restplus.render import contrast_ratio
from restplus.search.space import (
    Space,
    colour_for_contrast,
    contrast_axis,
    levels_axis,
    load_space,
    range_axis,
    rgb_axis,
    save_space,
    space_from_dict,
)

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str, name: str = "space.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_example_space_loads_with_includes_and_round_trips(tmp_path):
    sp = load_space(ROOT / "perturbations" / "search_space.yaml")
    assert sp.render.font == "DejaVu Sans" and sp.render.dpi == 200  # from the included _defaults.yaml
    assert sp.reference["dpi"] == 200 and sp.axis("dpi").integer and sp.axis("jpeg").integer
    assert not sp.axis("font_size").integer and sp.axis("font_size").step == 0.1
    assert [a.name for a in sp.axes if not a.ordered] == ["font"]
    save_space(sp, tmp_path / "copy.yaml")
    assert load_space(tmp_path / "copy.yaml") == sp
    save_space(sp, tmp_path / "copy.json")
    assert load_space(tmp_path / "copy.json") == sp


def test_a_point_becomes_a_one_cell_grid():
    sp = load_space(ROOT / "perturbations" / "search_space.yaml")
    g = sp.grid({"dpi": 80, "text_color": 4.5, "line_spacing": 2.0})
    (cell,) = g.cells()
    levels = cell.as_dict()
    assert levels["dpi"] == 80 and levels["modality"] == "image" and levels["font"] == "DejaVu Sans"
    assert abs(contrast_ratio(bytes.fromhex(levels["text_color"][1:]), (255, 255, 255)) - 4.5) < 0.05
    assert levels["layout"] == "plain+line_spacing=2"
    assert get_layout(levels["layout"], dict(g.layouts)).line_spacing == 2.0
    assert sp.levels()["layout"] == "plain"  # at reference the plain preset itself, not a derived copy
    assert sp.changed({"dpi": 80, "rotation": 0.0}) == ["dpi"]
    text = sp.grid({"dpi": 80}, modality="text").cells()[0]
    assert text.modality == "text" and text["dpi"] is None
    assert sp.grid({"dpi": 80}).cells()[0].cell_id == sp.grid({"dpi": 80}).cells()[0].cell_id


@pytest.mark.parametrize("target", [1.2, 1.5, 2.0, 3.0, 4.5, 7.0, 12.0, 17.5, 21.0])
def test_contrast_targets_resolve_to_that_contrast(target):
    grey = colour_for_contrast(target)
    r, g, b = bytes.fromhex(grey[1:])
    assert r == g == b  # grey without a hue
    got = abs(contrast_ratio((r, g, b), (255, 255, 255)) - target)
    assert got == min(abs(contrast_ratio((v, v, v), (255, 255, 255)) - target) for v in range(256))  # nearest grey
    assert got < (0.05 if target <= 7 else 0.15)  # 8-bit greys are ~0.04 apart near 3:1, ~0.17 near 12:1
    red = bytes.fromhex(colour_for_contrast(target, hue="red")[1:])
    assert red[0] >= red[1] == red[2]  # a shade or tint of red
    assert abs(contrast_ratio(tuple(red), (255, 255, 255)) - target) < 0.2
    dark = bytes.fromhex(colour_for_contrast(min(target, 15.0), background="#202020")[1:])
    assert dark[0] > 0x20  # on a dark page the text gets lighter than the page
    assert abs(contrast_ratio(tuple(dark), (0x20, 0x20, 0x20)) - min(target, 15.0)) < 0.2


@pytest.mark.parametrize("body, error, match", [
    ("factors: {dpi: {range: [30, 300], reference: 200}}", SpecError, "missing required key 'restplus_spec'"),
    ("restplus_spec: 1\nfactor: {}", SpecError, "Did you mean: factors"),
    ("restplus_spec: 1\nfactors: {dpi: {rnage: [30, 300], reference: 200}}", SpecError, "Did you mean: range"),
    ("restplus_spec: 1\nfactors: {dpi: {range: [30, 300]}}", SpecError, "no 'reference'"),
    ("restplus_spec: 1\nfactors: {dpi: {range: [5, 300], reference: 200}}", SpecError,
     r"dpi level 5 is outside the valid range \[10, 1200\]"),
    ("restplus_spec: 1\nfactors: {dpi: {range: [30.5, 300], reference: 200}}", SpecError, "whole number"),
    ("restplus_spec: 1\nfactors: {dpi: {range: [30, 300], reference: 200, integer: false}}", SpecError,
     "set integer: true"),
    ("restplus_spec: 1\nfactors: {dpi: {range: [30, 300], reference: 400}}", SpecError, "outside the axis range"),
    ("restplus_spec: 1\nfactors: {dpi: {range: [300, 30], reference: 200}}", SpecError, "low < high"),
    ("restplus_spec: 1\nfactors: {dpi: {range: [30, 300], levels: [50], reference: 200}}", SpecError,
     "exactly one of"),
    ("restplus_spec: 1\nfactors: {dpi: {levels: [50, 100], reference: 200}}", SpecError, "not one of its levels"),
    ("restplus_spec: 1\nfactors: {dpx: {range: [30, 300], reference: 200}}", UnknownNameError, "Did you mean: dpi"),
    ("restplus_spec: 1\nfactors: {text_color: {contrast: [0.5, 21], reference: 21}}", SpecError, r"within \[1, 21\]"),
    ("restplus_spec: 1\nrender: {background: '#404040'}\nfactors: {text_color: {contrast: [1.2, 21], reference: 21}}",
     SpecError, "cannot be reached on background #404040"),
    ("restplus_spec: 1\nfactors: {font_size: {contrast: [1.2, 21], reference: 21}}", SpecError,
     "kind must be text_color"),
    ("restplus_spec: 1\nfactors: {text_color: {rgb: [[0, 300], [0, 0], [0, 0]], reference: '#000000'}}", SpecError,
     "0 <= low <= high <= 255"),
    ("restplus_spec: 1\nfactors: {text_color: {contrast: [1.2, 21], reference: 21, integer: true}}", SpecError,
     "does not apply"),
    ("restplus_spec: 1\nfactors: {line_spacing: {range: [0.5, 2], reference: 1.3}}", SpecError,
     r"outside \[0.8, 4.0\]"),
    ("restplus_spec: 1\nfactors: {modality: {levels: [text], reference: text}}", SpecError, "fixed"),
    ("restplus_spec: 1\ndesign: {type: full}\nfactors: {dpi: {range: [30, 300], reference: 200}}", SpecError,
     "no meaning in a search space"),
    ("restplus_spec: 1\nfactors: {dpi: !!python/object:os.system {}}", SpecError, "never executed"),
    ("restplus_spec: 1\nfactors: {}", SpecError, "non-empty mapping"),
    ("restplus_spec: 1\nfactors: {font: {levels: [DejaVu Sans], reference: DejaVu Sans, tolerance: -1}}", SpecError,
     "'tolerance' does not apply to a levels axis"),
])
def test_spec_errors_name_the_problem_and_the_fix(tmp_path, body, error, match):
    with pytest.raises(error, match=match) as info:
        load_space(write(tmp_path, body))
    assert "space.yaml" in str(info.value)  # every message says which file


def test_modality_factor_fixes_the_searched_modality(tmp_path):
    sp = load_space(write(tmp_path, "restplus_spec: 1\nfactors:\n  modality: {levels: [mixed], reference: mixed}\n"
                                    "  dpi: {range: [30, 300], reference: 200}\n"))
    assert sp.modality == "mixed" and sp.grid().cells()[0].modality == "mixed"
    assert sp.to_dict()["factors"]["modality"]["levels"] == ["mixed"]


def test_points_are_checked():
    sp = Space((range_axis("dpi", 30, 300, reference=200), levels_axis("font", ["DejaVu Sans", "Kalam"]),
                rgb_axis([[0, 80], [0, 0], [0, 0]], reference="#000000")))
    with pytest.raises(SpecError, match="Did you mean: dpi"):
        sp.complete({"dpx": 100})
    with pytest.raises(SpecError, match="whole number"):
        sp.complete({"dpi": 99.5})
    with pytest.raises(SpecError, match="outside the axis range"):
        sp.complete({"dpi": 301})
    with pytest.raises(SpecError, match="not one of the axis levels"):
        sp.complete({"font": "Arial"})
    with pytest.raises(SpecError, match="r=200 outside"):
        sp.complete({"text_color": "#c80000"})
    assert sp.complete({"dpi": 99.0, "text_color": "#500000"}) == {"dpi": 99, "font": "DejaVu Sans",
                                                                   "text_color": "#500000"}


def test_constructor_errors():
    with pytest.raises(SpecError, match="more than one axis"):
        Space((contrast_axis(1.2, 21, reference=21), levels_axis("text_color", ["black", "red"], name="ink")))
    with pytest.raises(SpecError, match="modality is not searched"):
        levels_axis("modality", ["image", "text"])
    with pytest.raises(SpecError, match="no axes"):
        Space(())
    with pytest.raises(SpecError, match="rgb ranges are for"):
        rgb_axis([[0, 1], [0, 1], [0, 1]], reference="#000000", kind="font")
    with pytest.raises(SpecError, match="appear more than once"):
        Space((range_axis("dpi", 30, 300, reference=200), range_axis("dpi", 30, 100, reference=50)))


def test_space_from_dict_matches_the_file(tmp_path):
    text = "restplus_spec: 1\nname: s\nfactors: {blur: {range: [0, 2], reference: 0}}\n"
    assert load_space(write(tmp_path, text)) == space_from_dict(
        {"restplus_spec": 1, "name": "s", "factors": {"blur": {"range": [0, 2], "reference": 0}}}, where="space.yaml")
