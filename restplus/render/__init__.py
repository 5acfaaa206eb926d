"""Rendering: vendored fonts, deterministic text-to-image renders, the three modalities.

``realize(problem, grid, cell, seed)`` turns a base problem into the :class:`~restplus.variant.Variant`
a model receives in one cell: ordered text and image parts, each image with its PNG bytes, the exact
text drawn (the OCR reference), physical covariates and full provenance. It is pure and in memory;
the same inputs give byte-identical PNGs in any process.
"""

from __future__ import annotations

from typing import Any

from ..factors import rgb
from ..grid import Cell, Grid
from ..hashing import derive_seed
from ..layouts import get_layout
from ..problems.base import Problem
from ..records import Part, TextPart
from ..variant import RenderedImage, Variant
from .degrade import Degradation, apply_degradations, degradation_names, register_degradation
from .fonts import FontInfo, FontManifest, default_manifest, missing_glyphs, resolve_font
from .functional import contrast_ratio
from .modality import Block, pixel_roles, split_blocks
from .renderer import compose_blocks, layout_only, render_image

__all__ = ["realize", "render_text", "render_image", "layout_only", "resolve_font", "missing_glyphs",
           "FontInfo", "FontManifest", "default_manifest", "contrast_ratio", "split_blocks", "pixel_roles",
           "Block", "Degradation", "register_degradation", "degradation_names", "apply_degradations",
           "image_seed", "grid_fonts"]

DEFAULT_TEXT_PARAMS: dict[str, Any] = {
    "font": "DejaVu Sans", "font_size_pt": 12.0, "dpi": 200, "fg": [0, 0, 0], "bg": [255, 255, 255],
    "layout": "plain", "backend": "pillow", "fallback_fonts": [], "blur_sigma": 0.0, "jpeg_quality": None,
    "noise_sigma": 0.0, "rotation_deg": 0.0, "modality": "image"}


def image_seed(seed: int, index: int) -> int:
    """Seed of the ``index``-th image of a variant (degradation noise draws from it)."""
    return derive_seed(int(seed), "image", int(index))


def realize(problem: Problem, grid: Grid, cell: Cell, seed: int, *, problem_context: str | None = None,
            manifest: FontManifest | None = None) -> Variant:
    """Realise ``problem`` in ``cell`` of ``grid``.

    seed             the variant seed, ``restplus.grid.variant_seed(run_seed, problem_id, cell)``
    problem_context  optional text naming where the problem came from (e.g. a file and line), added
                     to render error messages after the problem id and cell
    manifest         font manifest override (tests); defaults to the vendored fonts/fonts.json

    Raises RenderError subclasses (GlyphError, TextOverflowError, FontError) naming problem and cell.
    """
    params = grid.render_params(cell)
    layouts = dict(grid.layouts)
    layout = get_layout(params["layout"], layouts)
    parts: list[Part] = []
    images: list[RenderedImage] = []
    for block in split_blocks(problem, grid.modalities, cell.modality):
        if block.kind == "text":
            parts.append(TextPart(block.text))
            continue
        img = render_image(compose_blocks(list(block.segments), layout), params, image_seed(seed, len(images)),
                           layout=layout, roles=block.roles, manifest=manifest, problem_id=problem.problem_id,
                           cell=cell, context=problem_context, variant_seed=int(seed))
        images.append(img)
        parts.append(img.part())
    return Variant(problem_id=problem.problem_id, task=problem.task, cell=cell, seed=int(seed), parts=tuple(parts),
                   images=tuple(images), answer=problem.answer, answer_type=problem.answer_type)


def render_text(text: str, params: dict[str, Any] | None = None, seed: int = 0, **overrides: Any) -> RenderedImage:
    """Render an ad-hoc string (for ``restplus show`` and notebooks).

    ``params`` are render params as from ``grid.render_params(cell)``; missing keys take the paper's
    defaults (DejaVu Sans 12 pt, 200 DPI, black on white, plain layout). Keyword overrides win,
    e.g. ``render_text("x + 1 = 3", dpi=50, font="Kalam")``.
    """
    p = {**DEFAULT_TEXT_PARAMS, **(params or {}), **overrides}
    for key in ("fg", "bg"):
        if isinstance(p[key], str):  # convenience: CSS names and hex codes, as in grid levels
            p[key] = rgb(p[key])
    return render_image(text, p, seed, roles=("question",))


def grid_fonts(grid: Grid, manifest: FontManifest | None = None) -> dict[str, str]:
    """Every font family a grid can render with (font levels, default, fallbacks) -> verified sha256.

    Call before a run: an unknown family or a modified font file fails here, not mid-run.
    """
    names = [grid.render.font, *grid.render.fallback_fonts]
    for f in grid.factors:
        if f.kind == "font":
            names.extend(str(v) for v in f.levels)
    return {n: resolve_font(n, manifest).sha256 for n in dict.fromkeys(names)}
