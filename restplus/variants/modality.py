"""Modality split: which segments of a problem become pixels and which stay text.

The grid's :class:`~restplus.grammar.grid.ModalityPlan` names the roles rendered to pixels per modality
(``image``: context, question and choices; ``mixed``: the context, or the question when there is
none). Parts keep the problem's segment order; consecutive segments of the same kind are merged, so
a problem whose pixel roles are contiguous becomes exactly one image.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SpecError, did_you_mean
from ..grammar.factors import MODALITIES
from ..grammar.grid import ModalityPlan
from ..problems.base import Problem

TEXT_JOIN = "\n\n"  # same separator as Problem.text_of, so a text variant's text is problem.full_text


@dataclass(frozen=True, slots=True)
class Block:
    """A run of consecutive segments that share a destination.

    kind      "text" (sent as a TextPart) or "image" (rendered into one image)
    segments  (role, text) pairs in reading order
    """

    kind: str
    segments: tuple[tuple[str, str], ...]

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r for r, _ in self.segments))

    @property
    def text(self) -> str:
        return TEXT_JOIN.join(t for _, t in self.segments)


def pixel_roles(problem: Problem, plan: ModalityPlan, modality: str) -> tuple[str, ...]:
    """Roles of ``problem`` that ``modality`` renders to pixels (instruction never does)."""
    if modality not in MODALITIES:
        raise SpecError(f"modality {modality!r} is not one of {list(MODALITIES)}.{did_you_mean(modality, MODALITIES)}")
    present = {s.role for s in problem.segments if s.text.strip()}
    return tuple(r for r in plan.roles_for(modality, present) if r != "instruction")


def split_blocks(problem: Problem, plan: ModalityPlan, modality: str) -> tuple[Block, ...]:
    """The problem's segments grouped into text and image blocks, in reading order.

    Empty segments are dropped (they would render as nothing or as an empty message part).
    """
    pix = set(pixel_roles(problem, plan, modality))
    blocks: list[Block] = []
    for seg in problem.segments:
        if not seg.text.strip():
            continue
        kind = "image" if seg.role in pix else "text"
        if blocks and blocks[-1].kind == kind:
            blocks[-1] = Block(kind, blocks[-1].segments + ((seg.role, seg.text),))
        else:
            blocks.append(Block(kind, ((seg.role, seg.text),)))
    return tuple(blocks)
