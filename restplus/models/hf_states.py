"""Per-layer hidden states of a local HF model, split into image, user-text and other positions.

Used by the modality-gap analysis: compare the representation of the same content given as pixels
(image positions) and as text (user-text positions) layer by layer.

How ``text_mask`` is computed (exactly, not by heuristics):

1. The prompt is rendered twice with the chat template: once with the real text parts and once with
   each text part replaced by a unique sentinel. Replacing the sentinels with the real texts must
   give the real prompt back (else :class:`~restplus.errors.ModelError`: the template rewrites user
   text), which yields the exact character span of every user text part in the prompt.
2. The un-expanded prompt is tokenised with offsets; a token is user text when its character span
   overlaps a text-part span. Template markup, role names, special tokens and the system text are
   never user text. A token that merges template whitespace with user text counts as user text.
3. The processor's ``input_ids`` differ from that tokenisation only where image placeholders were
   expanded (one ``<image>`` → N image tokens, tile markers ...). Special tokens are split before
   BPE, so all other token runs are identical; ``difflib.SequenceMatcher`` aligns the two id lists
   and carries the user-text flags over to the expanded positions.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ModelError
from ..records import Request, TextPart
from ._hf_load import messages_for, template_writes_bos


@dataclass(frozen=True, slots=True, eq=False)
class HiddenStates:
    """Hidden states of one request's prompt (no generation).

    ``layers``: float32 array (n_selected_layers, seq, hidden). With all layers selected it has
    ``num_hidden_layers + 1`` entries and ``layers[0]`` is the input embeddings.
    ``layer_indices``: which hidden-state indices ``layers`` holds, in order.
    ``image_mask`` / ``text_mask``: bool arrays (seq,) — image-token positions / user-text positions
    (see the module docstring). ``input_ids``: int64 array (seq,).
    """

    layers: np.ndarray
    layer_indices: tuple[int, ...]
    image_mask: np.ndarray
    text_mask: np.ndarray
    input_ids: np.ndarray

    def image(self, layer: int) -> np.ndarray:
        """(n_image_tokens, hidden) states of hidden-state index ``layer`` at image positions."""
        return self.layers[self.layer_indices.index(layer)][self.image_mask]

    def text(self, layer: int) -> np.ndarray:
        """(n_user_text_tokens, hidden) states of hidden-state index ``layer`` at user-text positions."""
        return self.layers[self.layer_indices.index(layer)][self.text_mask]


def user_text_spans(processor: Any, request: Request) -> tuple[str, list[tuple[int, int]]]:
    """The rendered prompt and the character span of each user text part in it.

    Templates that trim text parts (Gemma 3: ``{{ item['text'] | trim }}``) are recognised: when the
    prompt equals the sentinel prompt filled with the *stripped* texts, the spans cover those.
    """
    texts = [p.text for p in request.parts if isinstance(p, TextPart)]
    real = processor.apply_chat_template(messages_for(request), add_generation_prompt=True, tokenize=False)
    sentinels = [f"\ue000{i}\ue001" for i in range(len(texts))]
    templ = processor.apply_chat_template(messages_for(request, sentinels), add_generation_prompt=True,
                                          tokenize=False)
    for candidate in (texts, [t.strip() for t in texts]):
        filled, spans = _fill(templ, sentinels, candidate)
        if filled == real:
            return real, spans
    raise ModelError("the chat template rewrites user text (e.g. escapes it or changes it beyond trimming edge "
                     "whitespace), so user-text positions cannot be located exactly for hidden states.")


def _fill(templ: str, sentinels: list[str], texts: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """``templ`` with each sentinel replaced by its text, and the character span of each text."""
    pieces: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = length = 0
    for text, sentinel in zip(texts, sentinels):
        j = templ.find(sentinel, pos)
        if j < 0 or templ.count(sentinel) != 1:
            raise ModelError("the chat template does not copy each user text part exactly once into the "
                             "prompt, so user-text positions cannot be located for hidden states.")
        pieces.append(templ[pos:j])
        length += j - pos
        spans.append((length, length + len(text)))
        pieces.append(text)
        length += len(text)
        pos = j + len(sentinel)
    pieces.append(templ[pos:])
    return "".join(pieces), spans


def user_text_mask(processor: Any, request: Request, input_ids: Sequence[int]) -> np.ndarray:
    """Bool mask over ``input_ids`` (the processor's expanded ids) marking user-text positions."""
    prompt, spans = user_text_spans(processor, request)
    # As in generation: no second BOS when the template wrote one (see _hf_load.template_writes_bos).
    enc = processor.tokenizer(prompt, return_offsets_mapping=True,
                              add_special_tokens=not template_writes_bos(processor.tokenizer, [prompt]))
    ids0 = list(enc["input_ids"])
    is_text0 = [any(s < e_tok and s_tok < e for s, e in spans if e > s) for s_tok, e_tok in enc["offset_mapping"]]
    target = [int(t) for t in input_ids]
    mask = np.zeros(len(target), dtype=bool)
    covered = 0
    matcher = difflib.SequenceMatcher(None, ids0, target, autojunk=False)
    for a, b, size in matcher.get_matching_blocks():
        for k in range(size):
            if is_text0[a + k]:
                mask[b + k] = True
                covered += 1
    if covered != sum(is_text0):
        raise ModelError(f"only {covered} of {sum(is_text0)} user-text tokens were found in the processor's "
                         "input ids; the processor changed the tokenisation of user text.")
    return mask


@dataclass(frozen=True, slots=True, eq=False)
class MaskedMeans:
    """Per-layer mean hidden state over one set of positions (image or user text) of one prompt.

    ``means``: float32 array (n_selected_layers, hidden); ``n``: how many positions were averaged.
    """

    layer_indices: tuple[int, ...]
    means: np.ndarray
    n: int


def _forward(adapter: Any, request: Request) -> tuple[Any, tuple[Any, ...]]:
    """The processor inputs and the hidden-state tuple of one prompt (no generation)."""
    import inspect

    import torch

    inputs, _ = adapter.encode([request])
    kw: dict[str, Any] = {"output_hidden_states": True}
    # Only hidden states are wanted: logits for every position of a 150k-vocabulary model are the
    # largest tensor of the pass (seq x vocab), so keep the last position's only where supported.
    if "logits_to_keep" in inspect.signature(adapter.model.forward).parameters:
        kw["logits_to_keep"] = 1
    with torch.inference_mode():
        out = adapter.model(**inputs, **kw)
    return inputs, out.hidden_states


def _select(layers: Sequence[int] | None, n: int) -> tuple[int, ...]:
    idx = tuple(range(n)) if layers is None else tuple(int(i) for i in layers)
    bad = [i for i in idx if not -n <= i < n]
    if bad:
        raise ModelError(f"layers {bad} out of range: this model has {n} hidden-state indices "
                         f"(0 = embeddings .. {n - 1} = last layer).")
    return tuple(i % n for i in idx)


def hidden_states_of(adapter: Any, request: Request, layers: Sequence[int] | None = None) -> HiddenStates:
    """Run one forward pass of ``adapter`` (an HFAdapter) on ``request`` and split the states."""
    import torch

    inputs, states = _forward(adapter, request)
    idx = _select(layers, len(states))
    arr = torch.stack([states[i][0] for i in idx]).float().cpu().numpy()
    ids = inputs["input_ids"][0].cpu().numpy().astype(np.int64)
    return HiddenStates(layers=arr, layer_indices=idx, image_mask=ids == adapter.image_token_id,
                        text_mask=user_text_mask(adapter.processor, request, ids.tolist()), input_ids=ids)


def masked_means_of(adapter: Any, request: Request, layers: Sequence[int] | None, which: str) -> MaskedMeans:
    """Per-layer means over the image (``which="image"``) or user-text positions, reduced on the model's device.

    Only (n_layers, hidden) leaves the device: for a 32B model, copying every layer's full states
    to float32 on the CPU would move gigabytes per item. Accumulation is in float64 (float32 on
    MPS, which has no float64): hundreds of image tokens would lose digits in a low-precision sum.
    """
    import torch

    if which not in ("image", "text"):
        raise ModelError(f"which={which!r} must be 'image' or 'text'.")
    inputs, states = _forward(adapter, request)
    idx = _select(layers, len(states))
    ids = inputs["input_ids"][0]
    if which == "image":
        mask = ids == adapter.image_token_id
    else:
        mask = torch.from_numpy(user_text_mask(adapter.processor, request, ids.tolist()))
    n = int(mask.sum())
    hidden = states[idx[0]].shape[-1]
    if n == 0:
        return MaskedMeans(idx, np.full((len(idx), hidden), np.nan, dtype=np.float32), 0)
    acc = torch.float32 if states[0].device.type == "mps" else torch.float64
    means = [states[i][0][mask.to(states[i].device)].to(acc).mean(0).float().cpu() for i in idx]
    return MaskedMeans(idx, torch.stack(means).numpy(), n)
