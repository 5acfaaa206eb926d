"""OpenAI-compatible adapter against the loopback server: retries, Retry-After, no loss or duplication,
bounded concurrency, budget caps, exact image bytes, extra_body, and API-key hygiene."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import random
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict

import pytest
from PIL import Image

from restplus.errors import BudgetExceeded, ModelError
from restplus.models import load
from restplus.models._retry import RetryPolicy, parse_retry_after
from restplus.records import Decoding, ImagePart, Request, Response, TextPart
from restplus.testing import Fault, LoopbackServer

KEY_ENV = "RESTPLUS_TEST_OPENAI_KEY"


@pytest.fixture
def key(monkeypatch) -> str:
    canary = f"sk-canary-{uuid.uuid4().hex}"
    monkeypatch.setenv(KEY_ENV, canary)
    return canary


def adapter(srv: LoopbackServer, **kw):
    opts = dict(model="loopback", base_url=srv.base_url, api_key_env=KEY_ENV, concurrency=8, timeout_s=5.0,
                max_retries=3, backoff_s=0.005, backoff_max_s=0.02)
    opts.update(kw)
    return load("openai", **opts)


def questions(n: int, prefix: str = "q") -> list[Request]:
    return [Request(parts=(TextPart(f"{prefix}{i}"),)) for i in range(n)]


def arrivals_by_label(srv: LoopbackServer) -> dict[str, list]:
    out: dict[str, list] = defaultdict(list)
    for a in srv.arrivals:
        out[a.label].append(a)
    return out


def test_faults_end_in_an_answer_or_a_recorded_error_never_lost_or_duplicated(key):
    rates = {"429": 0.2, "500": 0.2, "malformed": 0.1, "truncated": 0.1}
    with LoopbackServer(rates=rates, seed=3) as srv, adapter(srv) as m:
        out = m.generate(questions(60))
        usage = m.usage
    seen = arrivals_by_label(srv)
    assert sum(not r.ok for r in out) >= 1 and sum(r.ok for r in out) >= 30  # both paths exercised
    assert {a.fault for a in srv.arrivals} >= set(rates) | {"ok"}
    for i, r in enumerate(out):
        mine = seen[f"q{i}"]
        assert len(mine) == r.attempts <= 4  # the server saw exactly the client's attempts
        served = [a for a in mine if a.fault == "ok"]
        if r.ok:
            assert r.text == f"echo: q{i}" and len(served) == 1 and mine[-1].fault == "ok"
        else:
            assert served == [] and r.attempts == 4 and "gave up after 4 attempts" in r.error
    assert usage["attempts"] == len(srv.arrivals) and usage["requests"] == 60


def test_timeouts_are_retried(key):
    with LoopbackServer(schedule={1: Fault("timeout")}, timeout_sleep_s=3.0) as srv, \
            adapter(srv, timeout_s=0.4, concurrency=4) as m:
        out = m.generate(questions(4))
    seen = arrivals_by_label(srv)
    for i, r in enumerate(out):
        assert r.ok and r.text == f"echo: q{i}" and r.attempts >= 2
        assert seen[f"q{i}"][0].fault == "timeout" and len(seen[f"q{i}"]) == r.attempts


class _RecordingEvent(threading.Event):
    """The adapter's close event; its timed waits are the retry sleeps, recorded here (not timed)."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        if timeout is not None:
            self.waits.append(timeout)
        return super().wait(timeout)


def test_retry_after_is_honoured_on_the_server_clock(key):
    with LoopbackServer(schedule={1: Fault("429", retry_after=0.4)}) as srv, adapter(srv, concurrency=6) as m:
        m._closing = told = _RecordingEvent()
        out = m.generate(questions(6))
    with LoopbackServer(schedule={1: Fault("500")}) as srv2, adapter(srv2, concurrency=6) as m2:
        m2._closing = backoff = _RecordingEvent()
        out2 = m2.generate(questions(6))
    assert all(r.ok and r.attempts == 2 for r in out + out2)
    # the wait asked for is the server's Retry-After, once per request; without the header it is the
    # first exponential backoff step, jittered in [backoff_s / 2, backoff_s) (backoff_s=0.005 here)
    assert told.waits == [0.4] * 6
    assert len(backoff.waits) == 6 and all(0.0025 <= w < 0.005 for w in backoff.waits)
    gaps = [b.t - a.t for a, b in arrivals_by_label(srv).values()]
    assert min(gaps) >= 0.4  # and the wait really happened: a lower bound on the server clock


