"""Deterministic fake adapters for tests of the runner, cache, gate and analysis.

* :class:`EchoGold` answers the gold the caller gives it, looked up by ``Request.tag``
  (``answers={tag: text}``) or computed by ``answer_fn(request)``; ``template`` wraps it
  (default ``"{answer}"``; e.g. ``"Answer: {answer}"``). A request with no gold is a test
  misconfiguration and raises :class:`~restplus.errors.ModelError`.
* :class:`AlwaysWrong` answers the same fixed text to everything.
* :class:`Flaky` wraps an adapter; calls number n, 2n, 3n ... (1-based, counted over the wrapper's
  lifetime in request order) get an error Response instead of an answer.
* :class:`Counting` wraps an adapter transparently (same fingerprint) and counts calls per request
  key, to check that a cache or resume re-queries nothing (or exactly the failed requests).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from ..errors import ModelError
from ..models.base import ModelAdapter, check_indices
from ..records import Request, Response, TextPart


def _tokens(request: Request, text: str) -> dict[str, int]:
    words = sum(len(p.text.split()) for p in request.parts if isinstance(p, TextPart))
    return {"tokens_in": words + 64 * len(request.images), "tokens_out": len(text.split())}


class EchoGold(ModelAdapter):
    """Answers the gold for each request (see the module docstring)."""

    def __init__(self, answers: Mapping[str, str] | None = None, *,
                 answer_fn: Callable[[Request], str | None] | None = None, template: str = "{answer}",
                 name: str = "echo-gold") -> None:
        if answers is None and answer_fn is None:
            raise ModelError("EchoGold needs answers={tag: gold} or answer_fn=request -> gold.")
        if "{answer}" not in template:
            raise ModelError(f"template {template!r} must contain '{{answer}}'.")
        self.answers, self.answer_fn, self.template, self.name = dict(answers or {}), answer_fn, template, name

    def fingerprint(self) -> dict[str, Any]:
        blob = json.dumps(self.answers, sort_keys=True).encode()
        fn = None if self.answer_fn is None else getattr(self.answer_fn, "__qualname__", repr(self.answer_fn))
        return {"adapter": "echo-gold", "answers_sha256": hashlib.sha256(blob).hexdigest(), "answer_fn": fn,
                "template": self.template}

    def _gold(self, i: int, r: Request) -> str:
        gold = self.answer_fn(r) if self.answer_fn is not None else None
        if gold is None:
            gold = self.answers.get(r.tag)
        if gold is None:
            raise ModelError(f"EchoGold has no gold for requests[{i}] (tag {r.tag!r}); add it to answers= "
                             "or return it from answer_fn.")
        return gold

    def iter_generate(self, requests: Sequence[Request]) -> Iterator[tuple[int, Response]]:
        check_indices(requests)
        texts = [self.template.format(answer=self._gold(i, r)) for i, r in enumerate(requests)]
        for i, (r, text) in enumerate(zip(requests, texts)):
            yield i, Response(text=text, finish_reason="stop", **_tokens(r, text))


class AlwaysWrong(ModelAdapter):
    """Answers ``text`` to every request."""

    def __init__(self, text: str = "Answer: __wrong__", *, name: str = "always-wrong") -> None:
        self.text, self.name = text, name

    def fingerprint(self) -> dict[str, Any]:
        return {"adapter": "always-wrong", "text": self.text}

    def iter_generate(self, requests: Sequence[Request]) -> Iterator[tuple[int, Response]]:
        check_indices(requests)
        for i, r in enumerate(requests):
            yield i, Response(text=self.text, finish_reason="stop", **_tokens(r, self.text))


def _inner(inner: ModelAdapter | None, answers: Mapping[str, str] | None) -> ModelAdapter:
    if inner is not None:
        if not isinstance(inner, ModelAdapter):
            raise ModelError(f"inner must be a ModelAdapter, got {type(inner).__name__}.")
        return inner
    if answers is not None:
        return EchoGold(answers)
    raise ModelError("pass inner=<adapter> or answers={tag: gold} (wrapped in EchoGold).")


class Flaky(ModelAdapter):
    """Every ``every``-th call (1-based, lifetime count, request order) is an error Response."""

    def __init__(self, inner: ModelAdapter | None = None, *, every: int = 3,
                 answers: Mapping[str, str] | None = None, name: str = "flaky") -> None:
        if not isinstance(every, int) or every < 1:
            raise ModelError(f"every must be a positive int, got {every!r}.")
        self.inner, self.every, self.name = _inner(inner, answers), every, name
        self.calls = 0
        self._lock = threading.Lock()

    def fingerprint(self) -> dict[str, Any]:
        return {"adapter": "flaky", "every": self.every, "inner": self.inner.fingerprint()}

    def iter_generate(self, requests: Sequence[Request]) -> Iterator[tuple[int, Response]]:
        check_indices(requests)
        failing: list[int] = []
        passing: list[int] = []
        with self._lock:  # decide up front, in request order, so the failing set is deterministic
            for i in range(len(requests)):
                self.calls += 1
                (failing if self.calls % self.every == 0 else passing).append(i)
        # Yield in request order, failures where they fall: a fake that yielded all its failures first
        # would look like a run of consecutive failures (which the runner stops on) rather than "every n-th".
        fail = set(failing)
        inner = self.inner.iter_generate([requests[i] for i in passing])
        got: dict[int, Response] = {}
        for i in range(len(requests)):
            if i in fail:
                yield i, Response(error=f"injected failure (every {self.every}th call)")
                continue
            while i not in got:
                j, resp = next(inner)
                got[passing[j]] = resp
            yield i, got.pop(i)

    def close(self) -> None:
        self.inner.close()


class Counting(ModelAdapter):
    """Transparent wrapper counting calls per request key (``Request.key(inner.fingerprint())``)."""

    def __init__(self, inner: ModelAdapter | None = None, *, answers: Mapping[str, str] | None = None,
                 name: str | None = None) -> None:
        self.inner = _inner(inner, answers)
        self.name = name or self.inner.name
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def fingerprint(self) -> dict[str, Any]:
        return self.inner.fingerprint()  # transparent: same cache keys as the wrapped adapter

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def iter_generate(self, requests: Sequence[Request]) -> Iterator[tuple[int, Response]]:
        check_indices(requests)
        fp = self.inner.fingerprint()
        with self._lock:
            self.counts.update(r.key(fp) for r in requests)
        yield from self.inner.iter_generate(requests)

    def close(self) -> None:
        self.inner.close()
