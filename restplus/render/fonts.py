"""Vendored fonts: manifest, hash verification, cmaps and cached Pillow font objects.

Renderers never look fonts up on the host. A family name resolves through ``fonts/fonts.json``
(an injectable :class:`FontManifest`, so tests can point at a tampered copy) to one file whose
sha256 is verified once per process. Glyph coverage comes from the font's own cmap (fontTools), so a
character the font lacks is an error naming it, never a tofu box.
"""

from __future__ import annotations

import json
import os
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import FontError, GlyphError, UnknownNameError, unknown_name
from ..hashing import file_sha256

# The vendored fonts live in the repository's top-level fonts/ (an editable install finds them);
# RESTPLUS_FONTS points elsewhere, e.g. for a wheel install next to a copy of that folder.
FONTS_DIR = Path(os.environ.get("RESTPLUS_FONTS") or Path(__file__).resolve().parents[2] / "fonts")
DEFAULT_MANIFEST = FONTS_DIR / "fonts.json"
# Advance widths are measured at this size (px) and scaled linearly to points, so line breaks are
# computed once, independent of the target DPI (FreeType hinting at small sizes cannot move them).
REF_PX = 1000.0


@dataclass(frozen=True, slots=True)
class FontInfo:
    """One vendored family: the file and everything known about it from the manifest."""

    family: str
    path: str  # absolute path of the font file
    sha256: str  # expected sha256 from the manifest
    licence: str = ""
    source: str = ""
    version: str = ""
    substitute_for: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, "file": os.path.basename(self.path), "sha256": self.sha256,
                "version": self.version, "licence": self.licence}


@dataclass(frozen=True, slots=True)
class FontManifest:
    """The set of families a renderer may use, keyed by exact family name (no aliasing)."""

    path: str
    families: tuple[tuple[str, FontInfo], ...]

    @classmethod
    def load(cls, path: str | os.PathLike[str] = DEFAULT_MANIFEST) -> "FontManifest":
        p = Path(path).resolve()
        try:
            raw = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FontError(f"font manifest {str(p)!r} does not exist; the vendored fonts live in "
                            f"{str(FONTS_DIR)!r}. Install restplus from a checkout (pip install -e .) or set "
                            "RESTPLUS_FONTS to a copy of the repository's fonts/ folder.") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise FontError(f"font manifest {str(p)!r} is unreadable: {exc}") from None
        fams = []
        for e in raw.get("families", []):
            try:
                info = FontInfo(family=e["family"], path=str((p.parent / e["file"]).resolve()),
                                sha256=e["sha256"], licence=e.get("licence", ""), source=e.get("source", ""),
                                version=e.get("version", ""), substitute_for=e.get("substitute_for", ""))
            except KeyError as exc:
                raise FontError(f"font manifest {str(p)!r}: entry {e!r} lacks key {exc}; each family needs "
                                "'family', 'file' and 'sha256'.") from None
            fams.append((info.family, info))
        return cls(path=str(p), families=tuple(fams))

    def names(self) -> list[str]:
        return [n for n, _ in self.families]

    def get(self, name: str) -> FontInfo:
        for n, info in self.families:
            if n == name:
                return info
        err = unknown_name("font", name, self.names())
        twin = METRIC_TWINS.get(" ".join(str(name).lower().split()))
        if twin in self.names():  # "Arial" is not close to "Liberation Sans" as a string, but is its metric twin
            err = UnknownNameError(f"{err} {name!r} is not vendored (fonts must ship with the project, for "
                                   f"byte-identical renders); its metric-compatible twin {twin!r} is: use that.")
        raise err


@lru_cache(maxsize=8)
def _load_manifest(path: str) -> FontManifest:
    return FontManifest.load(path)


# Proprietary families users name from habit, and the vendored family with the same metrics (the
# Liberation fonts were designed as drop-in, same-width replacements; DejaVu Sans derives from Bitstream Vera).
METRIC_TWINS = {
    "arial": "Liberation Sans", "helvetica": "Liberation Sans", "helvetica neue": "Liberation Sans",
    "times new roman": "Liberation Serif", "times": "Liberation Serif", "courier new": "Liberation Mono",
    "courier": "Liberation Mono", "comic sans ms": "Comic Neue", "comic sans": "Comic Neue",
    "bitstream vera sans": "DejaVu Sans",
}


