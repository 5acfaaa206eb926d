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
# Public: the nano model's trainer (models/restplus-nano/train.py) builds its checkpoint with the same
# Qwen-style specials and chat template.
QWEN_SPECIALS, QWEN_TEMPLATE = _QWEN_SPECIALS, _QWEN_TEMPLATE
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
    tok = _with_bos(_tokenizer(specials, eos="</s>", pad="<pad>"), "<s>")  # Llama tokenizers add BOS
    tok.unk_token = "<unk>"
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
    # Upstream Idefics3 writes BOS in its template and its tokenizer adds one too (the double-BOS case).
    tok = _with_bos(_tokenizer(specials, eos="<end_of_utterance>", pad="<|endoftext|>", vocab_size=600),
                    "<|im_start|>")
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


# -- families whose tokenizer adds BOS or whose template writes it ------------------------------------
def _with_bos(tok, bos: str):
    """Make ``tok`` prepend ``bos`` like the upstream Llama / Gemma tokenizers do (a post-processor)."""
    from tokenizers import processors

    backend = tok.backend_tokenizer
    bos_id = tok.convert_tokens_to_ids(bos)
    backend.post_processor = processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A {bos} $B",
                                                           special_tokens=[(bos, bos_id)])
    tok.bos_token = bos
    return tok


def _reload_tokenizer(tok, **extra_special_tokens: str):
    """``tok`` rebuilt with named extra special tokens (``tok.boi_token`` ...), as upstream configs declare them."""
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=tok.backend_tokenizer, bos_token=tok.bos_token,
                                   eos_token=tok.eos_token, pad_token=tok.pad_token, unk_token=tok.unk_token,
                                   extra_special_tokens=extra_special_tokens)


def build_tiny_qwen3vl(path: str | Path, *, seed: int = 0, min_pixels: int = 64 * 64,
                       max_pixels: int = 32 * 32 * 1280) -> Path:
    """Save a tiny Qwen3-VL (patch 16 x merge 2 = 32-px merged patches, deepstack) to ``path``."""
    from transformers import Qwen2VLImageProcessorPil, Qwen3VLConfig, Qwen3VLForConditionalGeneration, Qwen3VLProcessor

    tok = _tokenizer(_QWEN_SPECIALS, eos="<|im_end|>", pad="<|endoftext|>")
    ids = {t: tok.convert_tokens_to_ids(t) for t in _QWEN_SPECIALS}
    text = dict(_qwen_text_config(tok, ids), head_dim=16)
    text["rope_parameters"] = dict(text["rope_parameters"], mrope_interleaved=True)
    cfg = Qwen3VLConfig(text_config=text, vision_config=dict(
        depth=2, hidden_size=32, intermediate_size=64, num_heads=2, patch_size=16, spatial_merge_size=2,
        temporal_patch_size=2, out_hidden_size=64, num_position_embeddings=64, deepstack_visual_indexes=[0]),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"])
    ip = Qwen2VLImageProcessorPil(patch_size=16, merge_size=2, min_pixels=min_pixels, max_pixels=max_pixels)
    proc = image_only_processor_class(Qwen3VLProcessor)(image_processor=ip, tokenizer=tok,
                                                        chat_template=_QWEN_TEMPLATE)
    return _save(path, seed, lambda: Qwen3VLForConditionalGeneration(cfg), proc, "Qwen3VLProcessor")


def build_tiny_llava_next(path: str | Path, *, seed: int = 0) -> Path:
    """Save a tiny LLaVA-NeXT (32-px CLIP tiles, anyres pinpoints up to 64 x 64, unpadded features) to ``path``."""
    from transformers import (
        LlavaNextConfig,
        LlavaNextForConditionalGeneration,
        LlavaNextImageProcessorPil,
        LlavaNextProcessor,
    )

    specials = ["<unk>", "<s>", "</s>", "<pad>", "<image>"]
    tok = _with_bos(_tokenizer(specials, eos="</s>", pad="<pad>"), "<s>")
    tok.unk_token = "<unk>"
    ids = {t: tok.convert_tokens_to_ids(t) for t in specials}
    pinpoints = [[32, 64], [64, 32], [64, 64]]
    cfg = LlavaNextConfig(
        vision_config=dict(model_type="clip_vision_model", hidden_size=32, intermediate_size=64,
                           num_hidden_layers=2, num_attention_heads=2, image_size=32, patch_size=8),
        text_config=_llama_text(tok, bos_token_id=ids["<s>"], eos_token_id=ids["</s>"], pad_token_id=ids["<pad>"]),
        image_token_index=ids["<image>"], image_grid_pinpoints=pinpoints, vision_feature_select_strategy="default",
        vision_feature_layer=-1, image_seq_length=16)
    ip = LlavaNextImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32},
                                    image_grid_pinpoints=pinpoints)
    proc = LlavaNextProcessor(image_processor=ip, tokenizer=tok, patch_size=8, vision_feature_select_strategy="default",
                              num_additional_image_tokens=1, chat_template=_LLAVA_TEMPLATE)
    return _save(path, seed, lambda: LlavaNextForConditionalGeneration(cfg), proc, "LlavaNextProcessor")


