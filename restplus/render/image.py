"""The render's output record: one image's PNG bytes, what was drawn, and how (provenance)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..records import ImagePart


@dataclass(frozen=True, slots=True)
class RenderedImage:
    """One rendered image and its provenance.

    png            exact PNG file bytes (what is sent to models and written to disk)
    sha256         sha256 of the PNG bytes; pixel_sha256 of the raw RGB pixels
    rendered_text  the exact string drawn: the OCR reference for the gate
    roles          problem roles drawn in this image (e.g. ("context", "question", "choices"))
    covariates     physical measures: contrast_ratio, x_height_px, width_px, height_px, dpi, ...
    provenance     font file sha256, library versions (Pillow, FreeType, raqm, harfbuzz), layout
                   engine, seed, resolved params, applied steps with their physical measures
    """

    png: bytes = field(repr=False)
    sha256: str
    pixel_sha256: str
    width: int
    height: int
    dpi: int
    rendered_text: str
    roles: tuple[str, ...]
    covariates: tuple[tuple[str, Any], ...] = ()
    provenance: tuple[tuple[str, Any], ...] = ()

    def part(self) -> ImagePart:
        return ImagePart(png=self.png, sha256=self.sha256)
