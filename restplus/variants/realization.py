"""Realise a base problem in one cell: the ordered text and image parts a model receives.

Pure and in memory; the same inputs give byte-identical PNGs in any process.
"""

from __future__ import annotations

from ..grammar.grid import Cell, Grid
from ..grammar.layouts import get_layout
from ..hashing import derive_seed
from ..problems.base import Problem
from ..records import Part, TextPart
from ..render import FontManifest, compose_blocks, render_image
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
