"""Pure text layout and drawing with Pillow: wrap in points, draw at any DPI.

Layout happens once, in physical units (points), from advance widths measured at a fixed reference
size (:data:`fonts.REF_PX`). Only the final drawing depends on the DPI, so 50, 100 and 200 DPI give
the same line breaks and the same page geometry at three resolutions. Nothing here does I/O.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageDraw

from ..errors import PixelBudgetError, TextOverflowError
from ..grammar.layouts import Layout
from .fonts import FontInfo, advance_em, pil_font, vmetrics

_TOKEN = re.compile(r"( *)([^ ]+)")

# Every value in range can still ask for a huge canvas (a 40 in page at 1200 DPI, or a long text
# with max_height_in: null is ~1 gigapixel, ~3.6 GB of RGB). The bound is checked before the canvas
# is allocated. Raise it with the environment variable (read per render, so spawned workers see it).
MAX_PIXELS = 50_000_000
MAX_PIXELS_ENV = "RESTPLUS_MAX_PIXELS"


def pixel_budget() -> int:
    """The per-image pixel bound: ``$RESTPLUS_MAX_PIXELS`` if set, else :data:`MAX_PIXELS`."""
    raw = os.environ.get(MAX_PIXELS_ENV)
    if raw is None:
        return MAX_PIXELS
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise PixelBudgetError(f"{MAX_PIXELS_ENV}={raw!r} must be a positive whole number of pixels, e.g. "
                               f"{MAX_PIXELS * 2}.")
    return value


def check_pixels(w: int, h: int, dpi: int, where: str = "") -> None:
    """Refuse a canvas above the pixel budget, naming its size and how to get under it."""
    budget = pixel_budget()
    if w * h > budget:
        raise PixelBudgetError(
            f"{where}the page would be {w}x{h} px = {w * h / 1e6:.1f} MP at {dpi} DPI, above the budget of "
            f"{budget / 1e6:g} MP per image. Lower the dpi, narrow the page (page_width_in), cap its height "
            f"(max_height_in), or raise the budget with {MAX_PIXELS_ENV}=<pixels>.")


@dataclass(frozen=True, slots=True)
class Run:
    """A piece of text drawn with one font at a position in points (left edge, baseline)."""

    x_pt: float
    baseline_pt: float
    text: str
    font_path: str


@dataclass(frozen=True, slots=True)
class PageLayout:
    """A laid-out page in points: what to draw where, and the text in reading order."""

    width_pt: float
    height_pt: float
    size_pt: float
    runs: tuple[Run, ...]
    lines: tuple[str, ...]  # drawn lines in reading order ("" marks a paragraph gap)
    n_lines: int  # non-blank drawn lines
    columns: int

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass(frozen=True, slots=True)
class _Line:
    tokens: tuple[tuple[str, str], ...]  # (gap before, word); the first gap is indentation or ""
    width_em: float
    last: bool  # last line of a hard line: never justified


def normalize_text(text: str) -> str:
    """Newlines to \\n, tabs to one space, trailing spaces and outer blank lines removed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    return "\n".join(line.rstrip(" ") for line in text.split("\n")).strip("\n")


def _font_runs(word: str, primary: FontInfo, plan: dict[str, FontInfo]) -> list[tuple[str, str]]:
    """Split a word into (text, font path) runs; characters in ``plan`` use their fallback font."""
    if not plan or not any(c in plan for c in word):
        return [(word, primary.path)]
    runs: list[tuple[str, str]] = []
    for ch in word:
        path = plan[ch].path if ch in plan else primary.path
        if runs and runs[-1][1] == path:
            runs[-1] = (runs[-1][0] + ch, path)
        else:
            runs.append((ch, path))
    return runs


def word_em(word: str, primary: FontInfo, plan: dict[str, FontInfo]) -> float:
    return sum(advance_em(p, t) for t, p in _font_runs(word, primary, plan))