def default_manifest() -> FontManifest:
    return _load_manifest(str(DEFAULT_MANIFEST))


@lru_cache(maxsize=64)
def _verified(path: str, expected: str, family: str) -> str:
    # Hash each file once per process: the bench would otherwise pay a full sha256 per render.
    try:
        actual = file_sha256(path)
    except OSError as exc:
        raise FontError(f"font {family!r}: cannot read {path!r} ({exc}). Restore the vendored file.") from None
    if actual != expected:
        raise FontError(f"font {family!r}: file {path!r} has sha256 {actual} but the manifest expects "
                        f"{expected}. The file was modified or replaced; restore it, or regenerate the "
                        "manifest with fonts/make_manifest.py if the change is intended.")
    return actual


def resolve_font(name: str, manifest: FontManifest | None = None) -> FontInfo:
    """Resolve an exact family name to its vendored, hash-verified file.

    Raises UnknownNameError (with did-you-mean) for names not in the manifest, FontError when the
    file's sha256 differs from the manifest.
    """
    info = (manifest or default_manifest()).get(name)
    _verified(info.path, info.sha256, info.family)
    return info


@lru_cache(maxsize=64)
def _cmap(path: str) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    try:
        tt = TTFont(path, lazy=True)
        cmap = tt.getBestCmap()
    except Exception as exc:  # fontTools raises assorted errors on broken files
        raise FontError(f"cannot read the cmap of {path!r}: {type(exc).__name__}: {exc}") from None
    if cmap is None:
        raise FontError(f"font {path!r} has no Unicode cmap; it cannot be used for text.")
    return frozenset(cmap)


def _needs_glyph(ch: str) -> bool:
    # Format characters (ZWJ, bidi marks, soft hyphen) are default-ignorable: HarfBuzz draws nothing
    # for them, so they cannot become tofu. Everything else must be in the cmap.
    return unicodedata.category(ch) != "Cf"


def covers(font: FontInfo, ch: str) -> bool:
    return not _needs_glyph(ch) or ord(ch) in _cmap(font.path)


def missing_glyphs(font: FontInfo, text: str) -> list[str]:
    """Distinct characters of ``text`` (except newline/tab/CR, which layout consumes) lacking a glyph."""
    cmap = _cmap(font.path)
    out: dict[str, None] = {}
    for ch in set(text):
        if ch in "\n\r\t\u2028\u2029" or ord(ch) in cmap or not _needs_glyph(ch):
            continue
        out[ch] = None
    return sorted(out)


def describe_chars(chars: list[str]) -> str:
    return ", ".join(f"{c!r} (U+{ord(c):04X} {unicodedata.name(c, 'unnamed')})" for c in chars)


def check_drawable(text: str, where: str = "") -> None:
    """Reject a non-str text and characters no font can draw faithfully: controls, surrogates,
    unassigned, private use.

    Tabs, carriage returns and U+2028/U+2029 are allowed: layout turns them into spaces and
    newlines. Explicit bidi controls (RLO, LRI, ...) raise BidiControlError.
    """
    from ..errors import RenderError
    from .bidi import check_bidi_controls

    if not isinstance(text, str):  # bytes would iterate as ints, None not at all: say so here
        fix = ("decode it first, e.g. data.decode('utf-8')" if isinstance(text, (bytes, bytearray))
               else "pass the text as a string, e.g. str(value)")
        raise RenderError(f"{where}the text to render must be a str, got {type(text).__name__} "
                          f"{repr(text)[:60]}; {fix}.")
    check_bidi_controls(text, where)

    bad = sorted(c for c in set(text)
                 if c not in "\n\r\t\u2028\u2029" and unicodedata.category(c) in ("Cc", "Cs", "Cn", "Co"))
    if bad:
        raise RenderError(f"{where}text contains characters that cannot be drawn: {describe_chars(bad[:10])}"
                          f"{' ...' if len(bad) > 10 else ''}. Remove or replace them before rendering.")


