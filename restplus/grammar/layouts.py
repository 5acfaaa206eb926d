"""Layout presets: pure data describing the page, resolved by the renderer.

A layout level in a grid is the *name* of a preset, so levels stay JSON scalars and cell ids stay
stable. New presets register in Python (:func:`register_layout`) or in a spec's ``layouts:`` block.
All lengths are physical (inches, points) so a layout is identical at every DPI.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from ..errors import SpecError, check_keys, did_you_mean, expect_number, unknown_name
from ..registry import Registry

ALIGNS = ("left", "center", "justify")
OPTION_STYLES = ("lines", "inline")


@dataclass(frozen=True, slots=True)
class Layout:
    """Physical page layout.

    page_width_in  total page width in inches (pixels = inches × DPI)
    margin_in      margin on every side, inches
    align          left | center | justify
    line_spacing   line height as a multiple of the font size
    columns        1 or 2 (text flows down the first column, then the second)
    column_gap_in  gap between columns, inches
    options        where multiple-choice options go: one per line ("lines") or run together ("inline")
    max_height_in  a page taller than this is an error, never clipped; None means unbounded
    """

    page_width_in: float = 6.0
    margin_in: float = 0.25
    align: str = "left"
    line_spacing: float = 1.3
    columns: int = 1
    column_gap_in: float = 0.3
    options: str = "lines"
    max_height_in: float | None = 22.0

    def __post_init__(self) -> None:
        for name in ("page_width_in", "margin_in", "line_spacing", "column_gap_in", "max_height_in"):
            expect_number(f"layout {name}", getattr(self, name), optional=name == "max_height_in",
                          example=_DEFAULTS[name])
        expect_number("layout columns", self.columns, integer=True, example=2)
        if not (1.0 <= self.page_width_in <= 40.0):
            raise SpecError(f"layout page_width_in={self.page_width_in!r} is outside [1, 40] inches.")
        if not (0.0 <= self.margin_in < self.page_width_in / 2):
            raise SpecError(f"layout margin_in={self.margin_in!r} must be >= 0 and less than half the "
                            f"page width ({self.page_width_in} in).")
        if self.align not in ALIGNS:
            raise SpecError(f"layout align={self.align!r} is not one of {list(ALIGNS)}."
                            f"{did_you_mean(self.align, ALIGNS)}")
        if not (0.8 <= self.line_spacing <= 4.0):
            raise SpecError(f"layout line_spacing={self.line_spacing!r} is outside [0.8, 4.0].")
        if self.columns not in (1, 2):
            raise SpecError(f"layout columns={self.columns!r}: only 1 or 2 columns are supported.")
        if self.options not in OPTION_STYLES:
            raise SpecError(f"layout options={self.options!r} is not one of {list(OPTION_STYLES)}."
                            f"{did_you_mean(self.options, OPTION_STYLES)}")
        if self.max_height_in is not None and self.max_height_in <= 0:
            raise SpecError(f"layout max_height_in={self.max_height_in!r} must be positive or null.")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "layout") -> "Layout":
        check_keys(where, d, [f.name for f in fields(cls)])
        try:
            return cls(**d)
        except SpecError as exc:  # name the preset: a spec may declare several layouts
            raise SpecError(f"{where}: {exc}" if where != "layout" else str(exc)) from None
        except TypeError as exc:  # wrong value types surface as TypeError from comparisons
            raise SpecError(f"{where}: bad value ({exc}).") from None


_DEFAULTS = {f.name: f.default for f in fields(Layout)}  # valid examples for the fix in a type error

_BUILTIN_PRESETS: dict[str, Layout] = {
    "plain": Layout(),
    "centered": Layout(align="center"),
    "justified": Layout(align="justify"),
    "two_column": Layout(page_width_in=8.0, columns=2),
    "narrow": Layout(page_width_in=3.5),
    "wide": Layout(page_width_in=9.0),
    "spacious": Layout(line_spacing=2.0, margin_in=0.5),
    "inline_options": Layout(options="inline"),
}


PRESETS: Registry[Layout] = Registry("layout", SpecError)
for _name, _layout in _BUILTIN_PRESETS.items():
    PRESETS.register(_name, _layout)


def register_layout(name: str, layout: Layout, *, replace: bool = False) -> Layout:
    """Register a named layout preset usable as a ``layout`` factor level."""
    return PRESETS.register(name, layout, replace=replace)


def get_layout(name: str, extra: dict[str, Layout] | None = None) -> Layout:
    """The preset ``name``: from ``extra`` (the spec's own ``layouts:``) or the registered ones."""
    if extra and name in extra:
        return extra[name]
    if name not in PRESETS:
        raise unknown_name("layout", name, PRESETS.with_extra(extra))
    return PRESETS[name]


def layout_names(extra: dict[str, Layout] | None = None) -> list[str]:
    return sorted(PRESETS.with_extra(extra))
