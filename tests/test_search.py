"""rp.search against a synthetic model whose failure rule is known and decided from pixels alone:
it misreads a page whose text contrast is below 3:1 or whose resolution is below 80 DPI. The search
must find those exact boundaries, the minimal failure must move only the factor that matters, the
budget must hold, and a re-run must cost no model call."""

from __future__ import annotations

import functools
import io
import json
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import polars as pl
import pytest
from PIL import Image

from restplus.errors import BudgetExceeded, SpecError
from restplus.models.base import ModelAdapter, check_indices
from restplus.problems import builtin_set
from restplus.records import ImagePart, Request, Response
from restplus.search.probe import Probe
from restplus.search.run import search
from restplus.search.space import Space, contrast_axis, levels_axis, range_axis
from restplus.testing import Counting

PAGE_WIDTH_IN = 6.0  # the "plain" layout: pixels across = 6 x DPI
MIN_DPI, MIN_CONTRAST = 80, 3.0


def _luminance(rgb: np.ndarray) -> np.ndarray:
    s = rgb.astype(np.float64) / 255.0
    lin = np.where(s <= 0.04045, s / 12.92, ((s + 0.055) / 1.055) ** 2.4)
    return lin @ np.array([0.2126, 0.7152, 0.0722])


@functools.lru_cache(maxsize=256)
def readable(png: bytes) -> bool:
    """The synthetic perception: WCAG contrast between the darkest and lightest pixel, and the DPI
    implied by the image width. No provenance is read."""
    with Image.open(io.BytesIO(png)) as im:
        px = np.asarray(im.convert("RGB")).reshape(-1, 3).astype(np.uint32)
        width = im.width
    packed = np.unique((px[:, 0] << 16) | (px[:, 1] << 8) | px[:, 2])  # distinct colours only: fast
    lum = _luminance(np.stack([(packed >> 16) & 255, (packed >> 8) & 255, packed & 255], axis=1))
    contrast = (lum.max() + 0.05) / (lum.min() + 0.05)
    return contrast >= MIN_CONTRAST and width / PAGE_WIDTH_IN >= MIN_DPI


class PixelRule(ModelAdapter):
    """Answers ``answer`` (and transcribes ``transcript``) when every image is readable, else a
    wrong answer (and an empty transcription). Text-only requests are always read."""

    def __init__(self, answer: str = "A=1, B=2", wrong: str = "A=9, B=9", transcript: str = "") -> None:
        self.answer, self.wrong, self.transcript, self.name = answer, wrong, transcript, "pixel-rule"
        self.calls = 0

    def fingerprint(self) -> dict[str, Any]:
        return {"adapter": "pixel-rule", "min_dpi": MIN_DPI, "min_contrast": MIN_CONTRAST, "answer": self.answer,
                "wrong": self.wrong, "transcript": self.transcript}

    def iter_generate(self, requests: Sequence[Request]) -> Iterator[tuple[int, Response]]:
        check_indices(requests)
        for i, r in enumerate(requests):
            self.calls += 1
            ok = all(readable(p.png) for p in r.parts if isinstance(p, ImagePart))
            if r.tag.startswith("ocr"):
                yield i, Response(text=self.transcript if ok else "", finish_reason="stop")
            else:
                yield i, Response(text=f"Answer: {self.answer if ok else self.wrong}", finish_reason="stop")


SPACE = Space((range_axis("dpi", 30, 300, reference=200), contrast_axis(1.2, 21, reference=21),
               range_axis("font_size", 8, 16, reference=12, tolerance=0.5),
               levels_axis("font", ["DejaVu Sans", "Liberation Serif"])), name="synthetic")


@pytest.fixture(scope="module")
def problems():
    return list(builtin_set("soe", n=2))


@pytest.fixture(scope="module")
def found(problems, tmp_path_factory):
    """One search shared by the boundary tests (bisection for every axis + minimal failures)."""
    out = tmp_path_factory.mktemp("synthetic")
    model = PixelRule()
    res = search(problems, SPACE, model, out=out, budget=400, seed=3, max_examples=25)
    return res, model, out


@pytest.mark.slow
def test_bisection_finds_the_exact_boundaries(found, problems):
    res, _, _ = found
    t = res.thresholds
    assert t.height == len(problems) * 5  # dpi down/up, contrast down, font_size down/up
    for pid in (p.problem_id for p in problems):
        rows = {(r["factor"], r["direction"]): r for r in t.filter(pl.col("problem_id") == pid).iter_rows(named=True)}
        dpi = rows[("dpi", "down")]
        assert dpi["status"] == "found" and (dpi["last_pass"], dpi["first_fail"]) == (80, 79)  # integer: exact
        con = rows[("text_color", "down")]
        assert con["status"] == "found"
        # the rendered contrasts straddle 3:1 within ±0.05, as do the searched values
        assert MIN_CONTRAST <= con["last_pass_contrast"] <= MIN_CONTRAST + 0.05
        assert MIN_CONTRAST - 0.05 <= con["first_fail_contrast"] < MIN_CONTRAST
        assert abs(con["last_pass"] - MIN_CONTRAST) <= 0.05 and abs(con["first_fail"] - MIN_CONTRAST) <= 0.05
        assert con["last_pass"] - con["first_fail"] <= con["tolerance"] + 1e-9
        for key in (("dpi", "up"), ("font_size", "down"), ("font_size", "up")):
            assert rows[key]["status"] == "holds_across_range" and rows[key]["first_fail"] is None
        assert dpi["n_evals"] <= 1 + 8  # far end + log2(170) halvings


