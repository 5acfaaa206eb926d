"""Shared test fixtures. Model-related part (owner: model adapters); others may append below."""

from __future__ import annotations

import os

# Before anything imports transformers / huggingface_hub: no test may touch the network.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """Folder with tiny random model folders built once per session: qwen2vl, qwen25vl, llava, idefics3."""
    from restplus.testing.tiny import build_tiny_idefics3, build_tiny_llava, build_tiny_qwen2vl, build_tiny_qwen25vl

    base = tmp_path_factory.mktemp("tiny_models")
    build_tiny_qwen2vl(base / "qwen2vl")
    build_tiny_qwen25vl(base / "qwen25vl")
    build_tiny_llava(base / "llava")
    build_tiny_idefics3(base / "idefics3")
    return base


@pytest.fixture(scope="session")
def tiny_qwen2vl(tiny_model_dir):
    """Path of a tiny random Qwen2-VL folder (default budget: min 56², max 1280·28² pixels)."""
    return tiny_model_dir / "qwen2vl"


@pytest.fixture(scope="session")
def tiny_llava(tiny_model_dir):
    """Path of a tiny random LLaVA folder (CLIP 224 px, 256 image tokens)."""
    return tiny_model_dir / "llava"