@pytest.mark.parametrize("schedule,attempts,match", [
    ({1: Fault("400")}, 1, "HTTP 400"),  # other 4xx: the request itself is wrong, never retried
    ({k: Fault("500") for k in range(1, 10)}, 4, "gave up after 4 attempts"),
])
def test_non_retryable_and_exhausted(key, schedule, attempts, match):
    with LoopbackServer(schedule=schedule) as srv, adapter(srv) as m:
        out = m.generate(questions(5))
    assert all(not r.ok and r.attempts == attempts and match in r.error for r in out)
    assert sorted(srv.counts().values()) == [attempts] * 5


def test_concurrency_is_bounded(key):
    with LoopbackServer(latency_s=0.15) as srv, adapter(srv, concurrency=3) as m:
        out = m.generate(questions(12))
    assert all(r.ok for r in out)
    assert srv.max_in_flight == 3


def test_request_budget_stops_cleanly(key):
    with LoopbackServer(latency_s=0.02) as srv, adapter(srv, concurrency=2, max_requests=5) as m:
        got = []
        with pytest.raises(BudgetExceeded, match="5 of 12 requests"):
            for i, r in m.iter_generate(questions(12)):
                got.append(i)
        assert m.budget_exhausted and len(got) == 5 and len(set(got)) == 5
        assert sorted(a.label for a in srv.arrivals) == sorted(f"q{i}" for i in got)  # nothing else was sent
        with pytest.raises(BudgetExceeded) as exc:  # the cap is over the adapter's lifetime
            m.generate(questions(2, "again"))
        assert exc.value.responses == {}
    assert len(srv.arrivals) == 5


def test_token_budget_stops_cleanly(key):
    with LoopbackServer() as srv, adapter(srv, concurrency=1, max_total_tokens=40) as m:
        with pytest.raises(BudgetExceeded) as exc:
            m.generate(questions(20))
        done = exc.value.responses
        used = m.usage["tokens_in"] + m.usage["tokens_out"]
    assert 0 < len(done) < 20 and all(r.ok for r in done.values())
    assert used >= 40 and used - sum(r.tokens_in + r.tokens_out for r in done.values()) == 0
    assert len(srv.arrivals) == len(done)


def test_images_travel_as_exact_png_bytes_and_extra_body_passes_through(key):
    def answer(body):
        content = body["messages"][-1]["content"]
        url = next(c["image_url"]["url"] for c in content if c["type"] == "image_url")
        assert url.startswith("data:image/png;base64,")
        sha = hashlib.sha256(base64.b64decode(url.split(",", 1)[1])).hexdigest()
        return json.dumps({"sha": sha, "mm": body.get("mm_processor_kwargs"), "system": body["messages"][0]})

    buf = io.BytesIO()
    Image.new("RGB", (37, 11), (250, 240, 200)).save(buf, format="PNG", compress_level=1)
    part = ImagePart(buf.getvalue())
    extra = {"mm_processor_kwargs": {"max_pixels": 802816}}
    with LoopbackServer(answer=answer) as srv, adapter(srv, extra_body=extra) as m:
        r = m.generate([Request(parts=(part, TextPart("read")), system="sys")])[0]
        fp, port = m.fingerprint(), srv.base_url.split(":")[2].split("/")[0]
    got = json.loads(r.text)
    assert got == {"sha": part.sha256, "mm": {"max_pixels": 802816}, "system": {"role": "system", "content": "sys"}}
    assert fp["extra_body"] == extra and "endpoint_host" not in fp  # no URL in the cache key
    assert "base_url" not in fp and port not in json.dumps(fp) and "127.0.0.1" not in json.dumps(fp)


