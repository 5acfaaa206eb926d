"""Contact sheets: one problem across every cell of a grid, in one labelled PNG.

Sections follow the modalities (text, image, mixed). Inside a section, columns are the levels of
one factor (``columns=``; by default the last factor that varies in the section) and rows are the
combinations of the other varying factors, so a row reads as "the same render, one factor
changed". Thumbnails share one height; images smaller than it are enlarged with nearest-neighbour
resampling, so the pixel coarseness of low-DPI renders stays visible instead of being smoothed
away. Text cells are shown as their text; mixed cells show the image and their text parts.
Labels use the vendored DejaVu Sans.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from ..errors import ProblemError, did_you_mean
from ..grammar.factors import MODALITIES
from .variant import Variant

PAD = 8
BG, INK, FRAME, MUTED = (255, 255, 255), (20, 20, 20), (170, 170, 170), (120, 120, 120)


def _font(size: int) -> ImageFont.FreeTypeFont:
    from ..render.fonts import resolve_font

    return ImageFont.truetype(resolve_font("DejaVu Sans").path, size)


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int, max_lines: int) -> list[str]:
    lines: list[str] = []
    for para in text.split("\n"):
        cur = ""
        for word in para.split(" "):
            trial = f"{cur} {word}" if cur else word
            if font.getlength(trial) <= width or not cur:
                cur = trial
            else:
                lines.append(cur)
                cur = word
        lines.append(cur)
    if len(lines) > max_lines:
        lines = lines[:max_lines - 1] + [lines[max_lines - 1] + " …"]
    return lines


def _text_block(lines: list[str], font: ImageFont.FreeTypeFont, width: int, fill: tuple[int, int, int]) -> Image.Image:
    lh = int(font.size * 1.3)
    im = Image.new("RGB", (width, max(lh, lh * len(lines))), BG)
    d = ImageDraw.Draw(im)
    for i, line in enumerate(lines):
        d.text((0, i * lh), line, font=font, fill=fill)
    return im


def _thumb_width(width: int, height: int, target: int) -> int:
    return width if height == target else max(1, round(width * target / height))


def _thumb(png: bytes, height: int) -> Image.Image:
    im = Image.open(io.BytesIO(png)).convert("RGB")
    if im.height == height:
        return im
    w = _thumb_width(im.width, im.height, height)
    # Enlarging with NEAREST keeps each source pixel a visible block; shrinking uses LANCZOS (after a
    # fast integer reduce: a 200 DPI page shrunk to a thumbnail would otherwise dominate the time).
    if height > im.height:
        return im.resize((w, height), Image.Resampling.NEAREST)
    return im.resize((w, height), Image.Resampling.LANCZOS, reducing_gap=3.0)


def _tile(v: Variant | None, labels: list[str], height: int, font: ImageFont.FreeTypeFont,
          text_width: int, draw: bool = True) -> Image.Image:
    """One cell's tile. ``draw=False`` gives a blank tile of the same size (layout only: no PNG decoded)."""
    small = _font(max(8, font.size - 2))
    if v is None:  # a cell the design leaves out: empty space, so the sheet reads as the design
        return Image.new("RGB", (1, 1), BG)
    elif v.images:
        widths = [_thumb_width(im.width, im.height, height) for im in v.images]
        body = Image.new("RGB", (sum(widths) + PAD * (len(widths) - 1), height), BG)
        if draw:
            x = 0
            for im in v.images:
                t = _thumb(im.png, height)
                body.paste(t, (x, 0))
                x += t.width + PAD
        if v.text_parts:  # mixed: the text the model receives alongside the image
            txt = _text_block(_wrap("+ text: " + " / ".join(v.text_parts), small, body.width, 3), small, body.width,
                              MUTED)
            stack = Image.new("RGB", (body.width, body.height + PAD + txt.height), BG)
            stack.paste(body, (0, 0))
            stack.paste(txt, (0, body.height + PAD))
            body = stack
    else:
        body = _text_block(_wrap("\n\n".join(v.text_parts), small, text_width, max(3, height // 14)), small,
                           text_width, INK)
    head = _text_block(_wrap("  ".join(labels), font, max(body.width, 120), 4), font, max(body.width, 120), INK)
    tile = Image.new("RGB", (max(body.width, head.width) + 2 * PAD, head.height + body.height + 3 * PAD), BG)
    tile.paste(head, (PAD, PAD))
    tile.paste(body, (PAD, head.height + 2 * PAD))
    ImageDraw.Draw(tile).rectangle([0, 0, tile.width - 1, tile.height - 1], outline=FRAME)
    return tile


def _section(vs: list[Variant], columns: str | None) -> tuple[list[str], list[Any], list[tuple], dict]:
    """(varying factor names, column levels, row keys, {(row, col): variant}) for one modality."""
    names = [k for k, _ in vs[0].cell.assignment]
    varying = [n for n in names if len({str(v.cell.as_dict().get(n)) for v in vs}) > 1]
    if columns is not None and columns not in names:
        from ..errors import UnknownNameError

        raise UnknownNameError(f"columns={columns!r} is not a factor of these cells.{did_you_mean(columns, names)} "
                               f"Factors: {', '.join(names)}.")
    col = columns if columns in varying else _fewest_holes(vs, varying)
    others = [n for n in varying if n != col]
    cols = list(dict.fromkeys(v.cell.as_dict().get(col) for v in vs)) if col else [None]
    rows = list(dict.fromkeys(tuple(v.cell.as_dict().get(n) for n in others) for v in vs))
    where = {(tuple(v.cell.as_dict().get(n) for n in others), v.cell.as_dict().get(col) if col else None): v
             for v in vs}
    return varying, cols, rows, {"col": col, "others": others, "where": where}


def _fewest_holes(vs: list[Variant], varying: list[str]) -> str | None:
    """The column factor that leaves the fewest empty slots (union designs are sparse); ties: last."""
    best, best_holes = None, None
    for col in varying:
        others = [n for n in varying if n != col]
        rows = {tuple(v.cell.as_dict().get(n) for n in others) for v in vs}
        cols = {v.cell.as_dict().get(col) for v in vs}
        holes = len(rows) * len(cols) - len(vs)
        if best_holes is None or holes <= best_holes:
            best, best_holes = col, holes
    return best


MAX_SIDE = 4096  # px per side of a sheet page: PIL refuses to open images far above ~179 MP
MIN_THUMB_HEIGHT = 48  # below this a render is no longer readable on the sheet: use pages instead


def contact_sheet(variants: Sequence[Variant], path: str | os.PathLike[str] | None = None, *,
                  thumb_height: int | None = None, max_thumb_height: int = 400, label_size: int = 14,
                  columns: str | None = None, title: str | None = None, max_side: int = MAX_SIDE,
                  min_thumb_height: int = MIN_THUMB_HEIGHT) -> Image.Image:
    """Lay out the variants of one problem (e.g. ``rp.variants(problem, grid)``) and save a PNG.

    thumb_height      common thumbnail height in px (default: the tallest image, capped at
                      ``max_thumb_height``); smaller images are enlarged with nearest-neighbour
    columns           factor whose levels form the columns (default: the varying factor that leaves
                      the fewest empty slots; cells outside the design stay blank)
    max_side          size budget: thumbnails shrink (down to ``min_thumb_height``) until the sheet
                      is at most this many px wide and high
    Returns the sheet as a PIL image; writes it to ``path`` when given. A grid too big for one sheet
    at ``min_thumb_height`` raises ProblemError: use :func:`contact_sheet_pages`, or select cells.
    """
    pages = contact_sheet_pages(variants, None, thumb_height=thumb_height, max_thumb_height=max_thumb_height,
                                label_size=label_size, columns=columns, title=title, max_side=max_side,
                                min_thumb_height=min_thumb_height, _one_page=True)
    if path is not None:
        _save(pages[0], Path(path))
    return pages[0]


def contact_sheet_pages(variants: Sequence[Variant], path: str | os.PathLike[str] | None = None, *,
                        thumb_height: int | None = None, max_thumb_height: int = 400, label_size: int = 14,
                        columns: str | None = None, title: str | None = None, max_side: int = MAX_SIDE,
                        min_thumb_height: int = MIN_THUMB_HEIGHT, _one_page: bool = False) -> list[Image.Image]:
    """:func:`contact_sheet` over as many pages as the size budget needs (rows never split).

    Pages are at most ``max_side`` px per side; a section continued on a later page repeats its
    header. With ``path`` ("sheet.png"), one page is written to it and several to "sheet-1.png",
    "sheet-2.png" ...; :func:`page_paths` gives those names.
    """
    variants = list(variants)
    if not variants:
        raise ProblemError("contact_sheet() got no variants; pass the variants of one problem, e.g. "
                           "rp.variants(problem, grid).")
    pids = sorted({v.problem_id for v in variants})
    if len(pids) > 1:
        raise ProblemError(f"contact_sheet() shows one problem, got {len(pids)}: {pids[:4]}. Filter the variants "
                           "by problem_id first.")
    if not isinstance(max_side, int) or max_side < 256:
        raise ProblemError(f"max_side={max_side!r} must be an int >= 256 (px).")
    heights = [im.height for v in variants for im in v.images]
    h = int(thumb_height or min(max_thumb_height, max(heights, default=max_thumb_height)))
    floor = min(h, int(min_thumb_height))
    title = title or f"problem {pids[0]} — {len(variants)} variants"
    # Lay out without decoding a PNG, shrink the thumbnails until one page fits (labels keep their
    # size, so the scale is re-measured), then draw once.
    while True:
        bands, width = _bands(variants, h, label_size, columns, title, draw=False)
        height = sum(b.height for b in bands) + PAD * (len(bands) + 1)
        if (width <= max_side and height <= max_side) or h <= floor:
            break
        h = max(floor, min(h - 1, int(h * min(max_side / width, max_side / height) * 0.98)))
    if width > max_side:
        raise ProblemError(
            f"one row of this contact sheet is {width} px wide even with {h} px thumbnails (budget {max_side} px): "
            "pick a factor with fewer levels for the columns (columns=... / --columns), or show fewer cells "
            "(--filter FACTOR=LEVEL, --cells).")
    if height > max_side and _one_page:
        raise ProblemError(
            f"{len(variants)} variants need a {width}x{height} px sheet even with {h} px thumbnails (budget "
            f"{max_side} px per side): write pages with contact_sheet_pages() (the CLI does), or show fewer "
            "cells (--filter FACTOR=LEVEL, --cells).")
    bands, width = _bands(variants, h, label_size, columns, title, draw=True)
    pages = [_stack(page, width) for page in _paginate(bands, max_side)]
    if path is not None:
        for im, p in zip(pages, page_paths(path, len(pages)), strict=True):
            _save(im, p)
    return pages


def page_paths(path: str | os.PathLike[str], n: int) -> list[Path]:
    """Where :func:`contact_sheet_pages` writes ``n`` pages: ``path`` itself for one, ``stem-k.png`` for more."""
    path = Path(path)
    return [path] if n == 1 else [path.with_name(f"{path.stem}-{k}{path.suffix}") for k in range(1, n + 1)]


class _Band:
    """A horizontal strip of a sheet; ``header`` is the section header to repeat on a new page."""

    def __init__(self, image: Image.Image, header: Image.Image | None = None):
        self.image, self.header, self.height = image, header, image.height


def _bands(variants: list[Variant], h: int, label_size: int, columns: str | None, title: str,
           draw: bool) -> tuple[list[_Band], int]:
    font = _font(label_size)
    text_w = max(240, max((_thumb_width(im.width, im.height, h) for v in variants for im in v.images), default=480))
    bands = [_Band(_line(title, _font(label_size + 4)))]
    for mod in sorted({v.modality for v in variants}, key=lambda m: MODALITIES.index(m) if m in MODALITIES else 9):
        vs = [v for v in variants if v.modality == mod]
        varying, cols, rows, info = _section(vs, columns)
        tiles = {(r, c): _tile(info["where"].get((r, c)), _labels(info, r, c), h, font, text_w, draw)
                 for r in rows for c in cols}
        cw = [max(tiles[(r, c)].width for r in rows) for c in cols]
        fixed = [f"{k}={lv}" for k, lv in vs[0].cell.assignment if k not in varying and lv is not None]
        head = _line(f"modality: {mod}" + (f"   columns: {info['col']}" if info["col"] else "")
                     + (f"   fixed: {', '.join(fixed)}" if fixed else ""), font)
        bands.append(_Band(head))
        for r in rows:
            band = Image.new("RGB", (sum(cw) + PAD * (len(cols) + 1), max(tiles[(r, c)].height for c in cols)), BG)
            x = PAD
            for ci, c in enumerate(cols):
                band.paste(tiles[(r, c)], (x, 0))
                x += cw[ci] + PAD
            bands.append(_Band(band, header=head))
    return bands, max(b.image.width for b in bands) + 2 * PAD


def _paginate(bands: list[_Band], max_side: int) -> list[list[Image.Image]]:
    pages: list[list[Image.Image]] = [[]]
    used = PAD
    for b in bands:
        if pages[-1] and used + b.height + PAD > max_side:
            if b.header is not None and pages[-1][-1] is b.header:
                pages[-1].pop()  # a section header alone at the foot of a page moves with its first row
            pages.append([b.header] if b.header is not None else [])
            used = PAD + (b.header.height + PAD if b.header is not None else 0)
        pages[-1].append(b.image)
        used += b.height + PAD
    return pages


def _stack(images: list[Image.Image], width: int) -> Image.Image:
    sheet = Image.new("RGB", (width, sum(b.height for b in images) + PAD * (len(images) + 1)), BG)
    y = PAD
    for b in images:
        sheet.paste(b, (PAD, y))
        y += b.height + PAD
    return sheet


def _save(im: Image.Image, path: Path) -> None:
    from .. import atomic

    with atomic.replacing(path) as tmp:
        im.save(tmp, format="PNG")


def _labels(info: dict[str, Any], row: tuple, col: Any) -> list[str]:
    out = [f"{n}={lv}" for n, lv in zip(info["others"], row, strict=True)]
    if info["col"]:
        out.append(f"{info['col']}={col}")
    return out or ["(one cell)"]


def _line(text: str, font: ImageFont.FreeTypeFont) -> Image.Image:
    return _text_block([text], font, int(font.getlength(text)) + 4, INK)