@pytest.mark.slow
def test_minimal_failure_changes_only_the_factor_that_matters(found, problems):
    res, _, out = found
    m = res.minimal
    assert m.height == len(problems) and (m["status"] == "found").all() and m["complete"].all()
    assert "hypothesis" in m["source"].to_list()  # at least one shrunk by Hypothesis, not by bisection
    for r in m.iter_rows(named=True):
        assert r["n_changed"] == 1 and r["changed"][0] in ("dpi", "text_color")
        untouched = [a for a in SPACE.names if a != r["changed"][0]]
        assert all(r[a] == SPACE.reference[a] for a in untouched)
        if r["changed"] == ["dpi"]:
            assert r["dpi"] == MIN_DPI - 1  # shrunk all the way to the boundary
        else:
            assert MIN_CONTRAST - 0.05 <= r["contrast_ratio"] < MIN_CONTRAST
        assert r["answer"] != r["expected"] and r["png"] == f"renders/{r['problem_id']}/minimal.png"
        with Image.open(out / r["png"]) as im:  # the saved render is the failing one
            assert im.width == 6 * r["dpi"]
    assert (out / "contact" / f"{problems[0].problem_id}-minimal.png").is_file()


@pytest.mark.slow
def test_results_are_written_and_a_rerun_costs_no_call(found, problems, tmp_path):
    res, model, out = found
    assert res.status == "complete" and 0 < res.calls <= 400 and res.calls == model.calls
    for name, table in (("minimal", res.minimal), ("thresholds", res.thresholds), ("evaluations", res.evaluations)):
        assert pl.read_parquet(out / f"{name}.parquet").equals(table)
    summary = json.loads((out / "search.json").read_text())
    assert summary["counts"]["calls"] == res.calls and len(summary["thresholds"]) == res.thresholds.height
    ev = res.evaluations
    assert ev["calls"].sum() == res.calls and ev.filter(pl.col("phase") == "text").height == len(problems)
    again = Counting(PixelRule())
    res2 = search(problems, SPACE, again, out=out, budget=400, seed=3, max_examples=25)
    assert again.total == 0 and res2.calls == 0
    assert res2.thresholds.drop("calls").equals(res.thresholds.drop("calls"))
    assert res2.minimal.drop("calls").equals(res.minimal.drop("calls"))


def test_budget_is_never_exceeded_and_a_rerun_continues(problems, tmp_path):
    space = Space((range_axis("dpi", 30, 200, reference=200),), name="dpi")
    model = PixelRule()
    res = search(problems[:1], space, model, out=tmp_path, budget=9, max_examples=5)
    # text (1 call) + reference (2) + far end (2) + two halvings (4) = 9; the next one would exceed
    assert res.calls == model.calls <= 9 and res.status == "budget_exhausted"
    assert res.thresholds["status"].to_list() == ["budget_exhausted"]
    spent = [res.calls]
    while res.thresholds["status"].item() == "budget_exhausted" and len(spent) < 5:  # each run continues
        res = search(problems[:1], space, model, out=tmp_path, budget=9, max_examples=5, minimal=False)
        spent.append(res.calls)
    assert all(0 < c <= 9 for c in spent) and sum(spent) == model.calls and len(spent) > 1
    assert res.thresholds["status"].to_list() == ["found"]
    assert (res.thresholds["last_pass"].item(), res.thresholds["first_fail"].item()) == (80, 79)


def test_zero_budget_makes_no_call(problems, tmp_path):
    model = PixelRule()
    res = search(problems[:1], SPACE, model, out=tmp_path, budget=0)
    assert model.calls == 0 and res.status == "budget_exhausted"
    assert res.minimal["status"].to_list() == ["budget_exhausted"]


@pytest.mark.parametrize("prop", ["correctness", "ocr_pass"])
def test_builtin_properties_find_the_same_dpi_boundary(prop, problems, tmp_path):
    p = problems[0]
    from restplus.grammar.grid import variant_seed
    from restplus.variants.realization import realize

    g = SPACE.grid()
    ref = realize(p, g, g.cells()[0], variant_seed(0, p.problem_id, g.cells()[0]))
    model = PixelRule(answer=p.answer, transcript=ref.images[0].rendered_text)
    space = Space((range_axis("dpi", 30, 200, reference=200),), name="dpi")
    res = search([p], space, model, out=tmp_path, property=prop, budget=60, minimal=False)
    row = res.thresholds.row(0, named=True)
    assert (row["status"], row["last_pass"], row["first_fail"]) == ("found", 80, 79)
    assert res.minimal["status"].to_list() == ["not_run"]


