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


def _thumb(png: bytes, height: int) -> Image.Image:
    im = Image.open(io.BytesIO(png)).convert("RGB")
    if im.height == height:
        return im
    w = max(1, round(im.width * height / im.height))
    # Enlarging with NEAREST keeps each source pixel a visible block; shrinking uses LANCZOS.
    return im.resize((w, height), Image.Resampling.NEAREST if height > im.height else Image.Resampling.LANCZOS)


def _tile(v: Variant | None, labels: list[str], height: int, font: ImageFont.FreeTypeFont,
          text_width: int) -> Image.Image:
    small = _font(max(8, font.size - 2))
    if v is None:  # a cell the design leaves out: empty space, so the sheet reads as the design
        return Image.new("RGB", (1, 1), BG)
    elif v.images:
        thumbs = [_thumb(im.png, height) for im in v.images]
        body = Image.new("RGB", (sum(t.width for t in thumbs) + PAD * (len(thumbs) - 1), height), BG)
        x = 0
        for t in thumbs:
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


def contact_sheet(variants: Sequence[Variant], path: str | os.PathLike[str] | None = None, *,
                  thumb_height: int | None = None, max_thumb_height: int = 400, label_size: int = 14,
                  columns: str | None = None, title: str | None = None) -> Image.Image:
    """Lay out the variants of one problem (e.g. ``rp.variants(problem, grid)``) and save a PNG.

    thumb_height      common thumbnail height in px (default: the tallest image, capped at
                      ``max_thumb_height``); smaller images are enlarged with nearest-neighbour
    columns           factor whose levels form the columns (default: the varying factor that leaves
                      the fewest empty slots; cells outside the design stay blank)
    Returns the sheet as a PIL image; writes it to ``path`` when given.
    """
    variants = list(variants)
    if not variants:
        raise ProblemError("contact_sheet() got no variants; pass the variants of one problem, e.g. "
                           "rp.variants(problem, grid).")
    pids = sorted({v.problem_id for v in variants})
    if len(pids) > 1:
        raise ProblemError(f"contact_sheet() shows one problem, got {len(pids)}: {pids[:4]}. Filter the variants "
                           "by problem_id first.")
    heights = [im.height for v in variants for im in v.images]
    h = int(thumb_height or min(max_thumb_height, max(heights, default=max_thumb_height)))
    font = _font(label_size)
    text_w = max(240, max((round(im.width * h / im.height) for v in variants for im in v.images), default=480))
    blocks: list[Image.Image] = [_line(title or f"problem {pids[0]} — {len(variants)} variants",
                                       _font(label_size + 4))]
    for mod in sorted({v.modality for v in variants}, key=lambda m: MODALITIES.index(m) if m in MODALITIES else 9):
        vs = [v for v in variants if v.modality == mod]
        varying, cols, rows, info = _section(vs, columns)
        tiles = {(r, c): _tile(info["where"].get((r, c)), _labels(info, r, c), h, font, text_w)
                 for r in rows for c in cols}
        cw = [max(tiles[(r, c)].width for r in rows) for c in cols]
        rh = [max(tiles[(r, c)].height for c in cols) for r in rows]
        sec = Image.new("RGB", (sum(cw) + PAD * (len(cols) + 1), sum(rh) + PAD * (len(rows) + 1)), BG)
        y = PAD
        for ri, r in enumerate(rows):
            x = PAD
            for ci, c in enumerate(cols):
                sec.paste(tiles[(r, c)], (x, y))
                x += cw[ci] + PAD
            y += rh[ri] + PAD
        fixed = [f"{k}={lv}" for k, lv in vs[0].cell.assignment if k not in varying and lv is not None]
        head = f"modality: {mod}" + (f"   columns: {info['col']}" if info["col"] else "") + \
            (f"   fixed: {', '.join(fixed)}" if fixed else "")
        blocks += [_line(head, font), sec]
    sheet = Image.new("RGB", (max(b.width for b in blocks) + 2 * PAD,
                              sum(b.height for b in blocks) + PAD * (len(blocks) + 1)), BG)
    y = PAD
    for b in blocks:
        sheet.paste(b, (PAD, y))
        y += b.height + PAD
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        sheet.save(path, format="PNG")
    return sheet


def _labels(info: dict[str, Any], row: tuple, col: Any) -> list[str]:
    out = [f"{n}={lv}" for n, lv in zip(info["others"], row, strict=True)]
    if info["col"]:
        out.append(f"{info['col']}={col}")
    return out or ["(one cell)"]


def _line(text: str, font: ImageFont.FreeTypeFont) -> Image.Image:
    return _text_block([text], font, int(font.getlength(text)) + 4, INK)