def wrap(text: str, max_em: float, primary: FontInfo, plan: dict[str, FontInfo],
         where: str = "") -> list[_Line | None]:
    """Greedy word wrap by measured advance width (in em, so independent of size and DPI).

    Returns lines, with None for a blank line (paragraph gap). A word wider than the line raises
    TextOverflowError: words are never broken or clipped.
    """
    space = advance_em(primary.path, " ")
    out: list[_Line | None] = []
    for hard in text.split("\n"):
        tokens = _TOKEN.findall(hard)
        if not tokens:
            out.append(None)
            continue
        cur: list[tuple[str, str]] = []
        width = 0.0
        for gap, word in tokens:
            w = word_em(word, primary, plan)
            if cur and width + len(gap) * space + w <= max_em:
                cur.append((gap, word))
                width += len(gap) * space + w
                continue
            if cur:
                out.append(_Line(tuple(cur), width, False))
                gap = ""  # a wrapped line starts flush; only hard lines keep their indentation
            width = len(gap) * space + w
            if width > max_em:
                raise TextOverflowError(
                    f"{where}word {word[:60]!r} is {w:.2f} em wide but a line holds {max_em:.2f} em "
                    f"({'with ' + str(len(gap)) + ' spaces of indentation, ' if gap else ''}"
                    "words are never broken or clipped). Use a wider layout, a smaller font_size, "
                    "or shorten the word.")
            cur = [(gap, word)]
        out.append(_Line(tuple(cur), width, True))
    return out


def layout_page(text: str, primary: FontInfo, size_pt: float, layout: Layout,
                plan: dict[str, FontInfo] | None = None, where: str = "") -> PageLayout:
    """Lay ``text`` out on the page described by ``layout`` (all in points).

    Cached: a problem realised at several DPIs, colours or degradations is laid out once.
    """
    try:
        return _layout_cached(text, primary, float(size_pt), layout, tuple(sorted((plan or {}).items())))
    except TextOverflowError as exc:  # the cache key has no problem/cell; name them here
        raise TextOverflowError(where + str(exc)) from None


@lru_cache(maxsize=2048)
def _layout_cached(text: str, primary: FontInfo, size_pt: float, layout: Layout,
                   plan_items: tuple[tuple[str, FontInfo], ...]) -> PageLayout:
    plan = dict(plan_items)
    text = normalize_text(text)
    if not text.strip():
        raise TextOverflowError("nothing to render: the text is empty or only whitespace.")
    margin = layout.margin_in * 72.0
    width_pt = layout.page_width_in * 72.0
    content = width_pt - 2 * margin
    gap_pt = layout.column_gap_in * 72.0 if layout.columns == 2 else 0.0
    col_w = (content - gap_pt) / layout.columns
    if col_w <= size_pt:
        raise TextOverflowError(f"a column is {col_w / 72:.2f} in wide, narrower than one em at "
                                f"{size_pt} pt; widen page_width_in or reduce margin/columns.")
    lines = wrap(text, col_w / size_pt, primary, plan)
    # Two columns: text flows down the first, then the second (first gets the extra line).
    cols: list[list[_Line | None]] = [lines]
    if layout.columns == 2:
        k = math.ceil(len(lines) / 2)
        cols = [lines[:k], lines[k:]]
        while cols[1] and cols[1][0] is None:  # a paragraph gap at the top of a column is not drawn
            cols[1].pop(0)
    vm = vmetrics(primary.path)
    lh = size_pt * layout.line_spacing
    space_pt = advance_em(primary.path, " ") * size_pt
    runs: list[Run] = []
    drawn: list[str] = []
    for c, col in enumerate(cols):
        x0 = margin + c * (col_w + gap_pt)
        for i, line in enumerate(col):
            if line is None:
                drawn.append("")
                continue
            base = margin + vm.ascent * size_pt + i * lh
            drawn.append("".join(g + w for g, w in line.tokens))
            runs.extend(_line_runs(line, x0, base, col_w, size_pt, space_pt, layout.align, primary, plan))
    n_rows = max(len(col) for col in cols)
    height_pt = 2 * margin + (n_rows - 1) * lh + (vm.ascent + vm.descent) * size_pt
    if layout.max_height_in is not None and height_pt > layout.max_height_in * 72.0:
        raise TextOverflowError(
            f"the page would be {height_pt / 72:.2f} in tall ({n_rows} lines at {size_pt} pt, "
            f"{layout.columns} column(s)) but the layout allows at most {layout.max_height_in} in; text is "
            "never clipped. Use a wider or two-column layout, a smaller font_size, or raise max_height_in.")
    while drawn and drawn[-1] == "":
        drawn.pop()
    return PageLayout(width_pt=width_pt, height_pt=height_pt, size_pt=size_pt, runs=tuple(runs),
                      lines=tuple(drawn), n_lines=sum(1 for d in drawn if d), columns=layout.columns)


