"""Loading local image-text-to-text folders without torchvision, and what we need to know about them.

Qwen-style processors (Qwen2-VL, Qwen2.5-VL) declare a video processor, and loading one needs
torchvision (``AutoProcessor`` fails with "Can't load video processor"). For those families we
load an image-only subclass whose attributes are just (image_processor, tokenizer); every other
family goes through ``AutoProcessor`` with the PIL image-processor backend. Models load through
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
    """How one model family's processor is fed and how its processed image size is read."""

    model_type: str
    dynamic_resolution: bool  # Qwen-style min_pixels / max_pixels budget applies
    nested_images: bool  # processor wants images as one list per sample (Idefics3)


FAMILIES: dict[str, Family] = {
    "qwen2_vl": Family("qwen2_vl", dynamic_resolution=True, nested_images=False),
    "qwen2_5_vl": Family("qwen2_5_vl", dynamic_resolution=True, nested_images=False),
    "llava": Family("llava", dynamic_resolution=False, nested_images=False),
    "idefics3": Family("idefics3", dynamic_resolution=False, nested_images=True),
}


def family_of(model_type: str) -> Family:
    """Known families by ``config.model_type``; anything else is fed like LLaVA (flat image list)."""
    return FAMILIES.get(model_type, Family(model_type, dynamic_resolution=False, nested_images=False))


def image_only_processor_class(base: type) -> type:
    """Subclass of a Qwen-style processor with attributes (image_processor, tokenizer) only.

    ``ProcessorMixin`` derives a processor's attributes from its ``__init__`` signature, so leaving
    ``video_processor`` out of the signature means it is never loaded (no torchvision needed).
    """
    from transformers.processing_utils import ProcessorMixin

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        self.image_token = getattr(tokenizer, "image_token", None) or "<|image_pad|>"
        self.video_token = getattr(tokenizer, "video_token", None) or "<|video_pad|>"
        self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
        self.video_token_id = tokenizer.convert_tokens_to_ids(self.video_token)
        ProcessorMixin.__init__(self, image_processor, tokenizer, chat_template=chat_template)

    return type(f"ImageOnly{base.__name__}", (base,), {"__init__": __init__, "__module__": __name__})


def _qwen_processor_base(model_type: str) -> type:
    if model_type == "qwen2_vl":
        from transformers import Qwen2VLProcessor

        return Qwen2VLProcessor
    from transformers import Qwen2_5_VLProcessor

    return Qwen2_5_VLProcessor


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

    try:
        if model_type in ("qwen2_vl", "qwen2_5_vl"):
            proc = image_only_processor_class(_qwen_processor_base(model_type)).from_pretrained(
                str(path), local_files_only=True)
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


def load_model(path: Path, dtype: str, device: str, trust_remote_code: bool = False):
    import torch
    from transformers import AutoModelForImageTextToText

    torch_dtype: Any = "auto" if dtype == "auto" else getattr(torch, str(dtype), None)
    if not (torch_dtype == "auto" or isinstance(torch_dtype, torch.dtype)):
        raise ModelError(f"dtype {dtype!r} is not a torch dtype; use 'auto', 'float32', 'bfloat16' or 'float16'.")
    try:
        model = AutoModelForImageTextToText.from_pretrained(str(path), dtype=torch_dtype, local_files_only=True,
                                                            trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        raise ModelError(f"could not load the model weights of {str(path)!r}: {type(exc).__name__}: {exc}"
                         f"{_remote_code_hint(exc, trust_remote_code)}") from exc
    return model.to(device).eval()


def image_token_id(proc, model) -> int:
    tid = getattr(proc, "image_token_id", None)
    if tid is None:
        tid = getattr(model.config, "image_token_id", None) or getattr(model.config, "image_token_index", None)
    if tid is None:
        raise ModelError(f"cannot tell which token id marks image positions for {type(model).__name__}; "
                         "neither the processor nor the config defines image_token_id.")
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
