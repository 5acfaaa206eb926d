"""Text → RenderedImage: resolve fonts, lay out in points, draw at the DPI, degrade, encode.

The output is a pure function of (text, resolved params, layout, seed, font files, library
versions): the PNG bytes are identical across processes. Fonts, cmaps, hashes and advance widths
are cached per process, so rendering many variants costs little more than drawing and encoding.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from typing import Any

from PIL import Image

from ..errors import RenderError
from ..grammar.layouts import Layout, get_layout
from ..grammar.params import RenderParams
from ..hashing import sha256_bytes
from .degrade import apply_degradations
from .fonts import FontManifest, check_drawable, glyph_plan, resolve_font, vmetrics
from .functional import PageLayout, canvas_size, check_pixels, contrast_ratio, draw_page, layout_page, pixel_limit
from .image import RenderedImage
from .provenance import PNG_COMPRESS_LEVEL, provenance_record

BACKENDS = ("pillow", "cairosvg")
INLINE_OPTION_GAP = "   "  # options run together on a line are separated by three spaces


def where_prefix(problem_id: str | None = None, cell: Any = None, context: str | None = None) -> str:
    """'problem X in cell c… (dpi=50, …): ' — the context every render error names."""
    bits = []
    if problem_id:
        bits.append(f"problem {problem_id!r}")
    if cell is not None:
        cid = getattr(cell, "cell_id", str(cell))
        short = cell.short() if hasattr(cell, "short") else ""
        bits.append(f"cell {cid}" + (f" ({short})" if short else ""))
    if context:
        bits.append(str(context))
    return (" in ".join(bits[:2]) + (", " + bits[2] if len(bits) > 2 else "") + ": ") if bits else ""


def compose_blocks(blocks: list[tuple[str, str]], layout: Layout) -> str:
    """Join (role, text) blocks into one text: blank line between blocks; inline options if asked."""
    out = []
    for role, text in blocks:
        if role == "choices" and layout.options == "inline":
            opts = [o.strip() for o in text.replace("\r\n", "\n").split("\n") if o.strip()]
            text = INLINE_OPTION_GAP.join(opts)
        out.append(text)
    return "\n\n".join(out)


def encode_png(im: Image.Image, dpi: int) -> bytes:
    """Deterministic PNG: fixed compress level, no text chunks or timestamps, pHYs = DPI."""
    buf = io.BytesIO()
    im.save(buf, "PNG", compress_level=PNG_COMPRESS_LEVEL, dpi=(dpi, dpi))
    return buf.getvalue()


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in sorted(params.items())}


def render_image(text: str, params: RenderParams | Mapping[str, Any], seed: int, *, layout: Layout | None = None,
                 layouts: dict[str, Layout] | None = None, roles: tuple[str, ...] = (),
                 manifest: FontManifest | None = None, problem_id: str | None = None, cell: Any = None,
                 context: str | None = None, variant_seed: int | None = None,
                 max_pixels: int | None = None) -> RenderedImage:
    """Render ``text`` with resolved render ``params`` (as from ``grid.render_params(cell)``).

    ``params`` is a RenderParams or a mapping of its keys (missing keys take the defaults).
    ``layout`` overrides the preset named by ``params.layout`` (looked up in ``layouts`` and the
    registered presets). ``seed`` drives the random degradation steps; ``variant_seed`` is only
    recorded. Errors are RenderError subclasses whose message starts with the problem id and cell.
    ``max_pixels`` bounds the canvas and the rotated image (default :func:`functional.pixel_limit`:
    $RESTPLUS_MAX_PIXELS or 50 megapixels); a larger image raises ImageTooLargeError before allocation.
    """
    where = where_prefix(problem_id, cell, context)
    params = RenderParams.coerce(params)
    backend = params.backend
    if backend not in BACKENDS:
        from ..errors import unknown_name

        raise unknown_name("render backend", backend, BACKENDS)
    lay = layout if layout is not None else get_layout(params.layout, layouts)
    dpi = int(params.dpi)
    size_pt = float(params.font_size_pt)
    fg, bg = params.fg, params.bg
    if fg == bg:  # a blank page is no render of the text (a grid refuses such a cell at validation)
        raise RenderError(f"{where}text colour fg={list(fg)} equals the background bg={list(bg)}: the text would be "
                          "invisible. Choose different colours.")
    font = resolve_font(params.font, manifest)
    fallbacks = tuple(resolve_font(n, manifest) for n in params.fallback_fonts)
    check_drawable(text, where)
    plan = glyph_plan(text, font, fallbacks, where)
    page = layout_page(text, font, size_pt, lay, plan, where)
    _check_budget(page, params, dpi, pixel_limit(max_pixels), where)
    if backend == "pillow":
        im = draw_page(page, dpi, fg, bg, where)
        extra: dict[str, Any] = {}
    else:
        from .svg import draw_page_svg

        im, extra = draw_page_svg(page, dpi, fg, bg, font, plan, where)
    clean_size = im.size
    im, steps = apply_degradations(im, params, seed, dpi)
    png = encode_png(im, dpi)
    px = size_pt * dpi / 72.0
    vm = vmetrics(font.path)
    covariates = {
        "contrast_ratio": round(contrast_ratio(fg, bg), 4),
        "x_height_px": None if vm.x_height is None else round(vm.x_height * px, 4),
        "font_px": round(px, 4),
        "width_px": im.size[0],
        "height_px": im.size[1],
        "dpi": dpi,
        "n_lines": page.n_lines,
    }
    prov = provenance_record(
        font={**font.to_dict(), "x_height_source": vm.x_height_source},
        fallbacks_used={ch: f.family for ch, f in sorted(plan.items())}, backend=backend, seed=seed,
        params=_jsonable(params.to_dict()), layout=lay.to_dict(), steps=steps,
        extra={"variant_seed": variant_seed, "clean_size": list(clean_size),
               "page_pt": [round(page.width_pt, 4), round(page.height_pt, 4)], **extra})
    return RenderedImage(png=png, sha256=sha256_bytes(png), pixel_sha256=sha256_bytes(im.tobytes()),
                         width=im.size[0], height=im.size[1], dpi=dpi, rendered_text=page.text,
                         roles=tuple(roles), covariates=tuple(sorted(covariates.items())),
                         provenance=tuple(sorted(prov.items())))


def _check_budget(page: PageLayout, params: RenderParams, dpi: int, limit: int, where: str) -> None:
    """Refuse before drawing: the canvas, and the canvas a rotation would expand it to."""
    w, h = canvas_size(page, dpi)
    check_pixels(w, h, limit, f"the page ({page.width_pt / 72:.2f} x {page.height_pt / 72:.2f} in at {dpi} DPI)",
                 where)
    deg = params.rotation_deg
    if deg:
        # Pillow's rotate(expand=True) canvas is the rotated bounding box (rounded up); +2 covers rounding.
        t = math.radians(float(deg))
        c, s = abs(math.cos(t)), abs(math.sin(t))
        check_pixels(math.ceil(w * c + h * s) + 2, math.ceil(w * s + h * c) + 2, limit,
                     f"the page rotated by {deg:g} degrees", where)


def layout_only(text: str, params: RenderParams | Mapping[str, Any], *, layout: Layout | None = None,
                layouts: dict[str, Layout] | None = None, manifest: FontManifest | None = None) -> PageLayout:
    """The page layout (in points) without drawing: line breaks, positions, reading-order text."""
    params = RenderParams.coerce(params)
    lay = layout if layout is not None else get_layout(params.layout, layouts)
    font = resolve_font(params.font, manifest)
    fallbacks = tuple(resolve_font(n, manifest) for n in params.fallback_fonts)
    check_drawable(text)
    plan = glyph_plan(text, font, fallbacks)
    return layout_page(text, font, float(params.font_size_pt), lay, plan)