def _line_runs(line: _Line, x0: float, base: float, col_w: float, size: float, space_pt: float, align: str,
               primary: FontInfo, plan: dict[str, FontInfo]) -> list[Run]:
    words = line.tokens
    width_pt = line.width_em * size
    extra = 0.0
    if align == "center":
        x0 += (col_w - width_pt) / 2
    elif align == "justify" and not line.last and len(words) > 1:
        extra = (col_w - width_pt) / (len(words) - 1)
    has_fallback = bool(plan) and any(ch in plan for _, w in words for ch in w)
    if extra == 0.0 and not has_fallback:
        # One run per line: shaping (kerning, ligatures) across the whole line, and the fastest path.
        return [Run(x0, base, "".join(g + w for g, w in words), primary.path)]
    runs: list[Run] = []
    x = x0
    for k, (gap, word) in enumerate(words):
        x += len(gap) * space_pt + (extra if k else 0.0)
        for text, path in _font_runs(word, primary, plan):
            runs.append(Run(x, base, text, path))
            x += advance_em(path, text) * size
    return runs


def draw_page(page: PageLayout, dpi: int, fg: tuple[int, int, int], bg: tuple[int, int, int],
              where: str = "") -> Image.Image:
    """Draw a laid-out page at ``dpi``; glyph ink outside the canvas raises (never clipped)."""
    scale = dpi / 72.0
    w, h = round(page.width_pt * scale), round(page.height_pt * scale)
    check_pixels(w, h, dpi, where)
    im = Image.new("RGB", (w, h), tuple(bg))
    d = ImageDraw.Draw(im)
    # The same two low-level calls ImageDraw.text makes (getmask2 + draw_bitmap), done here so the
    # glyph mask's box can be checked against the canvas before drawing: no second layout pass.
    ink = d.draw.draw_ink(tuple(fg))
    px = page.size_pt * scale
    for r in page.runs:
        font = pil_font(r.font_path, px)
        mask, (ox, oy) = font.getmask2(r.text, "L", anchor="ls")
        x, y = round(r.x_pt * scale) + ox, round(r.baseline_pt * scale) + oy
        mw, mh = mask.size
        if mw and mh and (x < 0 or y < 0 or x + mw > w or y + mh > h):
            raise TextOverflowError(
                f"{where}glyph ink of {r.text[:40]!r} spans x {x}..{x + mw}, y {y}..{y + mh} px but the page is "
                f"{w}x{h} px at {dpi} DPI; it would be clipped. Increase margin_in or line_spacing.")
        d.draw.draw_bitmap((x, y), mask, ink)
    return im


def relative_luminance(c: tuple[int, int, int] | list[int]) -> float:
    """WCAG 2.x relative luminance of an sRGB colour."""
    def lin(v: int) -> float:
        s = v / 255.0
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4
    r, g, b = (lin(int(v)) for v in c[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(fg: tuple[int, int, int] | list[int], bg: tuple[int, int, int] | list[int]) -> float:
    """WCAG contrast ratio (L1 + 0.05) / (L2 + 0.05), from 1 (none) to 21 (black on white)."""
    a, b = relative_luminance(fg), relative_luminance(bg)
    hi, lo = max(a, b), min(a, b)
    return (hi + 0.05) / (lo + 0.05)
