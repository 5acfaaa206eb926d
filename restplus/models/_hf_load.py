"""Loading local image-text-to-text folders without torchvision, and what we need to know about them.

Processors that declare a video processor (Qwen2/2.5/3-VL, InternVL3-hf, SmolVLM) need torchvision
to load it (``AutoProcessor`` fails with "Can't load video processor"). For those we load an
image-only subclass whose attributes are just (image_processor, tokenizer); every other family goes
through ``AutoProcessor``. Both use the PIL image-processor backend. Models load through
``AutoModelForImageTextToText`` from local files only.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ModelError

# Files that can change what a folder's model outputs. README, .gitattributes etc. are ignored.
_HASHED_SUFFIXES = (".json", ".safetensors", ".bin", ".model", ".txt", ".jinja", ".py", ".tiktoken")


@dataclass(frozen=True, slots=True)
class Family:
    """How one model family's processor is fed and how its processed image size is read.

    ``tiling`` names how the image processor turns one image into the pixels the model sees, which
    :mod:`restplus.models._hf_sizes` models: ``"qwen"`` (smart_resize to multiples of
    ``patch_factor`` under the pixel budget), ``"grid"`` (Idefics3 / SmolVLM: resized to whole
    tiles, rows x columns, plus a global tile), ``"canvas"`` (InternVL: the tile grid whose aspect
    ratio is nearest the image's), ``"anyres"`` (LLaVA-NeXT: the best pinpoint resolution, aspect
    preserved), ``"fixed"`` (LLaVA, Gemma 3, DeepSeek-VL: one fixed size).
    """

    model_type: str
    dynamic_resolution: bool = False  # Qwen-style min_pixels / max_pixels budget applies
    nested_images: bool = False  # processor wants images as one list per sample (Idefics3, SmolVLM)
    tiling: str = "fixed"
    patch_factor: int = 0  # Qwen: pixels per merged patch (patch size x spatial merge size)


FAMILIES: dict[str, Family] = {
    "qwen2_vl": Family("qwen2_vl", dynamic_resolution=True, tiling="qwen", patch_factor=28),  # 14 x 2
    "qwen2_5_vl": Family("qwen2_5_vl", dynamic_resolution=True, tiling="qwen", patch_factor=28),
    "qwen3_vl": Family("qwen3_vl", dynamic_resolution=True, tiling="qwen", patch_factor=32),  # 16 x 2
    "llava": Family("llava"),
    "llava_next": Family("llava_next", tiling="anyres"),
    "idefics3": Family("idefics3", nested_images=True, tiling="grid"),
    "smolvlm": Family("smolvlm", nested_images=True, tiling="grid"),
    "internvl": Family("internvl", tiling="canvas"),
    "gemma3": Family("gemma3"),
    "deepseek_vl": Family("deepseek_vl"),
}


def family_of(model_type: str) -> Family:
    """Known families by ``config.model_type``; anything else is fed like LLaVA (flat image list, fixed size)."""
    return FAMILIES.get(model_type, Family(model_type))


_UNSET: Any = object()
# Named __init__ parameters of the video-declaring processors besides the sub-processors. The
# subclass must name them in its own signature: transformers saves and loads exactly the
# parameters that signature lists (``__code__.co_varnames``), so ``**kwargs`` would drop them.
_EXTRA_INIT = ("image_seq_length", "image_seq_len")  # InternVL, SmolVLM


def image_only_processor_class(base: type) -> type:
    """Subclass of a processor that declares a video processor, with attributes (image_processor, tokenizer) only.

    ``ProcessorMixin`` derives a processor's attributes from its ``__init__`` signature, so leaving
    ``video_processor`` out of the signature means it is never loaded (loading one needs torchvision).
    The base ``__init__`` still runs, with ``video_processor=None``: ``ProcessorMixin`` pairs
    positional arguments with the (shorter) attribute list, so the None is dropped, and every
    family-specific attribute (image tokens, ``image_seq_len`` ...) is set by the base's own code.
    """
    import inspect
    import sys

    from transformers.processing_utils import ProcessorMixin

    params = set(inspect.signature(base.__init__).parameters)
    unknown = params - {"self", "image_processor", "tokenizer", "video_processor", "chat_template", "kwargs",
                        *_EXTRA_INIT}
    if unknown:
        raise ModelError(f"{base.__name__}.__init__ takes {sorted(unknown)}, which the image-only loader does not "
                         "forward; this transformers version is newer than restplus supports (>=5.23,<6).")
    module = sys.modules[base.__module__]

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, image_seq_length=_UNSET,
                 image_seq_len=_UNSET, **kwargs):
        extra = {k: v for k, v in (("image_seq_length", image_seq_length), ("image_seq_len", image_seq_len))
                 if v is not _UNSET and k in params}
        # SmolVLM's __init__ refuses to run without num2words, which only its *video* prompt uses
        # (frame counts in words). No video is ever passed here, so the check is satisfied during
        # __init__ and the module's value restored right after.
        missing = "num2words" in vars(module) and module.num2words is None
        if missing:
            module.num2words = _no_num2words
        try:
            base.__init__(self, image_processor, tokenizer, None, chat_template=chat_template, **extra, **kwargs)
        finally:
            if missing:
                module.num2words = None

    body: dict[str, Any] = {"__init__": __init__, "__module__": __name__}
    # SmolVLM's apply_chat_template only adds video sampling settings (read from the video
    # processor) before calling ProcessorMixin's; without videos the plain one is equivalent.
    if "video_processor" in getattr(getattr(base.apply_chat_template, "__code__", None), "co_names", ()):
        body["apply_chat_template"] = ProcessorMixin.apply_chat_template
    return type(f"ImageOnly{base.__name__}", (base,), body)


def _no_num2words(*_args: Any, **_kwargs: Any) -> str:
    raise ModelError("video prompts need the num2words package; restplus feeds images only.")


def processor_class(path: Path, model_type: str) -> type | None:
    """The folder's transformers processor class (``processor_class`` in its configs, else by model_type)."""
    import transformers
    from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES

    name = None
    for f in ("processor_config.json", "preprocessor_config.json", "tokenizer_config.json"):
        try:
            name = json.loads((path / f).read_text()).get("processor_class") or None
        except (OSError, json.JSONDecodeError, AttributeError):
            continue
        if name:
            break
    name = name or PROCESSOR_MAPPING_NAMES.get(model_type)
    cls = getattr(transformers, name, None) if isinstance(name, str) else None
    return cls if isinstance(cls, type) else None


