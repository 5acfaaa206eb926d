"""Offline reader baseline: tesseract OCR-then-solve on SoE renders, the tag convention, error paths."""

from __future__ import annotations

import io
import os
import stat

import pytest
from PIL import Image, ImageDraw, ImageFont
from rapidfuzz.distance import Levenshtein

from restplus.errors import ModelError, UnknownNameError
from restplus.models import load
from restplus.models.reader import parse_tag
from restplus.problems.soe import generate_soe
from restplus.records import ImagePart, Request, TextPart

pytestmark = pytest.mark.ocr
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
BLACK, PALE_YELLOW = (0, 0, 0), (240, 230, 140)


def render(text: str, dpi: int, color: tuple[int, int, int]) -> bytes:
    """``text`` in DejaVu Sans 12 pt at ``dpi`` (pixels = pt * dpi / 72) on white, margins of 1 em."""
    px = round(12 * dpi / 72)
    font = ImageFont.truetype(FONT, px)
    spacing = max(1, px // 3)
    left, top, right, bottom = ImageDraw.Draw(Image.new("RGB", (1, 1))).multiline_textbbox(
        (0, 0), text, font=font, spacing=spacing)
    im = Image.new("RGB", (right + 2 * px, bottom + 2 * px), "white")
    ImageDraw.Draw(im).multiline_text((px, px), text, font=font, fill=color, spacing=spacing)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def squash(s: str) -> str:
    return "".join(s.split())


@pytest.mark.slow
def test_reader_solves_clear_renders_and_degrades_on_small_pale_ones():
    problems = generate_soe(n=10, seed=11)
    result = {}
    with load("reader", concurrency=2) as reader:
        for dpi, color in [(200, BLACK), (50, PALE_YELLOW)]:
            ocr = reader.generate([Request(parts=(ImagePart(render(p.full_text, dpi, color)), TextPart("Transcribe.")),
                                           tag=f"ocr:soe:{p.problem_id}") for p in problems])
            solve = reader.generate([Request(parts=(ImagePart(render(p.full_text, dpi, color)), TextPart("Solve.")),
                                             tag=f"solve:soe:{p.problem_id}") for p in problems])
            assert all(r.ok for r in ocr + solve)
            cer = [Levenshtein.normalized_distance(squash(p.full_text), squash(r.text)) for p, r in zip(problems, ocr)]
            correct = sum(r.text == f"Answer: {p.answer}" for p, r in zip(problems, solve))
            result[dpi] = (sum(cer) / len(cer), correct)
    (cer_200, ok_200), (cer_50, ok_50) = result[200], result[50]
    assert ok_200 >= 8 and cer_200 < 0.05  # reads and solves clear 200-DPI renders
    assert cer_50 > cer_200 + 0.2 and ok_50 < ok_200  # 8-px pale glyphs: measurably worse


def test_mixed_request_is_solved_from_text_and_image_together():
    # First equation as text, the second only in the image: neither alone has a unique solution.
    eq1, eq2 = "3A + 2B = 18", "2A - B = 5"
    req = Request(parts=(TextPart(eq1), ImagePart(render(eq2, 200, BLACK)), TextPart("Solve the system for A and B.")),
                  tag="solve:soe:mixed")
    image_only = Request(parts=(ImagePart(render(eq2, 200, BLACK)),), tag="solve:soe")
    with load("reader") as reader:
        both, alone = reader.generate([req, image_only])
    assert both.text == "Answer: A=4, B=3" and both.finish_reason == "stop" and both.image_sizes
    assert alone.text == "" and alone.finish_reason == "no_answer"


def test_parts_are_concatenated_in_order_for_the_solver(monkeypatch):
    calls = []

    def fake_solve(answer_type, text, problem=None):
        calls.append((answer_type, text))
        return "42"

    monkeypatch.setattr("restplus.problems.solvers.solve_from_text", fake_solve)
    req = Request(parts=(TextPart("before"), ImagePart(render("WORLD 2024", 200, BLACK)), TextPart("after")),
                  tag="solve:number:v9")
    with load("reader") as reader:
        out = reader.generate([req])[0]
    assert out.text == "Answer: 42"
    assert [c for c in calls if c[1]] == [("number", "before\nWORLD 2024\nafter")]


@pytest.mark.parametrize("tag,expected", [
    ("ocr", ("ocr", None)), ("ocr:soe:v1", ("ocr", "soe")), ("solve:soe", ("solve", "soe")),
    ("solve:number:v:with:colons", ("solve", "number")),
    ("", None), ("solve", None), ("solve::v1", None), ("transcribe:soe", None), ("OCR", None), ("ocrx", None),
])
def test_tag_convention(tag, expected):
    if expected is None:
        with pytest.raises(ModelError, match="solve:<answer_type>"):
            parse_tag(tag)
    else:
        assert parse_tag(tag) == expected


def test_bad_tags_and_answer_types_fail_before_any_ocr(monkeypatch):
    with load("reader") as reader:
        calls = []
        monkeypatch.setattr(reader, "ocr", lambda png: calls.append(1) or "")
        good = Request(parts=(ImagePart(render("1", 50, BLACK)),), tag="ocr")
        with pytest.raises(ModelError):
            list(reader.iter_generate([good, Request(parts=good.parts, tag="variant-7")]))
        with pytest.raises(UnknownNameError, match="Did you mean"):
            list(reader.iter_generate([good, Request(parts=good.parts, tag="solve:sose")]))
        assert calls == []


def test_unreadable_image_is_a_per_request_error():
    with load("reader") as reader:
        bad, good = reader.generate([Request(parts=(ImagePart(b"\x89PNG broken"),), tag="ocr"),
                                     Request(parts=(ImagePart(render("HELLO 123", 200, BLACK)),), tag="ocr")])
    assert not bad.ok and good.ok and good.text == "HELLO 123"


def test_tesseract_subprocess_gets_single_thread_env_without_touching_os_environ(tmp_path):
    fake = tmp_path / "tesseract"
    fake.write_text('#!/bin/sh\ncat > /dev/null\necho "fake $OMP_THREAD_LIMIT"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    before = os.environ.get("OMP_THREAD_LIMIT")
    with load("reader", tesseract_cmd=str(fake)) as reader:
        out = reader.generate([Request(parts=(ImagePart(render("x", 50, BLACK)),), tag="ocr")])[0]
        fp = reader.fingerprint()
    assert out.text == "fake 1" and fp["tesseract"] == "fake 1"
    assert os.environ.get("OMP_THREAD_LIMIT") == before


def test_fingerprint_names_tesseract_and_solvers():
    with load("reader") as reader:
        fp = reader.fingerprint()
    assert fp["tesseract"].startswith("tesseract 5") and fp["psm"] == 6 and fp["lang"] == "eng"
    assert len(fp["solvers_sha256"]) == 64
    with pytest.raises(ModelError, match="tesseract binary not found"):
        load("reader", tesseract_cmd="/nonexistent/tesseract")


def test_reader_reads_each_image_once_even_when_requests_arrive_together(monkeypatch):
    import threading
    import time

    from restplus.models import load
    from restplus.records import ImagePart, Request, TextPart
    from restplus.render import render_text

    reader = load("reader", concurrency=4)
    calls, lock = [], threading.Lock()
    real = reader._tesseract

    def counting(png):
        with lock:
            calls.append(png)
        time.sleep(0.2)  # make the requests overlap
        return real(png)

    monkeypatch.setattr(reader, "_tesseract", counting)
    img = render_text("2A + 3B = 7", {"dpi": 200}).png
    reqs = [Request(parts=(ImagePart(png=img), TextPart("Transcribe.")), tag="ocr"),
            Request(parts=(ImagePart(png=img), TextPart("Solve.")), tag="solve:soe")] * 2
    out = reader.generate(reqs)
    assert len(calls) == 1
    assert out[0].text == out[2].text and "2A" in out[0].text
