"""Test support importable by any restplus test: fake adapters, a loopback server, tiny models.

* :mod:`.fakes` — deterministic fake adapters (``EchoGold``, ``AlwaysWrong``, ``Flaky``, ``Counting``),
  also registered in :func:`restplus.models.load` as "echo-gold", "always-wrong", "flaky", "counting".
* :mod:`.server` — ``LoopbackServer``: an OpenAI-compatible server on 127.0.0.1 with fault injection.
* :mod:`.tiny` — ``build_tiny_qwen2vl`` / ``build_tiny_qwen25vl`` / ``build_tiny_llava`` /
  ``build_tiny_idefics3``: save a tiny random model folder for the HF adapter (imports torch lazily).
"""

from __future__ import annotations

from .fakes import AlwaysWrong, Counting, EchoGold, Flaky
from .server import FAULT_KINDS, Arrival, Fault, LoopbackServer, default_answer
from .tiny import build_tiny_idefics3, build_tiny_llava, build_tiny_qwen2vl, build_tiny_qwen25vl

__all__ = ["AlwaysWrong", "Arrival", "Counting", "EchoGold", "FAULT_KINDS", "Fault", "Flaky", "LoopbackServer",
           "build_tiny_idefics3", "build_tiny_llava", "build_tiny_qwen25vl", "build_tiny_qwen2vl",
           "default_answer"]
