"""Runner against the loopback OpenAI-compatible server: kill -9 and resume, injected faults."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import polars as pl
import pytest

from restplus.grammar.spec import load_grid
from restplus.models import load
from restplus.problems import builtin_set
from restplus.runner.evaluation import evaluate
from restplus.testing import Fault, LoopbackServer
from restplus.variants.generation import generate

ROOT = Path(__file__).resolve().parents[1]
N_PROBLEMS = 4
# smoke.yaml: 1 text + 4 image + 4 mixed cells; image/mixed variants need solve + OCR requests.
N_REQUESTS = N_PROBLEMS * (1 + 8 * 2)


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("http") / "variants"
    generate(builtin_set("soe", n=N_PROBLEMS), load_grid(ROOT / "perturbations" / "smoke.yaml"), 0, out, workers=1,
             progress=False)
    return out


def adapter(srv: LoopbackServer, **kw):
    return load("openai", model="loopback", base_url=srv.base_url, api_key_env=None, concurrency=4, timeout_s=10,
                backoff_s=0.01, backoff_max_s=0.05, **kw)


_CHILD = textwrap.dedent("""
    import sys
    from restplus.models import load
    from restplus.runner.evaluation import evaluate
    m = load("openai", model="loopback", base_url=sys.argv[1], api_key_env=None, concurrency=4, timeout_s=10,
             backoff_s=0.01, backoff_max_s=0.05)
    evaluate(sys.argv[2], m, out=sys.argv[3], progress=False, chunk_size=4)