def declares_video(cls: type | None) -> bool:
    return cls is not None and "video_processor" in cls.get_attributes()


def check_folder(path: str | os.PathLike[str]) -> Path:
    p = Path(path).expanduser()
    if not (p / "config.json").is_file():
        raise ModelError(f"HF model folder {str(p)!r} has no config.json. Pass the local folder that holds "
                         "config.json, the weights and the processor files (downloads are disabled).")
    return p


def read_model_type(path: Path) -> str:
    try:
        return str(json.loads((path / "config.json").read_text())["model_type"])
    except (KeyError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path / 'config.json'} has no readable 'model_type' ({exc}); is this a "
                         "transformers model folder?") from exc


def _remote_code_hint(exc: Exception, trust_remote_code: bool) -> str:
    if trust_remote_code or "trust_remote_code" not in str(exc):
        return ""
    return (" The folder ships its own Python code: if you have read it, or trust its source, pass "
            "trust_remote_code=True (CLI --trust-remote-code), or serve it with vLLM and use the openai adapter.")


def load_processor(path: Path, model_type: str, trust_remote_code: bool = False):
    """The processor of a local folder with PIL image processing, never touching the hub."""
    from transformers import AutoProcessor

    cls = processor_class(path, model_type)
    try:
        if declares_video(cls):
            proc = image_only_processor_class(cls).from_pretrained(str(path), local_files_only=True, backend="pil")
        else:
            # trust_remote_code is always explicit: left as None, transformers may prompt on stdin.
            proc = AutoProcessor.from_pretrained(str(path), local_files_only=True, backend="pil",
                                                 trust_remote_code=trust_remote_code)
    except (OSError, ValueError, AttributeError) as exc:
        raise ModelError(f"could not load the processor of {str(path)!r} (model_type {model_type!r}): "
                         f"{type(exc).__name__}: {exc}. Supported without torchvision: "
                         f"{', '.join(FAMILIES)}.{_remote_code_hint(exc, trust_remote_code)}") from exc
    if not hasattr(proc, "image_processor") or not hasattr(proc, "tokenizer"):
        raise ModelError(f"{str(path)!r} loaded as {type(proc).__name__}, which is not an image-text "
                         "processor (no image_processor/tokenizer); check processor_config.json.")
    if not proc.chat_template:
        raise ModelError(f"{str(path)!r} has no chat template (chat_template.jinja or chat_template in "
                         "tokenizer_config.json); the adapter needs it to build prompts.")
    # Decoder-only generation in batches needs left padding so every row ends at the prompt's end.
    proc.tokenizer.padding_side = "left"
    return proc


_DTYPE_ALIASES = {"fp32": "float32", "fp16": "float16", "half": "float16", "bf16": "bfloat16"}


