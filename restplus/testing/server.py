"""A loopback OpenAI-compatible server with fault injection, for tests and benchmarks.

``LoopbackServer`` serves ``POST /v1/chat/completions`` on 127.0.0.1 (an ephemeral port) from a
stdlib ``ThreadingHTTPServer``. It is bounded (``max_concurrent`` requests handled at once, a
request-body size cap, idle connections time out) and self-stopping (context manager, plus a
``max_lifetime_s`` timer in case a test forgets to stop it).

Every arrival is recorded (:class:`Arrival`) with a *request id* = sha256 of the request body, which
is identical for retries of one request, and an *attempt* number per request id. Faults are chosen
per (request id, attempt), so they do not depend on arrival order under concurrency:

* ``schedule``: ``{attempt: Fault}`` applied to every request (e.g. ``{1: Fault("429", retry_after=0.3)}``:
  the first attempt of each request is rate limited), or a callable ``(request_id, attempt) -> Fault | None``.
* ``rates``: ``{kind: probability}``; the draw for (request id, attempt) comes from
  ``random.Random(f"{seed}/{request_id}/{attempt}")``.

Fault kinds: ``ok``, ``429`` (with ``Retry-After``), ``500``, ``400`` (not retryable), ``timeout``
(sleep ``timeout_sleep_s``, longer than the client's timeout, before answering), ``malformed``
(200 with invalid JSON), ``truncated`` (200 whose body is cut short and the connection closed).
``latency_s`` is added to every answer. Successful answers are deterministic: by default
``"echo: <text parts of the last user message>"`` (see ``answer``). With ``require_key`` every
request must carry ``Authorization: Bearer <key>``, else 401 with a body that echoes the presented
key (as some servers do), to test that clients scrub keys from errors. ``max_in_flight`` is the
most requests handled at once. ``GET /v1/models`` lists ``model_name``. Once stopped, a request on a
kept-alive connection is dropped with the connection (as a killed server does), not left hanging.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ..errors import ModelError, unknown_name

FAULT_KINDS = ("ok", "429", "500", "400", "timeout", "malformed", "truncated")
_MAX_BODY = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Fault:
    """What the server does with one arrival. ``retry_after`` (seconds) is sent with 429/500."""

    kind: str = "ok"
    retry_after: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise unknown_name("fault kind", self.kind, FAULT_KINDS)


@dataclass(frozen=True, slots=True)
class Arrival:
    """One request the server received. ``t`` is ``time.monotonic()`` at arrival."""

    request_id: str
    attempt: int
    t: float
    fault: str
    status: int | None  # HTTP status sent; None: not (yet) answered, or the client was gone
    label: str = ""  # text parts of the last user message, to match arrivals to client requests


def user_text(body: dict[str, Any]) -> str:
    """The text parts of the last user message, joined by spaces."""
    msgs = [m for m in body.get("messages", []) if m.get("role") == "user"]
    content = msgs[-1]["content"] if msgs else ""
    if isinstance(content, str):
        return content
    return " ".join(c.get("text", "") for c in content if c.get("type") == "text")


def default_answer(body: dict[str, Any]) -> str:
    """``"echo: "`` + the text parts of the last user message."""
    return "echo: " + user_text(body)


def request_id(raw_body: bytes) -> str:
    return hashlib.sha256(raw_body).hexdigest()[:16]


class LoopbackServer:
    """See the module docstring. Use as ``with LoopbackServer(latency_s=0.1) as srv: srv.base_url``."""

    def __init__(self, *, latency_s: float = 0.0,
                 schedule: Mapping[int, Fault] | Callable[[str, int], Fault | None] | None = None,
                 rates: Mapping[str, float] | None = None, seed: int = 0,
                 answer: Callable[[dict[str, Any]], str] = default_answer, timeout_sleep_s: float = 5.0,
                 max_lifetime_s: float = 300.0, max_concurrent: int = 64, model_name: str = "loopback",
                 require_key: str | None = None) -> None:
        for kind in (rates or {}):
            Fault(kind)  # validates the name
        if rates and sum(rates.values()) > 1.0:
            raise ModelError(f"fault rates sum to {sum(rates.values())} > 1: {dict(rates)}.")
        self.latency_s, self.schedule, self.rates, self.seed = latency_s, schedule, dict(rates or {}), seed
        self.answer, self.timeout_sleep_s, self.model_name = answer, timeout_sleep_s, model_name
        self.max_lifetime_s, self.require_key = max_lifetime_s, require_key
        self.in_flight = self.max_in_flight = 0
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._lock = threading.Lock()
        self._arrivals: list[Arrival] = []
        self._attempts: Counter[str] = Counter()
        self._stop = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> "LoopbackServer":
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.owner = self  # type: ignore[attr-defined]
        self._httpd = httpd
        serve = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        timer = threading.Timer(self.max_lifetime_s, self.stop)
        timer.daemon = True
        self._threads = [serve, timer]
        serve.start()
        timer.start()
        return self

    def stop(self) -> None:
        self._stop.set()  # wakes handlers that are sleeping (latency, timeout faults)
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        for t in self._threads:
            if isinstance(t, threading.Timer):
                t.cancel()

    def __enter__(self) -> "LoopbackServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise ModelError("the loopback server is not running; use it as a context manager.")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    # -- records ----------------------------------------------------------------------------------
    @property
    def arrivals(self) -> list[Arrival]:
        with self._lock:
            return list(self._arrivals)

    def counts(self) -> Counter[str]:
        """Arrivals per request id (1 + number of retries the server saw)."""
        return Counter(a.request_id for a in self.arrivals)

    def served(self) -> Counter[str]:
        """Successful (HTTP 200, well-formed) answers per request id."""
        return Counter(a.request_id for a in self.arrivals if a.fault == "ok" and a.status == 200)

    # -- behaviour --------------------------------------------------------------------------------
    def _admit(self, rid: str, t: float, label: str) -> tuple[int, int, Fault]:
        """Record the arrival at once (so counts never lag the client) and choose its fault."""
        with self._lock:
            self._attempts[rid] += 1
            attempt = self._attempts[rid]
        fault: Fault | None = None
        if callable(self.schedule):
            fault = self.schedule(rid, attempt)
        elif self.schedule is not None:
            fault = self.schedule.get(attempt)
        elif self.rates:
            u, acc = random.Random(f"{self.seed}/{rid}/{attempt}").random(), 0.0
            for kind, p in sorted(self.rates.items()):
                acc += p
                if u < acc:
                    fault = Fault(kind, retry_after=0.05 if kind == "429" else None)
                    break
        fault = fault or Fault()
        with self._lock:
            self._arrivals.append(Arrival(rid, attempt, t, fault.kind, None, label))
            return len(self._arrivals) - 1, attempt, fault

    def _set_status(self, index: int, status: int | None) -> None:
        with self._lock:
            a = self._arrivals[index]
            self._arrivals[index] = Arrival(a.request_id, a.attempt, a.t, a.fault, status, a.label)

    def completion(self, body: dict[str, Any], rid: str) -> bytes:
        text = self.answer(body)
        usage = {"prompt_tokens": len(json.dumps(body.get("messages", []))) // 4,
                 "completion_tokens": len(text.split())}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        return json.dumps({"id": f"chatcmpl-{rid}", "object": "chat.completion", "created": 0,
                           "model": body.get("model", self.model_name),
                           "choices": [{"index": 0, "finish_reason": "stop",
                                        "message": {"role": "assistant", "content": text}}],
                           "usage": usage}).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default listen backlog of 5 drops connects under 16-way concurrency


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the client reuses connections like a real server
    timeout = 30  # idle keep-alive connections are closed after this many seconds
    disable_nagle_algorithm = True  # headers and body are separate writes: Nagle + delayed ACK = +40 ms

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read records, not logs
        return

    def _send(self, status: int, body: bytes, headers: Mapping[str, str] | None = None,
              length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        srv: LoopbackServer = self.server.owner  # type: ignore[attr-defined]
        if srv._stop.is_set():
            self.close_connection = True
            return
        if self.path.rstrip("/") not in ("/v1/models", "/models"):
            return self._send(404, b'{"error": {"message": "not served"}}')
        self._send(200, json.dumps({"object": "list", "data": [
            {"id": srv.model_name, "object": "model", "created": 0, "owned_by": "restplus"}]}).encode())

    def do_POST(self) -> None:  # noqa: N802 (http.server naming)
        srv: LoopbackServer = self.server.owner  # type: ignore[attr-defined]
        if srv._stop.is_set():  # stopped: a kept-alive connection must not wait for an answer
            self.close_connection = True
            return
        t = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions") or length > _MAX_BODY:
            self.close_connection = True
            return self._send(404 if length <= _MAX_BODY else 413, b'{"error": {"message": "not served"}}')
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            return self._send(400, b'{"error": {"message": "request body is not JSON"}}')
        auth = self.headers.get("Authorization", "")
        if srv.require_key is not None and auth != f"Bearer {srv.require_key}":
            # Like some real servers, echo what was presented: clients must scrub their errors.
            msg = json.dumps({"error": {"message": f"invalid key: {auth.removeprefix('Bearer ')}"}})
            return self._send(401, msg.encode())
        rid = request_id(raw)
        with srv._slots:
            index, attempt, fault = srv._admit(rid, t, user_text(body))
            with srv._lock:
                srv.in_flight += 1
                srv.max_in_flight = max(srv.max_in_flight, srv.in_flight)
            try:
                if srv.latency_s and srv._stop.wait(srv.latency_s):
                    self.close_connection = True  # stopped mid-request: drop it, as a killed server does
                    return
                self._answer(srv, fault, body, rid, index)
            except (BrokenPipeError, ConnectionResetError):
                srv._set_status(index, None)  # the client gave up (e.g. its timeout fired first)
            finally:
                with srv._lock:
                    srv.in_flight -= 1

    def _answer(self, srv: LoopbackServer, fault: Fault, body: dict[str, Any], rid: str, index: int) -> None:
        # The status is recorded before the bytes go out: once the client has an answer, so has the log.
        ra = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
        if fault.kind in ("429", "500", "400"):
            srv._set_status(index, int(fault.kind))
            return self._send(int(fault.kind), b'{"error": {"message": "injected fault", "type": "test"}}', ra)
        if fault.kind == "timeout" and srv._stop.wait(srv.timeout_sleep_s):
            self.close_connection = True
            return
        srv._set_status(index, 200)
        if fault.kind == "malformed":
            return self._send(200, b'{"id": "x", "choices": [{"message": ')
        payload = srv.completion(body, rid)
        if fault.kind == "truncated":
            self.close_connection = True
            return self._send(200, payload[: len(payload) // 2], length=len(payload))
        self._send(200, payload)


def main(argv: list[str] | None = None) -> None:
    """Serve in this process until stdin closes (``python -c "from restplus.testing.server import main; main()"``).

    Prints the base URL as the first stdout line; when stdin reaches EOF prints one JSON line
    ``{"served": {request_id: n}, "arrivals": n}`` and exits. Lets a benchmark run the server in its
    own process (as a real server is), so the client's GIL is not shared with the server's.
    """
    import argparse
    import sys

    ap = argparse.ArgumentParser(description=main.__doc__.splitlines()[0] if main.__doc__ else None)
    ap.add_argument("--latency", type=float, default=0.0)
    ap.add_argument("--max-concurrent", type=int, default=64)
    ap.add_argument("--max-lifetime", type=float, default=600.0)
    ap.add_argument("--model-name", default="loopback")
    args = ap.parse_args(argv)
    with LoopbackServer(latency_s=args.latency, max_concurrent=args.max_concurrent,
                        max_lifetime_s=args.max_lifetime, model_name=args.model_name) as srv:
        print(srv.base_url, flush=True)
        sys.stdin.read()
        print(json.dumps({"served": dict(srv.served()), "arrivals": len(srv.arrivals)}), flush=True)
