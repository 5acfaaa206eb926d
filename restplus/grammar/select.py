"""Selecting cells by level: one rule for ``VariantSet.filter`` and ``restplus contact-sheet --filter``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import DesignError, SpecError, did_you_mean, unknown_name
from ..schema import level_label
from .grid import Cell, Grid


def filter_cells(grid: Grid, cells: Iterable[Cell], levels: Mapping[str, Any]) -> list[Cell]:
    """The ``cells`` whose levels match ``levels`` (``{"dpi": 50, "font": ["Kalam", "DejaVu Sans"]}``).

    Levels compare as labels (:func:`restplus.schema.match_level`: ``50``, ``50.0`` and ``"50"`` are one
    level). Text cells have no visual levels: they are the baseline every visual level is compared
    with, so they pass every visual-factor filter; only a ``modality`` filter drops them. Unknown
    factors or levels raise with a did-you-mean; a filter that leaves no cell raises DesignError.
    """
    from ..schema import match_level

    by_name = {f.name: f for f in grid.factors}
    keep = all_cells = list(cells)
    for name, want in levels.items():
        if name not in by_name and name != "modality":
            raise unknown_name("factor", name, list(by_name) + ["modality"])
        wanted = [want] if isinstance(want, (str, int, float)) else list(want)
        valid = [level_label(lv) for lv in by_name[name].levels] if name in by_name else \
            sorted({c.modality for c in all_cells})
        labels = set()
        for w in wanted:
            lab = match_level(w, valid)
            if lab is None:
                raise SpecError(f"{name}={w!r} is not a level of {name!r}.{did_you_mean(str(w), valid)} "
                                f"Levels: {', '.join(valid)}.")
            labels.add(lab)
        if name != "modality":  # the text baseline has no visual levels and always stays
            keep = [c for c in keep if c.modality == "text" or c.labels().get(name) in labels]
        else:
            keep = [c for c in keep if c.modality in labels]
    if not keep:
        raise DesignError(f"no cell matches {dict(levels)}; check the levels against `restplus describe`.")
    return keep
