"""Factors and the factor-kind registry.

A *factor kind* knows how to validate a level and resolve it into render parameters (pure data;
the renderer applies them). A *factor* is one kind with concrete levels and a reference level.
New kinds register with :func:`register_factor_kind`; unknown names get a did-you-mean.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PIL import ImageColor

from ..errors import SpecError, unknown_name
from ..registry import Registry
from ..schema import level_label
from .layouts import get_layout

MODALITIES = ("text", "image", "mixed")
MAX_LEVELS = 10_000  # levels are validated one by one and labelled in every table; more is a data mistake
Scalar = str | int | float


@dataclass(frozen=True, slots=True)
class FactorKind:
    """How one kind of factor validates and resolves its levels.

    validate(value) -> normalised value (raise SpecError naming the value and a fix)
    resolve(value)  -> dict of render parameters (JSON-able), e.g. {"fg": [255, 0, 0]}
    ordered         whether levels have a natural order (enables trends and threshold search)
    visual          False only for modality: visual factors do not apply to the text modality
    """

    name: str
    validate: Callable[[Any], Scalar]
    resolve: Callable[[Any], dict[str, Any]]
    ordered: bool = False
    visual: bool = True
    description: str = ""


KINDS: Registry[FactorKind] = Registry("factor kind", SpecError)


def register_factor_kind(kind: FactorKind, *, replace: bool = False) -> FactorKind:
    """Register a factor kind under ``kind.name`` (``replace=True`` rebinds a taken name)."""
    return KINDS.register(kind.name, kind, replace=replace)


def get_kind(name: str) -> FactorKind:
    return KINDS[name]


def kind_names() -> list[str]:
    return sorted(KINDS)


# ---------------------------------------------------------------- validators (pure, no I/O)

def _number(kind: str, lo: float, hi: float, integer: bool = False) -> Callable[[Any], Scalar]:
    def check(v: Any) -> Scalar:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise SpecError(f"Expected a number for a {kind} level but got {v!r} (type={type(v).__name__}). "
                            f"Write a bare number, e.g. {int(lo) if lo > 0 else 1}.")
        if isinstance(v, float) and not math.isfinite(v):
            raise SpecError(f"{kind} level {v!r} is not finite.")
        if integer and float(v) != int(v):
            raise SpecError(f"{kind} level {v!r} must be a whole number.")
        if not (lo <= v <= hi):
            raise SpecError(f"{kind} level {v!r} is outside the valid range [{lo:g}, {hi:g}].")
        return int(v) if integer else v
    return check


def _colour(kind: str) -> Callable[[Any], Scalar]:
    def check(v: Any) -> Scalar:
        if not isinstance(v, str) or not v.strip():
            raise SpecError(f"{kind} level {v!r} is not a colour; write a CSS name ('red') or hex ('#cc0000').")
        try:
            ImageColor.getrgb(v)
        except ValueError:
            from ..errors import did_you_mean

            hint = did_you_mean(v, ImageColor.colormap)
            raise SpecError(f"{kind} level {v!r} is not a known colour.{hint} Use a CSS colour name or "
                            "a hex code like '#1f77b4'.") from None
        return v
    return check


def rgb(value: str) -> list[int]:
    r, g, b = ImageColor.getrgb(value)[:3]
    return [r, g, b]


def _nonempty_str(kind: str) -> Callable[[Any], Scalar]:
    def check(v: Any) -> Scalar:
        if not isinstance(v, str) or not v.strip():
            raise SpecError(f"{kind} level {v!r} must be a non-empty string.")
        return v
    return check


def _choice(kind: str, allowed: Sequence[str]) -> Callable[[Any], Scalar]:
    def check(v: Any) -> Scalar:
        if v not in allowed:
            raise unknown_name(f"{kind} level", v, allowed)
        return v
    return check


def _layout(v: Any) -> Scalar:
    if not isinstance(v, str):
        raise SpecError(f"layout level {v!r} must be the name of a layout preset (a string).")
    get_layout(v, _SPEC_LAYOUTS)
    return v


# Layout presets declared inside the spec being loaded; set by the spec loader for validation.
_SPEC_LAYOUTS: dict[str, Any] = {}


def _jpeg(v: Any) -> Scalar:
    if v == "none":
        return v
    return _number("jpeg", 1, 100, integer=True)(v)


for _k in (
    FactorKind("text_color", _colour("text_color"), lambda v: {"fg": rgb(v)},
               description="text colour (CSS name or hex); covariate: WCAG contrast ratio"),
    FactorKind("background", _colour("background"), lambda v: {"bg": rgb(v)},
               description="page background colour"),
    FactorKind("dpi", _number("dpi", 10, 1200, integer=True), lambda v: {"dpi": int(v)}, ordered=True,
               description="resolution in dots per inch; page inches and font points stay fixed"),
    FactorKind("font", _nonempty_str("font"), lambda v: {"font": v},
               description="font family, resolved through the vendored font manifest"),
    FactorKind("font_size", _number("font_size", 4, 96), lambda v: {"font_size_pt": float(v)}, ordered=True,
               description="font size in points"),
    FactorKind("layout", _layout, lambda v: {"layout": v},
               description="named layout preset (page width, margins, alignment, spacing, columns, options)"),
    FactorKind("modality", _choice("modality", MODALITIES), lambda v: {"modality": v}, visual=False,
               description="text / image / mixed presentation"),
    FactorKind("blur", _number("blur", 0, 20), lambda v: {"blur_sigma": float(v)}, ordered=True,
               description="Gaussian blur sigma in pixels at the rendered DPI (0 = off)"),
    FactorKind("jpeg", _jpeg, lambda v: {"jpeg_quality": None if v == "none" else int(v)}, ordered=True,
               description="JPEG round-trip quality 1-100, or 'none'"),
    FactorKind("noise", _number("noise", 0, 128), lambda v: {"noise_sigma": float(v)}, ordered=True,
               description="additive Gaussian pixel noise, sigma in 0-255 units (0 = off)"),
    FactorKind("rotation", _number("rotation", -45, 45), lambda v: {"rotation_deg": float(v)}, ordered=True,
               description="rotation in degrees, white fill, canvas expanded (never clipped)"),
):
    register_factor_kind(_k)


@dataclass(frozen=True, slots=True)
class Factor:
    """One factor: a kind, its levels (unique, non-empty) and a reference level."""

    name: str
    kind: str
    levels: tuple[Scalar, ...]
    reference: Scalar
    ordered: bool
    description: str = ""

    def __post_init__(self) -> None:
        k = get_kind(self.kind)
        _check_level_count(self.name, self.levels)
        if not self.levels:
            raise SpecError(f"factor {self.name!r} has no levels. An empty factor would make the whole grid "
                            "empty; remove the factor or give at least one level.")
        norm = tuple(k.validate(v) for v in self.levels)
        seen: dict[str | None, Scalar] = {}
        for v in norm:
            key = level_label(v)  # 12 and 12.0 are one level: they would share a label in every table
            if key in seen:
                same = "" if type(seen[key]) is type(v) else f" ({seen[key]!r} and {v!r} are one level)"
                raise SpecError(f"factor {self.name!r} has duplicate level {v!r}{same}; list each level once.")
            seen[key] = v
        object.__setattr__(self, "levels", norm)
        if self.reference not in norm or isinstance(self.reference, bool):
            raise SpecError(f"factor {self.name!r}: reference={self.reference!r} is not one of its levels "
                            f"{list(norm)}. Pick one of the levels as the reference.")

    @property
    def visual(self) -> bool:
        return get_kind(self.kind).visual

    def params(self, value: Scalar) -> dict[str, Any]:
        return get_kind(self.kind).resolve(value)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"levels": list(self.levels), "reference": self.reference}
        if self.kind != self.name:
            d["kind"] = self.kind
        if self.ordered != get_kind(self.kind).ordered:
            d["ordered"] = self.ordered
        if self.description:
            d["description"] = self.description
        return d

    def __repr__(self) -> str:
        extra = f", name={self.name!r}" if self.name != self.kind else ""
        extra += f", ordered={self.ordered!r}" if self.ordered != get_kind(self.kind).ordered else ""
        extra += f", description={self.description!r}" if self.description else ""
        if self.kind in BUILTIN_CONSTRUCTORS:
            return f"rp.{self.kind}({list(self.levels)!r}, reference={self.reference!r}{extra})"
        return f"rp.factor({self.kind!r}, {list(self.levels)!r}, reference={self.reference!r}{extra})"


def _check_level_count(name: str, levels: Sequence[Any]) -> None:
    if len(levels) > MAX_LEVELS:
        raise SpecError(f"factor {name!r} has {len(levels):,} levels, above the limit of {MAX_LEVELS:,} "
                        "(restplus.grammar.factors.MAX_LEVELS). A factor varies one setting over a few values; "
                        "pick a handful of levels (e.g. a range's endpoints and midpoints), or sample them.")


def factor(kind: str, levels: Sequence[Scalar], *, reference: Scalar | None = None, name: str | None = None,
           ordered: bool | None = None, description: str = "") -> Factor:
    """Build a factor of a registered kind. ``reference`` defaults to the first level."""
    k = get_kind(kind)
    if isinstance(levels, (str, bytes)) or not isinstance(levels, Sequence):
        raise SpecError(f"factor {name or kind!r}: levels must be a list, got {levels!r}.")
    _check_level_count(name or kind, levels)  # before any level is copied or validated
    levels = tuple(levels)
    ref = levels[0] if reference is None and levels else reference
    return Factor(name=name or kind, kind=kind, levels=levels, reference=ref,
                  ordered=k.ordered if ordered is None else bool(ordered), description=description)


def _ctor(kind: str) -> Callable[..., Factor]:
    def make(levels: Sequence[Scalar], *, reference: Scalar | None = None, name: str | None = None,
             ordered: bool | None = None, description: str = "") -> Factor:
        return factor(kind, levels, reference=reference, name=name, ordered=ordered, description=description)
    make.__name__ = kind
    make.__doc__ = f"A {kind!r} factor: {get_kind(kind).description}."
    return make


text_color = _ctor("text_color")
background = _ctor("background")
dpi = _ctor("dpi")
font = _ctor("font")
font_size = _ctor("font_size")
layout = _ctor("layout")
modality = _ctor("modality")
blur = _ctor("blur")
jpeg = _ctor("jpeg")
noise = _ctor("noise")
rotation = _ctor("rotation")

BUILTIN_CONSTRUCTORS = ("text_color", "background", "dpi", "font", "font_size", "layout", "modality", "blur",
                        "jpeg", "noise", "rotation")
