"""Tiny, randomly initialised vision-language models saved to a folder, for offline plumbing tests.

Each builder trains a byte-level BPE tokenizer on a small built-in corpus, builds a processor with the
PIL image processor (torchvision is never needed) and a tiny config, initialises the weights from
``seed`` inside :func:`torch.random.fork_rng` (so the caller's torch RNG state is untouched), and
saves everything with ``save_pretrained``. The folder then looks like an upstream checkpoint
(``processor_class`` names the upstream processor), so tests load it through the real HF adapter
code path. Outputs of these models are garbage by design; they exist to test plumbing: token
counts, batching, hidden-state shapes, pixel budgets.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..models._hf_load import image_only_processor_class

_CORPUS = ["Transcribe the text in the image exactly.", "What is 2 + 3? Answer: 5",
           "Solve the system of equations: 3A + 2B = 7, A - B = -1. Answer: A=1, B=2",
           "Which option is correct? A. red B. green C. blue Answer: B"] * 40

_QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                  "<|image_pad|>", "<|video_pad|>"]

# Chat templates of the same shape as upstream ones: string or list content, image placeholders
# where the image parts are, optional system message, generation prompt.
_QWEN_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for c in message['content'] %}"
    "{% if c['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
_LLAVA_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] | upper }}: "
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for c in message['content'] %}"
    "{% if c['type'] == 'image' %}<image>\n{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}"
    "{% endfor %}{% endif %}</s>\n{% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}")
_IDEFICS3_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{ message['role'] | capitalize }}:"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for c in message['content'] %}"
    "{% if c['type'] == 'image' %}<image>{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<end_of_utterance>\n{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}")


def _tokenizer(specials: list[str], eos: str, pad: str, vocab_size: int = 512):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(_CORPUS, trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=eos, pad_token=pad)


def _save(path: str | Path, seed: int, make_model, processor, upstream_processor: str) -> Path:
    import torch

    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    # fork_rng restores the CPU RNG state on exit: building a model never shifts the caller's stream.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = make_model().eval()
    model.save_pretrained(out)
    processor.save_pretrained(out)
    for name in ("processor_config.json", "tokenizer_config.json", "preprocessor_config.json"):
        f = out / name
        if f.exists():
            data = json.loads(f.read_text())
            if "processor_class" in data:
                data["processor_class"] = upstream_processor
                f.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return out


def _qwen_text_config(tok, ids: dict[str, int]) -> dict[str, Any]:
    # head_dim = 64 / 4 = 16, so mrope_section must sum to head_dim / 2 = 8.
    return dict(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
                bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"],
                pad_token_id=ids["<|endoftext|>"])


def _qwen_family(path, seed, *, v25: bool, min_pixels: int, max_pixels: int) -> Path:
    from transformers import Qwen2VLImageProcessorPil

    tok = _tokenizer(_QWEN_SPECIALS, eos="<|im_end|>", pad="<|endoftext|>")
    ids = {t: tok.convert_tokens_to_ids(t) for t in _QWEN_SPECIALS}
    tokens = dict(image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
                  vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"])
    ip = Qwen2VLImageProcessorPil(min_pixels=min_pixels, max_pixels=max_pixels)
    if v25:
        from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor

        cfg = Qwen2_5_VLConfig(text_config=_qwen_text_config(tok, ids), vision_config=dict(
            depth=2, hidden_size=32, intermediate_size=64, out_hidden_size=64, num_heads=2, patch_size=14,
            spatial_merge_size=2, temporal_patch_size=2, window_size=112, fullatt_block_indexes=[1]),
            **tokens)
        proc = image_only_processor_class(Qwen2_5_VLProcessor)(image_processor=ip, tokenizer=tok,
                                                               chat_template=_QWEN_TEMPLATE)
        return _save(path, seed, lambda: Qwen2_5_VLForConditionalGeneration(cfg), proc, "Qwen2_5_VLProcessor")
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLProcessor

    cfg = Qwen2VLConfig(text_config=_qwen_text_config(tok, ids), vision_config=dict(
        depth=2, embed_dim=32, hidden_size=64, num_heads=2, mlp_ratio=2, patch_size=14, spatial_merge_size=2,
        temporal_patch_size=2), **tokens)
    proc = image_only_processor_class(Qwen2VLProcessor)(image_processor=ip, tokenizer=tok, chat_template=_QWEN_TEMPLATE)
    return _save(path, seed, lambda: Qwen2VLForConditionalGeneration(cfg), proc, "Qwen2VLProcessor")


def build_tiny_qwen2vl(path: str | Path, *, seed: int = 0, min_pixels: int = 56 * 56,
                       max_pixels: int = 28 * 28 * 1280) -> Path:
    """Save a tiny Qwen2-VL (0.2 M params, dynamic resolution, 28-px merged patches) to ``path``."""
    return _qwen_family(path, seed, v25=False, min_pixels=min_pixels, max_pixels=max_pixels)


def build_tiny_qwen25vl(path: str | Path, *, seed: int = 0, min_pixels: int = 56 * 56,
                        max_pixels: int = 28 * 28 * 1280) -> Path:
    """Save a tiny Qwen2.5-VL (windowed vision attention, same processor as Qwen2-VL) to ``path``."""
    return _qwen_family(path, seed, v25=True, min_pixels=min_pixels, max_pixels=max_pixels)


def _llama_text(tok, **ids: int) -> dict[str, Any]:
    return dict(model_type="llama", vocab_size=len(tok), hidden_size=64, intermediate_size=128,
                num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                max_position_embeddings=2048, **ids)


def build_tiny_llava(path: str | Path, *, seed: int = 0) -> Path:
    """Save a tiny LLaVA (CLIP tower 224 px / patch 14 → always 256 image tokens) to ``path``."""
    from transformers import CLIPImageProcessorPil, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor

    specials = ["<unk>", "<s>", "</s>", "<pad>", "<image>"]
    tok = _tokenizer(specials, eos="</s>", pad="<pad>")
    tok.bos_token, tok.unk_token = "<s>", "<unk>"
    ids = {t: tok.convert_tokens_to_ids(t) for t in specials}
    cfg = LlavaConfig(
        vision_config=dict(model_type="clip_vision_model", hidden_size=32, intermediate_size=64,
                           num_hidden_layers=2, num_attention_heads=2, image_size=224, patch_size=14),
        text_config=_llama_text(tok, bos_token_id=ids["<s>"], eos_token_id=ids["</s>"], pad_token_id=ids["<pad>"]),
        image_token_index=ids["<image>"], image_seq_length=256, vision_feature_select_strategy="default",
        vision_feature_layer=-1)
    ip = CLIPImageProcessorPil(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224})
    proc = LlavaProcessor(image_processor=ip, tokenizer=tok, patch_size=14, vision_feature_select_strategy="default",
                          num_additional_image_tokens=1, chat_template=_LLAVA_TEMPLATE)
    return _save(path, seed, lambda: LlavaForConditionalGeneration(cfg), proc, "LlavaProcessor")


def build_tiny_idefics3(path: str | Path, *, seed: int = 0) -> Path:
    """Save a tiny Idefics3 (64-px tiles, 4 image tokens per tile + a global tile) to ``path``."""
    from transformers import (
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3ImageProcessorPil,
        Idefics3Processor,
    )

    specials = ["<|endoftext|>", "<|im_start|>", "<end_of_utterance>", "<fake_token_around_image>", "<image>",
                "<global-img>"] + [f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7)]
    tok = _tokenizer(specials, eos="<end_of_utterance>", pad="<|endoftext|>", vocab_size=600)
    ids = {t: tok.convert_tokens_to_ids(t) for t in specials}
    cfg = Idefics3Config(
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=64, patch_size=16),
        text_config=_llama_text(tok, bos_token_id=ids["<|im_start|>"], eos_token_id=ids["<end_of_utterance>"],
                                pad_token_id=ids["<|endoftext|>"]),
        image_token_id=ids["<image>"], scale_factor=2, pad_token_id=ids["<|endoftext|>"])
    ip = Idefics3ImageProcessorPil(size={"longest_edge": 256}, max_image_size={"longest_edge": 64})
    proc = Idefics3Processor(image_processor=ip, tokenizer=tok, image_seq_len=4, chat_template=_IDEFICS3_TEMPLATE)
    return _save(path, seed, lambda: Idefics3ForConditionalGeneration(cfg), proc, "Idefics3Processor")
