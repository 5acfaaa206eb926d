"""Rendering: vendored fonts, deterministic text-to-image renders, degradations, provenance.

``render_image(text, params, seed)`` draws text with explicit render params into a
:class:`~restplus.render.image.RenderedImage`: PNG bytes, the exact text drawn (the OCR reference),
physical covariates and full provenance. Turning a problem into a variant lives in
:mod:`restplus.variants.realization`; rendering needs no problem, model or runner.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import UnknownNameError, unknown_name
from ..grammar.grid import Grid
from ..grammar.params import BASE, RenderParams
from .degrade import DEGRADATIONS, Degradation, apply_degradations, degradation_names, register_degradation
from .fonts import FontInfo, FontManifest, default_manifest, missing_glyphs, resolve_font
from .functional import MAX_PIXELS, contrast_ratio
from .image import RenderedImage
from .renderer import compose_blocks, layout_only, render_image

__all__ = ["render_text", "render_image", "layout_only", "resolve_font", "missing_glyphs", "compose_blocks",
           "FontInfo", "FontManifest", "default_manifest", "contrast_ratio", "RenderedImage",
           "Degradation", "register_degradation", "degradation_names", "apply_degradations", "grid_fonts",
           "MAX_PIXELS"]

def render_text(text: str, params: RenderParams | Mapping[str, Any] | None = None, seed: int = 0, *,
                max_pixels: int | None = None, **overrides: Any) -> RenderedImage:
    """Render an ad-hoc string (for ``restplus show`` and notebooks).

    ``params`` are render params as from ``grid.render_params(cell)`` (a RenderParams or a mapping);
    missing keys take the paper's defaults, :data:`restplus.grammar.params.BASE` (DejaVu Sans 12 pt,
    200 DPI, black on white, plain layout). Keyword overrides win, e.g.
    ``render_text("x + 1 = 3", dpi=50, font="Kalam")``; ``fg``/``bg`` may be CSS names or hex codes.
    ``max_pixels`` raises (or lowers) the per-image pixel limit, :data:`MAX_PIXELS` by default.
    """
    _check_override_keys(overrides)
    p = RenderParams.coerce(params or BASE).replace(**overrides)
    return render_image(text, p, seed, roles=("question",), max_pixels=max_pixels)


# Built-in factor kinds named differently from the render param they set: render_text(blur=2) would
# otherwise land unused in ``extra`` (tests/test_render_edge_cases.py checks this against resolve()).
KIND_PARAMS = {"text_color": "fg", "background": "bg", "font_size": "font_size_pt", "blur": "blur_sigma",
               "jpeg": "jpeg_quality", "noise": "noise_sigma", "rotation": "rotation_deg"}


def _check_override_keys(overrides: Mapping[str, Any]) -> None:
    """Refuse a keyword no renderer step reads: ``dip=100`` would otherwise sit unused in ``extra``.

    Known keys: the RenderParams fields, the params registered degradations read, and the names of
    other registered factor kinds (custom kinds' keys; other resolved keys can still come in ``params``).
    """
    from ..grammar.factors import kind_names
    from ..grammar.params import FIELD_NAMES

    known = {*FIELD_NAMES, *(d.param for d in DEGRADATIONS.values()), *kind_names()} - set(KIND_PARAMS)
    for key, value in overrides.items():
        if key in KIND_PARAMS:
            raise UnknownNameError(f"render_text keyword {key!r} is the name of a factor kind, not of a render "
                                   f"param; the param it sets is {KIND_PARAMS[key]!r}: write "
                                   f"{KIND_PARAMS[key]}={value!r}.")
        if key not in known:
            raise unknown_name("render_text keyword", key, known)


def grid_fonts(grid: Grid, manifest: FontManifest | None = None) -> dict[str, str]:
    """Every font family a grid can render with (font levels, default, fallbacks) -> verified sha256.

    Call before a run: an unknown family or a modified font file fails here, not mid-run.
    """
    names = [grid.render.font, *grid.render.fallback_fonts]
    for f in grid.factors:
        if f.kind == "font":
            names.extend(str(v) for v in f.levels)
    return {n: resolve_font(n, manifest).sha256 for n in dict.fromkeys(names)}
