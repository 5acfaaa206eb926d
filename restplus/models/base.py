"""The model-adapter contract shared by every backend (local HF, OpenAI-compatible HTTP, OCR reader).

An adapter turns :class:`~restplus.records.Request` s into :class:`~restplus.records.Response` s.
Rules every adapter follows:

* ``iter_generate`` yields ``(index, response)`` pairs as requests complete, in any order; the
  index is the position in the input sequence. Concurrency and batching live inside the adapter.
* A failure of one request (timeout, HTTP 5xx after retries, an image that cannot be decoded ...)
  is a ``Response`` with ``error`` set, never an exception. Only misconfiguration (missing model
  folder, missing API key variable, an unsupported option) raises :class:`~restplus.errors.ModelError`.
* Budget caps stop cleanly: ``iter_generate`` first yields every response that completed, then
  raises :class:`~restplus.errors.BudgetExceeded`; requests that were never sent get no response.
  ``generate`` re-raises it with the completed responses attached as ``exc.responses``
  (a dict index → Response). ``adapter.budget_exhausted`` stays True afterwards.
* ``fingerprint()`` identifies everything that can change an output (model id and weights hash,
  processor settings, dtype, backend versions) and nothing secret: no API keys, no full URLs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import Any

from ..envinfo import package_versions  # noqa: F401 (re-exported for the adapters)
from ..errors import BudgetExceeded
from ..records import Request, Response


class ModelAdapter(ABC):
    """Base class of all model adapters; see the module docstring for the contract."""

    name: str = "adapter"
    budget_exhausted: bool = False

    @abstractmethod
    def fingerprint(self) -> dict[str, Any]:
        """JSON-able identity of the model and its settings (goes into every cache key)."""

    @abstractmethod
    def iter_generate(self, requests: Sequence[Request]) -> Iterator[tuple[int, Response]]:
        """Yield ``(index, response)`` for every request as it completes (any order)."""

    def generate(self, requests: Sequence[Request]) -> list[Response]:
        """All responses in input order (built on :meth:`iter_generate`)."""
        done: dict[int, Response] = {}
        try:
            for i, resp in self.iter_generate(requests):
                done[i] = resp
        except BudgetExceeded as exc:
            exc.responses = dict(done)  # type: ignore[attr-defined]
            raise
        missing = [i for i in range(len(requests)) if i not in done]
        if missing:  # an adapter bug, not a request failure: every request must get a response
            from ..errors import ModelError

            raise ModelError(f"adapter {self.name!r} returned no response for request indices "
                             f"{missing[:10]}; this is a bug in the adapter.")
        return [done[i] for i in range(len(requests))]

    def close(self) -> None:
        """Release threads, processes and model memory. Safe to call twice."""

    def __enter__(self) -> "ModelAdapter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def check_indices(requests: Sequence[Request]) -> None:
    """Reject anything that is not a sequence of Request up front (a caller bug, not a request error)."""
    from ..errors import ModelError

    for i, r in enumerate(requests):
        if not isinstance(r, Request):
            raise ModelError(f"requests[{i}] is a {type(r).__name__}, not a restplus Request; build "
                             "requests with restplus.records.Request(parts=(TextPart(...), ImagePart(...))).")
