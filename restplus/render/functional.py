"""Pure text layout and drawing with Pillow: wrap in points, draw at any DPI.

Layout happens once, in physical units (points), from advance widths measured at a fixed reference
size (:data:`fonts.REF_PX`). Only the final drawing depends on the DPI, so 50, 100 and 200 DPI give
the same line breaks and the same page geometry at three resolutions. Nothing here does I/O.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageDraw

from ..errors import ImageTooLargeError, RenderError, TextOverflowError
from ..grammar.layouts import Layout
from .bidi import paragraph_rtl, visual_order
from .fonts import FontInfo, advance_em, pil_font, shaping_error, vmetrics

_TOKEN = re.compile(r"( *)([^ ]+)")



@dataclass(frozen=True, slots=True)
class Run:
    """A piece of text drawn with one font at a position in points (left edge, baseline).

    ``direction`` is None for text without right-to-left characters (RAQM's default, so such
    renders are unchanged); otherwise 'ltr' or 'rtl', the paragraph direction RAQM orders with.
    """

    x_pt: float
    baseline_pt: float
    text: str
    font_path: str
    direction: str | None = None


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
    rtl: bool | None = None  # the hard line's base direction; None when it has no RTL characters


# U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR are line breaks (they have no glyph; left
# in, they would silently join the words around them).
_BREAKS = str.maketrans({"\r": "\n", "\u2028": "\n", "\u2029": "\n", "\t": " "})


def normalize_text(text: str) -> str:
    """Newlines (CR, CRLF, U+2028, U+2029) to \\n, tabs to one space, trailing spaces and outer
    blank lines removed."""
    text = text.replace("\r\n", "\n").translate(_BREAKS)
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
        rtl = paragraph_rtl(hard)  # each hard line is a bidi paragraph; its wrapped lines share the direction
        cur: list[tuple[str, str]] = []
        width = 0.0
        for gap, word in tokens:
            w = word_em(word, primary, plan)
            if cur and width + len(gap) * space + w <= max_em:
                cur.append((gap, word))
                width += len(gap) * space + w
                continue
            if cur:
                out.append(_Line(tuple(cur), width, False, rtl))
                gap = ""  # a wrapped line starts flush; only hard lines keep their indentation
            width = len(gap) * space + w
            if width > max_em:
                raise TextOverflowError(
                    f"{where}word {word[:60]!r} is {w:.2f} em wide but a line holds {max_em:.2f} em "
                    f"({'with ' + str(len(gap)) + ' spaces of indentation, ' if gap else ''}"
                    "words are never broken or clipped). Use a wider layout, a smaller font_size, "
                    "or shorten the word.")
            cur = [(gap, word)]
        out.append(_Line(tuple(cur), width, True, rtl))
    return out


def layout_page(text: str, primary: FontInfo, size_pt: float, layout: Layout,
                plan: dict[str, FontInfo] | None = None, where: str = "") -> PageLayout:
    """Lay ``text`` out on the page described by ``layout`` (all in points).

    Cached: a problem realised at several DPIs, colours or degradations is laid out once.
    """
    try:
        return _layout_cached(text, primary, float(size_pt), layout, tuple(sorted((plan or {}).items())))
    except RenderError as exc:  # overflow or a shaping failure; the cache key has no problem/cell: name them here
        raise type(exc)(where + str(exc)) from None


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
    if line.rtl is not None:
        return _bidi_runs(line, x0, base, col_w, size, space_pt, extra != 0.0, primary, plan)
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


def _bidi_runs(line: _Line, x0: float, base: float, col_w: float, size: float, space_pt: float, justify: bool,
               primary: FontInfo, plan: dict[str, FontInfo]) -> list[Run]:
    """Runs of a line with right-to-left text, left to right in visual order.

    Without justification or fallback fonts the line is one run and RAQM orders it, given the
    paragraph's direction (a wrapped line keeps it even when it starts with a Latin word). Otherwise
    the line is cut into pieces of one embedding level, one font and no spaces, placed in FriBidi's
    visual order; each inter-word gap is widened by the same amount, so the right edge is flush.
    """
    direction = "rtl" if line.rtl else "ltr"
    text = "".join(g + w for g, w in line.tokens)
    fonts = [primary.path] * len(text)
    gap_of = [-1] * len(text)  # which gap a space belongs to (0 = indentation, never widened)
    i = 0
    for k, (gap, word) in enumerate(line.tokens):
        for j in range(i, i + len(gap)):
            gap_of[j] = k
        i += len(gap)
        for j, ch in enumerate(word, i):
            if ch in plan:
                fonts[j] = plan[ch].path
        i += len(word)
    if not justify and all(f == primary.path for f in fonts):
        return [Run(x0, base, text, primary.path, direction)]
    levels, v2l = visual_order(text, bool(line.rtl))
    # Group visually adjacent characters that are logically adjacent in their level's direction.
    pieces: list[list[int]] = []
    for li in v2l:
        if pieces:
            prev = pieces[-1][-1]
            step = -1 if levels[prev] % 2 else 1
            if (li == prev + step and levels[li] == levels[prev] and fonts[li] == fonts[prev]
                    and gap_of[li] == gap_of[prev]):
                pieces[-1].append(li)
                continue
        pieces.append([li])
    widths: list[float] = []
    for p in pieces:
        lo, hi = min(p), max(p) + 1
        if gap_of[lo] >= 0:
            widths.append((hi - lo) * space_pt)
        else:
            widths.append(advance_em(fonts[lo], text[lo:hi], "rtl" if levels[lo] % 2 else "ltr") * size)
    n_gaps = len(line.tokens) - 1
    extra = (col_w - sum(widths)) / n_gaps if justify and n_gaps > 0 else 0.0
    runs: list[Run] = []
    x = x0
    for p, w in zip(pieces, widths):
        lo, hi = min(p), max(p) + 1
        if gap_of[lo] >= 0:
            x += w + (extra if gap_of[lo] > 0 else 0.0)
            continue
        runs.append(Run(x, base, text[lo:hi], fonts[lo], "rtl" if levels[lo] % 2 else "ltr"))
        x += w
    return runs


MAX_PIXELS = 50_000_000
"""Default pixel limit of one image (50 megapixels, about 150 MB as RGB): a page at the top of
every range (40 in wide, 1200 DPI) or an unbounded page with long text is refused before the canvas
is allocated. Raise it per call with ``max_pixels=`` (render_image, render_text) or for a whole
process, spawned render workers included, with the environment variable RESTPLUS_MAX_PIXELS."""


def pixel_limit(max_pixels: int | None = None) -> int:
    """The pixel limit in force: ``max_pixels`` if given, else $RESTPLUS_MAX_PIXELS, else MAX_PIXELS."""
    if max_pixels is not None:
        value, source = max_pixels, "max_pixels"
    else:
        import os

        raw = os.environ.get("RESTPLUS_MAX_PIXELS")
        if raw is None:
            return MAX_PIXELS
        source = "RESTPLUS_MAX_PIXELS"
        try:
            value = int(raw.replace("_", ""))
        except ValueError:
            raise ImageTooLargeError(f"RESTPLUS_MAX_PIXELS={raw!r} is not a whole number of pixels; write e.g. "
                                     "RESTPLUS_MAX_PIXELS=200000000.") from None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ImageTooLargeError(f"{source}={value!r} must be a positive whole number of pixels, e.g. 200000000.")
    return value


def check_pixels(w: int, h: int, limit: int, what: str, where: str = "") -> None:
    """Refuse a ``w`` x ``h`` image above ``limit`` pixels, before anything is allocated."""
    if w * h > limit:
        raise ImageTooLargeError(
            f"{where}{what} would be {w} x {h} px = {w * h / 1e6:.1f} megapixels, above the limit of "
            f"{limit / 1e6:g} megapixels ({limit:,} px). Lower the DPI, page_width_in or max_height_in (or "
            "shorten the text), or raise the limit: max_pixels= on render_image/render_text, or the "
            "environment variable RESTPLUS_MAX_PIXELS for every render of a process (render workers inherit it).")


def canvas_size(page: PageLayout, dpi: int) -> tuple[int, int]:
    scale = dpi / 72.0
    return round(page.width_pt * scale), round(page.height_pt * scale)


def draw_page(page: PageLayout, dpi: int, fg: tuple[int, int, int], bg: tuple[int, int, int],
              where: str = "") -> Image.Image:
    """Draw a laid-out page at ``dpi``; glyph ink outside the canvas raises (never clipped)."""
    scale = dpi / 72.0
    w, h = canvas_size(page, dpi)
    im = Image.new("RGB", (w, h), tuple(bg))
    d = ImageDraw.Draw(im)
    # The same two low-level calls ImageDraw.text makes (getmask2 + draw_bitmap), done here so the
    # glyph mask's box can be checked against the canvas before drawing: no second layout pass.
    ink = d.draw.draw_ink(tuple(fg))
    px = page.size_pt * scale
    for r in page.runs:
        font = pil_font(r.font_path, px)
        try:
            mask, (ox, oy) = font.getmask2(r.text, "L", anchor="ls", direction=r.direction)
        except (RuntimeError, OSError, ValueError) as exc:  # raqm_layout() failed, FreeType errors
            raise shaping_error(exc, r.text, r.font_path, where) from None
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
