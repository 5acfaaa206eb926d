"""Frozen records that cross module boundaries: model requests and responses.

Data flows one way (spec → cells → variants → requests → responses → long table → effects). The
records here are the contract between the runner and the model adapters, so adapters import
nothing else of restplus but this module and :mod:`restplus.errors`.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import Any, Union

from .hashing import canonical_json, digest, sha256_bytes


@dataclass(frozen=True, slots=True)
class TextPart:
    """A piece of text in a user message."""

    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"type": "text", "text": self.text}


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image in a user message, as the exact PNG bytes that were rendered.

    Adapters send these bytes unchanged (base64 for HTTP) or decode them (local models), so the
    pixels a model sees are the pixels whose sha256 is recorded.
    """

    png: bytes = field(repr=False)
    sha256: str = ""

    def __post_init__(self) -> None:
        if not self.sha256:
            object.__setattr__(self, "sha256", sha256_bytes(self.png))

    def to_pil(self):  # -> PIL.Image.Image
        from PIL import Image

        im = Image.open(io.BytesIO(self.png))
        im.load()
        return im.convert("RGB")

    def to_dict(self) -> dict[str, Any]:
        # Only the hash identifies an image: caches and manifests never hold pixels.
        return {"type": "image", "sha256": self.sha256}


Part = Union[TextPart, ImagePart]


@dataclass(frozen=True, slots=True)
class Decoding:
    """Decoding parameters; greedy (temperature 0) by default, as in the paper."""

    temperature: float = 0.0
    max_tokens: int = 1024
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "max_tokens": self.max_tokens, "top_p": self.top_p,
                "seed": self.seed, "stop": list(self.stop)}


@dataclass(frozen=True, slots=True)
class Request:
    """One model call: a single user turn of ordered parts, an optional system text, decoding."""

    parts: tuple[Part, ...]
    decoding: Decoding = Decoding()
    system: str | None = None
    tag: str = ""  # free label for logs (e.g. variant id and prompt type); not part of the key

    def to_dict(self) -> dict[str, Any]:
        return {"system": self.system, "parts": [p.to_dict() for p in self.parts],
                "decoding": self.decoding.to_dict()}

    def key(self, fingerprint: dict[str, Any]) -> str:
        """Cache key: sha256 of fingerprint + parts (image hashes) + decoding."""
        return digest({"model": fingerprint, "request": self.to_dict()}, length=64)

    @property
    def images(self) -> tuple[ImagePart, ...]:
        return tuple(p for p in self.parts if isinstance(p, ImagePart))


_KIND = re.compile(r"^\s*([^:(]*?)\s*(\(HTTP \d{3}\))?\s*(?=[:(]|$)")


def error_kind(message: str) -> str:
    """``"AuthenticationError (HTTP 401): bad key"`` -> ``"AuthenticationError (HTTP 401)"``;
    ``"connection error (ConnectError: refused)"`` -> ``"connection error"``."""
    m = _KIND.match(message)
    head = " ".join(x for x in (m.group(1), m.group(2)) if x) if m else ""
    return head or message.strip()[:60]


@dataclass(frozen=True, slots=True)
class Response:
    """What an adapter returns for one request. ``error`` is set instead of raising per request."""

    text: str = ""
    tokens_in: int | None = None
    tokens_out: int | None = None
    vision_tokens: int | None = None  # tokens the image(s) became, where knowable
    image_sizes: tuple[tuple[int, int], ...] = ()  # (width, height) after the processor resized
    latency_s: float = 0.0
    finish_reason: str | None = None
    error: str | None = None
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def error_kind(self) -> str | None:
        """The error's kind without its details: ``"AuthenticationError (HTTP 401)"``, ``"connection
        error"``, ``"timeout"`` ... (None when ok). Used to count failures and to spot a run whose every
        request fails the same way."""
        return None if self.error is None else error_kind(self.error)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "tokens_in": self.tokens_in, "tokens_out": self.tokens_out,
                "vision_tokens": self.vision_tokens, "image_sizes": [list(s) for s in self.image_sizes],
                "latency_s": self.latency_s, "finish_reason": self.finish_reason, "error": self.error,
                "attempts": self.attempts}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Response":
        d = dict(d)
        d["image_sizes"] = tuple(tuple(s) for s in d.get("image_sizes") or ())
        return cls(**d)

    def to_json(self) -> str:
        return canonical_json(self.to_dict())
