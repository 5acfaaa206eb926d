"""The README's Python quickstart runs as written, against a loopback OpenAI-compatible server.

The server stands in for a vLLM endpoint; behind it, the tesseract reader answers (so answers are
real and the effect table is estimable). Only the endpoint, the problem count and the paths change.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def quickstart() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "README has no python block"
    return blocks[0]


def reader_answer(body):
    from restplus.models import load
    from restplus.records import ImagePart, Request, TextPart
    from restplus.runner.prompts import PromptSet

    reader = reader_answer.__dict__.setdefault("reader", load("reader", concurrency=1))
    parts = []
    for c in body["messages"][-1]["content"]:
        if c["type"] == "text":
            parts.append(TextPart(c["text"]))
        else:
            parts.append(ImagePart(png=base64.b64decode(c["image_url"]["url"].split(",", 1)[1])))
    is_ocr = parts[-1].text == PromptSet().ocr_text("soe")
    req = Request(parts=tuple(parts), tag=("ocr" if is_ocr else "solve") + ":soe:readme")
    return reader.generate([req])[0].text


@pytest.mark.slow
def test_readme_quickstart_runs(tmp_path):
    from restplus.testing import LoopbackServer

    code = quickstart()
    assert 'base_url="http://127.0.0.1:8000/v1"' in code and 'rp.builtin_set("soe", n=50)' in code
    with LoopbackServer(answer=reader_answer, max_lifetime_s=600) as srv:
        code = code.replace("http://127.0.0.1:8000/v1", srv.base_url).replace('n=50', 'n=3')
        code = code.replace('"runs/rest_plus', f'"{tmp_path}/rest_plus').replace('"effects.tex"', f'"{tmp_path}/e.tex"')
        # The reader's gate-passed rows are all correct by construction (a perfect reading is always
        # solved), so the effects of this stand-in are estimated ungated; an MLLM needs no change.
        assert '"text_color": "black"})' in code
        code = code.replace('"text_color": "black"})', '"text_color": "black"}, gate_policy="ignore")')
        script = tmp_path / "quickstart.py"
        script.write_text(textwrap.dedent(code))
        env = {**os.environ, "VLLM_API_KEY": "sk-readme-canary", "HF_HUB_OFFLINE": "1"}
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=600,
                              cwd=README.parent)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "27 cells" in proc.stdout
    tex = (tmp_path / "e.tex").read_text()
    assert "\\toprule" in tex and "dpi" in tex
    assert srv.counts()  # the quickstart really talked to the server
    # the key never lands in any file the run wrote
    for f in tmp_path.rglob("*"):
        if f.is_file() and f.suffix in (".json", ".jsonl", ".parquet", ".sqlite", ".tex", ".py"):
            assert b"sk-readme-canary" not in f.read_bytes(), f