""")


def _cache_rows(path: Path) -> int:
    if not path.exists():
        return 0
    con = sqlite3.connect(path, timeout=30)
    try:
        return con.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    except sqlite3.OperationalError:  # table not created yet
        return 0
    finally:
        con.close()


@pytest.mark.slow
def test_kill_9_then_resume_sends_each_uncommitted_request_once(run_folder, tmp_path):
    out = tmp_path / "run"
    latency, concurrency = 0.1, 4
    with LoopbackServer(latency_s=latency) as srv:
        child = subprocess.Popen([sys.executable, "-c", _CHILD, srv.base_url, str(run_folder), str(out)], cwd=ROOT,
                                 env={**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"},
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while _cache_rows(out / "cache.sqlite") < 12:
            assert child.poll() is None, child.communicate()[1].decode()[-2000:]
            assert time.monotonic() < deadline, "the child made no progress"
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        time.sleep(3 * latency)  # requests that were in flight finish server-side and are recorded
        arrivals_before = len(srv.arrivals)
        committed = _cache_rows(out / "cache.sqlite")
        assert 12 <= committed < N_REQUESTS, "the kill must land mid-run"
        # only what was in flight at the kill was lost: at most `concurrency` requests on the wire plus
        # answers the adapter's workers had queued for the runner but that were not committed yet
        assert 0 <= arrivals_before - committed <= 2 * concurrency
        assert not (out / "results.parquet").exists()  # killed before the end: no half-written table

        res = evaluate(run_folder, adapter(srv), out=out, progress=False)
        resent = len(srv.arrivals) - arrivals_before
        # resume sends exactly the requests that were not committed: nothing answered is asked twice
        assert resent == N_REQUESTS - committed
        assert res.counts["cache_hits"] == committed and res.counts["calls"] == N_REQUESTS - committed
        assert len(srv.counts()) == N_REQUESTS  # every unique request reached the server
        assert sum(srv.counts().values()) - N_REQUESTS == arrivals_before - committed  # only lost in-flight repeats
    t = pl.read_parquet(out / "results.parquet")
    assert t.height == N_REQUESTS and t.select("variant_id", "prompt_type").is_duplicated().sum() == 0
    assert t["error"].null_count() == t.height and res.status == "complete"
    assert t.filter(pl.col("prompt_type") == "ocr").height == N_PROBLEMS * 8


def _schedule(rid: str, attempt: int) -> Fault | None:
    """~20% transient faults (500 / 429 / malformed), drawn per (request, attempt); requests whose id
    starts with "0" fail on every attempt, so their retries are exhausted."""
    if rid.startswith("0"):
        return Fault("500")
    u = random.Random(f"faults/{rid}/{attempt}").random()
    return Fault("500") if u < 0.07 else Fault("429", retry_after=0.01) if u < 0.14 else \
        Fault("malformed") if u < 0.2 else None


@pytest.mark.slow
def test_injected_faults_are_retried_and_nothing_is_lost(run_folder, tmp_path):
    max_retries = 4
    with LoopbackServer(schedule=_schedule) as srv:
        res = evaluate(run_folder, adapter(srv, max_retries=max_retries), out=tmp_path / "run", progress=False,
                       chunk_size=8)
        arrivals, served, counts = srv.arrivals, srv.served(), srv.counts()
    t = res.table
    transient = [a for a in arrivals if a.fault != "ok" and not a.request_id.startswith("0")]
    assert len(transient) >= 5 and {a.fault for a in transient} == {"500", "429", "malformed"}
    doomed = {rid for rid in counts if rid.startswith("0")}
    assert doomed  # some requests do exhaust their retries
    assert t.height == N_REQUESTS and t.select("variant_id", "prompt_type").is_duplicated().sum() == 0
    errors = t.filter(pl.col("error").is_not_null())
    # errors only where retries were exhausted, every other request answered exactly once
    assert errors.height == len(doomed) == res.counts["errors"]
    assert errors["error"].str.contains(f"gave up after {max_retries + 1} attempts").all()
    assert all(counts[rid] == max_retries + 1 for rid in doomed)
    assert set(served) == set(counts) - doomed and max(served.values()) == 1
    assert (errors.filter(pl.col("prompt_type") == "solve")["parse_status"] == "error").all()
    # some requests failed: the run is partial, its failures counted by kind
    assert res.counts["calls"] == N_REQUESTS and res.status == "partial"
    assert res.counts["errors_by_kind"] == {"InternalServerError (HTTP 500)": len(doomed)}
    assert res.counts["first_error"].startswith("InternalServerError (HTTP 500)")
    # the failed requests are not cached: a re-run asks for exactly those again
    with LoopbackServer() as srv2:
        again = evaluate(run_folder, adapter(srv2), out=tmp_path / "run", progress=False)
        assert len(srv2.arrivals) == len(doomed) and again.table["error"].null_count() == again.table.height
        assert again.status == "complete"


# -- restplus run --model openai:... options ---------------------------------------------------------
def test_cli_model_options_shape_every_request(run_folder, tmp_path, capsys):
    from restplus.cli import main

    bodies: list[dict] = []

    def answer(body):
        bodies.append({k: v for k, v in body.items() if k != "messages"})
        return "echo"

    extra = '{"top_p": null, "mm_processor_kwargs": {"max_pixels": 802816}}'
    with LoopbackServer(answer=answer) as srv:
        rc = main(["run", str(run_folder), "--model", "openai:loopback", "--base-url", srv.base_url,
                   "--api-key-env", "none", "--preset", "vllm", "--extra-body", extra, "--max-tokens", "77",
                   "--timeout", "5", "--limit", "1", "--workers", "2", "--out", str(tmp_path / "run"),
                   "--no-progress"])
    assert rc == 0, capsys.readouterr().err
    assert len(bodies) == 1 + 8 * 2  # one problem of smoke.yaml
    expected = {"model": "loopback", "temperature": 0.0, "max_tokens": 77, "repetition_penalty": 1.0,
                "mm_processor_kwargs": {"max_pixels": 802816}}
    assert all(b == expected for b in bodies), bodies[0]
    manifest = (tmp_path / "run" / "manifest.json").read_text()
    assert '"repetition_penalty": 1.0' in manifest and '"preset": "vllm"' in manifest


@pytest.mark.parametrize("extra_args,match", [
    (["--model", "openai:m", "--base-url", "http://127.0.0.1:9/v1", "--dtype", "bfloat16"],
     "--dtype applies to --model hf:PATH only"),
    (["--model", "openai:m", "--base-url", "http://127.0.0.1:9/v1", "--trust-remote-code"],
     "--trust-remote-code applies to --model hf:PATH only"),
    (["--model", "hf:/nonexistent", "--preset", "vllm"], "--preset applies to --model openai:MODEL only"),
    (["--model", "reader", "--timeout", "3"], "--timeout applies to --model openai:MODEL only"),
    (["--model", "openai:m", "--base-url", "http://127.0.0.1:9/v1", "--extra-body", "{top_p: 1}"],
     "is not valid JSON"),
    (["--model", "openai:m", "--base-url", "http://127.0.0.1:9/v1", "--extra-body", "[1]"], "must be a JSON object"),
    (["--model", "openai:m", "--base-url", "http://127.0.0.1:9/v1", "--preset", "vlm"], "Did you mean: vllm"),
    (["--model", "openai:m", "--base-url", "http://127.0.0.1:9/v1", "--timeout", "0"], "timeout_s must be"),
])
def test_cli_model_options_that_do_not_apply_are_refused(run_folder, tmp_path, capsys, extra_args, match):
    from restplus.cli import main

    rc = main(["run", str(run_folder), *extra_args, "--api-key-env", "none", "--out", str(tmp_path / "r"),
               "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and match in err, err
    assert not (tmp_path / "r").exists()  # refused before anything was written


# -- several servers ---------------------------------------------------------------------------------
def test_a_server_dying_mid_run_loses_no_row_and_the_cache_key_has_no_url(run_folder, tmp_path):
    import threading

    answered = []

    def answer_then_die(body):
        answered.append(1)
        if len(answered) == 5:  # b dies after 5 answers, with more of its requests in flight
            threading.Thread(target=b.stop, daemon=True).start()
        return "echo"

    with LoopbackServer(latency_s=0.01) as a, LoopbackServer(latency_s=0.01, answer=answer_then_die) as b, \
            LoopbackServer(latency_s=0.01) as c:
        urls = [a.base_url, b.base_url, c.base_url]
        m = load("openai", model="loopback", base_url=urls, api_key_env=None, concurrency=6, timeout_s=10,
                 backoff_s=0.01, backoff_max_s=0.05)
        res = evaluate(run_folder, m, out=tmp_path / "run", progress=False, chunk_size=8)
        served, asked = len(a.served()) + len(c.served()), len(a.arrivals)
        # The same model behind another server list: every row comes from the cache.
        again = evaluate(run_folder, adapter(a), out=tmp_path / "run", progress=False)
        assert len(a.arrivals) == asked  # nothing new was asked
    t = res.table
    assert res.status == "complete" and t.height == N_REQUESTS and t["error"].null_count() == t.height
    assert t.select("variant_id", "prompt_type").is_duplicated().sum() == 0
    assert 5 <= len(answered) < N_REQUESTS // 2 and served + len(answered) >= N_REQUESTS
    assert again.status == "complete" and again.table.height == N_REQUESTS


def test_cli_base_url_takes_a_comma_list(run_folder, tmp_path, capsys):
    from restplus.cli import main

    with LoopbackServer(latency_s=0.01) as a, LoopbackServer(latency_s=0.01) as b:
        rc = main(["run", str(run_folder), "--model", "openai:loopback", "--base-url", f"{a.base_url},{b.base_url}",
                   "--api-key-env", "none", "--limit", "1", "--workers", "4", "--out", str(tmp_path / "run"),
                   "--no-progress"])
        shares = [len(a.served()), len(b.served())]
    assert rc == 0, capsys.readouterr().err
    assert sum(shares) == 1 + 8 * 2 and min(shares) >= 4, shares
    assert "127.0.0.1" not in (tmp_path / "run" / "manifest.json").read_text()  # no URL in the fingerprint