def test_api_key_never_leaves_the_client(key, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    with LoopbackServer(require_key=key, schedule={1: Fault("500"), 2: Fault("400")}) as srv, adapter(srv) as m:
        out = m.generate(questions(3))  # authenticated: reaches the fault schedule
        fp, text = m.fingerprint(), f"{m!r} {m!s} {m.usage}"
    assert all("HTTP 400" in r.error for r in out)  # i.e. the key was sent and accepted
    with LoopbackServer(require_key="sk-other") as srv2, adapter(srv2) as m2:
        rejected = m2.generate(questions(2))  # the 401 body echoes the presented key
    assert all("HTTP 401" in r.error and "[redacted]" in r.error for r in rejected)
    (tmp_path / "fingerprint.json").write_text(json.dumps(fp))
    (tmp_path / "responses.jsonl").write_text("\n".join(r.to_json() for r in out + rejected))
    (tmp_path / "repr.txt").write_text(text)
    for f in tmp_path.iterdir():
        assert key not in f.read_text(), f.name
    assert key not in caplog.text
    with pytest.raises(ModelError) as exc:
        load("openai", model="m", base_url="http://127.0.0.1:9/v1", api_key_env="RESTPLUS_TEST_UNSET_VAR")
    assert "RESTPLUS_TEST_UNSET_VAR" in str(exc.value) and key not in str(exc.value)


@pytest.mark.parametrize("kwargs,match", [
    ({"base_url": "127.0.0.1:8000"}, "not an http"),
    ({"concurrency": 0}, "concurrency"),
    ({"max_requests": -1}, "max_requests"),
    ({"max_retries": -1}, "retry settings"),
])
def test_misconfiguration(key, kwargs, match):
    opts = {"model": "m", "base_url": "http://127.0.0.1:9/v1", "api_key_env": KEY_ENV, **kwargs}
    with pytest.raises(ModelError, match=match):
        load("openai", **opts)


@pytest.mark.parametrize("headers,expected", [
    ({"retry-after": "2"}, 2.0), ({"retry-after": "0.25"}, 0.25), ({"retry-after-ms": "150"}, 0.15),
    ({"retry-after": "soon"}, None), ({}, None),
    ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),  # a date in the past: retry now
])
def test_parse_retry_after(headers, expected):
    assert parse_retry_after(headers) == expected


def test_backoff_is_exponential_capped_and_seeded_without_global_rng():
    state = random.getstate()
    p = RetryPolicy(max_retries=5, backoff_s=0.1, backoff_max_s=0.5, max_retry_after_s=3.0)
    a = [p.delay(k, random.Random("s"), None) for k in range(1, 6)]
    b = [p.delay(k, random.Random("s"), None) for k in range(1, 6)]
    assert a == b and random.getstate() == state
    for k, d in enumerate(a, start=1):
        base = min(0.5, 0.1 * 2 ** (k - 1))
        assert 0.5 * base <= d < base
    assert p.delay(1, random.Random(0), 10.0) == 3.0 and p.delay(1, random.Random(0), 0.2) == 0.2


def test_response_records_round_trip():
    r = Response(text="x", tokens_in=3, tokens_out=1, attempts=2, finish_reason="stop")
    assert Response.from_dict(json.loads(r.to_json())) == r


def test_server_stops_itself_after_its_lifetime():
    srv = LoopbackServer(max_lifetime_s=0.2).start()
    assert srv.base_url.startswith("http://127.0.0.1:")
    deadline = time.monotonic() + 5
    while srv._httpd is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    with pytest.raises(ModelError, match="not running"):
        srv.base_url  # noqa: B018


