"""Variant records: one base problem realised in one cell (render → runner contract).

A :class:`Variant` holds exactly what a model will receive, as ordered message parts, plus the
provenance of every image. It is produced by :func:`restplus.render.realize` (pure, in memory) and
written/read by :mod:`restplus.variants.generation`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..grammar.grid import Cell
from ..hashing import digest
from ..records import Part, TextPart
from ..render.image import RenderedImage


@dataclass(frozen=True, slots=True)
class Variant:
    """A problem in a cell: the parts a model receives, in reading order.

    parts        ordered TextPart / ImagePart; image parts correspond one-to-one, in order, to
                 ``images``. The answer-format instruction is NOT included (the runner's prompt
                 templates add it), so the same variant serves every prompt version.
    text_parts   the texts of the text parts (convenience, same order)
    """

    problem_id: str
    task: str
    cell: Cell
    seed: int
    parts: tuple[Part, ...]
    images: tuple[RenderedImage, ...]
    answer: str
    answer_type: str
    variant_id: str = ""

    def __post_init__(self) -> None:
        if not self.variant_id:
            object.__setattr__(self, "variant_id",
                               "v" + digest({"p": self.problem_id, "c": self.cell.cell_id, "s": self.seed}, 16))

    @property
    def modality(self) -> str:
        return self.cell.modality

    @property
    def text_parts(self) -> tuple[str, ...]:
        return tuple(p.text for p in self.parts if isinstance(p, TextPart))

    def covariates(self) -> dict[str, Any]:
        """Covariates of the first image (image and mixed variants have one image by default)."""
        return dict(self.images[0].covariates) if self.images else {}
