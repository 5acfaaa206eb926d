"""SQLite response cache: round trip, errors never cached, counters, concurrent writers, kill -9."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from restplus.records import Response
from restplus.runner.cache import ResponseCache

ROOT = Path(__file__).resolve().parents[1]


def test_round_trip_is_json_and_exact(tmp_path):
    r = Response(text="Answer: A=1, B=2", tokens_in=12, tokens_out=5, vision_tokens=64, image_sizes=((28, 56),),
                 latency_s=0.25, finish_reason="stop", attempts=2)
    with ResponseCache(tmp_path / "c.sqlite") as c:
        assert c.put("k1", r) is True
        assert c.get("k1") == r
    # stored as plain JSON (never pickle): readable with sqlite3 alone
    raw = sqlite3.connect(tmp_path / "c.sqlite").execute("SELECT response FROM responses").fetchone()[0]
    assert json.loads(raw)["text"] == "Answer: A=1, B=2"
    with ResponseCache(tmp_path / "c.sqlite") as again:  # persists across instances
        assert again.get("k1") == r and len(again) == 1


def test_error_responses_are_not_cached_and_counters(tmp_path):
    with ResponseCache(tmp_path / "c.sqlite") as c:
        assert c.put("bad", Response(error="HTTP 500 after 5 attempts")) is False
        assert "bad" not in c and len(c) == 0
        c.put("good", Response(text="x"))
        got = c.get_many(["good", "bad", "missing", "good"])
        assert set(got) == {"good"}
        assert c.stats() == {"hits": 1, "misses": 2, "writes": 1}
        assert c.get("good").text == "x" and c.hits == 2


def test_first_answer_wins(tmp_path):
    with ResponseCache(tmp_path / "c.sqlite") as c:
        c.put("k", Response(text="first"))
        c.put("k", Response(text="second"))
        assert c.get("k").text == "first" and len(c) == 1


def test_threads_each_get_a_connection(tmp_path):
    c = ResponseCache(tmp_path / "c.sqlite")

    def work(t: int) -> None:
        for i in range(50):
            c.put(f"t{t}-{i}", Response(text=str(i)))
            assert c.get(f"t{t}-{i}").text == str(i)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(c) == 200 and c.writes == 200
    c.close()
    c.close()  # safe twice


_WRITER = textwrap.dedent("""
    import sys
    from restplus.runner.cache import ResponseCache
    from restplus.records import Response
    path, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    c = ResponseCache(path)
    for i in range(n):
        c.put(f"{tag}-{i}", Response(text=f"{tag}{i}"))
        c.put(f"shared-{i}", Response(text=f"{tag}{i}"))
        print(i, flush=True)
""")


def _spawn(path: Path, tag: str, n: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _WRITER, str(path), tag, str(n)], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, text=True)


def test_concurrent_writer_processes(tmp_path):
    path = tmp_path / "c.sqlite"
    ResponseCache(path).close()
    procs = [_spawn(path, tag, 150) for tag in ("a", "b", "c")]
    for p in procs:
        p.communicate(timeout=120)
        assert p.returncode == 0
    with ResponseCache(path) as c:
        keys = set(c.keys())
        assert {f"{t}-{i}" for t in "abc" for i in range(150)} <= keys
        assert len(keys) == 3 * 150 + 150  # shared keys stored once
        assert c.get("shared-7").text in {"a7", "b7", "c7"}


def test_kill_9_keeps_every_committed_response(tmp_path):
    path = tmp_path / "c.sqlite"
    p = _spawn(path, "k", 100000)
    done = -1
    while done < 200:  # the writer prints i after committing i
        line = p.stdout.readline()
        assert line, "writer died early"
        done = int(line)
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    with ResponseCache(path) as c:
        for i in range(done + 1):  # everything acknowledged before the kill is there and readable
            assert c.get(f"k-{i}").text == f"k{i}"
        c.put("after", Response(text="still writable"))
        assert c.get("after").text == "still writable"