_SMOL_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<end_of_utterance>", "<fake_token_around_image>", "<image>",
                  "<global-img>"] + [f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7)]


def build_tiny_smolvlm(path: str | Path, *, seed: int = 0) -> Path:
    """Save a tiny SmolVLM (Idefics3-style 64-px tiles, 4 tokens per tile; declares a video processor)."""
    from transformers import (
        SmolVLMConfig,
        SmolVLMForConditionalGeneration,
        SmolVLMImageProcessorPil,
        SmolVLMProcessor,
    )

    # Upstream SmolVLM writes BOS in its template ("<|im_start|>User:...") and its tokenizer adds it too.
    tok = _with_bos(_tokenizer(_SMOL_SPECIALS, eos="<end_of_utterance>", pad="<|endoftext|>", vocab_size=600),
                    "<|im_start|>")
    ids = {t: tok.convert_tokens_to_ids(t) for t in _SMOL_SPECIALS}
    cfg = SmolVLMConfig(
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=64, patch_size=16),
        text_config=_llama_text(tok, bos_token_id=ids["<|im_start|>"], eos_token_id=ids["<end_of_utterance>"],
                                pad_token_id=ids["<|endoftext|>"]),
        image_token_id=ids["<image>"], scale_factor=2, pad_token_id=ids["<|endoftext|>"])
    ip = SmolVLMImageProcessorPil(size={"longest_edge": 256}, max_image_size={"longest_edge": 64})
    proc = image_only_processor_class(SmolVLMProcessor)(image_processor=ip, tokenizer=tok, image_seq_len=4,
                                                        chat_template=_IDEFICS3_TEMPLATE)
    return _save(path, seed, lambda: SmolVLMForConditionalGeneration(cfg), proc, "SmolVLMProcessor")


_INTERNVL_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for c in message['content'] %}"
    "{% if c['type'] == 'image' %}<IMG_CONTEXT>\n{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def build_tiny_internvl(path: str | Path, *, seed: int = 0) -> Path:
    """Save a tiny InternVL3-hf (64-px tiles on the nearest-aspect canvas of up to 4, plus a thumbnail)."""
    from transformers import (
        GotOcr2ImageProcessorPil,
        InternVLConfig,
        InternVLForConditionalGeneration,
        InternVLProcessor,
    )

    named = {"start_image_token": "<img>", "end_image_token": "</img>", "context_image_token": "<IMG_CONTEXT>",
             "video_token": "<video>"}
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", *named.values()]
    tok = _reload_tokenizer(_tokenizer(specials, eos="<|im_end|>", pad="<|endoftext|>"), **named)
    ids = {t: tok.convert_tokens_to_ids(t) for t in specials}
    cfg = InternVLConfig(
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=[64, 64], patch_size=[16, 16]),
        text_config=dict(model_type="qwen2", vocab_size=len(tok), hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=2048, bos_token_id=ids["<|endoftext|>"],
                         eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"]),
        image_token_id=ids["<IMG_CONTEXT>"], image_seq_length=4, downsample_ratio=0.5)
    ip = GotOcr2ImageProcessorPil(size={"height": 64, "width": 64}, crop_to_patches=True, min_patches=1, max_patches=4)
    proc = image_only_processor_class(InternVLProcessor)(image_processor=ip, tokenizer=tok, image_seq_length=4,
                                                         chat_template=_INTERNVL_TEMPLATE)
    return _save(path, seed, lambda: InternVLForConditionalGeneration(cfg), proc, "InternVLProcessor")


# Gemma 3's upstream template (shape kept): BOS written by the template, system text folded into the
# first user turn, and every text part trimmed.
_GEMMA3_TEMPLATE = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}"
    "{% set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' %}{% set loop_messages = messages[1:] %}"
    "{% else %}{% set first_user_prefix = '' %}{% set loop_messages = messages %}{% endif %}"
    "{% for message in loop_messages %}{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
    "{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') }}"
    "{% if message['content'] is string %}{{ message['content'] | trim }}"
    "{% else %}{% for item in message['content'] %}{% if item['type'] == 'image' %}{{ '<start_of_image>' }}"
    "{% elif item['type'] == 'text' %}{{ item['text'] | trim }}{% endif %}{% endfor %}{% endif %}"
    "{{ '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}")


