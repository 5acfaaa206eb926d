"""Local transformers adapter for image-text-to-text model folders.

Families (``_hf_load.FAMILIES``): Qwen2-VL, Qwen2.5-VL, Qwen3-VL, LLaVA, LLaVA-NeXT, Idefics3, SmolVLM,
InternVL3 (-hf), Gemma 3, DeepSeek-VL (-hf); other model types are fed like LLaVA.

* Loads from a local folder only (no hub access); PIL image processing (no torchvision).
* Greedy decoding at temperature 0, with ``repetition_penalty`` passed explicitly (1.0 by default,
  the paper's plain greedy decoding): otherwise a checkpoint's ``generation_config.json`` applies
  silently (Qwen2.5-VL ships 1.05). The value is in the fingerprint. Temperature > 0 samples with
  ``top_p`` (no top-k, as in the OpenAI API) and needs ``Decoding.seed``: ``model.generate``
  accepts no ``torch.Generator``, so the seed is applied inside ``torch.random.fork_rng`` — the
  caller's RNG state is restored afterwards.
  Sampled requests run one at a time so each gets its own seed.
* Batching: greedy requests with the same number of images and the same decoding are batched
  (``batch_size``) with left padding. ``latency_s`` of each response is its batch's wall time.
* Devices: ``device="auto"`` shards a big model (``device_map="auto"``); inputs go to ``model.device``.
* BOS: when the chat template writes BOS itself (Gemma 3, Idefics3, SmolVLM), the prompt is
  tokenised without special tokens, so the model sees exactly one BOS.
* Pixel budget: ``min_pixels`` / ``max_pixels`` (Qwen-style dynamic resolution only) are passed to
  every processor call as ``size={"shortest_edge", "longest_edge"}``; the saved processor is not
  modified. When the budget makes different input sizes collapse to one processed size (e.g. two
  DPI levels), a :class:`~restplus.models.base.PixelBudgetWarning` is issued once per collapsed
  size; :meth:`HFAdapter.check_budget` answers the same question before a run.
* Recorded per response: ``vision_tokens`` (positions of the model config's image token in
  ``input_ids``: the soft tokens image features fill, not a begin-of-image marker), ``image_sizes`` after
  the processor's resize (Qwen: ``image_grid_thw`` × patch size; others: the processed size, see
  :meth:`HFAdapter.processed_size`), ``tokens_in`` (non-pad prompt tokens), ``tokens_out``
  (generated tokens up to and including EOS), ``finish_reason`` ("stop" or "length").
"""

from __future__ import annotations

import gc
import hashlib
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ModelError, PixelBudgetWarning, RestplusWarning
from ..records import Decoding, ImagePart, Request, Response
from . import _hf_load as L
from ._hf_sizes import processed_size, qwen_factor
from .base import ModelAdapter, check_indices, package_versions
from .hf_states import HiddenStates, MaskedMeans, hidden_states_of, masked_means_of

Size = tuple[int, int]  # (width, height)


@dataclass(frozen=True, slots=True)
class CollapsedGroup:
    """Distinct input sizes (width, height) that all become ``processed`` (width, height)."""

    processed: Size
    inputs: tuple[Size, ...]


