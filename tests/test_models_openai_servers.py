"""Several OpenAI-compatible servers behind one adapter: least-outstanding spreading, a server that
dies mid-run, the per-server give-up breaker, the /v1/models check, and URLs kept out of the key."""

from __future__ import annotations

from collections import Counter

import pytest

from restplus.cli.evaluate import load_model
from restplus.errors import ModelError
from restplus.models import load
from restplus.records import Request, TextPart
from restplus.testing import LoopbackServer


def adapter(urls, **kw):
    opts = dict(model="loopback", base_url=urls, api_key_env=None, concurrency=6, timeout_s=5.0, max_retries=3,
                backoff_s=0.005, backoff_max_s=0.02)
    opts.update(kw)
    return load("openai", **opts)


def questions(n: int) -> list[Request]:
    return [Request(parts=(TextPart(f"q{i}"),)) for i in range(n)]


def served_per_label(*servers: LoopbackServer) -> Counter[str]:
    return Counter(a.label for s in servers for a in s.arrivals if a.fault == "ok" and a.status == 200)


def dead_url() -> str:
    """A loopback URL nobody listens on (a server started then stopped)."""
    with LoopbackServer() as srv:
        url = srv.base_url
    return url


def test_requests_are_spread_by_least_outstanding_requests():
    with LoopbackServer(latency_s=0.04) as a, LoopbackServer(latency_s=0.04) as b, \
            LoopbackServer(latency_s=0.04) as c, adapter([a.base_url, b.base_url, c.base_url]) as m:
        out = m.generate(questions(30))
    assert all(r.ok for r in out) and [r.text for r in out] == [f"echo: q{i}" for i in range(30)]
    shares = [len(s.served()) for s in (a, b, c)]
    # 6 workers over 3 equal servers: 2 in flight on each, so each serves about a third.
    assert sum(shares) == 30 and min(shares) >= 7, shares
    assert max(s.max_in_flight for s in (a, b, c)) <= 3
    assert served_per_label(a, b, c) == Counter(f"q{i}" for i in range(30))  # each answered once


def test_a_server_stopped_mid_run_loses_no_row_and_leaves_the_rotation():
    n = 40
    with LoopbackServer(latency_s=0.03) as a, LoopbackServer(latency_s=0.03) as b, \
            LoopbackServer(latency_s=0.03) as c, adapter([a.base_url, b.base_url, c.base_url]) as m:
        m.GIVE_UP_AFTER = 3
        b_url, got = b.base_url, {}
        for k, (i, r) in enumerate(m.iter_generate(questions(n))):
            got[i] = r
            if k == 8:
                b.stop()  # in-flight requests on b are dropped with their connections
        dead = m.dead_servers
        load_after = m.server_load
    assert sorted(got) == list(range(n)) and all(r.ok for r in got.values()), \
        [r.error for r in got.values() if not r.ok]
    assert all(got[i].text == f"echo: q{i}" for i in range(n))
    assert served_per_label(a, b, c) == Counter(f"q{i}" for i in range(n))  # none lost, none twice
    assert len(b.served()) < n // 3 and len(a.served()) + len(c.served()) > 2 * n // 3
    assert any(r.attempts > 1 for r in got.values())  # some requests did move off the stopped server
    assert dead == [b_url]
    assert load_after[b_url] >= 3


def test_only_every_server_dead_stops_retrying():
    urls = [dead_url(), dead_url()]
    with adapter(urls, max_retries=20, backoff_s=0.001, backoff_max_s=0.001) as m:
        out = m.generate(questions(12))
        dead = m.dead_servers
    assert not any(r.ok for r in out)
    assert sorted(dead) == sorted(urls)
    # Breaker: 8 failures in a row per server (16 attempts) and every later request tries once.
    assert sum(r.attempts for r in out) < 12 * 21 and out[-1].attempts == 1, [r.attempts for r in out]
    assert "every server" in out[-1].error


def test_one_dead_server_among_healthy_ones_is_routed_around():
    gone = dead_url()
    with LoopbackServer() as a, adapter([gone, a.base_url], max_retries=1) as m:
        out = m.generate(questions(20))
        dead = m.dead_servers
    assert all(r.ok for r in out), [r.error for r in out if not r.ok]
    assert len(a.served()) == 20 and dead == [gone]


def test_servers_that_report_different_models_are_refused():
    with LoopbackServer(model_name="qwen2.5-vl-7b") as a, LoopbackServer(model_name="llava-1.6") as b, \
            adapter([a.base_url, b.base_url]) as m:
        urls = m.base_urls
        with pytest.raises(ModelError) as err:
            m.generate(questions(4))
    msg = str(err.value)
    assert urls[0] in msg and urls[1] in msg and "qwen2.5-vl-7b" in msg and "llava-1.6" in msg


def test_same_model_check_is_one_get_per_server_and_a_single_server_skips_it():
    with LoopbackServer(model_name="same") as a, LoopbackServer(model_name="same") as b, \
            adapter([a.base_url, b.base_url]) as m:
        assert all(r.ok for r in m.generate(questions(10)))
        checked = [s.models for s in m._servers]
    assert checked == [("same",), ("same",)]
    with LoopbackServer(model_name="other") as c, adapter(c.base_url) as m1:
        assert m1.generate(questions(1))[0].ok
        assert m1._servers[0].models is None  # nothing to compare with


def test_cache_key_has_no_url():
    with LoopbackServer() as a, LoopbackServer() as b:
        one, two = adapter(a.base_url), adapter([a.base_url, b.base_url])
        rev = adapter(f"{b.base_url},{a.base_url}")
        try:
            assert one.fingerprint() == two.fingerprint() == rev.fingerprint()
            key = Request(parts=(TextPart("x"),)).key
            assert key(one.fingerprint()) == key(two.fingerprint())
        finally:
            for m in (one, two, rev):
                m.close()


@pytest.mark.parametrize("urls,match", [
    ([], "must be a URL"),
    ("http://127.0.0.1:9/v1,", "must be a URL"),
    (["http://127.0.0.1:9/v1", "127.0.0.1:8/v1"], "'127.0.0.1:8/v1' is not an http"),
    ("http://127.0.0.1:9/v1,http://127.0.0.1:9/v1", "more than once"),
])
def test_bad_url_lists_are_refused(urls, match):
    with pytest.raises(ModelError, match=match):
        adapter(urls)


def test_cli_comma_list_builds_one_adapter_over_both_servers():
    with LoopbackServer() as a, LoopbackServer() as b:
        m = load_model("openai:loopback", base_url=f"{a.base_url},{b.base_url}", api_key_env="none", workers=4)
        with m:
            assert m.base_urls == (a.base_url, b.base_url)
            assert all(r.ok for r in m.generate(questions(8)))
        assert a.served() and b.served()
