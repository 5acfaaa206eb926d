"""Test support importable by any restplus test: fake adapters, a loopback server, tiny models.

* :mod:`.fakes` — deterministic fake adapters (``EchoGold``, ``AlwaysWrong``, ``Flaky``, ``Counting``),
  also registered in :func:`restplus.models.load` as "echo-gold", "always-wrong", "flaky", "counting".
* :mod:`.server` — ``LoopbackServer``: an OpenAI-compatible server on 127.0.0.1 with fault injection.
* :mod:`.tiny` — ``build_tiny_<family>`` (``TINY_BUILDERS``: Qwen2/2.5/3-VL, LLaVA, LLaVA-NeXT, Idefics3,
  SmolVLM, InternVL3-hf, Gemma 3, DeepSeek-VL): save a tiny random model folder for the HF adapter
  (imports torch lazily).
"""

from __future__ import annotations

from .fakes import AlwaysWrong, Counting, EchoGold, Flaky
from .server import FAULT_KINDS, Arrival, Fault, LoopbackServer, default_answer
from .tiny import (
    TINY_BUILDERS,
    build_tiny_deepseek_vl,
    build_tiny_gemma3,
    build_tiny_idefics3,
    build_tiny_internvl,
    build_tiny_llava,
    build_tiny_llava_next,
    build_tiny_qwen2vl,
    build_tiny_qwen3vl,
    build_tiny_qwen25vl,
    build_tiny_smolvlm,
)

__all__ = ["AlwaysWrong", "Arrival", "Counting", "EchoGold", "FAULT_KINDS", "Fault", "Flaky", "LoopbackServer",
           "TINY_BUILDERS", "build_tiny_deepseek_vl", "build_tiny_gemma3", "build_tiny_idefics3",
           "build_tiny_internvl", "build_tiny_llava", "build_tiny_llava_next", "build_tiny_qwen25vl",
           "build_tiny_qwen2vl", "build_tiny_qwen3vl", "build_tiny_smolvlm", "default_answer"]