def test_a_property_function_and_fails_at_reference(problems, tmp_path):
    space = Space((range_axis("dpi", 30, 200, reference=200),), name="dpi")
    seen = []

    def wide_enough(outcome, text):
        seen.append(text.answer)
        return outcome.image_width_px >= 6 * 120

    res = search(problems[:1], space, PixelRule(), out=tmp_path / "fn", property=wide_enough, budget=60,
                 minimal=False)
    assert res.thresholds.select("last_pass", "first_fail").row(0) == (120, 119)
    assert set(seen) == {"A=1, B=2"}  # the text answer is handed to the function
    # a model that is wrong everywhere fails at the reference: no bisection, no shrinking
    res = search(problems[:1], space, PixelRule(answer="A=9, B=9"), out=tmp_path / "wrong",
                 property="correctness", budget=60)
    assert res.minimal["status"].to_list() == ["fails_at_reference"] and res.minimal["n_changed"].item() == 0
    assert res.thresholds.height == 0 and res.calls == 2  # reference solve + OCR only


def test_a_model_without_a_text_answer_is_reported_not_searched(problems, tmp_path):
    from restplus.testing import AlwaysWrong

    res = search(problems[:1], SPACE, AlwaysWrong(), out=tmp_path, budget=20)
    assert res.minimal["status"].to_list() == ["no_text_answer"] and res.thresholds.height == 0
    assert res.calls == 3  # text answer + reference (solve, OCR); nothing else is worth asking


def test_render_errors_are_recorded_not_raised(problems, tmp_path):
    space = Space((range_axis("page_width_in", 1.0, 6.0, reference=6.0), range_axis("font_size", 12, 60,
                                                                                    reference=12)), name="tight")
    with Probe(space, PixelRule(), out=tmp_path) as probe:
        o = probe.outcome(problems[0], {"page_width_in": 1.0, "font_size": 60})
        assert o.error.startswith("render: ") and o.variant is None and probe.calls == 0
        assert probe.text(problems[0]).answer == "A=1, B=2" and probe.calls == 1
    res = search(problems[:1], space, PixelRule(), out=tmp_path / "s", budget=80, max_examples=10)
    assert res.evaluations["error"].str.starts_with("render: ").any()  # hit while searching, not fatal


def test_probe_budget_raises_when_asked_directly(problems, tmp_path):
    with Probe(SPACE, PixelRule(), out=tmp_path, budget=1) as probe:
        probe.text(problems[0])
        with pytest.raises(BudgetExceeded, match="budget"):
            probe.outcome(problems[0], {"dpi": 100})


@pytest.mark.parametrize("kwargs, match", [
    ({"property": "consistancy"}, "Did you mean: consistency"),
    ({"budget": -1}, "budget"),
    ({"axes": ["font"]}, "not ordered"),
    ({"axes": ["dpii"]}, "Did you mean: dpi"),
    ({"max_examples": 0}, "max_examples"),
])
def test_bad_arguments_are_named(kwargs, match, problems, tmp_path):
    with pytest.raises(SpecError, match=match):
        search(problems, SPACE, PixelRule(), out=tmp_path, **kwargs)


def test_an_exception_in_the_property_stops_the_search_at_once(problems, tmp_path):
    space = Space((range_axis("dpi", 30, 200, reference=200),), name="dpi")
    model = PixelRule()
    at_raise = []

    def fragile(outcome, text):
        if outcome.image_width_px < 6 * 150:
            at_raise.append(model.calls)
            raise RuntimeError("property bug")
        return True

    with pytest.raises(RuntimeError, match="property bug"):
        search(problems[:1], space, model, out=tmp_path, property=fragile, thresholds=False, budget=100)
    assert len(at_raise) == 1 and model.calls == at_raise[0]  # not shrunk: no evaluation after the error


@pytest.mark.slow
def test_the_documented_given_test_runs_against_a_probe(problems, tmp_path):
    """The example of restplus.search.strategies: image answer equals text answer, as a Hypothesis test."""
    from hypothesis import given, settings

    from restplus.search.strategies import perturbations

    space = Space((range_axis("dpi", 30, 200, reference=200),), name="dpi")
    problem, seen = problems[0], []
    probe = Probe(space, PixelRule(), out=tmp_path)

    @settings(max_examples=10, database=None, derandomize=True, deadline=None)
    @given(perturbations(space))
    def test_image_answer_equals_text_answer(point):
        seen.append(point["dpi"])
        assert probe.outcome(problem, point).answer == probe.text(problem).answer

    with pytest.raises(AssertionError):
        test_image_answer_equals_text_answer()
    assert seen[-1] == MIN_DPI - 1  # Hypothesis replays its shrunk falsifying example last
    probe.close()
