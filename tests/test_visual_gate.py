"""The transcription gate of image-native sources, end to end through ``evaluate`` (and ``rescore``).

A fake model answers every solve request with the gold and every OCR request with a transcription
chosen by the test: the notation itself, or the notation with one square / edge / cell wrong.
"""

from __future__ import annotations

import json
import re

import pytest

import restplus as rp
from restplus.grammar.grid import variant_seed
from restplus.problems.visual import SOURCES, score_transcription
from restplus.problems.visual.chess import placement
from restplus.records import ImagePart, TextPart
from restplus.runner.evaluation import evaluate
from restplus.runner.gate import GATE_RULE
from restplus.runner.rows import rescore
from restplus.testing import EchoGold
from restplus.variants.realization import realize


def _fen_placement(squares: list[str]) -> str:
    ranks = []
    for r in range(8):
        row, run = "", 0
        for ch in squares[8 * r:8 * r + 8]:
            if ch == ".":
                run += 1
                continue
            row += (str(run) if run else "") + ch
            run = 0
        ranks.append(row + (str(run) if run else ""))
    return "/".join(ranks)


def one_wrong(kind: str, notation: str) -> str:
    """The notation with exactly one square (chess), one edge (graph) or one value (chart) wrong."""
    if kind == "chess":
        sq = placement(notation)
        i = sq.index(".")  # an empty square gets a piece: one square differs
        sq[i] = "Q"
        return _fen_placement(sq)
    if kind == "graph":
        nodes, edges = notation.split("\n")
        return nodes + "\n" + edges.rsplit(",", 1)[0]  # the last edge left out
    head, *rows = notation.split("\n")
    cat, val = rows[-1].split(" | ")
    return "\n".join([head, *rows[:-1], f"{cat} | {int(val) + 1}"])


@pytest.fixture(scope="module")
def setup():
    grid = rp.Grid.from_dict({"restplus_spec": 1, "name": "visual_gate",
                              "factors": {"dpi": {"levels": [50]},
                                          "modality": {"levels": ["text", "image", "mixed"]}}})
    problems = [rp.builtin_set(k, 1, seed=3)[0] for k in ("chess", "graph", "chart")]
    variants = [realize(p, grid, c, variant_seed(0, p.problem_id, c)) for p in problems for c in grid.cells()]
    return grid, {p.problem_id: p for p in problems}, variants


class Transcriber(EchoGold):
    """EchoGold that records the OCR requests it saw (images, prompt) for the test to inspect."""

    def __init__(self, answers):
        super().__init__(answers)
        self.ocr_seen: dict[str, tuple[int, str]] = {}

    def iter_generate(self, requests):
        for r in requests:
            if r.tag.startswith("ocr:"):
                texts = [p.text for p in r.parts if isinstance(p, TextPart)]
                self.ocr_seen[r.tag] = (sum(isinstance(p, ImagePart) for p in r.parts), texts[-1])
        yield from super().iter_generate(requests)


def answers(variants, problems, edit) -> dict[str, str]:
    out = {}
    for v in variants:
        out[f"solve:{v.answer_type}:{v.variant_id}"] = f"Answer: {v.answer}"
        if v.images:
            p = problems[v.problem_id]
            out[f"ocr:{v.answer_type}:{v.variant_id}"] = edit(p.task, dict(p.meta)["notation"])
    return out


def _run(setup, tmp_path, edit, **kw):
    grid, problems, variants = setup
    model = Transcriber(answers(variants, problems, edit))
    res = evaluate(variants, model, out=tmp_path / "run", grid=grid, problems=list(problems.values()),
                   progress=False, **kw)
    return res, model