def glyph_plan(text: str, font: FontInfo, fallbacks: tuple[FontInfo, ...],
               where: str = "") -> dict[str, FontInfo]:
    """Map each character the primary font lacks to the first declared fallback that covers it.

    Raises GlyphError naming the characters (with U+ codes) and the fonts when nothing covers them.
    """
    missing = missing_glyphs(font, text)
    plan: dict[str, FontInfo] = {}
    uncovered: list[str] = []
    for ch in missing:
        fb = next((f for f in fallbacks if ord(ch) in _cmap(f.path)), None)
        if fb is None:
            uncovered.append(ch)
        else:
            plan[ch] = fb
    if uncovered:
        tried = [font.family] + [f.family for f in fallbacks]
        hint = ("declare a fallback in the grid's render defaults (render.fallback_fonts), e.g. "
                "['DejaVu Sans'], or choose a font that covers them" if not fallbacks else
                "add a fallback font that covers them to render.fallback_fonts")
        raise GlyphError(f"{where}font {font.family!r} has no glyph for {len(uncovered)} character(s): "
                         f"{describe_chars(uncovered[:12])}{' ...' if len(uncovered) > 12 else ''}; "
                         f"tried {tried}. Never drawn as tofu: {hint}.")
    return plan


@lru_cache(maxsize=256)
def pil_font(path: str, px: float):  # -> ImageFont.FreeTypeFont
    """A Pillow font at ``px`` pixels, pinned to the RAQM layout engine (raises if unavailable)."""
    from PIL import ImageFont, features

    if not features.check("raqm"):
        from ..errors import RenderError

        raise RenderError("Pillow's RAQM layout engine is unavailable (needs libfribidi); restplus never "
                          "falls back to BASIC layout because it changes pixels (no kerning/ligatures). "
                          "Install libfribidi0 (Debian) or a Pillow build with raqm.")
    font = ImageFont.truetype(path, px, layout_engine=ImageFont.Layout.RAQM)
    if font.layout_engine != ImageFont.Layout.RAQM:  # Pillow may downgrade with only a warning
        from ..errors import RenderError

        raise RenderError(f"Pillow loaded {path!r} with layout engine {font.layout_engine!r} instead of RAQM; "
                          "restplus never renders with BASIC layout.")
    return font


def shaping_error(exc: Exception, text: str, path: str, where: str = ""):  # -> RenderError
    """A RAQM/FreeType failure as a RenderError naming the text span and the font file.

    Pillow reports shaping failures as bare ``RuntimeError: raqm_layout() failed.`` (or an OSError
    from FreeType) that name neither the text nor the font; ``where`` adds the problem and cell.
    """
    from ..errors import RenderError

    span = text if len(text) <= 60 else text[:57] + "..."
    unusual = sorted(set(text), key=lambda c: (c.isascii() and c.isprintable(), c))[:6]  # non-ASCII first
    return RenderError(f"{where}the layout engine (RAQM/FreeType) failed on the text span {span!r} with font "
                       f"file {Path(path).name!r}: {type(exc).__name__}: {exc}. The span holds "
                       f"{describe_chars(unusual)}; remove unusual characters from it, or report it with "
                       "this text.")


@lru_cache(maxsize=65536)
def advance_em(path: str, text: str, direction: str | None = None) -> float:
    """Advance width of ``text`` in em (shaped with RAQM at the reference size, in ``direction``)."""
    font = pil_font(path, REF_PX)
    try:
        return font.getlength(text, direction=direction) / REF_PX
    except (RuntimeError, OSError, ValueError) as exc:  # raqm_layout() failed, FreeType errors
        raise shaping_error(exc, text, path) from None


@dataclass(frozen=True, slots=True)
class VMetrics:
    """Vertical metrics in em: hhea ascent/descent (positive) and the measured x-height."""

    ascent: float
    descent: float
    x_height: float | None
    x_height_source: str


@lru_cache(maxsize=64)
def vmetrics(path: str) -> VMetrics:
    from fontTools.ttLib import TTFont

    tt = TTFont(path, lazy=True)
    upem = float(tt["head"].unitsPerEm)
    hhea = tt["hhea"]
    xh: float | None = None
    src = "none"
    # Measured from the drawn 'x' (uniform across fonts; DejaVu's OS/2 v1 has no sxHeight).
    if ord("x") in _cmap(path):
        top = pil_font(path, REF_PX).getbbox("x", anchor="ls")[1]
        xh, src = -top / REF_PX, "bbox('x')"
    return VMetrics(ascent=hhea.ascent / upem, descent=-hhea.descent / upem, x_height=xh, x_height_source=src)