def default_device(device: str | None) -> str:
    """``device`` as given, or "cuda" when a GPU is visible, else "cpu"."""
    if device is not None:
        if not isinstance(device, str) or not device:
            raise ModelError(f"device must be a torch device string ('cpu', 'cuda', 'cuda:1', 'mps') or 'auto', "
                             f"got {device!r}.")
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_model(path: Path, dtype: str, device: str, trust_remote_code: bool = False,
               attn_implementation: str | None = None):
    import torch
    from transformers import AutoModelForImageTextToText

    name = _DTYPE_ALIASES.get(str(dtype), str(dtype))
    torch_dtype: Any = "auto" if name == "auto" else getattr(torch, name, None)
    if not (torch_dtype == "auto" or isinstance(torch_dtype, torch.dtype)):
        raise ModelError(f"dtype {dtype!r} is not a torch dtype; use 'auto', 'float32', 'bfloat16' or 'float16'.")
    kw: dict[str, Any] = {"dtype": torch_dtype, "local_files_only": True, "trust_remote_code": trust_remote_code}
    if attn_implementation is not None:
        kw["attn_implementation"] = attn_implementation
    if device == "auto":
        import importlib.util

        if importlib.util.find_spec("accelerate") is None:
            raise ModelError("device='auto' (device_map='auto') needs the accelerate package; install it, or pass "
                             "one device such as device='cuda'.")
        kw["device_map"] = "auto"
    try:
        model = AutoModelForImageTextToText.from_pretrained(str(path), **kw)
    except (OSError, ValueError, ImportError) as exc:
        raise ModelError(f"could not load the model weights of {str(path)!r}: {type(exc).__name__}: {exc}"
                         f"{_remote_code_hint(exc, trust_remote_code)}") from exc
    try:
        return (model if device == "auto" else model.to(device)).eval()
    except (RuntimeError, AssertionError) as exc:  # unknown device, CUDA not compiled in ...
        raise ModelError(f"cannot move {str(path)!r} to device {device!r}: {exc}") from exc


def template_writes_bos(tokenizer: Any, prompts: list[str]) -> bool:
    """True when every rendered prompt already starts with the tokenizer's BOS token."""
    bos = getattr(tokenizer, "bos_token", None)
    return bool(bos) and bool(prompts) and all(p.startswith(bos) for p in prompts)


def image_token_id(proc, model) -> int:
    """The token id the *model* replaces with image features (one per vision token).

    The model config is the authority: it is the id ``get_placeholder_mask`` scatters image features
    into. A processor's ``image_token_id`` can be a different token: Gemma 3's is ``<start_of_image>``
    (one per image), while the model fills 256 ``<image_soft_token>`` positions.
    """
    cfg = model.config
    for key in ("image_token_id", "image_token_index"):
        tid = getattr(cfg, key, None)
        if tid is not None:
            return int(tid)
    tid = getattr(proc, "image_token_id", None)
    if tid is None:
        raise ModelError(f"cannot tell which token id marks image positions for {type(model).__name__}; "
                         "neither the model config nor the processor defines image_token_id.")
    return int(tid)


def folder_digest(path: Path) -> dict[str, Any]:
    """sha256 over (name, sha256) of every output-relevant file, plus hub id/revision when in a snapshot."""
    h = hashlib.sha256()
    files = sorted(f for f in path.iterdir() if f.is_file() and f.name.endswith(_HASHED_SUFFIXES))
    for f in files:
        fh = hashlib.sha256()
        with open(f, "rb") as stream:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                fh.update(chunk)
        h.update(f"{f.name}\0{fh.hexdigest()}\n".encode())
    out: dict[str, Any] = {"folder": path.resolve().name, "files_sha256": h.hexdigest(),
                           "files": [f.name for f in files]}
    # HF cache layout: .../models--org--name/snapshots/<revision>/  → record id and revision too.
    parts = path.resolve().parts
    if len(parts) >= 3 and parts[-2] == "snapshots" and parts[-3].startswith("models--"):
        out["model_id"] = parts[-3][len("models--"):].replace("--", "/")
        out["revision"] = parts[-1]
    return out


def json_safe(obj: Any) -> Any:
    """Round-trip through JSON (unknown objects become their str) so fingerprints are canonical."""
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


def messages_for(request, texts: list[str] | None = None) -> list[dict[str, Any]]:
    """Chat messages for a request: optional system turn, then one user turn of ordered parts.

    ``texts`` replaces the user text parts in order (used to locate them with sentinels).
    Content is always a list of typed parts, which every image-text chat template accepts.
    """
    from ..records import ImagePart

    msgs: list[dict[str, Any]] = []
    if request.system:
        msgs.append({"role": "system", "content": [{"type": "text", "text": request.system}]})
    content: list[dict[str, Any]] = []
    k = 0
    for part in request.parts:
        if isinstance(part, ImagePart):
            content.append({"type": "image"})
        else:
            content.append({"type": "text", "text": part.text if texts is None else texts[k]})
            k += 1
    msgs.append({"role": "user", "content": content})
    return msgs
