"""Adapter for any OpenAI-compatible chat-completions server (vLLM, SGLang, llama.cpp, LM Studio, hosted).

* Images go as ``data:image/png;base64,...`` URLs of the exact rendered PNG bytes.
* Bounded concurrency: at most ``concurrency`` requests in flight (worker threads that each pull
  the next request; the openai client is thread-safe and keeps connections alive).
* Our retries are the only retries (the client is built with ``max_retries=0``); the policy is in
  :mod:`restplus.models._retry`, and ``Response.attempts`` counts every try. ``latency_s`` is the
  whole time of a request, retries and waits included.
* Budget caps (``max_requests``, ``max_total_tokens``, over the adapter's lifetime): once a cap is
  reached no new request is sent; requests in flight finish and are yielded, then
  :class:`~restplus.errors.BudgetExceeded` is raised. Token caps can be overshot by the requests
  that were in flight when the cap was reached; a server that reports no ``usage`` counts as 0
  tokens. ``usage`` holds the running totals.
* Several servers (``base_url=[URL1, URL2]``, or one string ``"URL1,URL2"``) serve one model: each
  request goes to the server with the fewest requests in flight, and a failed attempt (connection,
  timeout, 429/5xx, malformed body) is retried on another server. The give-up breaker counts per
  server: a server whose last ``GIVE_UP_AFTER`` attempts could not connect leaves the rotation
  (``dead_servers``); only when every server is out do retries stop. Before a server's first request
  its ``/v1/models`` list is compared with the other servers' (one GET each, only with several
  servers); a different list raises :class:`~restplus.errors.ModelError`. URLs are not in the
  fingerprint (so not in the cache key): the same model answers alike from any server.
* The API key is read from the environment variable *named* by ``api_key_env``. It lives only in
  the openai client: it is not in ``repr``, the fingerprint, errors, or responses, and any server
  message that echoes it is scrubbed.
* The body's decoding fields follow a provider *preset* (:mod:`restplus.models.presets`:
  ``openai``, ``openai-reasoning``, ``anthropic``, ``gemini``, ``vllm``, ``sglang``, ``ollama`` or a
  registered one). ``extra_body`` is merged on top and wins over any field; a ``None`` value deletes
  one (e.g. vLLM ``{"mm_processor_kwargs": {"max_pixels": 802816}}``, or ``{"top_p": None}``).
  The resulting request fields (the body minus messages) are recorded in the fingerprint.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import queue
import random
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlparse

from ..errors import BudgetExceeded, ModelError
from ..records import ImagePart, Request, Response, error_kind
from ._retry import MalformedResponse, RetryPolicy, classify
from .base import ModelAdapter, check_indices, package_versions
from .presets import PRESETS, RequestPreset, build_body, check_extra_body, dropped, request_fields


class _Server:
    """One base URL: its own openai client, and counters the adapter reads and writes under its lock."""

    def __init__(self, index: int, url: str, client: Any) -> None:
        self.index, self.url, self.client = index, url, client
        self.in_flight = 0  # attempts sent and not answered
        self.sent = 0  # attempts over the adapter's lifetime: breaks ties between idle servers
        self.streak = ("", 0)  # (error kind, failed attempts in a row) on this server
        self.dead = False  # out of rotation: GIVE_UP_AFTER connection failures in a row
        self.models: tuple[str, ...] | None = None  # its /v1/models ids once checked
        self.check_lock = threading.Lock()  # one /v1/models call per server, not one per worker


def _split_urls(base_url: str | Sequence[str]) -> list[str]:
    urls = [u.strip() for u in base_url.split(",")] if isinstance(base_url, str) else list(base_url)
    if not urls or any(not isinstance(u, str) or not u for u in urls):
        raise ModelError(f"base_url must be a URL, a comma-separated string of URLs or a list of URLs, got "
                         f"{base_url!r}; use e.g. 'http://127.0.0.1:8000/v1'.")
    for u in urls:
        url = urlparse(u)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ModelError(f"base_url {u!r} is not an http(s) URL; use e.g. 'http://127.0.0.1:8000/v1'.")
    twice = sorted({u for u in urls if urls.count(u) > 1})
    if twice:
        raise ModelError(f"base_url lists {twice[0]!r} more than once; list each server once.")
    return urls


class OpenAICompatAdapter(ModelAdapter):
    """Chat completions over HTTP with retries, bounded concurrency and budget caps.

    Args:
        model: model name the server expects.
        base_url: e.g. ``"http://127.0.0.1:8000/v1"``; several servers of one model as a list or a
            comma-separated string. URLs are not in the fingerprint.
        api_key_env: name of the environment variable holding the key; None for servers without auth.
        concurrency: requests in flight at once.
        timeout_s: per-attempt timeout in seconds (the openai client's own default is 600 s; a hung
            server then holds a worker for 10 minutes per attempt).
        max_retries, backoff_s, backoff_max_s, max_retry_after_s: see :class:`RetryPolicy`.
        seed: seeds the backoff jitter (per request, from the request content).
        max_requests, max_total_tokens: budget caps over the adapter's lifetime (None = no cap).
        preset: request preset name (see :data:`restplus.models.presets.PRESETS`) or a RequestPreset.
        max_tokens: overrides every request's ``Decoding.max_tokens`` in the body (reasoning models
            spend part of ``max_completion_tokens`` thinking, so they need more than the paper's 1024).
        extra_body: extra JSON fields sent with every request; they override the preset's fields and
            ``None`` deletes a field.
        name: label for logs; default ``"openai:<model>"``.

    Retries stop early once ``GIVE_UP_AFTER`` attempts in a row (over all requests) could not connect
    to a server (a dead server or a wrong URL): that server leaves the rotation; once every server
    is out, the remaining requests fail at once, and the runner stops the run
    (``evaluate(max_consecutive_errors=...)``) instead of retrying every request.
    """

    GIVE_UP_AFTER: int | None = 8

    def __init__(self, model: str, *, base_url: str | Sequence[str], api_key_env: str | None = "OPENAI_API_KEY",
                 concurrency: int = 8, timeout_s: float = 120.0, max_retries: int = 5, backoff_s: float = 0.5,
                 backoff_max_s: float = 30.0, max_retry_after_s: float = 120.0, seed: int = 0,
                 max_requests: int | None = None, max_total_tokens: int | None = None,
                 extra_body: Mapping[str, Any] | None = None, preset: str | RequestPreset = "openai",
                 max_tokens: int | None = None, name: str | None = None) -> None:
        import openai
        from openai.types.chat import ChatCompletion

        urls = _split_urls(base_url)
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ModelError(f"concurrency must be a positive int, got {concurrency!r}.")
        if not isinstance(timeout_s, (int, float)) or isinstance(timeout_s, bool) or not timeout_s > 0:
            raise ModelError(f"timeout_s must be a number of seconds > 0, got {timeout_s!r}.")
        if max_tokens is not None and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool)
                                       or max_tokens < 1):
            raise ModelError(f"max_tokens must be a positive int or None, got {max_tokens!r}.")
        if isinstance(preset, RequestPreset):
            self.preset_name, self.preset = "custom", preset
        else:
            self.preset_name, self.preset = preset, PRESETS[preset]  # unknown name: did-you-mean
        for cap_name, cap in (("max_requests", max_requests), ("max_total_tokens", max_total_tokens)):
            if cap is not None and cap < 0:
                raise ModelError(f"{cap_name} must be >= 0 or None, got {cap!r}.")
        if api_key_env is None:
            key = "no-key"  # servers without auth still need a non-empty header value
        else:
            key = os.environ.get(api_key_env, "")
            if not key:
                raise ModelError(f"environment variable {api_key_env!r} is not set or empty; export the API key "
                                 "in it, or pass api_key_env=None for a server without authentication.")
        self.model, self.api_key_env = model, api_key_env
        self.base_urls = tuple(urls)
        self.host = ",".join(str(urlparse(u).hostname) for u in urls)  # for repr only
        self.name = name or f"openai:{model}"
        self.concurrency, self.timeout_s, self.seed = concurrency, float(timeout_s), seed
        self.policy = RetryPolicy(max_retries, backoff_s, backoff_max_s, max_retry_after_s)
        self.max_requests, self.max_total_tokens = max_requests, max_total_tokens
        self.extra_body = check_extra_body(extra_body)  # JSON-able, detached copy
        self.max_tokens = max_tokens
        self._completion_type = ChatCompletion
        self._servers = [_Server(k, u, openai.OpenAI(base_url=u, api_key=key, max_retries=0, timeout=self.timeout_s))
                         for k, u in enumerate(urls)]
        self._client = self._servers[0].client  # the key lives in the clients only
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._usage = {"requests": 0, "attempts": 0, "tokens_in": 0, "tokens_out": 0, "errors": 0}
        self.budget_exhausted = False

    # -- identity -------------------------------------------------------------------------------
    def fingerprint(self) -> dict[str, Any]:
        # request_fields is the body minus messages with "<decoding.x>" placeholders: the exact shape
        # of what is sent (names, constants, overrides), so another preset or extra_body is another key.
        # No URL or host: one model behind one, two or four servers (or a moved server) is one cache
        # key; servers that serve another model are refused by the /v1/models check instead.
        return {"adapter": "openai", "model": self.model,
                "preset": self.preset_name, "request_fields": self.request_fields(),
                "extra_body": self.extra_body, "versions": package_versions("openai")}

    def request_fields(self) -> dict[str, Any]:
        """What every request's body holds besides messages; ``"<decoding.x>"`` marks per-request values."""
        return request_fields(self.model, self.preset, self.extra_body, self.max_tokens)

    def __repr__(self) -> str:
        return (f"OpenAICompatAdapter(name={self.name!r}, model={self.model!r}, host={self.host!r}, "
                f"api_key_env={self.api_key_env!r}, concurrency={self.concurrency})")

    __str__ = __repr__

    @property
    def dead_servers(self) -> list[str]:
        """URLs taken out of rotation after GIVE_UP_AFTER connection failures in a row."""
        with self._lock:
            return [s.url for s in self._servers if s.dead]

    @property
    def server_load(self) -> dict[str, int]:
        """Attempts sent to each server over the adapter's lifetime."""
        with self._lock:
            return {s.url: s.sent for s in self._servers}

    @property
    def usage(self) -> dict[str, int]:
        """Running totals: requests sent, attempts, tokens_in, tokens_out, errors."""
        with self._lock:
            return dict(self._usage)

    # -- one request ----------------------------------------------------------------------------
    def _payload(self, request: Request) -> dict[str, Any]:
        messages: list[dict[str, Any]] = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        content: list[dict[str, Any]] = []
        for part in request.parts:
            if isinstance(part, ImagePart):
                url = "data:image/png;base64," + base64.b64encode(part.png).decode("ascii")
                content.append({"type": "image_url", "image_url": {"url": url}})
            else:
                content.append({"type": "text", "text": part.text})
        messages.append({"role": "user", "content": content})
        return build_body(self.model, messages, self.preset, request.decoding, self.extra_body, self.max_tokens)

    def _scrub(self, text: str) -> str:
        key = self._client.api_key
        return text.replace(key, "[redacted]") if key and key != "no-key" else text

    def _pick(self, avoid: _Server | None) -> _Server:
        """The live server with the fewest attempts in flight (ties: fewest sent), counted as in flight.
        ``avoid`` (the server that just failed) is skipped while another live server exists. With
        every server out of rotation all are candidates again: an attempt still goes out, and one
        that succeeds brings its server back."""
        with self._lock:
            live = [s for s in self._servers if not s.dead] or self._servers
            pool = [s for s in live if s is not avoid] or live
            server = min(pool, key=lambda s: (s.in_flight, s.sent, s.index))
            server.in_flight += 1
            server.sent += 1
            self._usage["attempts"] += 1
            return server

    def _check_models(self, server: _Server) -> None:
        """Compare this server's /v1/models ids with the servers checked before (several servers only).
        Transport errors propagate to the caller's retry loop like a failed attempt; the check runs
        again on the next attempt that lands on this server."""
        if len(self._servers) == 1 or server.models is not None:
            return
        with server.check_lock:
            if server.models is not None:
                return
            import openai

            try:
                ids = tuple(sorted(m.id for m in server.client.models.list()))
            except openai.NotFoundError as exc:
                raise ModelError(f"{server.url} does not serve /v1/models ({exc.message}), so restplus cannot "
                                 "check that every server in base_url serves the same model; list only servers "
                                 "that answer GET /v1/models (vLLM, SGLang, Ollama, llama.cpp do).") from None
            with self._lock:
                other = next((s for s in self._servers if s.models is not None), None)
                if other is not None and other.models != ids:
                    raise ModelError(
                        f"the servers in base_url serve different models: {other.url} lists "
                        f"{list(other.models or ())} but {server.url} lists {list(ids)}; point base_url at "
                        f"servers of one model only (a cache key covers one model).")
                server.models = ids

    def _one(self, request: Request) -> Response:
        payload = self._payload(request)
        ident = hashlib.sha256(json.dumps(request.to_dict(), sort_keys=True).encode()).hexdigest()
        rng = random.Random(f"{self.seed}/{ident}")  # jitter stream of this request only
        t0 = time.perf_counter()
        attempt = 0
        failed_on: _Server | None = None
        while True:
            attempt += 1
            server = self._pick(failed_on)
            try:
                self._check_models(server)
                # client.post (the documented raw-endpoint call) skips the typed-params transform,
                # which costs ~1 ms of GIL time per request; parsing and error mapping are the same.
                completion = server.client.post("/chat/completions", cast_to=self._completion_type,
                                                body=payload)
                choices = getattr(completion, "choices", None)
                if not choices or choices[0].message is None:
                    raise MalformedResponse("the answer has no choices[0].message")
                usage = completion.usage
                with self._lock:
                    server.streak, server.dead = ("", 0), False
                return Response(text=self._scrub(choices[0].message.content or ""),
                                latency_s=time.perf_counter() - t0,
                                tokens_in=usage.prompt_tokens if usage else None,
                                tokens_out=usage.completion_tokens if usage else None,
                                finish_reason=choices[0].finish_reason, attempts=attempt)
            except Exception as exc:  # classified below; anything unknown is a bug and re-raised
                failure = classify(exc)
                if failure is None:
                    raise
            finally:
                with self._lock:
                    server.in_flight -= 1
            hopeless, elsewhere = self._note_failure(server, failure)
            failed_on = server
            done = not failure.retryable or attempt > self.policy.max_retries or hopeless
            # Another live server can take the retry at once: this server's trouble (or its
            # Retry-After) says nothing about that one. Overload answers still back off, as the
            # whole pool is likely busy.
            wait = 0.0 if elsewhere and error_kind(failure.message) == "connection error" else \
                self.policy.delay(attempt, rng, failure.retry_after)
            if done or self._closing.wait(wait):
                suffix = "" if not failure.retryable else (
                    f" (not retried: the last {server.streak[1]} attempts on every server failed this way)"
                    if hopeless and len(self._servers) > 1 else
                    f" (not retried: the last {server.streak[1]} attempts all failed this way)" if hopeless
                    else f" (gave up after {attempt} attempts)")
                with self._lock:
                    self._usage["errors"] += 1
                return Response(error=self._scrub(failure.message + suffix), attempts=attempt,
                                latency_s=time.perf_counter() - t0)

    def _note_failure(self, server: _Server, failure: Any) -> tuple[bool, bool]:
        """Count connection failures in a row per server, over all threads. A server whose last
        GIVE_UP_AFTER attempts could not connect leaves the rotation. Returns (hopeless: every server
        is out, elsewhere: another live server can take a retry). A dead server (or a wrong
        --base-url) fails every attempt alike: retrying each request with backoff would cost ~15 s
        per request before the run could say so. Overload answers (429, 5xx, timeouts) are not
        counted: retrying them is what helps."""
        kind = error_kind(failure.message)
        with self._lock:
            n = server.streak[1] + 1 if server.streak[0] == kind else 1
            server.streak = (kind, n)
            if kind == "connection error" and self.GIVE_UP_AFTER is not None and n >= self.GIVE_UP_AFTER:
                server.dead = True
            live = [s for s in self._servers if not s.dead]
            return not live, any(s is not server for s in live)

    # -- many requests --------------------------------------------------------------------------
    def _budget_reached(self) -> bool:  # caller holds self._lock
        u = self._usage
        return ((self.max_requests is not None and u["requests"] >= self.max_requests)
                or (self.max_total_tokens is not None and u["tokens_in"] + u["tokens_out"] >= self.max_total_tokens))

    def _take(self, todo: Iterator[int]) -> int | None:
        """Next request index to send, or None when done or the budget is reached."""
        with self._lock:
            if self._budget_reached():
                self.budget_exhausted = True
                return None
            i = next(todo, None)
            if i is not None:
                self._usage["requests"] += 1
            return i

    def iter_generate(self, requests: Sequence[Request]) -> Iterator[tuple[int, Response]]:
        check_indices(requests)
        for i, r in enumerate(requests):
            lost = dropped(self.preset, r.decoding, self.extra_body)
            if lost:
                raise ModelError(
                    f"requests[{i}] sets Decoding {', '.join(f'{f}={getattr(r.decoding, f)!r}' for f in lost)}, "
                    f"which request preset {self.preset_name!r} does not send (the provider rejects or "
                    f"ignores it). Use the default value, another preset, or send it anyway with "
                    f"extra_body={{{lost[0]!r}: ...}}.")
        if self._closing.is_set():
            raise ModelError(f"{self.name} is closed; create a new adapter.")
        todo = iter(range(len(requests)))
        results: queue.SimpleQueue[tuple[int, Response] | BaseException | None] = queue.SimpleQueue()
        abandoned = threading.Event()

        def worker() -> None:
            # Workers pull the next index themselves: no round trip through the consumer thread
            # between one answer and the next request (that hop cost ~10 % throughput).
            try:
                while not abandoned.is_set() and (i := self._take(todo)) is not None:
                    resp = self._one(requests[i])
                    with self._lock:
                        self._usage["tokens_in"] += resp.tokens_in or 0
                        self._usage["tokens_out"] += resp.tokens_out or 0
                    results.put((i, resp))
            except BaseException as exc:  # a bug in _one: hand it to the consumer, do not lose it
                results.put(exc)
            finally:
                results.put(None)

        n_workers = max(1, min(self.concurrency, len(requests)))
        threads = [threading.Thread(target=worker, name=f"restplus-openai-{k}", daemon=True)
                   for k in range(n_workers)]
        for t in threads:
            t.start()
        answered, running = 0, n_workers
        try:
            while running:
                item = results.get()
                if item is None:
                    running -= 1
                elif isinstance(item, BaseException):
                    raise item
                else:
                    answered += 1
                    yield item
        finally:
            abandoned.set()  # consumer stopped early or an error surfaced: send nothing new
        if answered < len(requests):
            u = self.usage
            raise BudgetExceeded(
                f"{self.name}: budget reached (max_requests={self.max_requests}, max_total_tokens="
                f"{self.max_total_tokens}; used {u['requests']} requests, {u['tokens_in'] + u['tokens_out']} "
                f"tokens); {answered} of {len(requests)} requests were sent and answered, "
                f"{len(requests) - answered} were not sent. Raise the cap or resume the run to continue.")

    def close(self) -> None:
        self._closing.set()  # wakes retry sleeps: pending retries end as errors
        for server in self._servers:
            server.client.close()
