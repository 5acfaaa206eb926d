"""Bidirectional text: paragraph direction, visual order, and the characters restplus refuses.

Pillow's RAQM engine orders a run it draws with FriBidi, so a whole line drawn as one run is
already in visual order. A layout that places pieces itself (justified lines, font fallbacks) must
order the pieces the same way, so the visual order comes from the very same library: FriBidi,
called through ctypes (it is loaded anyway, RAQM needs it). Text without right-to-left characters
never reaches this module's ordering, so left-to-right renders are unchanged byte for byte.

Explicit embeddings, overrides and isolates (LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI) are
refused: an override makes the picture read differently from the reference text (the OCR gate
would compare against text the image does not show). The implicit marks LRM, RLM and ALM are
allowed; they only steer the ordering of neutral characters.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import unicodedata
from functools import lru_cache

from ..errors import BidiControlError, RenderError

# Bidi classes that make a paragraph need reordering (strong RTL letters, Arabic-Indic digits).
RTL_CLASSES = frozenset({"R", "AL", "AN"})
BIDI_CONTROLS = {
    "\u202a": "LEFT-TO-RIGHT EMBEDDING (LRE)", "\u202b": "RIGHT-TO-LEFT EMBEDDING (RLE)",
    "\u202c": "POP DIRECTIONAL FORMATTING (PDF)", "\u202d": "LEFT-TO-RIGHT OVERRIDE (LRO)",
    "\u202e": "RIGHT-TO-LEFT OVERRIDE (RLO)", "\u2066": "LEFT-TO-RIGHT ISOLATE (LRI)",
    "\u2067": "RIGHT-TO-LEFT ISOLATE (RLI)", "\u2068": "FIRST STRONG ISOLATE (FSI)",
    "\u2069": "POP DIRECTIONAL ISOLATE (PDI)",
}

# FriBidiParType values (fribidi-bidi-types.h): strong LTR / strong RTL paragraph.
_PAR_LTR = 0x110
_PAR_RTL = 0x111


def check_bidi_controls(text: str, where: str = "") -> None:
    """Refuse explicit bidi embedding/override/isolate controls, naming the first one and its place."""
    for i, ch in enumerate(text):
        if ch in BIDI_CONTROLS:
            line = text.count("\n", 0, i) + 1
            col = i - (text.rfind("\n", 0, i) + 1) + 1
            n = sum(c in BIDI_CONTROLS for c in text)
            raise BidiControlError(
                f"{where}text contains the bidi control U+{ord(ch):04X} {BIDI_CONTROLS[ch]} at character {i} "
                f"(line {line}, column {col}){f', and {n - 1} more' if n > 1 else ''}. Explicit embeddings, "
                "overrides and isolates would make the image read differently from the reference text; strip "
                "them (e.g. re.sub('[\\u202a-\\u202e\\u2066-\\u2069]', '', text)). Right-to-left text needs no "
                "controls: it is ordered by the Unicode bidi algorithm.")


def paragraph_rtl(paragraph: str) -> bool | None:
    """None if ``paragraph`` has no right-to-left characters (nothing to reorder); otherwise
    whether its base direction is RTL, from its first strong character (UAX #9 rules P2-P3)."""
    classes = [unicodedata.bidirectional(c) for c in paragraph]
    if not RTL_CLASSES.intersection(classes):
        return None
    first = next((c for c in classes if c in ("L", "R", "AL")), "L")
    return first != "L"


@lru_cache(maxsize=1)
def _fribidi():
    name = ctypes.util.find_library("fribidi") or "libfribidi.so.0"
    try:
        lib = ctypes.CDLL(name)
    except OSError as exc:
        raise RenderError(f"libfribidi cannot be loaded ({exc}); it orders right-to-left text (Pillow's RAQM "
                          "engine needs it too). Install libfribidi0 (Debian).") from None
    lib.fribidi_log2vis.restype = ctypes.c_int8
    lib.fribidi_log2vis.argtypes = [ctypes.POINTER(ctypes.c_uint32), ctypes.c_int, ctypes.POINTER(ctypes.c_uint32),
                                    ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int),
                                    ctypes.POINTER(ctypes.c_int8)]
    return lib


@lru_cache(maxsize=4096)
def visual_order(line: str, rtl: bool) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(embedding level per logical character, logical index per visual position) of one line with
    the paragraph direction ``rtl``, exactly as FriBidi (and so RAQM) orders it."""
    n = len(line)
    lib = _fribidi()
    chars = (ctypes.c_uint32 * n)(*map(ord, line))
    par = ctypes.c_uint32(_PAR_RTL if rtl else _PAR_LTR)
    v2l = (ctypes.c_int * n)()
    levels = (ctypes.c_int8 * n)()
    if lib.fribidi_log2vis(chars, n, ctypes.byref(par), None, None, v2l, levels) == 0:
        raise RenderError(f"FriBidi could not order the line {line[:60]!r}.")
    return tuple(levels), tuple(v2l)
