"""Grid validation: no cell may draw its text in its own background colour.

Kept apart from :mod:`.grid` so the grid module stays about construction and enumeration.
"""

from __future__ import annotations

from typing import Any

from ..errors import SpecError
from .factors import rgb


def check_visible(grid: Any) -> None:
    """Refuse a cell whose text colour equals its background: the renderer would refuse it mid-run.

    Cheap for most grids: the cells are checked only when some text colour equals some background.
    """
    by_kind = {f.kind: f for f in grid.visual_factors}
    base = grid.render.params("image")
    fgs = {base.fg, *(tuple(rgb(str(v))) for v in getattr(by_kind.get("text_color"), "levels", ()))}
    bgs = {base.bg, *(tuple(rgb(str(v))) for v in getattr(by_kind.get("background"), "levels", ()))}
    if not fgs & bgs:
        return
    names = {by_kind[k].name for k in ("text_color", "background") if k in by_kind}
    for c in grid.cells():
        p = grid.render_params(c)
        if c.modality != "text" and p.fg == p.bg:
            bad = {k: v for k, v in c.assignment if k in names}
            fix = f"exclude it (exclude: [{bad}])" if bad else "set render.text_color and render.background apart"
            raise SpecError(f"grid {grid.name!r}: cell ({c.short()}) draws text in its background colour "
                            f"{list(p.fg)}, so the text would be invisible; {fix}, or change the colours.")
