"""Modality-gap triples from the image-native sources: our substitute for ImageNet + labels.

The paper measures the gap on natural images, their text labels and images of the written label.
ImageNet cannot be downloaded here; the image-native sources give the same three forms of one
content, provably identical because both images come from the one notation:

  drawing  the source's drawing (board, node-link graph, bar chart)      ~ the natural image
  notation the notation as text (FEN, edge list, table)                 ~ the label
  written  the notation rendered as text in the same cell               ~ the written label

:func:`visual_gap_pairs` returns two lists of :class:`~restplus.gap.extract.GapPair` with the
notation as the text side: ``measure_gap(adapter, drawing_pairs)`` and
``measure_gap(adapter, written_pairs)`` are the two arms to compare.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from ..errors import AnalysisError
from ..grammar.grid import variant_seed
from ..problems.base import Problem
from ..problems.visual import drawing_kind
from ..variants import realize
from .extract import GapPair, reference_image_cell


def visual_gap_pairs(problems: Iterable[Problem], grid: Any, *, seed: int = 0,
                     cell: str | None = None) -> tuple[list[GapPair], list[GapPair]]:
    """(drawing pairs, written-notation pairs) for image-native ``problems`` in one image cell.

    cell  id of an image-modality cell (default: every visual factor at its reference level)
    """
    cid = cell or reference_image_cell(grid)
    found = [c for c in grid.cells() if c.cell_id == cid]
    if not found or found[0].modality != "image":
        raise AnalysisError(f"cell {cid!r} is not an image cell of grid {grid.name!r}.")
    image_cell = found[0]
    mixed = [c for c in grid.cells() if c.modality == "mixed" and
             {k: v for k, v in c.as_dict().items() if k != "modality"} ==
             {k: v for k, v in image_cell.as_dict().items() if k != "modality"}]
    if not mixed:
        raise AnalysisError(f"grid {grid.name!r} has no mixed cell with the levels of {cid!r}; the written "
                            "notation is rendered in it (add 'mixed' to the modality factor).")
    drawings, written = [], []
    for p in problems:
        kind = drawing_kind(p)
        if kind is None:
            raise AnalysisError(f"problem {p.problem_id!r} ({p.task}) is a text source; visual gap pairs need "
                                "chess, graph or chart problems.")
        notation = str(dict(p.meta)["notation"])
        s = variant_seed(seed, p.problem_id, image_cell)
        drawing = realize(p, grid, image_cell, s).images[0]  # the drawing comes first in the image modality
        # The written form: the same problem as a plain text source (no drawing), its context
        # (the notation with its lead-in) rendered in the mixed cell with the same visual levels.
        # A FEN is one "word" wider than a page line and words are never broken, so its ranks are
        # written one per line (same characters, line breaks are layout).
        context = p.segments[0].text.replace("/", "/\n") if kind == "chess" else p.segments[0].text
        plain = replace(p, segments=(replace(p.segments[0], text=context), *p.segments[1:]),
                        meta=tuple((k, v) for k, v in p.meta if k != "drawing_kind"), problem_id=p.problem_id)
        page = realize(plain, grid, mixed[0], s).images[0]
        drawings.append(GapPair(f"{p.problem_id}:drawing", (notation,), (drawing.part(),)))
        written.append(GapPair(f"{p.problem_id}:written", (notation,), (page.part(),)))
    if not drawings:
        raise AnalysisError("visual_gap_pairs() got no problems.")
    return drawings, written
