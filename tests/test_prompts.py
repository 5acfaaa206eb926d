"""Prompt templates: versioned data, overrides, OCR-first, decoding defaults, request building."""

from __future__ import annotations

import re

import pytest

from restplus.errors import SpecError, UnknownNameError
from restplus.grammar.factors import dpi, modality
from restplus.grammar.grid import Grid, variant_seed
from restplus.models.reader import parse_tag
from restplus.problems import builtin_set
from restplus.problems.extract import ANSWER_SUFFIX
from restplus.records import Decoding, ImagePart, TextPart
from restplus.runner.prompts import PromptSet, as_prompts, build_requests, decoding_for
from restplus.variants.realization import realize


@pytest.fixture(scope="module")
def variants():
    g = Grid(dpi([200], reference=200), modality(["text", "image", "mixed"], reference="text"))
    p = builtin_set("soe", n=1)[0]
    return {c.modality: realize(p, g, c, variant_seed(0, p.problem_id, c)) for c in g.cells()}


def test_ocr_prompt_has_no_example_a_model_could_parrot():
    ocr = PromptSet().ocr_text()
    # No quoted sample, no digits, no "e.g."/"for example", no answer marker: nothing to copy.
    assert not re.search(r"[\"'`]|\d|e\.g\.|for example|answer:", ocr, re.IGNORECASE)
    assert "transcri" in ocr.lower()


@pytest.mark.parametrize("answer_type", sorted(ANSWER_SUFFIX))
@pytest.mark.parametrize("mod", ["text", "image", "mixed"])
def test_solve_prompt_ends_with_the_versioned_answer_suffix(mod, answer_type):
    text = PromptSet().solve_text(mod, "t", answer_type)
    assert text.endswith(ANSWER_SUFFIX[answer_type]["text"])
    assert "{" not in text  # placeholder filled


def test_overrides_global_per_task_and_dict():
    base = PromptSet()
    g = base.with_overrides(text="Work it out. {answer_format}")
    assert g.solve_text("text", "soe", "soe").startswith("Work it out.")
    t = base.with_overrides(task="soe", ocr="Copy the text.")
    assert t.ocr_text("soe") == "Copy the text." and t.ocr_text("arith") == base.ocr_text()
    d = as_prompts({"soe": {"image": "Look. {answer_format}"}, "text": "Read. {answer_format}"})
    assert d.solve_text("image", "soe", "soe").startswith("Look.")
    assert d.solve_text("image", "mcq", "choice") == base.solve_text("image", "mcq", "choice")
    assert d.solve_text("text", "mcq", "choice").startswith("Read.")
    hashes = {base.content_hash, g.content_hash, t.content_hash, d.content_hash}
    assert len(hashes) == 4  # every change is visible in the hash
    assert PromptSet().content_hash == base.content_hash  # and the hash is stable
    assert PromptSet.from_dict(d.to_dict()) == d  # round trip


def test_answer_format_override_per_task():
    ps = PromptSet().with_overrides(task="mcq", answer_format="Finish with Answer: and the letter.")
    assert ps.solve_text("text", "mcq", "choice").endswith("Finish with Answer: and the letter.")
    assert ps.solve_text("text", "soe", "soe").endswith(ANSWER_SUFFIX["soe"]["text"])


def test_ocr_first_changes_image_and_mixed_only():
    a, b = PromptSet(), PromptSet(ocr_first=True)
    assert a.solve_text("text", "soe", "soe") == b.solve_text("text", "soe", "soe")
    for m in ("image", "mixed"):
        assert b.solve_text(m, "soe", "soe") != a.solve_text(m, "soe", "soe")
        assert b.solve_text(m, "soe", "soe").lower().startswith("first transcribe")
    assert a.content_hash != b.content_hash


@pytest.mark.parametrize("kwargs, err, needle", [
    ({"txt": "x"}, UnknownNameError, "Did you mean: text"),
    ({"ocr": "Transcribe {answer_format}"}, SpecError, "allowed here: none"),
    ({"text": "Solve {answer_fromat}"}, SpecError, "answer_format"),
    ({"text": "   "}, SpecError, "non-empty"),
    ({"text": "Solve {"}, SpecError, "literal braces"),
])
def test_bad_overrides_are_refused_with_a_fix(kwargs, err, needle):
    with pytest.raises(err, match=re.escape(needle)):
        PromptSet().with_overrides(**kwargs)


def test_decoding_defaults_and_overrides():
    assert decoding_for("soe") == Decoding(temperature=0.0, max_tokens=2048)
    assert decoding_for("arith") == Decoding(temperature=0.0, max_tokens=1024)
    assert decoding_for("soe", {"max_tokens": 16}).max_tokens == 16
    per_task = {"soe": {"max_tokens": 99}, "*": Decoding(max_tokens=7)}
    assert decoding_for("soe", per_task).max_tokens == 99 and decoding_for("mcq", per_task).max_tokens == 7
    assert decoding_for("mcq", {"soe": {"max_tokens": 3}}).max_tokens == 1024
    with pytest.raises(SpecError, match="max_tokens"):
        decoding_for("soe", {"soe": {"max_token": 3}})


def test_build_requests_parts_tags_and_keys(variants):
    ps, dec = PromptSet(), Decoding(max_tokens=5)
    text = build_requests(variants["text"], ps, dec)
    assert set(text) == {"solve"}  # no image, no OCR request
    for mod in ("image", "mixed"):
        v = variants[mod]
        reqs = build_requests(v, ps, dec)
        assert reqs["solve"].parts[:-1] == v.parts
        assert reqs["solve"].parts[-1] == TextPart(ps.solve_text(mod, v.task, v.answer_type))
        imgs = [p for p in v.parts if isinstance(p, ImagePart)]
        assert list(reqs["ocr"].parts[:-1]) == imgs and reqs["ocr"].parts[-1] == TextPart(ps.ocr_text())
        assert parse_tag(reqs["ocr"].tag) == ("ocr", "soe") and parse_tag(reqs["solve"].tag) == ("solve", "soe")
        assert reqs["solve"].decoding == dec
        fp = {"m": 1}
        assert reqs["ocr"].key(fp) != reqs["solve"].key(fp)
        # a different prompt set changes the key: old answers are never reused for a new prompt
        other = build_requests(v, ps.with_overrides(ocr="Copy all text exactly."), dec)
        assert other["ocr"].key(fp) != reqs["ocr"].key(fp) and other["solve"].key(fp) == reqs["solve"].key(fp)
