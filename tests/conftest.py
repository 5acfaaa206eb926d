"""Shared test fixtures. Model-related part (owner: model adapters); others may append below."""

from __future__ import annotations

import os

# Before anything imports transformers / huggingface_hub: no test may touch the network.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """Folder with a tiny random model folder per supported family, built once per session (about 1 s):
    qwen2vl, qwen25vl, qwen3vl, llava, llava_next, idefics3, smolvlm, internvl, gemma3, deepseek_vl."""
    from restplus.testing.tiny import TINY_BUILDERS

    base = tmp_path_factory.mktemp("tiny_models")
    for name, build in TINY_BUILDERS.items():
        build(base / name)
    return base


@pytest.fixture(scope="session")
def tiny_qwen2vl(tiny_model_dir):
    """Path of a tiny random Qwen2-VL folder (default budget: min 56², max 1280·28² pixels)."""
    return tiny_model_dir / "qwen2vl"


@pytest.fixture(scope="session")
def tiny_llava(tiny_model_dir):
    """Path of a tiny random LLaVA folder (CLIP 224 px, 256 image tokens)."""
    return tiny_model_dir / "llava"
