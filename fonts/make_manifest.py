"""Regenerate fonts/fonts.json from the vendored files (run after adding or updating a font).

    .venv/bin/python fonts/make_manifest.py

The manifest pins each family to one file by sha256; the renderer refuses a file whose bytes differ.
Glyph coverage notes are computed from each font's cmap with fontTools, over a fixed list of common
maths symbols, so a grid author can see up front which fonts need ``fallback_fonts``.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from pathlib import Path

from fontTools.ttLib import TTFont

HERE = Path(__file__).resolve().parent

# Symbols that appear in MMLU / ARC / GSM / SoE style text. Kept short and explicit.
MATH_SYMBOLS = "×÷±−≤≥≠≈√π∞∑∫→←↔°²³½¼¾·∈∪∩∂∆∇αβγθλμσΩ€£"

FAMILIES = [
    {"family": "DejaVu Sans", "file": "dejavu/DejaVuSans.ttf", "licence": "Bitstream Vera licence + public domain",
     "licence_file": "dejavu/LICENSE.txt", "source": "Debian fonts-dejavu-core 2.37-6 "
     "(/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf)", "role": "sans (the paper's default font)"},
    {"family": "Liberation Mono", "file": "liberation/LiberationMono-Regular.ttf", "licence": "OFL-1.1",
     "licence_file": "liberation/OFL.txt", "source": "Debian fonts-liberation2 2.1.5-1",
     "role": "monospace", "substitute_for": "Courier New (proprietary; Liberation Mono is metric-compatible). "
     "Not an alias: a grid must name 'Liberation Mono'."},
    {"family": "Liberation Serif", "file": "liberation/LiberationSerif-Regular.ttf", "licence": "OFL-1.1",
     "licence_file": "liberation/OFL.txt", "source": "Debian fonts-liberation2 2.1.5-1", "role": "serif",
     "substitute_for": "Times New Roman (metric-compatible). Not an alias."},
    {"family": "Liberation Sans", "file": "liberation/LiberationSans-Regular.ttf", "licence": "OFL-1.1",
     "licence_file": "liberation/OFL.txt", "source": "Debian fonts-liberation2 2.1.5-1", "role": "sans",
     "substitute_for": "Arial (metric-compatible). Not an alias."},
    {"family": "Kalam", "file": "kalam/Kalam-Regular.ttf", "licence": "OFL-1.1", "licence_file": "kalam/OFL.txt",
     "source": "PyPI fontpkg-kalam 2.1 (google/fonts ofl/kalam @ fe068c5f5ef9fac2cb93b0697db6b39567bd9bdc)",
     "role": "handwriting", "substitute_for": "matplotlib's generic 'cursive' family (host-dependent). "
     "Not an alias."},
    {"family": "Comic Neue", "file": "comic-neue/ComicNeue-Regular.otf", "licence": "OFL-1.1",
     "licence_file": "comic-neue/OFL.txt", "source": "Debian fonts-comic-neue 2.51-4", "role": "informal"},
]


def describe(entry: dict) -> dict:
    path = HERE / entry["file"]
    data = path.read_bytes()
    tt = TTFont(path, lazy=True)
    cmap = tt.getBestCmap()
    name = tt["name"]
    missing = [c for c in MATH_SYMBOLS if ord(c) not in cmap]
    out = dict(entry)
    out["sha256"] = hashlib.sha256(data).hexdigest()
    out["bytes"] = len(data)
    out["version"] = str(name.getDebugName(5) or "")
    out["name_table_family"] = str(name.getDebugName(1) or "")
    out["glyph_coverage"] = {
        "n_codepoints": len(cmap),
        "checked_symbols": MATH_SYMBOLS,
        "missing_symbols": "".join(missing),
        "missing_codes": [f"U+{ord(c):04X} {unicodedata.name(c, '?')}" for c in missing],
    }
    return out


def main() -> None:
    manifest = {"schema": 1,
                "note": "Vendored fonts. Renderers load only these files and verify sha256; no host lookup, "
                        "no silent aliasing. Regenerate with fonts/make_manifest.py.",
                "families": [describe(e) for e in FAMILIES]}
    (HERE / "fonts.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