def test_perfect_transcription_passes_through_evaluate(setup, tmp_path):
    grid, problems, variants = setup
    res, model = _run(setup, tmp_path, lambda kind, notation: f"```\n{notation}\n```")
    ocr = res.table.filter(res.table["prompt_type"] == "ocr")
    assert ocr.height == 2 * len(problems)  # image and mixed cell of each source
    assert ocr["gate_passed"].to_list() == [True] * ocr.height and ocr["ocr_cer"].to_list() == [0.0] * ocr.height
    # the OCR request is the drawing alone with its source's transcription prompt (not the text OCR prompt)
    by_tag = {f"ocr:{v.answer_type}:{v.variant_id}": v for v in variants if v.images}
    for tag, (n_images, prompt) in model.ocr_seen.items():
        v = by_tag[tag]
        assert n_images == 1 and prompt == SOURCES[v.task].prompt
        assert len(v.images) == (2 if v.modality == "image" else 1)  # the question page is not sent
    gate = res.manifest["gate"]["transcription"]
    assert gate["rule"] == GATE_RULE and set(gate["sources"]) == {"chess", "graph", "chart"}
    assert gate["sources"]["graph"]["prompt"] == SOURCES["graph"].prompt and "F1" in gate["sources"]["graph"]["score"]
    assert json.loads((tmp_path / "run" / "manifest.json").read_text())["gate"]["transcription"] == gate


def test_one_square_edge_or_cell_wrong_fails_and_threshold_means_score(setup, tmp_path):
    grid, problems, variants = setup
    res, _ = _run(setup, tmp_path, one_wrong)
    ocr = res.table.filter(res.table["prompt_type"] == "ocr")
    assert not any(ocr["gate_passed"].to_list())
    for r in ocr.iter_rows(named=True):
        p = problems[r["problem_id"]]
        want = 1.0 - score_transcription(p, one_wrong(p.task, dict(p.meta)["notation"])).score
        assert r["ocr_cer"] == pytest.approx(want) and r["ocr_cer"] > 0
        if p.task == "chess":
            assert r["ocr_cer"] == pytest.approx(1 / 64)
        if p.task == "graph":
            n = len(dict(p.meta)["notation"].split("Edges:")[1].split(","))
            assert r["ocr_cer"] == pytest.approx(1 - 2 * (n - 1) / (2 * n - 1), abs=1e-6)  # scores keep 6 decimals
    # solve rows are scored as before (the fake answers the gold)
    solve = res.table.filter(res.table["prompt_type"] == "solve")
    assert all(solve["correct"].to_list())
    # pass = score >= 1 - threshold: a threshold of one square lets the chess transcription through, and
    # rescoring reads the scorer back from rows.parquet (no problems needed to know the source)
    (tmp_path / "run" / "problems.jsonl").unlink()
    again = rescore(tmp_path / "run", threshold=1 / 64, out=tmp_path / "re")
    got = {r["task"]: r["gate_passed"] for r in again.filter(again["prompt_type"] == "ocr").iter_rows(named=True)}
    assert got == {"chess": True, "graph": False, "chart": (1 - ocr.filter(ocr["task"] == "chart")["ocr_cer"][0]
                                                           >= 1 - 1 / 64)}
    assert got["chart"] is False  # one cell of at most six is more than 1/64


def test_text_sources_still_gate_by_cer(tmp_path):
    grid = rp.Grid.from_dict({"restplus_spec": 1, "factors": {"dpi": {"levels": [50]},
                                                              "modality": {"levels": ["text", "image"]}}})
    p = rp.builtin_set("arith", 1)[0]
    vs = [realize(p, grid, c, 0) for c in grid.cells()]
    ref = vs[1].images[0].rendered_text
    model = Transcriber({f"solve:{v.answer_type}:{v.variant_id}": v.answer for v in vs}
                        | {f"ocr:{vs[1].answer_type}:{vs[1].variant_id}": ref[:-1]})
    res = evaluate(vs, model, out=tmp_path / "t", grid=grid, problems=[p], progress=False)
    row = res.table.filter(res.table["prompt_type"] == "ocr").row(0, named=True)
    assert row["ocr_cer"] == pytest.approx(1 / len(re.sub(r"\s+", " ", ref).strip()))
    assert "transcription" not in res.manifest["gate"]
    assert next(iter(model.ocr_seen.values()))[1] != SOURCES["chess"].prompt
