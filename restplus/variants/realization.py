"""Realise a base problem in one cell: the ordered text and image parts a model receives.

Pure and in memory; the same inputs give byte-identical PNGs in any process.
"""

from __future__ import annotations

from ..grammar.grid import Cell, Grid
from ..grammar.layouts import get_layout
from ..hashing import derive_seed
from ..problems.base import Problem
from ..problems.visual import drawing_kind, drawing_of, drawing_overrides
from ..records import Part, TextPart
from ..render import FontManifest, compose_blocks, render_image
from ..render.drawing import render_drawing
from ..render.fonts import resolve_font
from ..render.image import RenderedImage
from .modality import split_blocks
from .variant import Variant


def image_seed(seed: int, index: int) -> int:
    """Seed of the ``index``-th image of a variant (degradation noise draws from it)."""
    return derive_seed(int(seed), "image", int(index))


def realize(problem: Problem, grid: Grid, cell: Cell, seed: int, *, problem_context: str | None = None,
            manifest: FontManifest | None = None) -> Variant:
    """Realise ``problem`` in ``cell`` of ``grid``.

    seed             the variant seed, ``restplus.grammar.grid.variant_seed(run_seed, problem_id, cell)``
    problem_context  optional text naming where the problem came from (e.g. a file and line), added
                     to render error messages after the problem id and cell
    manifest         font manifest override (tests); defaults to the vendored fonts/fonts.json

    Raises RenderError subclasses (GlyphError, TextOverflowError, FontError) naming problem and cell.
    """
    params = grid.render_params(cell)
    layouts = dict(grid.layouts)
    layout = get_layout(params.layout, layouts)
    parts: list[Part] = []
    images: list[RenderedImage] = []
    kind = drawing_kind(problem)
    for block in split_blocks(problem, grid.modalities, cell.modality):
        if block.kind == "text":
            parts.append(TextPart(block.text))
            continue
        for is_drawing, segs in _image_runs(block.segments, kind is not None):
            if is_drawing:
                # An image-native source: its context (the notation) becomes the drawing itself.
                font = resolve_font(params.font, manifest)
                d = drawing_of(problem, font.family, font.path, drawing_overrides(problem, params.get))
                img = render_drawing(d.svg, d.width_pt, d.height_pt, params, image_seed(seed, len(images)),
                                     fonts=(font,) if d.families else (), px_measures=d.px_measures,
                                     contrasts=d.contrasts,
                                     rendered_text=str(dict(problem.meta)["notation"]), kind=str(kind),
                                     problem_id=problem.problem_id, cell=cell, context=problem_context,
                                     variant_seed=int(seed))
            else:
                img = render_image(compose_blocks(list(segs), layout), params, image_seed(seed, len(images)),
                                   layout=layout, roles=tuple(dict.fromkeys(r for r, _ in segs)), manifest=manifest,
                                   problem_id=problem.problem_id, cell=cell, context=problem_context,
                                   variant_seed=int(seed))
            images.append(img)
            parts.append(img.part())
    return Variant(problem_id=problem.problem_id, task=problem.task, cell=cell, seed=int(seed), parts=tuple(parts),
                   images=tuple(images), answer=problem.answer, answer_type=problem.answer_type)


Run = tuple[bool, tuple[tuple[str, str], ...]]


def _image_runs(segments: tuple[tuple[str, str], ...], has_drawing: bool) -> list[Run]:
    """Split an image block into (is_drawing, segments) runs: the context of an image-native source is
    its drawing; the segments around it (the question) stay one text image, as for text sources."""
    if not has_drawing:
        return [(False, segments)]
    runs: list[Run] = []
    for seg in segments:
        if seg[0] == "context":
            runs.append((True, (seg,)))
        elif runs and not runs[-1][0]:
            runs[-1] = (False, runs[-1][1] + (seg,))
        else:
            runs.append((False, (seg,)))
    return runs
