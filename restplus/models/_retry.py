"""Retry policy for HTTP model calls: what is retried, how long to wait, with seeded jitter.

Retried: HTTP 429 and 5xx, timeouts, connection errors (incl. bodies cut short), and malformed
bodies (invalid JSON, no choices). Not retried: every other 4xx (the request itself is wrong).
Waits: ``Retry-After`` / ``retry-after-ms`` when the server sends it (capped at
``max_retry_after_s``), else exponential backoff ``min(cap, base·2^(attempt-1))`` scaled by a jitter
factor in [0.5, 1) drawn from a per-request ``random.Random`` (never the global RNG).
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import ModelError


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry one request. ``max_retries`` counts retries after the first try."""

    max_retries: int = 5
    backoff_s: float = 0.5
    backoff_max_s: float = 30.0
    max_retry_after_s: float = 120.0

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.backoff_s < 0 or self.backoff_max_s < 0 or self.max_retry_after_s < 0:
            raise ModelError(f"retry settings must be >= 0, got {self}.")

    def delay(self, attempt: int, rng: random.Random, retry_after: float | None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after_s)
        base = min(self.backoff_max_s, self.backoff_s * 2 ** (attempt - 1))
        return base * (0.5 + 0.5 * rng.random())


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed attempt: a message for Response.error, whether to retry, and a server-given wait."""

    message: str
    retryable: bool
    retry_after: float | None = None


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date); None if absent/bad."""
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return float(ms) / 1000.0
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())


def classify(exc: BaseException) -> Failure | None:
    """Map an exception from the openai client (or our body checks) to a Failure; None = not ours."""
    import openai

    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        retry = status == 429 or status >= 500
        after = parse_retry_after(exc.response.headers) if retry else None
        return Failure(f"{type(exc).__name__} (HTTP {status}): {exc.message}", retry, after)
    if isinstance(exc, openai.APITimeoutError):
        return Failure("timeout: no complete answer within the request timeout", True)
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        detail = f" ({type(cause).__name__}: {cause})" if cause else ""
        return Failure(f"connection error{detail}", True)
    if isinstance(exc, openai.APIResponseValidationError):
        return Failure(f"malformed response body: {exc}", True)
    if isinstance(exc, (ValueError, MalformedResponse)):  # json.JSONDecodeError, pydantic errors
        return Failure(f"malformed response body: {type(exc).__name__}: {exc}", True)
    return None


class MalformedResponse(ModelError):
    """A 200 answer that parsed but lacks what a chat completion must have (choices, message)."""
