"""Image degradations: a small ordered registry keyed by render parameters.

Each step is active when its parameter is set (``blur_sigma > 0``, ``jpeg_quality`` not None, ...),
draws randomness only from ``np.random.default_rng(derive_seed(seed, name))`` and reports its
resolved parameters plus a physical measure (sigma in px and pt, PSNR against its input). The order
mimics a capture pipeline: page skew, optics blur, sensor noise, then lossy compression.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from ..errors import RenderError
from ..grammar.params import BASE, RenderParams
from ..hashing import derive_seed
from ..registry import Registry

JPEG_SUBSAMPLING = "4:2:0"  # explicit: Pillow's default depends on quality presets


@dataclass(frozen=True, slots=True)
class Degradation:
    """name: step id; param: render-param key; apply(im, value, seed, ctx) -> (image, measures)."""

    name: str
    param: str
    active: Callable[[Any], bool]
    apply: Callable[[Image.Image, Any, int, dict[str, Any]], tuple[Image.Image, dict[str, Any]]]


def psnr(a: Image.Image, b: Image.Image) -> float | None:
    """Peak signal-to-noise ratio in dB between equal-sized RGB images (None if identical)."""
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    mse = float(np.mean((x - y) ** 2))
    return None if mse == 0.0 else round(10.0 * math.log10(255.0 ** 2 / mse), 4)


def _rotate(im: Image.Image, deg: Any, seed: int, ctx: dict[str, Any]) -> tuple[Image.Image, dict[str, Any]]:
    w, h = im.size
    out = im.rotate(float(deg), resample=Image.Resampling.BICUBIC, expand=True, fillcolor=tuple(ctx["bg"]))
    return out, {"degrees": float(deg), "size_before": [w, h], "size_after": list(out.size)}


def _blur(im: Image.Image, sigma: Any, seed: int, ctx: dict[str, Any]) -> tuple[Image.Image, dict[str, Any]]:
    # Pillow's GaussianBlur radius is the standard deviation in pixels (extended box blur).
    out = im.filter(ImageFilter.GaussianBlur(radius=float(sigma)))
    return out, {"sigma_px": float(sigma), "sigma_pt": round(float(sigma) * 72.0 / ctx["dpi"], 4),
                 "psnr_db": psnr(im, out)}


def _noise(im: Image.Image, sigma: Any, seed: int, ctx: dict[str, Any]) -> tuple[Image.Image, dict[str, Any]]:
    rng = np.random.default_rng(seed)
    arr = np.asarray(im, dtype=np.float32)
    noisy = arr + rng.normal(0.0, float(sigma), size=arr.shape).astype(np.float32)
    out = Image.fromarray(np.clip(np.rint(noisy), 0, 255).astype(np.uint8), "RGB")
    return out, {"sigma": float(sigma), "seed": seed, "psnr_db": psnr(im, out)}


def _jpeg(im: Image.Image, quality: Any, seed: int, ctx: dict[str, Any]) -> tuple[Image.Image, dict[str, Any]]:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=int(quality), subsampling=JPEG_SUBSAMPLING, optimize=False)
    nbytes = buf.tell()
    buf.seek(0)
    with Image.open(buf) as j:
        out = j.convert("RGB")
    return out, {"quality": int(quality), "subsampling": JPEG_SUBSAMPLING, "jpeg_bytes": nbytes,
                 "psnr_db": psnr(im, out)}


# Registration order is application order: geometry first, then blur, noise and compression last
# (as a camera-then-codec pipeline would).
DEGRADATIONS: Registry[Degradation] = Registry("degradation", RenderError)
for _step in (
    Degradation("rotation", "rotation_deg", lambda v: bool(v), _rotate),
    Degradation("blur", "blur_sigma", lambda v: bool(v) and float(v) > 0, _blur),
    Degradation("noise", "noise_sigma", lambda v: bool(v) and float(v) > 0, _noise),
    Degradation("jpeg", "jpeg_quality", lambda v: v is not None, _jpeg),
):
    DEGRADATIONS.register(_step.name, _step)


def register_degradation(step: Degradation, *, before: str | None = None, replace: bool = False) -> Degradation:
    """Add a step (optionally before a named one); its ``param`` must appear in the render params."""
    return DEGRADATIONS.register(step.name, step, before=before, replace=replace)


def degradation_names() -> list[str]:
    return DEGRADATIONS.names()


def apply_degradations(im: Image.Image, params: RenderParams | Mapping[str, Any], seed: int,
                       dpi: int) -> tuple[Image.Image, list[dict[str, Any]]]:
    """Apply every active step in registry order. Returns the image and the applied-step records.

    Each step reads its value with ``params.get(step.param)``: a RenderParams finds built-in fields
    and the extras of custom kinds alike; a plain mapping works the same way.
    """
    ctx = {"dpi": dpi, "bg": params.get("bg", BASE.bg)}
    steps: list[dict[str, Any]] = []
    for d in DEGRADATIONS.values():
        value = params.get(d.param)
        if value is None or not d.active(value):
            continue
        step_seed = derive_seed(int(seed), "degrade", d.name)
        im, measures = d.apply(im, value, step_seed, ctx)
        if im.mode != "RGB":
            im = im.convert("RGB")
        steps.append({"step": d.name, "param": d.param, "value": value, **measures})
    return im, steps
