"""Modality split and realize(): what becomes pixels, in which order, with what records."""

from __future__ import annotations

import pytest

from restplus.grammar.factors import dpi, font, modality, text_color
from restplus.grammar.grid import Grid, ModalityPlan, variant_seed
from restplus.problems.base import Problem, Segment
from restplus.records import ImagePart, TextPart
from restplus.variants.modality import split_blocks
from restplus.variants.realization import image_seed, realize
from restplus.variants.variant import Variant

MCQ = Problem(segments=(Segment("instruction", "Answer with the letter of the correct option."),
                        Segment("question", "Which planet is closest to the Sun?"),
                        Segment("choices", "A. Venus\nB. Mercury\nC. Mars\nD. Earth")),
              answer="B", answer_type="choice", task="mcq", choices=("Venus", "Mercury", "Mars", "Earth"))
WORD = Problem(segments=(Segment("context", "Ada buys 3 boxes of 12 pencils and gives away 7 pencils."),
                         Segment("question", "How many pencils does she have left?")),
               answer="29", answer_type="number", task="arith")
GRID = Grid(font(["DejaVu Sans", "Kalam"]), dpi([50, 200], reference=200), modality(["text", "image", "mixed"]))


def _cell(mod: str, **levels):
    for c in GRID.cells():
        d = c.as_dict()
        if d["modality"] == mod and all(d[k] == v for k, v in levels.items()):
            return c
    raise AssertionError((mod, levels))


def _kinds(blocks):
    return [(b.kind, b.roles) for b in blocks]


def test_mcq_split_per_modality():
    plan = ModalityPlan()
    assert _kinds(split_blocks(MCQ, plan, "text")) == [("text", ("instruction", "question", "choices"))]
    assert _kinds(split_blocks(MCQ, plan, "image")) == [("text", ("instruction",)),
                                                        ("image", ("question", "choices"))]
    # no context: mixed falls back to rendering the question stem; options stay text
    assert _kinds(split_blocks(MCQ, plan, "mixed")) == [("text", ("instruction",)), ("image", ("question",)),
                                                        ("text", ("choices",))]


def test_word_problem_split_per_modality():
    plan = ModalityPlan()
    assert _kinds(split_blocks(WORD, plan, "image")) == [("image", ("context", "question"))]
    assert _kinds(split_blocks(WORD, plan, "mixed")) == [("image", ("context",)), ("text", ("question",))]


def test_declared_plan_overrides_the_default():
    plan = ModalityPlan.from_dict({"mixed": {"image_roles": ["choices"]}})
    assert _kinds(split_blocks(MCQ, plan, "mixed")) == [("text", ("instruction", "question")),
                                                        ("image", ("choices",))]


def test_realize_text_variant_is_the_problem_text():
    v = realize(MCQ, GRID, _cell("text"), 1)
    assert isinstance(v, Variant) and v.images == ()
    assert v.parts == (TextPart(MCQ.full_text),)
    assert v.answer == "B" and v.answer_type == "choice" and v.task == "mcq"


def test_realize_image_variant_one_image_after_the_instruction():
    c = _cell("image", font="Kalam", dpi=50)
    v = realize(MCQ, GRID, c, variant_seed(0, MCQ.problem_id, c))
    assert [type(p) for p in v.parts] == [TextPart, ImagePart]
    assert v.parts[0].text == "Answer with the letter of the correct option."
    (img,) = v.images
    assert v.parts[1].sha256 == img.sha256 and v.parts[1].png == img.png
    assert img.roles == ("question", "choices")
    assert img.rendered_text == "Which planet is closest to the Sun?\n\nA. Venus\nB. Mercury\nC. Mars\nD. Earth"
    cov = dict(img.covariates)
    assert set(cov) >= {"contrast_ratio", "x_height_px", "font_px", "width_px", "height_px", "dpi", "n_lines"}
    assert cov["dpi"] == 50 and img.dpi == 50 and cov["n_lines"] == 5
    prov = dict(img.provenance)
    assert prov["font"]["family"] == "Kalam" and len(prov["font"]["sha256"]) == 64
    assert prov["layout_engine"] == "RAQM"
    assert {"pillow", "freetype2", "raqm", "harfbuzz"} <= set(prov["libraries"])
    assert all(prov["libraries"][k] for k in ("pillow", "freetype2", "raqm", "harfbuzz"))
    assert prov["params"]["font"] == "Kalam" and prov["params"]["dpi"] == 50
    assert prov["variant_seed"] == v.seed and prov["seed"] == image_seed(v.seed, 0) != v.seed


def test_realize_mixed_word_problem_image_then_text():
    c = _cell("mixed", font="DejaVu Sans", dpi=200)
    v = realize(WORD, GRID, c, 5)
    assert [type(p) for p in v.parts] == [ImagePart, TextPart]
    assert v.images[0].rendered_text == WORD.segments[0].text
    assert v.parts[1].text == "How many pencils does she have left?"
    assert v.covariates()["dpi"] == 200


def test_realize_is_deterministic_and_seed_only_matters_for_random_steps():
    c = _cell("image", font="DejaVu Sans", dpi=50)
    a, b = realize(WORD, GRID, c, 11), realize(WORD, GRID, c, 11)
    assert a.images[0].png == b.images[0].png and a.variant_id == b.variant_id
    other = realize(WORD, GRID, c, 12)  # no noise step: pixels do not depend on the seed
    assert other.images[0].pixel_sha256 == a.images[0].pixel_sha256
    assert other.variant_id != a.variant_id


def test_realize_noise_depends_on_seed():
    from restplus.grammar.factors import noise

    g = Grid(noise([0, 20], reference=0), modality(["image"]))
    c = next(c for c in g.cells() if c["noise"] == 20)
    a, b, a2 = realize(WORD, g, c, 1), realize(WORD, g, c, 2), realize(WORD, g, c, 1)
    assert a.images[0].pixel_sha256 != b.images[0].pixel_sha256
    assert a.images[0].png == a2.images[0].png


def test_realize_errors_name_problem_and_cell():
    from restplus.errors import GlyphError

    p = Problem(segments=(Segment("question", "Is α > β?"),), answer="yes", answer_type="exact")
    c = _cell("image", font="Kalam", dpi=50)
    with pytest.raises(GlyphError) as e:
        realize(p, GRID, c, 0, problem_context="mine.jsonl line 4")
    msg = str(e.value)
    assert p.problem_id in msg and c.cell_id in msg and "mine.jsonl line 4" in msg and "U+03B1" in msg
    # the text modality never renders, so it cannot fail on glyphs
    assert realize(p, GRID, _cell("text"), 0).parts == (TextPart("Is α > β?"),)


def test_colour_cell_changes_pixels_and_contrast():
    g = Grid(text_color(["black", "yellow"], reference="black"), modality(["image"]))
    by = {c["text_color"]: realize(WORD, g, c, 0).images[0] for c in g.cells()}
    assert by["black"].pixel_sha256 != by["yellow"].pixel_sha256
    assert by["black"].rendered_text == by["yellow"].rendered_text
    assert dict(by["black"].covariates)["contrast_ratio"] == pytest.approx(21.0)
    assert dict(by["yellow"].covariates)["contrast_ratio"] < 1.2