def build_tiny_gemma3(path: str | Path, *, seed: int = 0) -> Path:
    """Save a tiny Gemma 3 (64-px SigLIP, 4 soft image tokens per image between <start/end_of_image>)."""
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration, Gemma3ImageProcessorPil, Gemma3Processor

    named = {"boi_token": "<start_of_image>", "eoi_token": "<end_of_image>", "image_token": "<image_soft_token>"}
    specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>", *named.values()]
    base = _with_bos(_tokenizer(specials, eos="<end_of_turn>", pad="<pad>"), "<bos>")
    base.unk_token = "<unk>"
    tok = _reload_tokenizer(base, **named)
    ids = {t: tok.convert_tokens_to_ids(t) for t in specials}
    cfg = Gemma3Config(
        text_config=dict(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=2048,
                         query_pre_attn_scalar=16, sliding_window=64, bos_token_id=ids["<bos>"],
                         eos_token_id=ids["<end_of_turn>"], pad_token_id=ids["<pad>"]),
        vision_config=dict(model_type="siglip_vision_model", hidden_size=32, intermediate_size=64,
                           num_hidden_layers=2, num_attention_heads=2, image_size=64, patch_size=16),
        mm_tokens_per_image=4, boi_token_index=ids["<start_of_image>"], eoi_token_index=ids["<end_of_image>"],
        image_token_index=ids["<image_soft_token>"])
    ip = Gemma3ImageProcessorPil(size={"height": 64, "width": 64})
    proc = Gemma3Processor(image_processor=ip, tokenizer=tok, image_seq_length=4, chat_template=_GEMMA3_TEMPLATE)

    def make():
        import torch

        model = Gemma3ForConditionalGeneration(cfg)
        # Gemma 3 initialises its image projection to zeros (the real weights replace it), which would
        # make every image state of a random model 0 and its cosine similarity undefined.
        torch.nn.init.normal_(model.model.multi_modal_projector.mm_input_projection_weight, std=0.02)
        return model

    return _save(path, seed, make, proc, "Gemma3Processor")


_DEEPSEEK_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'system' %}"
    "{{ message['content'][0]['text'] }}\n\n{% else %}{{ message['role'] | capitalize }}: "
    "{% for c in message['content'] %}{% if c['type'] == 'image' %}<image_placeholder>"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}\n\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}")


def build_tiny_deepseek_vl(path: str | Path, *, seed: int = 0) -> Path:
    """Save a tiny DeepSeek-VL (-hf; 64-px SigLIP, 16 image tokens per image) to ``path``."""
    from transformers import (
        DeepseekVLConfig,
        DeepseekVLForConditionalGeneration,
        DeepseekVLImageProcessorPil,
        DeepseekVLProcessor,
    )

    specials = ["<｜end▁of▁sentence｜>", "<｜begin▁of▁sentence｜>", "<pad>", "<image_placeholder>"]
    base = _with_bos(_tokenizer(specials, eos="<｜end▁of▁sentence｜>", pad="<pad>"), "<｜begin▁of▁sentence｜>")
    tok = _reload_tokenizer(base, image_token="<image_placeholder>")
    ids = {t: tok.convert_tokens_to_ids(t) for t in specials}
    cfg = DeepseekVLConfig(
        text_config=_llama_text(tok, bos_token_id=ids["<｜begin▁of▁sentence｜>"],
                                eos_token_id=ids["<｜end▁of▁sentence｜>"], pad_token_id=ids["<pad>"]),
        vision_config=dict(model_type="siglip_vision_model", hidden_size=32, intermediate_size=64,
                           num_hidden_layers=2, num_attention_heads=2, image_size=64, patch_size=16),
        image_token_id=ids["<image_placeholder>"])
    ip = DeepseekVLImageProcessorPil(size={"height": 64, "width": 64})
    proc = DeepseekVLProcessor(image_processor=ip, tokenizer=tok, num_image_tokens=16, chat_template=_DEEPSEEK_TEMPLATE)
    return _save(path, seed, lambda: DeepseekVLForConditionalGeneration(cfg), proc, "DeepseekVLProcessor")


# Every family the HF adapter supports, by the folder name the tests use.
TINY_BUILDERS = {"qwen2vl": build_tiny_qwen2vl, "qwen25vl": build_tiny_qwen25vl, "qwen3vl": build_tiny_qwen3vl,
                 "llava": build_tiny_llava, "llava_next": build_tiny_llava_next, "idefics3": build_tiny_idefics3,
                 "smolvlm": build_tiny_smolvlm, "internvl": build_tiny_internvl, "gemma3": build_tiny_gemma3,
                 "deepseek_vl": build_tiny_deepseek_vl}
