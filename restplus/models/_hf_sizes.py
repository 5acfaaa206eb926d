"""The pixel size an input image has after a family's image processor: what the model actually sees.

Used by the pixel-budget check (:class:`~restplus.errors.PixelBudgetWarning`): two renders of the
same content (e.g. two DPI levels) that come out of the processor at one size cannot be told apart
by the model. Each ``Family.tiling`` (see :mod:`restplus.models._hf_load`) is modelled with the
image processor's own helpers and settings, so the size is the one the processor produces:

* ``qwen``: ``smart_resize`` to multiples of patch x merge size (28 px for Qwen2/2.5-VL, 32 px for
  Qwen3-VL) with the area clamped to [min_pixels, max_pixels].
* ``grid`` (Idefics3, SmolVLM): the image is resized to whole tiles; the size is columns x rows of
  tiles (the extra global tile is the same for every input, so it is not part of the size).
* ``canvas`` (InternVL): the tile grid with the aspect ratio nearest the image's, within
  [min_patches, max_patches]; columns x rows of tiles (plus a thumbnail, again the same for all).
* ``anyres`` (LLaVA-NeXT): the image is scaled, aspect kept, into the best pinpoint resolution;
  the size is the scaled content (the rest is padding).
* ``fixed`` (LLaVA, Gemma 3, DeepSeek-VL): the processor's one output size. Gemma 3's pan-and-scan
  crops never apply here: ``Gemma3Processor`` turns them on only when asked per call (its own
  default, ``do_pan_and_scan=False``, wins over the folder's image-processor setting), and the
  adapter never asks.
"""

from __future__ import annotations

from typing import Any

Size = tuple[int, int]  # (width, height)


def processed_size(family: Any, ip: Any, width: int, height: int, min_pixels: int | None,
                   max_pixels: int | None) -> Size:
    """(width, height) of a ``width`` x ``height`` input after ``ip`` (the folder's image processor)."""
    return _BY_TILING.get(family.tiling, _fixed)(family, ip, width, height, min_pixels, max_pixels)


def qwen_factor(family: Any, ip: Any) -> int:
    """Pixels per merged patch: the folder's patch_size x merge_size, else the family's default."""
    patch, merge = getattr(ip, "patch_size", None), getattr(ip, "merge_size", None)
    return int(patch) * int(merge) if patch and merge else int(family.patch_factor)


def _qwen(family: Any, ip: Any, width: int, height: int, min_pixels: int | None, max_pixels: int | None) -> Size:
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize

    h, w = smart_resize(height, width, factor=qwen_factor(family, ip), min_pixels=min_pixels, max_pixels=max_pixels)
    return (int(w), int(h))


def _blank(width: int, height: int):
    from PIL import Image

    return Image.new("RGB", (width, height), "white")


def _grid(family: Any, ip: Any, width: int, height: int, *_: Any) -> Size:
    out = ip([[_blank(width, height)]], return_row_col_info=True, return_tensors="np")
    tile_h, tile_w = out["pixel_values"].shape[-2:]
    rows, cols = int(out["rows"][0][0]), int(out["cols"][0][0])
    return (cols * int(tile_w), rows * int(tile_h)) if rows and cols else (int(tile_w), int(tile_h))


def _canvas(family: Any, ip: Any, width: int, height: int, *_: Any) -> Size:
    from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import get_optimal_tiled_canvas

    tile_h, tile_w = int(ip.size["height"]), int(ip.size["width"])
    if not (ip.crop_to_patches and ip.max_patches > 1):
        return (tile_w, tile_h)
    cols, rows = get_optimal_tiled_canvas((height, width), (tile_h, tile_w), ip.min_patches, ip.max_patches)
    return (cols * tile_w, rows * tile_h)


def _anyres(family: Any, ip: Any, width: int, height: int, *_: Any) -> Size:
    import numpy as np
    from transformers.image_processing_utils import get_patch_output_size, select_best_resolution
    from transformers.image_utils import ChannelDimension

    best = select_best_resolution((height, width), ip.image_grid_pinpoints)
    # get_patch_output_size reads only the shape; a zero-stride view costs no memory.
    shape_only = np.broadcast_to(np.zeros((1, 1, 1), dtype=np.uint8), (3, height, width))
    h, w = get_patch_output_size(shape_only, best, input_data_format=ChannelDimension.FIRST)
    return (int(w), int(h))


def _fixed(family: Any, ip: Any, width: int, height: int, *_: Any) -> Size:
    tile_h, tile_w = ip(_blank(width, height), return_tensors="np")["pixel_values"].shape[-2:]
    return (int(tile_w), int(tile_h))


_BY_TILING = {"qwen": _qwen, "grid": _grid, "canvas": _canvas, "anyres": _anyres, "fixed": _fixed}
