"""Offline reader baseline: OCR-then-solve with tesseract. Not an MLLM — a floor to compare against.

The reader OCRs every image part with tesseract (``--psm 6`` by default, ``OMP_THREAD_LIMIT=1`` in
the subprocess environment, the exact PNG bytes on stdin) and then does what the request asks.
What it is asked is read from ``Request.tag`` (the runner's :func:`restplus.runner.prompts.request_tag`):

* ``"ocr"`` / ``"ocr:<answer_type>:<variant id>"`` — answer with the transcription of the image
  parts (joined by newlines, trailing whitespace removed). Text parts (the OCR instruction) are
  not echoed.
* ``"solve:<answer_type>"`` / ``"solve:<answer_type>:<variant id>"`` — build the problem text from
  all parts in order (text parts as they are, image parts as their transcription, joined by
  newlines) and answer ``"Answer: <x>"`` where x = ``restplus.problems.solvers.solve_from_text(
  answer_type, text)``. When the solver finds no answer the response text is empty and
  ``finish_reason`` is ``"no_answer"`` (an answer that cannot be extracted, i.e. scored wrong).

Anything after the second ``:`` is ignored (the variant id). A tag of any other shape is a
misconfiguration (:class:`~restplus.errors.ModelError`) raised before any OCR runs. The system
text is ignored. ``image_sizes`` are the native sizes: tesseract sees the pixels as rendered.
tesseract is called directly rather than through pytesseract, whose only way to set the child
environment is the process-wide ``os.environ`` and which re-encodes the image to a temp file.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from ..errors import ModelError
from ..records import ImagePart, Request, Response
from .base import ModelAdapter, check_indices, package_versions

_TAG_RE = re.compile(r"^(?P<kind>ocr|solve)(?::(?P<answer_type>[^:]*))?(?::.*)?$", re.DOTALL)


def parse_tag(tag: str) -> tuple[str, str | None]:
    """``(kind, answer_type)`` from a reader tag; raises ModelError for any other shape."""
    m = _TAG_RE.match(tag or "")
    if m is None or (m["kind"] == "solve" and not m["answer_type"]):
        raise ModelError(f"the reader baseline cannot tell what request tag {tag!r} asks for. Use "
                         "'ocr[:<answer_type>[:<id>]]' or 'solve:<answer_type>[:<id>]' "
                         "(see restplus.runner.prompts.request_tag), e.g. 'solve:soe:v123'.")
    return m["kind"], m["answer_type"] or None


def _solver():
    try:
        from ..problems.solvers import solve_from_text
    except ImportError as exc:
        raise ModelError(f"the reader's solve requests need restplus.problems.solvers.solve_from_text, which "
                         f"cannot be imported ({exc}).") from exc
    return solve_from_text


def _solvers_sha() -> str | None:
    """sha256 over the source files of restplus.problems (the solvers and the parsers they call).

    None when the package is absent (OCR-only use). Any change to a parser changes the reader's
    answers, so it must change the fingerprint (and thus every cache key).
    """
    try:
        from .. import problems
    except ImportError:
        return None
    h = hashlib.sha256()
    for f in sorted(Path(problems.__file__).parent.glob("*.py")):
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


class ReaderAdapter(ModelAdapter):
    """tesseract OCR + rule-based solvers.

    Args:
        concurrency: tesseract subprocesses at once.
        lang: tesseract language(s), e.g. "eng".
        psm: page segmentation mode (6 = a uniform block of text).
        tesseract_cmd: path of the tesseract binary (default: found on PATH).
        timeout_s: per-image OCR timeout; a timeout is a per-request error.
        name: label for logs; default "reader:tesseract".
    """

    MEMO_SIZE = 4096  # transcriptions kept in memory (a few KB each)

    def __init__(self, *, concurrency: int = 2, lang: str = "eng", psm: int = 6, tesseract_cmd: str | None = None,
                 timeout_s: float = 60.0, name: str | None = None) -> None:
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ModelError(f"concurrency must be a positive int, got {concurrency!r}.")
        cmd = tesseract_cmd or shutil.which("tesseract")
        if not cmd or not os.access(cmd, os.X_OK):
            raise ModelError(f"tesseract binary not found ({tesseract_cmd or 'not on PATH'}); install "
                             "'tesseract-ocr tesseract-ocr-eng' (apt) or pass tesseract_cmd=.")
        self.cmd, self.lang, self.psm, self.timeout_s = cmd, lang, int(psm), float(timeout_s)
        self.concurrency = concurrency
        self.name = name or "reader:tesseract"
        self.env = {**os.environ, "OMP_THREAD_LIMIT": "1"}  # 1 thread per process: ~7x faster on 2 cores
        out = subprocess.run([cmd, "--version"], capture_output=True, text=True, timeout=30, env=self.env)
        first = (out.stdout or out.stderr).strip().splitlines()
        if out.returncode != 0 or not first:
            raise ModelError(f"'{cmd} --version' failed (exit {out.returncode}): {out.stderr.strip()[:200]}")
        self.tesseract_version = first[0].strip()
        self._memo: OrderedDict[str, str] = OrderedDict()
        self._memo_lock = threading.Lock()
        self._inflight: dict[str, threading.Event] = {}

    def fingerprint(self) -> dict[str, Any]:
        return {"adapter": "reader", "tesseract": self.tesseract_version, "lang": self.lang, "psm": self.psm,
                "solvers_sha256": _solvers_sha(), "versions": package_versions("pillow")}

    def __repr__(self) -> str:
        return f"ReaderAdapter(name={self.name!r}, tesseract={self.tesseract_version!r}, psm={self.psm})"

    def ocr(self, png: bytes) -> str:
        """Transcription of one PNG (memoised by sha256: the OCR and the solve request of one variant
        read the same image, and tesseract is deterministic); raises ModelError on failure."""
        key = hashlib.sha256(png).hexdigest()
        with self._memo_lock:
            if key in self._memo:
                self._memo.move_to_end(key)
                return self._memo[key]
            # Single flight: the OCR and solve requests of one image often arrive together; the
            # second waits for the first instead of running tesseract again.
            pending = self._inflight.get(key)
            if pending is None:
                self._inflight[key] = threading.Event()
        if pending is not None:
            pending.wait()
            with self._memo_lock:
                if key in self._memo:
                    return self._memo[key]
            return self._tesseract(png)  # the first reader failed; try on our own
        try:
            text = self._tesseract(png)
            with self._memo_lock:
                self._memo[key] = text
                while len(self._memo) > self.MEMO_SIZE:
                    self._memo.popitem(last=False)
            return text
        finally:
            with self._memo_lock:
                self._inflight.pop(key).set()

    def _tesseract(self, png: bytes) -> str:
        args = [self.cmd, "stdin", "stdout", "--psm", str(self.psm), "-l", self.lang]
        try:
            out = subprocess.run(args, input=png, capture_output=True, env=self.env, timeout=self.timeout_s)
        except subprocess.TimeoutExpired as exc:
            raise ModelError(f"tesseract timed out after {self.timeout_s} s") from exc
        if out.returncode != 0:
            raise ModelError(f"tesseract exit {out.returncode}: {out.stderr.decode(errors='replace').strip()[:300]}")
        return out.stdout.decode("utf-8", errors="replace").rstrip()

    def _one(self, request: Request, kind: str, answer_type: str | None, solve) -> Response:
        from PIL import Image

        t0 = time.perf_counter()
        try:
            pieces: list[str] = []
            sizes: list[tuple[int, int]] = []
            for part in request.parts:
                if isinstance(part, ImagePart):
                    with Image.open(io.BytesIO(part.png)) as im:
                        sizes.append(im.size)
                    pieces.append(self.ocr(part.png))
                elif kind == "solve":
                    pieces.append(part.text)
        except (ModelError, OSError) as exc:  # tesseract failure, unreadable PNG
            return Response(error=f"{type(exc).__name__}: {exc}", latency_s=time.perf_counter() - t0)
        text = "\n".join(pieces)
        finish = "stop"
        if kind == "solve":
            answer = solve(answer_type, text)
            text, finish = (f"Answer: {answer}", "stop") if answer is not None else ("", "no_answer")
        return Response(text=text, image_sizes=tuple(sizes), latency_s=time.perf_counter() - t0,
                        finish_reason=finish)

    def iter_generate(self, requests: Sequence[Request]) -> Iterator[tuple[int, Response]]:
        check_indices(requests)
        parsed = [parse_tag(r.tag) for r in requests]  # all tags checked before any work starts
        solve = None
        if any(k == "solve" for k, _ in parsed):
            solve = _solver()
            for answer_type in sorted({a for k, a in parsed if k == "solve"}):
                solve(answer_type, "")  # unknown answer types raise UnknownNameError here, not mid-run
        if not requests:
            return
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(requests)),
                                thread_name_prefix="restplus-reader") as pool:
            futures = {pool.submit(self._one, r, k, a, solve): i for i, (r, (k, a)) in enumerate(zip(requests, parsed))}
            try:
                for fut in as_completed(futures):
                    yield futures[fut], fut.result()
            finally:
                for fut in futures:
                    fut.cancel()