class HFAdapter(ModelAdapter):
    """Adapter for a local transformers image-text-to-text folder.

    Args:
        path: local model folder (config.json, weights, processor and tokenizer files).
        device: torch device string ("cpu", "cuda:0" ...), or "auto" to spread a big model over all
            GPUs and the CPU (``device_map="auto"``; needs the accelerate package). Default: "cuda"
            when a GPU is visible, else "cpu". Inputs always go to the model's own device. Not part
            of the fingerprint.
        dtype: "float32", "bfloat16", "float16" (or "fp32", "bf16", "fp16"), or "auto" (the
            checkpoint's own dtype). The fingerprint records the dtype actually loaded.
        attn_implementation: passed to ``from_pretrained`` ("eager", "sdpa", "flash_attention_2" ...);
            None lets transformers choose. The implementation loaded is in the fingerprint
            (kernels differ in the last bits of their outputs).
        batch_size: requests per ``generate`` call (greedy requests only).
        min_pixels, max_pixels: Qwen-style pixel budget per image; None keeps the folder's setting.
        repetition_penalty: passed to every ``generate`` call (1.0 = none), overriding the folder's
            generation_config.json.
        trust_remote_code: run the Python code a folder ships (``auto_map`` in config.json) for
            families transformers does not know. Off by default; on, it issues a RestplusWarning.
            It is always passed explicitly, so transformers never asks interactively.
        name: label for logs; default ``"hf:<folder name>"``.
    """

    def __init__(self, path: str, *, device: str | None = None, dtype: str = "float32", batch_size: int = 1,
                 min_pixels: int | None = None, max_pixels: int | None = None, repetition_penalty: float = 1.0,
                 trust_remote_code: bool = False, attn_implementation: str | None = None,
                 name: str | None = None) -> None:
        self.path = L.check_folder(path)
        self.model_type = L.read_model_type(self.path)
        self.family = L.family_of(self.model_type)
        if (min_pixels is not None or max_pixels is not None) and not self.family.dynamic_resolution:
            raise ModelError(f"min_pixels/max_pixels apply to Qwen-style dynamic resolution only; "
                             f"model_type {self.model_type!r} resizes to a fixed size. Remove them.")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ModelError(f"batch_size must be a positive int, got {batch_size!r}.")
        if min_pixels is not None and max_pixels is not None and not 0 < min_pixels <= max_pixels:
            raise ModelError(f"pixel budget needs 0 < min_pixels <= max_pixels, got min_pixels={min_pixels}, "
                             f"max_pixels={max_pixels}.")
        if (not isinstance(repetition_penalty, (int, float)) or isinstance(repetition_penalty, bool)
                or not repetition_penalty > 0):
            raise ModelError(f"repetition_penalty must be a number > 0 (1.0 = no penalty), got {repetition_penalty!r}.")
        if not isinstance(trust_remote_code, bool):
            raise ModelError(f"trust_remote_code must be True or False, got {trust_remote_code!r}.")
        self.device, self.dtype, self.batch_size = L.default_device(device), dtype, batch_size
        self.repetition_penalty, self.trust_remote_code = float(repetition_penalty), trust_remote_code
        self.name = name or f"hf:{self.path.resolve().name}"
        if trust_remote_code:
            warnings.warn(f"{self.name}: trust_remote_code=True runs the Python files shipped in {str(self.path)!r} "
                          "with your permissions; use it only for folders whose code you have read or trust.",
                          RestplusWarning, stacklevel=2)
        self.processor = L.load_processor(self.path, self.model_type, trust_remote_code)
        self.model = L.load_model(self.path, dtype, self.device, trust_remote_code, attn_implementation)
        self.image_token_id = L.image_token_id(self.processor, self.model)
        ip = self.processor.image_processor
        self.min_pixels = min_pixels if min_pixels is not None else getattr(ip.size, "shortest_edge", None)
        self.max_pixels = max_pixels if max_pixels is not None else getattr(ip.size, "longest_edge", None)
        if self.family.dynamic_resolution:
            if not (self.min_pixels and self.max_pixels and 0 < self.min_pixels <= self.max_pixels):
                raise ModelError(f"pixel budget needs 0 < min_pixels <= max_pixels, got min_pixels={self.min_pixels}, "
                                 f"max_pixels={self.max_pixels}.")
            f = qwen_factor(self.family, ip)
            if self.max_pixels < f * f:
                raise ModelError(f"max_pixels={self.max_pixels} is below one merged patch of {self.model_type} "
                                 f"({f}x{f} = {f * f} pixels); raise it (e.g. {256 * f * f} = 256 vision tokens).")
        self._seen: dict[tuple[Any, Size], set[Size]] = {}
        self._warned: set[tuple[Any, Size]] = set()
        self._size_cache: dict[Size, Size] = {}
        self._folder: dict[str, Any] | None = None

    # -- identity -------------------------------------------------------------------------------
    def fingerprint(self) -> dict[str, Any]:
        if self._folder is None:  # hashing weights is slow for big models: once per adapter
            self._folder = L.folder_digest(self.path)
        template = self.processor.chat_template
        return {"adapter": "hf", "model_type": self.model_type, **self._folder,
                "dtype": str(self.model.dtype).removeprefix("torch."),  # "auto" resolved to what was loaded
                "batch_size": self.batch_size, "repetition_penalty": self.repetition_penalty,
                "trust_remote_code": self.trust_remote_code,
                "attn_implementation": getattr(self.model.config, "_attn_implementation", None),
                "pixel_budget": ({"min_pixels": self.min_pixels, "max_pixels": self.max_pixels}
                                 if self.family.dynamic_resolution else None),
                "processor": L.json_safe(self.processor.to_dict()),
                "chat_template_sha256": hashlib.sha256(str(template).encode()).hexdigest(),
                "versions": package_versions("transformers", "torch", "tokenizers", "pillow")}

    def __repr__(self) -> str:
        return (f"HFAdapter(name={self.name!r}, model_type={self.model_type!r}, dtype={self.dtype!r}, "
                f"batch_size={self.batch_size})")

    # -- pixel budget ---------------------------------------------------------------------------
    def processed_size(self, width: int, height: int) -> Size:
        """(width, height) an input image of this size has after the processor's resize.

        Qwen: ``smart_resize`` with the adapter's budget (multiples of patch × merge size: 28 px for
        Qwen2/2.5-VL, 32 px for Qwen3-VL). Tiled families (Idefics3, SmolVLM, InternVL, LLaVA-NeXT):
        the tile canvas the image is resized onto. Others: the image processor's one output size.
        See :mod:`restplus.models._hf_sizes`.
        """
        key = (int(width), int(height))
        if key not in self._size_cache:
            self._size_cache[key] = self._compute_processed_size(*key)
        return self._size_cache[key]

    def _compute_processed_size(self, width: int, height: int) -> Size:
        return processed_size(self.family, self.processor.image_processor, width, height,
                              self.min_pixels, self.max_pixels)

    def check_budget(self, sizes: Sequence[Size], *, warn: bool = True) -> list[CollapsedGroup]:
        """Groups of distinct input sizes that the processor maps to one processed size.

        Call before a run with the pixel sizes of the rendered levels (e.g. one page at each DPI).
        With ``warn`` a :class:`PixelBudgetWarning` is issued when any group exists.
        """
        by_out: dict[Size, set[Size]] = {}
        for w, h in sizes:
            by_out.setdefault(self.processed_size(w, h), set()).add((int(w), int(h)))
        groups = [CollapsedGroup(out, tuple(sorted(ins))) for out, ins in sorted(by_out.items()) if len(ins) > 1]
        if warn:
            for g in groups:
                self._warn(g)
        return groups

    def _warn(self, g: CollapsedGroup) -> None:
        ins = ", ".join(f"{w}x{h}" for w, h in g.inputs)
        budget = (f" under min_pixels={self.min_pixels}, max_pixels={self.max_pixels}"
                  if self.family.dynamic_resolution else f" ({self.model_type} resizes to a fixed target)")
        warnings.warn(f"{self.name}: input images {ins} all become {g.processed[0]}x{g.processed[1]} after "
                      f"the processor's resize{budget}; the model cannot tell these renders (e.g. DPI levels) "
                      "apart. Raise max_pixels / lower min_pixels to keep them distinct.",
                      PixelBudgetWarning, stacklevel=3)

    def _track(self, inp: Size, out: Size, content: Any = None) -> None:
        """Warn once when two input sizes *of the same content* become one processed size.

        ``content`` groups the renders that differ only by a visual level: the request's text parts
        and the image's aspect ratio (the page in inches, which DPI does not change). Without it,
        an image and a mixed render of one problem, or two problems of different lengths, collapse
        to one size by coincidence and the warning would name levels that were never compared.
        """
        key = (content, out)
        seen = self._seen.setdefault(key, set())
        seen.add(inp)
        if len(seen) > 1 and key not in self._warned:
            self._warned.add(key)
            self._warn(CollapsedGroup(out, tuple(sorted(seen))))

    # -- encoding and generation ----------------------------------------------------------------
    def encode(self, requests: Sequence[Request]) -> tuple[Any, list[tuple[Size, ...]]]:
        """Processor inputs (on device) for a batch, and each request's processed image sizes."""
        import torch

        proc = self.processor
        prompts = [proc.apply_chat_template(L.messages_for(r), add_generation_prompt=True, tokenize=False)
                   for r in requests]
        images = [[p.to_pil() for p in r.images] for r in requests]
        kwargs: dict[str, Any] = {"text": prompts, "padding": True, "return_tensors": "pt",
                                  # Gemma 3 / Idefics3 templates write BOS themselves: adding one more
                                  # would give the model a prompt it was never trained on.
                                  "add_special_tokens": not L.template_writes_bos(proc.tokenizer, prompts)}
        if self.family.dynamic_resolution:
            kwargs["size"] = {"shortest_edge": self.min_pixels, "longest_edge": self.max_pixels}
        if any(images):
            kwargs["images"] = images if self.family.nested_images else [im for ims in images for im in ims]
        inputs = proc(**kwargs)
        sizes: list[tuple[Size, ...]] = []
        grid = inputs.get("image_grid_thw")
        k = 0
        for req, ims in zip(requests, images, strict=True):
            row: list[Size] = []
            texts = tuple(p.text for p in req.parts if not isinstance(p, ImagePart))
            for im in ims:
                if grid is not None:  # Qwen: the processor's own grid is the truth
                    ps = proc.image_processor.patch_size
                    out = (int(grid[k][2]) * ps, int(grid[k][1]) * ps)
                    self._size_cache.setdefault(im.size, out)
                else:
                    out = self.processed_size(*im.size)
                self._track(im.size, out, (texts, round(im.size[0] / im.size[1], 2)))
                row.append(out)
                k += 1
            sizes.append(tuple(row))
        dtype, device = self.model.dtype, self.model.device  # with device="auto": the first shard's device
        moved = {key: (v.to(device, dtype) if torch.is_floating_point(v) else v.to(device))
                 if isinstance(v, torch.Tensor) else v for key, v in inputs.items()}
        return type(inputs)(moved), sizes

    def _generate(self, inputs: Any, d: Decoding):
        import torch

        tok = self.processor.tokenizer
        kw: dict[str, Any] = {"max_new_tokens": d.max_tokens, "pad_token_id": tok.pad_token_id,
                              "repetition_penalty": self.repetition_penalty}
        if d.stop:
            kw.update(stop_strings=list(d.stop), tokenizer=tok)
        with torch.inference_mode():
            if d.temperature <= 0:
                return self.model.generate(**inputs, **kw, do_sample=False, temperature=None, top_p=None, top_k=None)
            # Every GPU the model lives on (several with device="auto"): sampling may draw on any of them,
            # and each one's RNG state must come back as the caller left it.
            devices = sorted({p.device.index or 0 for p in self.model.parameters() if p.device.type == "cuda"})
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(int(d.seed))  # type: ignore[arg-type]  # checked in iter_generate
                return self.model.generate(**inputs, **kw, do_sample=True, temperature=d.temperature,
                                           top_p=d.top_p, top_k=0)

    def _eos_ids(self) -> set[int]:
        eos = self.model.generation_config.eos_token_id
        ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        if self.processor.tokenizer.eos_token_id is not None:
            ids.add(self.processor.tokenizer.eos_token_id)
        return ids

    def _run(self, requests: Sequence[Request], chunk: list[int]) -> Iterator[tuple[int, Response]]:
        reqs = [requests[i] for i in chunk]
        d = reqs[0].decoding
        t0 = time.perf_counter()
        try:
            inputs, sizes = self.encode(reqs)
            out = self._generate(inputs, d)
        except (OSError, ValueError, RuntimeError) as exc:  # bad image, aspect ratio, OOM ...
            if len(chunk) > 1:  # isolate the failing request; the others still get answers
                for i in chunk:
                    yield from self._run(requests, [i])
                return
            yield chunk[0], Response(error=f"{type(exc).__name__}: {exc}", latency_s=time.perf_counter() - t0)
            return
        elapsed = time.perf_counter() - t0
        tok = self.processor.tokenizer
        eos, pad = self._eos_ids(), tok.pad_token_id
        ids, attn = inputs["input_ids"], inputs["attention_mask"]
        new = out[:, ids.shape[1]:].tolist()
        for row, i in enumerate(chunk):
            toks = new[row]
            cut = next((k + 1 for k, t in enumerate(toks) if t in eos), None)
            finish = "stop" if cut is not None else "length"
            if cut is not None:
                toks = toks[:cut]
            elif pad not in eos:  # rows that ended on a stop string are padded to the batch length
                while toks and toks[-1] == pad:
                    toks = toks[:-1]
            text = tok.decode(toks, skip_special_tokens=True)
            hits = [text.index(s) for s in d.stop if s in text]
            if hits:  # OpenAI semantics: the stop string is not part of the output
                text, finish = text[:min(hits)], "stop"
            yield i, Response(text=text, tokens_in=int(attn[row].sum()), tokens_out=len(toks),
                              vision_tokens=int((ids[row] == self.image_token_id).sum()),
                              image_sizes=sizes[row], latency_s=elapsed, finish_reason=finish)

    def iter_generate(self, requests: Sequence[Request]) -> Iterator[tuple[int, Response]]:
        check_indices(requests)
        self._check_open()
        for i, r in enumerate(requests):
            if r.decoding.temperature > 0 and r.decoding.seed is None:
                raise ModelError(f"requests[{i}] samples (temperature={r.decoding.temperature}) without "
                                 "Decoding.seed; set a seed (e.g. derive_seed(run_seed, item)) or use temperature 0.")
        groups: dict[Any, list[int]] = {}
        for i, r in enumerate(requests):
            key = (len(r.images), r.decoding) if r.decoding.temperature <= 0 else ("sample", i)
            groups.setdefault(key, []).append(i)
        for idxs in groups.values():
            for s in range(0, len(idxs), self.batch_size):
                yield from self._run(requests, idxs[s:s + self.batch_size])

    def hidden_states(self, request: Request, layers: Sequence[int] | None = None) -> HiddenStates:
        """Hidden states of ``request``'s prompt, all layers or the selected hidden-state indices."""
        check_indices([request])
        self._check_open()
        return hidden_states_of(self, request, layers)

    def masked_means(self, request: Request, layers: Sequence[int] | None = None, which: str = "image") -> MaskedMeans:
        """Per-layer means over image or user-text positions, computed on the model's device (modality gap)."""
        check_indices([request])
        self._check_open()
        return masked_means_of(self, request, layers, which)

    def _check_open(self) -> None:
        if "model" not in self.__dict__:
            raise ModelError(f"{self.name} is closed; load the adapter again.")

    def close(self) -> None:
        self.__dict__.pop("model", None)
        gc.collect()
