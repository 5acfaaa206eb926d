"""Adapter registry, the base-class contract, and the deterministic fakes in restplus.testing."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Sequence

import pytest

from restplus.errors import ModelError, UnknownNameError
from restplus.models import ModelAdapter, load, names, register, resolve
from restplus.records import Request, Response, TextPart
from restplus.testing import AlwaysWrong, Counting, EchoGold, Flaky


def reqs(n: int) -> list[Request]:
    return [Request(parts=(TextPart(f"q{i}"),), tag=f"solve:number:v{i}") for i in range(n)]


GOLD = {f"solve:number:v{i}": str(i * i) for i in range(10)}


def test_registry_names_and_did_you_mean():
    assert {"hf", "openai", "reader", "echo-gold", "always-wrong", "flaky", "counting"} <= set(names())
    with pytest.raises(UnknownNameError, match="Did you mean: echo-gold"):
        load("echo_gold")
    with pytest.raises(UnknownNameError, match="Available: .*openai"):
        load("vllm")
    assert resolve("echo-gold") is EchoGold


def test_register_checks_targets():
    from restplus.models import ADAPTERS

    with pytest.raises(ModelError, match="package.module:ClassName"):
        register("mine", "restplus.testing.fakes.EchoGold")
    with pytest.raises(ModelError, match="already registered"):
        register("hf", "restplus.testing.fakes:EchoGold")
    register("not-an-adapter", "restplus.records:Request")
    try:
        with pytest.raises(ModelError, match="not a ModelAdapter"):
            resolve("not-an-adapter")
    finally:
        ADAPTERS.unregister("not-an-adapter")  # leave no test entry behind
    assert "not-an-adapter" not in names()


def test_importing_models_loads_no_heavy_backend():
    code = ("import sys, restplus.models, restplus.testing; "
            "print(sorted(m for m in ('torch', 'transformers', 'openai') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_echo_gold_answers_by_tag_or_function():
    m = load("echo-gold", answers=GOLD, template="Answer: {answer}")
    out = m.generate(reqs(4))
    assert [r.text for r in out] == ["Answer: 0", "Answer: 1", "Answer: 4", "Answer: 9"]
    fn = EchoGold(answer_fn=lambda r: r.parts[0].text.upper())
    assert fn.generate(reqs(2))[1].text == "Q1"
    with pytest.raises(ModelError, match="no gold for requests\\[0\\]"):
        EchoGold({"other": "x"}).generate(reqs(1))
    assert m.fingerprint() != load("echo-gold", answers={**GOLD, "solve:number:v0": "1"}).fingerprint()


def test_always_wrong():
    assert {r.text for r in AlwaysWrong("Answer: -1").generate(reqs(3))} == {"Answer: -1"}


def test_flaky_fails_every_nth_call_deterministically_across_calls():
    a, b = Flaky(answers=GOLD, every=3), Flaky(answers=GOLD, every=3)
    first, again = a.generate(reqs(5)), a.generate(reqs(5))  # calls 1..5, then 6..10
    assert [r.ok for r in first] == [True, True, False, True, True]
    assert [r.ok for r in again] == [False, True, True, False, True]
    assert [r.ok for r in b.generate(reqs(5))] == [r.ok for r in first]
    assert first[0].text == "0" and "injected failure" in first[2].error


def test_counting_is_transparent_and_counts_per_request_key():
    inner = EchoGold(GOLD)
    c = Counting(inner)
    c.generate(reqs(3))
    c.generate(reqs(2))
    fp = inner.fingerprint()
    assert c.fingerprint() == fp
    assert c.counts[reqs(1)[0].key(fp)] == 2 and c.total == 5 and len(c.counts) == 3


class _Lossy(ModelAdapter):
    name = "lossy"

    def fingerprint(self) -> dict:
        return {"adapter": "lossy"}

    def iter_generate(self, requests: Sequence[Request]) -> Iterator[tuple[int, Response]]:
        yield 0, Response(text="only the first")


def test_generate_detects_adapters_that_drop_requests_and_rejects_non_requests():
    with pytest.raises(ModelError, match="no response for request indices \\[1, 2\\]"):
        _Lossy().generate(reqs(3))
    with pytest.raises(ModelError, match="not a restplus Request"):
        EchoGold(GOLD).generate(["q0"])  # type: ignore[list-item]
