"""Model adapters and their lazy registry.

``load(name, **kwargs)`` builds an adapter by registry name. Entries are ``"module:attr"`` strings
imported on first use, so ``import restplus.models`` never imports torch, transformers or openai.

=================  ===========================================  =================================
name               adapter                                      typical kwargs
=================  ===========================================  =================================
``hf``             local transformers model folder              ``path, device, dtype, batch_size,
                                                                min_pixels, max_pixels,
                                                                repetition_penalty, trust_remote_code,
                                                                attn_implementation``
``openai``         OpenAI-compatible HTTP server(s)             ``model, base_url, api_key_env, preset,
                                                                extra_body, max_tokens, timeout_s ...``
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

from ..errors import ModelError, PixelBudgetWarning
from ..registry import Registry
from .base import ModelAdapter


def _check_target(name: str, target: str) -> None:
    if not isinstance(target, str) or ":" not in target:
        raise ModelError(f"adapter target {target!r} for {name!r} must look like 'package.module:ClassName'.")


# Adapters are registered by import path, so `restplus evaluate --model NAME` imports only the
# adapter it uses (torch, openai and tesseract stay unimported otherwise).
ADAPTERS: Registry[str] = Registry("model adapter", ModelError, check=_check_target)
for _name, _target in (
    ("hf", "restplus.models.hf:HFAdapter"),
    ("openai", "restplus.models.openai_compat:OpenAICompatAdapter"),
    ("reader", "restplus.models.reader:ReaderAdapter"),
    ("echo-gold", "restplus.testing.fakes:EchoGold"),
    ("always-wrong", "restplus.testing.fakes:AlwaysWrong"),
    ("flaky", "restplus.testing.fakes:Flaky"),
    ("counting", "restplus.testing.fakes:Counting"),
):
    ADAPTERS.register(_name, _target)


def names() -> list[str]:
    """Registered adapter names."""
    return sorted(ADAPTERS)


def register(name: str, target: str, *, replace: bool = False) -> str:
    """Register an adapter class as ``"package.module:ClassName"`` (imported lazily by :func:`load`)."""
    return ADAPTERS.register(name, target, replace=replace)


def resolve(name: str) -> type[ModelAdapter]:
    """The adapter class registered as ``name`` (imports its module)."""
    module, attr = ADAPTERS[name].split(":")
    cls = getattr(importlib.import_module(module), attr)
    if not (isinstance(cls, type) and issubclass(cls, ModelAdapter)):
        raise ModelError(f"registry entry {name!r} -> {ADAPTERS[name]!r} is not a ModelAdapter subclass.")
    return cls


def load(name: str, /, **kwargs: Any) -> ModelAdapter:
    """Build the adapter registered as ``name`` with ``kwargs``, e.g. ``load("hf", path="models/qwen")``."""
    return resolve(name)(**kwargs)


__all__ = ["ModelAdapter", "PixelBudgetWarning", "load", "names", "register", "resolve"]