def test_server_runs_in_its_own_process_and_reports_what_it_served(key):
    serve = "from restplus.testing.server import main; main()"
    proc = subprocess.Popen([sys.executable, "-c", serve, "--latency", "0.01"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        base_url = proc.stdout.readline().strip()
        with load("openai", model="m", base_url=base_url, api_key_env=KEY_ENV, concurrency=2) as m:
            out = m.generate(questions(3))
        proc.stdin.close()
        report = json.loads(proc.stdout.readline())
    finally:
        proc.wait(timeout=10)
    assert [r.text for r in out] == ["echo: q0", "echo: q1", "echo: q2"]
    assert report["arrivals"] == 3 and sorted(report["served"].values()) == [1, 1, 1]


# -- provider request presets ----------------------------------------------------------------------
def body_echo(body):
    """The server answers with the request body minus messages: what the provider really received."""
    return json.dumps({k: v for k, v in body.items() if k != "messages"}, sort_keys=True)


ASK = Request(parts=(TextPart("q"),), decoding=Decoding(max_tokens=64, seed=7))
UNSEEDED = Request(parts=(TextPart("q"),), decoding=Decoding(max_tokens=64))  # anthropic/gemini send no seed
CHAT = {"model": "loopback", "temperature": 0.0, "top_p": 1.0, "max_tokens": 64, "seed": 7}


@pytest.mark.parametrize("preset,expected", [
    ("openai", CHAT),
    ("openai-reasoning", {"model": "loopback", "max_completion_tokens": 64, "seed": 7}),
    ("anthropic", {"model": "loopback", "temperature": 0.0, "max_tokens": 64}),
    ("gemini", {"model": "loopback", "temperature": 0.0, "top_p": 1.0, "max_tokens": 64}),
    ("vllm", {**CHAT, "repetition_penalty": 1.0}),
    ("sglang", {**CHAT, "repetition_penalty": 1.0}),
    ("ollama", CHAT),
])
def test_each_preset_sends_exactly_its_fields(key, preset, expected):
    with LoopbackServer(answer=body_echo) as srv, adapter(srv, preset=preset) as m:
        r = m.generate([ASK if "seed" in expected else UNSEEDED])[0]
        fields = m.request_fields()
    assert r.ok, r.error
    assert json.loads(r.text) == expected
    # the fingerprint's record has the same keys, with placeholders where the request's Decoding goes
    # (plus "stop" where the preset sends it: ASK has no stop strings, so it was not in the body)
    assert set(fields) - {"stop"} == set(expected) and fields["model"] == "loopback"
    assert all(v == expected[k] if k in ("model", "repetition_penalty") else str(v).startswith("<decoding.")
               for k, v in fields.items())


def test_extra_body_overrides_any_field_and_none_deletes_it(key):
    extra = {"temperature": 0.3, "top_p": None, "seed": None, "stop": None, "max_tokens": None,
             "max_completion_tokens": 99, "reasoning_effort": "minimal", "absent": None}
    with LoopbackServer(answer=body_echo) as srv, adapter(srv, preset="openai", extra_body=extra) as m:
        r = m.generate([ASK])[0]
        fields = m.request_fields()
    assert json.loads(r.text) == {"model": "loopback", "temperature": 0.3, "max_completion_tokens": 99,
                                  "reasoning_effort": "minimal"}
    assert fields == json.loads(r.text)  # every field is fixed by extra_body here: no placeholders left


def test_max_tokens_override_goes_under_the_presets_name(key):
    with LoopbackServer(answer=body_echo) as srv, adapter(srv, preset="openai-reasoning", max_tokens=4096) as m:
        r = m.generate([ASK])[0]
        fields = m.request_fields()
    assert json.loads(r.text) == {"model": "loopback", "max_completion_tokens": 4096, "seed": 7}
    assert fields["max_completion_tokens"] == 4096


def test_a_decoding_field_the_preset_cannot_send_is_refused_not_dropped(key):
    hot = Request(parts=(TextPart("q"),), decoding=Decoding(temperature=0.7, seed=1))
    stop = Request(parts=(TextPart("q"),), decoding=Decoding(stop=("\n",)))
    with LoopbackServer(answer=body_echo) as srv:
        with adapter(srv, preset="openai-reasoning") as m:
            with pytest.raises(ModelError, match=r"temperature=0\.7.*'openai-reasoning'.*extra_body"):
                m.generate([ASK, hot])
            with pytest.raises(ModelError, match="stop="):
                m.generate([stop])
        with adapter(srv, preset="anthropic") as m:
            with pytest.raises(ModelError, match=r"top_p=0\.5"):
                m.generate([Request(parts=(TextPart("q"),), decoding=Decoding(top_p=0.5))])
        # said explicitly in extra_body, the field is the user's choice and goes out
        with adapter(srv, preset="openai-reasoning", extra_body={"temperature": 1.0}) as m:
            body = json.loads(m.generate([hot])[0].text)
        assert srv.arrivals and len(srv.arrivals) == 1  # the refused requests never reached the server
    assert body == {"model": "loopback", "max_completion_tokens": 1024, "seed": 1, "temperature": 1.0}


def test_request_shape_is_in_the_fingerprint_and_the_cache_key(key):
    def fp(**kw):
        return load("openai", model="m", base_url="http://127.0.0.1:9/v1", api_key_env=KEY_ENV, **kw).fingerprint()

    fps = {"openai": fp(), "openai2": fp(preset="openai"), "vllm": fp(preset="vllm"),
           "reasoning": fp(preset="openai-reasoning"), "extra": fp(extra_body={"top_p": None}),
           "max": fp(max_tokens=4096)}
    keys = {k: ASK.key(v) for k, v in fps.items()}
    assert keys["openai"] == keys["openai2"]
    assert len({keys[k] for k in ("openai", "vllm", "reasoning", "extra", "max")}) == 5
    assert fps["vllm"]["request_fields"] == {"model": "m", "temperature": "<decoding.temperature>",
                                             "top_p": "<decoding.top_p>", "max_tokens": "<decoding.max_tokens>",
                                             "seed": "<decoding.seed>", "stop": "<decoding.stop>",
                                             "repetition_penalty": 1.0}
    assert fps["reasoning"]["preset"] == "openai-reasoning"
    assert key not in json.dumps(fps)


def test_presets_are_a_registry_users_can_extend(key):
    from restplus.errors import UnknownNameError
    from restplus.models.presets import PRESETS, RequestPreset, register_preset

    mine = RequestPreset((("max_tokens", "max_output_tokens"), ("seed", "seed")), (("store", False),), doc="a proxy")
    register_preset("test-proxy", mine)
    try:
        with LoopbackServer(answer=body_echo) as srv, adapter(srv, preset="test-proxy") as m:
            got = json.loads(m.generate([ASK])[0].text)
        assert got == {"model": "loopback", "max_output_tokens": 64, "seed": 7, "store": False}
        with pytest.raises(ModelError, match="already registered"):
            register_preset("test-proxy", RequestPreset((("max_tokens", "max_tokens"),)))
    finally:
        PRESETS.unregister("test-proxy")
    with pytest.raises(UnknownNameError, match="Did you mean: anthropic"):
        load("openai", model="m", base_url="http://127.0.0.1:9/v1", api_key_env=KEY_ENV, preset="antropic")
    for bad, match in [(RequestPreset((("max_tokens", "max_tokens"), ("temprature", "t"))), "temprature"),
                       (RequestPreset((("seed", "seed"),)), "must send Decoding.max_tokens"),
                       (RequestPreset((("max_tokens", "max_tokens"),), (("max_tokens", 5),)), "twice"),
                       (RequestPreset((("max_tokens", "messages"),)), "reserved")]:
        with pytest.raises(ModelError, match=match):
            register_preset("test-bad", bad)
    assert "test-bad" not in PRESETS


@pytest.mark.parametrize("extra,match", [
    ({"messages": []}, "'messages'"), ([("a", 1)], "JSON object"), ({"x": object()}, "JSON-serialisable"),
])
def test_bad_extra_body_is_refused(key, extra, match):
    with pytest.raises(ModelError, match=match):
        load("openai", model="m", base_url="http://127.0.0.1:9/v1", api_key_env=KEY_ENV, extra_body=extra)


def test_a_hanging_server_fails_within_the_per_request_timeout(key):
    # Every attempt hangs for 30 s; with timeout_s=0.5 and one retry the request must give up in ~1 s
    # (the openai client's own default would wait 600 s per attempt).
    with LoopbackServer(schedule=lambda rid, attempt: Fault("timeout"), timeout_sleep_s=30.0) as srv, \
            adapter(srv, timeout_s=0.5, max_retries=1) as m:
        t0 = time.monotonic()
        r = m.generate(questions(1))[0]
        elapsed = time.monotonic() - t0
        seen = len(srv.arrivals)
    assert not r.ok and r.attempts == 2 and seen == 2
    assert "timeout" in r.error and "gave up after 2 attempts" in r.error  # retryable, then exhausted
    assert 2 * 0.5 <= elapsed < 2 * 0.5 + 1.5
