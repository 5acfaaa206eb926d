"""Golden renders (every vendored font x 50/100/200 DPI) and cross-process determinism.

Regenerate after an intended pixel change: RESTPLUS_UPDATE_GOLDEN=1 python -m pytest tests/test_render_golden.py
(see tests/golden/render/README.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from restplus.render import render_text
from restplus.render.fonts import default_manifest
from restplus.render.provenance import pillow_versions

GOLDEN = Path(__file__).parent / "golden" / "render" / "golden.json"
UPDATE = os.environ.get("RESTPLUS_UPDATE_GOLDEN") == "1"
TEXT = ("The quick brown fox jumps over the lazy dog. 0123456789\n"
        "Solve: 3A + 2B = 7, A - B = -1 (find A and B); 45% of 80 = ?\n\n"
        "A. 12   B. 36   C. 40   D. 44")
FONTS = default_manifest().names()
DPIS = (50, 100, 200)


def _render_all() -> dict[str, dict]:
    out = {}
    dump = Path(tempfile.gettempdir()) / "restplus-golden"
    dump.mkdir(exist_ok=True)
    for f in FONTS:
        for d in DPIS:
            img = render_text(TEXT, font=f, dpi=d)
            key = f"{f}@{d}"
            out[key] = {"pixel_sha256": img.pixel_sha256, "width": img.width, "height": img.height,
                        "rendered_text": img.rendered_text}
            (dump / f"{f.replace(' ', '_')}_{d}.png").write_bytes(img.png)
    return out


def test_golden_renders_for_every_font_and_dpi():
    got = _render_all()
    env = {"libraries": pillow_versions(),
           "fonts": {n: default_manifest().get(n).sha256 for n in FONTS}}
    if UPDATE:
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps({"text": TEXT, "env": env, "renders": got}, indent=1, ensure_ascii=False) + "\n")
    assert GOLDEN.exists(), (f"{GOLDEN} is missing; create it with RESTPLUS_UPDATE_GOLDEN=1 "
                             "python -m pytest tests/test_render_golden.py")
    want = json.loads(GOLDEN.read_text())
    assert want["text"] == TEXT, "golden text changed; regenerate with RESTPLUS_UPDATE_GOLDEN=1"
    assert set(want["renders"]) == set(got), "fonts or DPIs changed; regenerate with RESTPLUS_UPDATE_GOLDEN=1"
    diff = [k for k in got if got[k] != want["renders"][k]]
    assert not diff, (f"pixels changed for {diff}. Golden made with {want['env']}, now {env}. If intended, "
                      "regenerate with RESTPLUS_UPDATE_GOLDEN=1 and review the renders.")
    # the three resolutions of one font share their line breaks and their physical size
    for f in FONTS:
        assert len({got[f"{f}@{d}"]["rendered_text"] for d in DPIS}) == 1
        assert got[f"{f}@200"]["width"] == 4 * got[f"{f}@50"]["width"] == 2 * got[f"{f}@100"]["width"]
    # fonts differ in pixels
    assert len({got[f"{f}@100"]["pixel_sha256"] for f in FONTS}) == len(FONTS)


_CHILD = r"""
import json, sys
from restplus.grammar.factors import dpi, font, modality, jpeg, noise
from restplus.grammar.grid import Grid, variant_seed
from restplus.problems.base import Problem, Segment
from restplus.variants.realization import realize
p = Problem(segments=(Segment("instruction", "Answer with the letter."),
                      Segment("context",
                              "Ada buys 3 boxes of 12 pencils and gives away 7 pencils, then she counts again."),
                      Segment("question", "How many pencils does she have left?"),
                      Segment("choices", "A. 29\nB. 36\nC. 43\nD. 7")), answer="A", answer_type="choice", task="mcq")
g = Grid(font(["Kalam", "DejaVu Sans"]), dpi([50, 200], reference=200), noise([0, 9], reference=0),
         jpeg(["none", 40], reference="none"), modality(["image", "mixed"]))
out = {}
for c in g.cells():
    v = realize(p, g, c, variant_seed(7, p.problem_id, c))
    out[c.cell_id] = [[i.sha256, i.pixel_sha256] for i in v.images]
print(json.dumps(out, sort_keys=True))
"""


def _child(hashseed: str) -> dict:
    env = {**os.environ, "PYTHONHASHSEED": hashseed, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    res = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_two_processes_give_byte_identical_pngs():
    # different hash seeds: any dependence on set/dict iteration order would show up here
    a, b = _child("1"), _child("2")
    assert len(a) == 32 and a == b
    exec_globals: dict = {}
    in_proc = _capture_in_process(exec_globals)
    assert in_proc == a
    assert len({tuple(v[0]) for v in a.values()}) == len(a)  # every cell really differs


def _capture_in_process(g: dict) -> dict:
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(_CHILD, "<child>", "exec"), g)
    return json.loads(buf.getvalue())


@pytest.mark.parametrize("level", [1])
def test_png_encoding_is_deterministic_and_carries_dpi(level):
    import io

    from PIL import Image

    img = render_text("dpi check", dpi=100)
    im = Image.open(io.BytesIO(img.png))
    assert im.info.get("dpi") and round(im.info["dpi"][0]) == 100
    assert set(im.info) <= {"dpi"}  # no text chunks, no timestamps
    assert render_text("dpi check", dpi=100).png == img.png
