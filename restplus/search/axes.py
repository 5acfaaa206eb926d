"""Search-space axes: where one factor may go (levels, numeric range, WCAG contrast, rgb ranges).

See :mod:`restplus.search.space` for the spec format. Contrast targets resolve to 8-bit colours by
:func:`colour_for_contrast`; every constructor validates bounds and reference through the factor
kind's validator, so the grammar's errors (and fixes) apply unchanged.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..errors import RestplusError, SpecError, did_you_mean
from ..grammar.factors import Scalar, factor, get_kind, rgb
from ..render.functional import contrast_ratio

MODES = ("levels", "range", "contrast", "rgb")
LAYOUT_PARAMS = ("line_spacing", "margin_in", "page_width_in", "column_gap_in")
DIGITS = 4  # drawn floats are rounded to 4 decimals: readable levels, and near-equal draws share a render

def hex_colour(c: Sequence[int]) -> str:
    return "#" + "".join(f"{int(v):02x}" for v in c[:3])


@functools.lru_cache(maxsize=64)
def _colour_path(bg: tuple[int, int, int],
                 hue: tuple[int, int, int] | None) -> tuple[tuple[tuple[int, ...], float], ...]:
    """Distinct 8-bit colours on anchor → (hue →) background, each with its contrast on ``bg``."""
    black, white = (0, 0, 0), (255, 255, 255)
    anchor = black if contrast_ratio(black, bg) >= contrast_ratio(white, bg) else white
    stops = [anchor, *([hue] if hue else []), bg]
    steps = 2048
    seen: dict[tuple[int, ...], float] = {}
    for i in range(steps + 1):
        t = i / steps * (len(stops) - 1)
        k = min(int(t), len(stops) - 2)
        a, b, u = stops[k], stops[k + 1], t - k
        c = tuple(round(a[j] + (b[j] - a[j]) * u) for j in range(3))
        if c not in seen:
            seen[c] = contrast_ratio(c, bg)
    return tuple(seen.items())


def colour_for_contrast(target: float, background: str | Sequence[int] = "white", hue: str | None = None) -> str:
    """The hex colour whose WCAG contrast on ``background`` is nearest ``target`` (see module doc)."""
    bg = tuple(rgb(background) if isinstance(background, str) else [int(v) for v in background][:3])
    path = _colour_path(bg, tuple(rgb(hue)) if hue else None)  # type: ignore[arg-type]
    reach = max(c for _, c in path)
    if target > reach + 0.005:
        raise SpecError(f"contrast {target:g} cannot be reached on background {hex_colour(bg)}: the most any text "
                        f"colour gets there is {reach:.2f}. Lower the contrast range or use a lighter/darker "
                        "background.")
    return hex_colour(min(path, key=lambda pc: abs(pc[1] - target))[0])


@dataclass(frozen=True, slots=True)
class Axis:
    """Where one factor may go. Build with :func:`levels_axis`, :func:`range_axis`,
    :func:`contrast_axis`, :func:`rgb_axis` (or a spec file).

    name       factor name (the table column); kind: its factor kind ("layout" for layout numbers)
    mode       levels | range | contrast | rgb
    reference  the least-perturbed value (a level, a number in the range, a ratio, a colour)
    param      the Layout field a layout-number range sets (line_spacing ...), else None
    tolerance  bisection stops when pass and fail values are this close (default: 1 for integer
               ranges, 0.01 for contrast, range width / 200 otherwise; adjacent levels for lists)
    """

    name: str
    kind: str
    mode: str
    reference: Scalar
    levels: tuple[Scalar, ...] = ()
    low: float | None = None
    high: float | None = None
    integer: bool = False
    channels: tuple[tuple[int, int], ...] = ()
    hue: str | None = None
    param: str | None = None
    tolerance: float | None = None
    ordered_levels: bool | None = None
    description: str = ""

    @property
    def ordered(self) -> bool:
        """Whether bisection applies: numeric ranges, contrast, and ordered numeric level lists."""
        if self.mode in ("range", "contrast"):
            return True
        if self.mode == "levels":
            ordered = get_kind(self.kind).ordered if self.ordered_levels is None else self.ordered_levels
            return bool(ordered) and all(isinstance(v, (int, float)) for v in self.levels)
        return False

    @property
    def step(self) -> float:
        """Bisection resolution in axis units (levels: 1 = adjacent)."""
        if self.tolerance is not None:
            return float(self.tolerance)
        if self.mode == "levels" or self.integer:
            return 1.0
        if self.mode == "contrast":
            return 0.01
        return round((float(self.high) - float(self.low)) / 200.0, DIGITS) or 10.0 ** -DIGITS  # type: ignore[arg-type]

    def check(self, value: Any, where: str = "point") -> Scalar:
        """``value`` as a valid coordinate of this axis (normalised), or SpecError naming the fix."""
        if self.mode == "levels":
            if value not in self.levels or isinstance(value, bool):
                raise SpecError(f"{where}: {self.name}={value!r} is not one of the axis levels "
                                f"{list(self.levels)}.{did_you_mean(str(value), map(str, self.levels))}")
            return value
        if self.mode == "rgb":
            try:
                c = rgb(value)
            except (ValueError, AttributeError, TypeError):
                raise SpecError(f"{where}: {self.name}={value!r} is not a colour; write a hex code like "
                                "'#1f77b4'.") from None
            for ch, v, (lo, hi) in zip("rgb", c, self.channels):
                if not lo <= v <= hi:
                    raise SpecError(f"{where}: {self.name}={value!r} has {ch}={v} outside [{lo}, {hi}].")
            return hex_colour(c)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise SpecError(f"{where}: {self.name}={value!r} must be a finite number in "
                            f"[{self.low:g}, {self.high:g}].")
        if not self.low <= value <= self.high:  # type: ignore[operator]
            raise SpecError(f"{where}: {self.name}={value!r} is outside the axis range "
                            f"[{self.low:g}, {self.high:g}].")
        if self.integer:
            if float(value) != int(value):
                raise SpecError(f"{where}: {self.name}={value!r} must be a whole number (integer axis).")
            return int(value)
        return float(value)

    def level(self, value: Scalar, background: Sequence[int]) -> Scalar:
        """The grid level of a coordinate (a contrast ratio becomes a colour on ``background``)."""
        if self.mode == "contrast":
            return colour_for_contrast(float(value), background, self.hue)
        if self.mode == "range" and not self.integer:
            return float(value)
        return value

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        if self.kind != self.name and self.param is None:
            d["kind"] = self.kind
        if self.mode == "levels":
            d["levels"] = list(self.levels)
        elif self.mode == "rgb":
            d["rgb"] = [list(c) for c in self.channels]
        else:
            d[self.mode] = [self.low, self.high]
        d["reference"] = self.reference
        if self.mode == "range":
            d["integer"] = self.integer
        for key, val in (("hue", self.hue), ("tolerance", self.tolerance), ("ordered", self.ordered_levels)):
            if val is not None:
                d[key] = val
        if self.description:
            d["description"] = self.description
        return d


# ---------------------------------------------------------------- axis constructors

def _kind_check(kind: str, value: Any, where: str) -> Scalar:
    try:
        return get_kind(kind).validate(value)
    except RestplusError as exc:
        raise type(exc)(f"{where}: {exc}") from None


def _bounds(name: str, bounds: Any, where: str) -> tuple[float, float]:
    if (not isinstance(bounds, (list, tuple)) or len(bounds) != 2
            or any(isinstance(b, bool) or not isinstance(b, (int, float)) for b in bounds)):
        raise SpecError(f"{where}: {name} must be [low, high] (two numbers), got {bounds!r}.")
    lo, hi = bounds
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
        raise SpecError(f"{where}: {name}=[{lo}, {hi}] needs finite low < high; for a single value use "
                        f"levels: [{lo}].")
    return lo, hi


def levels_axis(kind: str, levels: Sequence[Scalar], *, reference: Scalar | None = None, name: str | None = None,
                ordered: bool | None = None, description: str = "") -> Axis:
    """An axis over explicit levels (validated by the kind); reference defaults to the first."""
    name = name or kind
    where = f"axis {name!r}"
    if isinstance(levels, (str, bytes)) or not isinstance(levels, Sequence) or not levels:
        raise SpecError(f"{where}: levels must be a non-empty list, got {levels!r}.")
    if kind == "modality":
        raise SpecError(f"{where}: modality is not searched; set the space's modality (image or mixed) instead.")
    fac = factor(kind, list(levels), reference=levels[0] if reference is None else reference, name=name)
    return Axis(name, kind, "levels", fac.reference, levels=fac.levels, ordered_levels=ordered,
                description=description)


def range_axis(kind: str, low: float, high: float, *, reference: float, integer: bool | None = None,
               name: str | None = None, tolerance: float | None = None, description: str = "") -> Axis:
    """A numeric range of a factor kind, or of a layout number (kind = a :data:`LAYOUT_PARAMS` name)."""
    name = name or kind
    where = f"axis {name!r}"
    lo, hi = _bounds("range", [low, high], where)
    param = kind if kind in LAYOUT_PARAMS else None
    if param is None:
        for v in (lo, hi):
            _kind_check(kind, v, f"{where} range bound")
        probe = lo + 0.5 if lo + 0.5 <= hi else (lo + hi) / 2
        try:  # does the kind accept fractions? (DPI and JPEG quality do not)
            get_kind(kind).validate(probe)
            needs_int = False
        except SpecError:
            needs_int = True
        if integer is False and needs_int:
            raise SpecError(f"{where}: {kind} levels must be whole numbers; set integer: true (or leave it out).")
        integer = needs_int if integer is None else bool(integer)
    else:
        integer = bool(integer)
    if integer and (lo != int(lo) or hi != int(hi)):
        raise SpecError(f"{where}: integer range bounds must be whole numbers, got [{lo}, {hi}].")
    ax = Axis(name, "layout" if param else kind, "range", reference, low=int(lo) if integer else float(lo),
              high=int(hi) if integer else float(hi), integer=integer, param=param,
              tolerance=_tolerance(tolerance, where), description=description)
    return replace(ax, reference=ax.check(reference, f"{where}: reference"))


def contrast_axis(low: float, high: float, *, reference: float, hue: str | None = None, name: str = "text_color",
                  tolerance: float | None = None, description: str = "") -> Axis:
    """Text colour by WCAG contrast ratio on the page background (1 = invisible, 21 = black on white)."""
    where = f"axis {name!r}"
    lo, hi = _bounds("contrast", [low, high], where)
    if lo < 1.0 or hi > 21.0:
        raise SpecError(f"{where}: contrast=[{lo}, {hi}] must lie within [1, 21] (the WCAG ratio's range).")
    if hue is not None:
        _kind_check("text_color", hue, f"{where}: hue")
    ax = Axis(name, "text_color", "contrast", reference, low=float(lo), high=float(hi), hue=hue,
              tolerance=_tolerance(tolerance, where), description=description)
    return replace(ax, reference=ax.check(reference, f"{where}: reference"))


def rgb_axis(channels: Sequence[Sequence[int]], *, reference: str, kind: str = "text_color", name: str | None = None,
             description: str = "") -> Axis:
    """Colours with each of r, g, b in its own integer range (kind text_color or background)."""
    name = name or kind
    where = f"axis {name!r}"
    if kind not in ("text_color", "background"):
        raise SpecError(f"{where}: rgb ranges are for text_color or background, not {kind!r}.")
    if not isinstance(channels, (list, tuple)) or len(channels) != 3:
        raise SpecError(f"{where}: rgb must be three [low, high] ranges (r, g, b), got {channels!r}.")
    chans = []
    for ch, b in zip("rgb", channels):
        ok = isinstance(b, (list, tuple)) and len(b) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) for v in b)
        if not ok or not 0 <= b[0] <= b[1] <= 255:
            raise SpecError(f"{where}: rgb {ch} range {b!r} must be [low, high], whole numbers with "
                            "0 <= low <= high <= 255 (low == high fixes the channel).")
        chans.append((int(b[0]), int(b[1])))
    ax = Axis(name, kind, "rgb", str(reference), channels=tuple(chans), description=description)
    return replace(ax, reference=ax.check(reference, f"{where}: reference"))


def _tolerance(tol: Any, where: str) -> float | None:
    if tol is None:
        return None
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not tol > 0:
        raise SpecError(f"{where}: tolerance={tol!r} must be a positive number (bisection resolution).")
    return float(tol)
