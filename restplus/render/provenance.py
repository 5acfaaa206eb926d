"""Provenance: the library versions and settings that determine the pixels.

Determinism holds for a fixed Pillow / FreeType / raqm / HarfBuzz / zlib version and font file, so
every rendered image records them. Versions are read once per process.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

LAYOUT_ENGINE = "RAQM"
PNG_COMPRESS_LEVEL = 1  # fast; zlib at a fixed level is deterministic for a fixed zlib version


@lru_cache(maxsize=1)
def pillow_versions() -> dict[str, str | None]:
    import PIL
    from PIL import features

    out: dict[str, str | None] = {"pillow": PIL.__version__}
    for lib in ("freetype2", "raqm", "fribidi", "harfbuzz", "zlib"):
        out[lib] = features.version(lib)
    return out


@lru_cache(maxsize=1)
def cairo_versions() -> dict[str, str | None]:
    from .svg import cairo_versions as _cv

    return _cv()


def library_versions(backend: str) -> dict[str, str | None]:
    import numpy

    out = dict(pillow_versions())
    out["numpy"] = numpy.__version__
    if backend == "cairosvg":
        out.update(cairo_versions())
    return out


def provenance_record(*, font: dict[str, Any], fallbacks_used: dict[str, str], backend: str, seed: int,
                      params: dict[str, Any], layout: dict[str, Any], steps: list[dict[str, Any]],
                      extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The provenance dict stored (as sorted pairs) on a RenderedImage."""
    rec: dict[str, Any] = {
        "font": font,
        "fallback_fonts_used": fallbacks_used,  # char -> family, only characters the primary lacks
        "backend": backend,
        "layout_engine": LAYOUT_ENGINE,
        "libraries": library_versions(backend),
        "seed": int(seed),
        "params": params,
        "layout": layout,
        "steps": steps,
        "png": {"compress_level": PNG_COMPRESS_LEVEL, "metadata": "pHYs only"},
    }
    if extra:
        rec.update(extra)
    return rec
