"""Model adapters and their lazy registry.

``load(name, **kwargs)`` builds an adapter by registry name. Entries are ``"module:attr"`` strings
imported on first use, so ``import restplus.models`` never imports torch, transformers or openai.

=================  ===========================================  =================================
name               adapter                                      typical kwargs
=================  ===========================================  =================================
``hf``             local transformers model folder              ``path, device, dtype, batch_size,
                                                                min_pixels, max_pixels``
``openai``         any OpenAI-compatible HTTP server            ``model, base_url, api_key_env,
                                                                concurrency, timeout_s ...``
``reader``         tesseract OCR-then-solve baseline            ``concurrency, lang``
``echo-gold``      test fake: answers the gold it was given     ``answers={tag: text}``
``always-wrong``   test fake: a fixed wrong answer              ``text``
``flaky``          test fake: every n-th call is an error       ``inner, every``
``counting``       test wrapper: counts calls per request key   ``inner``
=================  ===========================================  =================================
"""

from __future__ import annotations

import importlib
from typing import Any

from ..errors import ModelError, unknown_name
from .base import ModelAdapter, PixelBudgetWarning

_REGISTRY: dict[str, str] = {
    "hf": "restplus.models.hf:HFAdapter",
    "openai": "restplus.models.openai_compat:OpenAICompatAdapter",
    "reader": "restplus.models.reader:ReaderAdapter",
    "echo-gold": "restplus.testing.fakes:EchoGold",
    "always-wrong": "restplus.testing.fakes:AlwaysWrong",
    "flaky": "restplus.testing.fakes:Flaky",
    "counting": "restplus.testing.fakes:Counting",
}


def names() -> list[str]:
    """Registered adapter names."""
    return sorted(_REGISTRY)


def register(name: str, target: str, *, replace: bool = False) -> None:
    """Register an adapter class as ``"package.module:ClassName"`` (imported lazily by :func:`load`)."""
    if ":" not in target:
        raise ModelError(f"adapter target {target!r} for {name!r} must look like 'package.module:ClassName'.")
    if name in _REGISTRY and not replace and _REGISTRY[name] != target:
        raise ModelError(f"adapter name {name!r} is already registered to {_REGISTRY[name]!r}; "
                         "pass replace=True to override it.")
    _REGISTRY[name] = target


def resolve(name: str) -> type[ModelAdapter]:
    """The adapter class registered as ``name`` (imports its module)."""
    if name not in _REGISTRY:
        raise unknown_name("model adapter", name, _REGISTRY)
    module, attr = _REGISTRY[name].split(":")
    cls = getattr(importlib.import_module(module), attr)
    if not (isinstance(cls, type) and issubclass(cls, ModelAdapter)):
        raise ModelError(f"registry entry {name!r} -> {_REGISTRY[name]!r} is not a ModelAdapter subclass.")
    return cls


def load(name: str, /, **kwargs: Any) -> ModelAdapter:
    """Build the adapter registered as ``name`` with ``kwargs``, e.g. ``load("hf", path="models/qwen")``."""
    return resolve(name)(**kwargs)


__all__ = ["ModelAdapter", "PixelBudgetWarning", "load", "names", "register", "resolve"]
