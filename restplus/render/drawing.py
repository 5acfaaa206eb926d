"""SVG drawing → RenderedImage: the image of an image-native source (chess board, graph, chart).

The drawing is sized in points and rasterised by cairosvg at ``dpi/72`` pixels per point, so DPI
controls the raster size exactly as for text pages; the grid's degradations (rotation, blur, noise,
JPEG) then apply unchanged, and the PNG is encoded like a text render (pHYs only, fixed zlib level),
so bytes are identical across processes. Font families the SVG names go through the project
fontconfig and are verified against the vendored files (see restplus.render.svg).
Text-page factors that have no meaning for a drawing (text colour, line layout) are recorded in the
params but do not change the pixels; the background colour fills transparent areas.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping
from typing import Any

from PIL import Image

from ..errors import RenderError
from ..grammar.factors import rgb
from ..grammar.params import RenderParams
from ..hashing import sha256_bytes
from .degrade import apply_degradations
from .fonts import FontInfo
from .functional import contrast_ratio
from .image import RenderedImage
from .provenance import provenance_record
from .renderer import _jsonable, encode_png, where_prefix
from .svg import _cairosvg, verify_family


def render_drawing(svg: str, width_pt: float, height_pt: float, params: RenderParams | Mapping[str, Any], seed: int, *,
                   fonts: tuple[FontInfo, ...] = (), px_measures: tuple[tuple[str, float], ...] = (),
                   contrasts: tuple[tuple[str, str, str], ...] = (), rendered_text: str = "",
                   roles: tuple[str, ...] = ("context",), kind: str = "drawing",
                   problem_id: str | None = None, cell: Any = None, context: str | None = None,
                   variant_seed: int | None = None) -> RenderedImage:
    """Rasterise ``svg`` at the cell's DPI, degrade and encode.

    fonts          vendored fonts the SVG names by family (each verified in fontconfig first)
    px_measures    (name, fraction of the raster width): covariates in pixels (e.g. square_px), measured
                   on the clean raster (before a rotation enlarges the canvas)
    contrasts      (name, colour, colour): covariates recorded as the WCAG contrast ratio of the pair
    rendered_text  the notation the drawing shows: the transcription gate's reference
    """
    where = where_prefix(problem_id, cell, context)
    params = RenderParams.coerce(params)
    dpi = int(params.dpi)
    for f in fonts:
        verify_family(f.family, f.path)
    w, h = round(width_pt * dpi / 72.0), round(height_pt * dpi / 72.0)
    try:
        png = _cairosvg().svg2png(bytestring=svg.encode("utf-8"), output_width=w, output_height=h)
    except Exception as exc:  # cairosvg/cairo raise assorted errors on malformed SVG
        raise RenderError(f"{where}cairosvg failed to rasterise the {kind} drawing: "
                          f"{type(exc).__name__}: {exc}") from None
    with Image.open(io.BytesIO(png)) as raw:
        rgba = raw.convert("RGBA")
    im = Image.new("RGB", rgba.size, tuple(params.bg))
    im.paste(rgba, mask=rgba.getchannel("A"))
    clean_size = im.size
    im, steps = apply_degradations(im, params, seed, dpi)
    data = encode_png(im, dpi)
    covariates: dict[str, Any] = {"width_px": im.size[0], "height_px": im.size[1], "dpi": dpi,
                                  **{name: round(frac * clean_size[0], 4) for name, frac in px_measures},
                                  **{name: round(contrast_ratio(rgb(a), rgb(b)), 4) for name, a, b in contrasts}}
    prov = provenance_record(
        font={"families": [f.to_dict() for f in fonts]}, fallbacks_used={}, backend="cairosvg", seed=seed,
        params=_jsonable(params.to_dict()), layout={}, steps=steps,
        extra={"variant_seed": variant_seed, "clean_size": list(clean_size), "drawing": kind,
               "svg_sha256": hashlib.sha256(svg.encode("utf-8")).hexdigest()})
    return RenderedImage(png=data, sha256=sha256_bytes(data), pixel_sha256=sha256_bytes(im.tobytes()),
                         width=im.size[0], height=im.size[1], dpi=dpi, rendered_text=rendered_text,
                         roles=tuple(roles), covariates=tuple(sorted(covariates.items())),
                         provenance=tuple(sorted(prov.items())))
