"""Grammar: factors, designs, cells, ids and seeds."""

from __future__ import annotations

import itertools

import pytest

import restplus as rp
from restplus.grammar.grid import variant_seed


def test_full_design_has_product_of_level_counts():
    g = rp.Grid(rp.dpi([50, 100, 200], reference=200), rp.font(["DejaVu Sans", "Kalam"]),
                rp.text_color(["black", "red", "blue"]))
    assert g.n_cells == 3 * 2 * 3
    assert len({c.cell_id for c in g.cells()}) == g.n_cells
    combos = {(c["dpi"], c["font"], c["text_color"]) for c in g.cells()}
    assert combos == set(itertools.product([50, 100, 200], ["DejaVu Sans", "Kalam"], ["black", "red", "blue"]))


def test_text_modality_collapses_to_one_cell_with_null_visual_levels():
    g = rp.Grid(rp.dpi([50, 200], reference=200), rp.modality(["text", "image", "mixed"]))
    by_mod = {}
    for c in g.cells():
        by_mod.setdefault(c.modality, []).append(c)
    assert len(by_mod["text"]) == 1 and by_mod["text"][0]["dpi"] is None
    assert len(by_mod["image"]) == 2 and len(by_mod["mixed"]) == 2


def test_excluded_assignment_never_appears():
    g = rp.Grid(rp.dpi([50, 100, 200], reference=200), rp.text_color(["black", "red"]),
                rp.modality(["text", "image", "mixed"]), exclude=[{"dpi": 50, "text_color": "red"},
                                                                  {"modality": "mixed", "dpi": 100}])
    for c in g.cells():
        assert not (c["dpi"] == 50 and c["text_color"] == "red")
        assert not (c.modality == "mixed" and c["dpi"] == 100)
    # image: 6 - 1 excluded = 5; mixed: 6 - 1 (50/red) - 2 (dpi 100) = 3; text: 1
    assert g.n_cells == 5 + 3 + 1


def test_rest_plus_union_design_matches_paper():
    g = rp.load_grid("perturbations/rest_plus.yaml")
    image_cells = [c for c in g.cells() if c.modality == "image"]
    # 3 fonts x 3 DPI = 9, plus 4 non-black colours at the reference font and DPI
    assert len(image_cells) == 9 + 4
    for c in image_cells:
        if c["text_color"] != "black":
            assert c["font"] == "DejaVu Sans" and c["dpi"] == 200
    assert sum(c.modality == "text" for c in g.cells()) == 1


def test_one_at_a_time_design():
    g = rp.Grid(rp.dpi([50, 100, 200], reference=200), rp.font(["DejaVu Sans", "Kalam", "Liberation Mono"]),
                design=rp.OneAtATime())
    assert g.n_cells == 1 + 2 + 2
    for c in g.cells():
        off = [k for k, v in c.assignment if v != g.factor(k).reference]
        assert len(off) <= 1


def test_sample_design_is_seeded_and_keeps_reference():
    fs = (rp.dpi([50, 75, 100, 150, 200], reference=200), rp.font_size([8, 10, 12, 14], reference=12))
    a = rp.Grid(*fs, design=rp.Sample(n=7, seed=3))
    b = rp.Grid(*fs, design=rp.Sample(n=7, seed=3))
    c = rp.Grid(*fs, design=rp.Sample(n=7, seed=4))
    assert [x.cell_id for x in a.cells()] == [x.cell_id for x in b.cells()]
    assert a.n_cells == 7
    assert {x.cell_id for x in a.cells()} != {x.cell_id for x in c.cells()}
    ref = {"dpi": 200, "font_size": 12}
    assert any(x.as_dict() == ref for x in a.cells())


def test_cell_ids_do_not_depend_on_factor_order():
    f1, f2 = rp.dpi([50, 200], reference=200), rp.text_color(["black", "red"])
    ids_a = {tuple(sorted(c.as_dict().items())): c.cell_id for c in rp.Grid(f1, f2).cells()}
    ids_b = {tuple(sorted(c.as_dict().items())): c.cell_id for c in rp.Grid(f2, f1).cells()}
    assert ids_a == ids_b


def test_cell_ids_do_not_change_when_levels_are_added():
    small = rp.Grid(rp.dpi([50, 200], reference=200))
    big = rp.Grid(rp.dpi([50, 100, 200], reference=200))
    small_ids = {c["dpi"]: c.cell_id for c in small.cells()}
    big_ids = {c["dpi"]: c.cell_id for c in big.cells()}
    assert small_ids[50] == big_ids[50] and small_ids[200] == big_ids[200]
    assert small.spec_hash != big.spec_hash


def test_seeds_are_independent_of_problem_order_and_distinct():
    g = rp.load_grid("perturbations/smoke.yaml")
    problems = [f"p{i}" for i in range(20)]
    fwd = {(p, c.cell_id): variant_seed(7, p, c) for p in problems for c in g.cells()}
    rev = {(p, c.cell_id): variant_seed(7, p, c) for p in reversed(problems) for c in reversed(g.cells())}
    assert fwd == rev
    assert len(set(fwd.values())) == len(fwd)
    other = {k: variant_seed(8, k[0], g.cell(k[1])) for k in fwd}
    assert all(other[k] != fwd[k] for k in fwd)


def test_render_params_resolve_levels_over_defaults():
    g = rp.Grid(rp.dpi([50, 200], reference=200), rp.text_color(["black", "#ff0000"]),
                render={"font": "Kalam", "font_size_pt": 14})
    c = next(c for c in g.cells() if c["dpi"] == 50 and c["text_color"] == "#ff0000")
    p = g.render_params(c)
    assert p.dpi == 50 and p.fg == (255, 0, 0) and p.font == "Kalam" and p.font_size_pt == 14
    assert p.bg == (255, 255, 255) and p.to_dict()["fg"] == [255, 0, 0]


def test_grid_repr_reproduces_the_call():
    g = rp.Grid(rp.dpi([50, 100, 200], reference=200), rp.font(["DejaVu Sans", "Kalam"]),
                rp.text_color(["black", "red"]), rp.modality(["text", "image", "mixed"]),
                design=rp.Union([["dpi", "font"], ["text_color"]]), exclude=[{"dpi": 50, "font": "Kalam"}],
                name="demo")
    again = eval(repr(g), {"rp": rp})
    assert again == g and again.spec_hash == g.spec_hash
    assert str(g).endswith(f"{g.n_cells} cells")


def test_modality_plan_roles():
    plan = rp.ModalityPlan()
    assert plan.roles_for("text", {"context", "question"}) == ()
    assert plan.roles_for("image", {"context", "question", "choices"}) == ("context", "question", "choices")
    assert plan.roles_for("mixed", {"context", "question"}) == ("context",)
    assert plan.roles_for("mixed", {"question", "choices"}) == ("question",)


def test_balance_report_counts_levels():
    g = rp.Grid(rp.dpi([50, 200], reference=200), rp.text_color(["black", "red"]), design=rp.OneAtATime())
    bal = g.balance()
    assert bal["dpi"] == {"50": 1, "200": 2} and bal["text_color"] == {"black": 2, "red": 1}


def test_errors_are_in_one_tree_and_inherit_builtins():
    with pytest.raises(rp.SpecError) as e:
        rp.dpi([50, 100], reference=300)
    assert isinstance(e.value, ValueError) and isinstance(e.value, rp.RestplusError)
    assert "300" in str(e.value) and "[50, 100]" in str(e.value)
    with pytest.raises(rp.UnknownNameError) as e2:
        rp.factor("colour", ["red"])
    assert isinstance(e2.value, KeyError) and "text_color" in str(e2.value)
