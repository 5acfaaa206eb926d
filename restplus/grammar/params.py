"""RenderParams: the one resolved set of render parameters a renderer draws with.

A grid's ``render:`` defaults, overridden by a cell's levels, give one :class:`RenderParams`
(``grid.render_params(cell)``); ``render_text`` starts from :data:`BASE`. There is exactly one copy
of the defaults (the field defaults below), so the spec section, the grid and ad-hoc renders cannot
drift apart.

:meth:`RenderParams.to_dict` is the dict the renderer has always recorded in provenance (colours as
lists of ints, fallback fonts as a list, keys of custom factor kinds and degradations merged in), so
PNG bytes, variant ids and spec hashes do not depend on this class existing.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from ..errors import SpecError, did_you_mean
from .factors import MODALITIES, get_kind, rgb

__all__ = ["RenderParams", "BASE"]

RGB = tuple[int, int, int]


def _fail(name: str, value: Any, need: str, fix: str) -> SpecError:
    return SpecError(f"render param {name}={value!r} {need}; {fix}")


def _colour(name: str, value: Any) -> RGB:
    """A colour as an (r, g, b) tuple of ints: CSS names and hex strings go through ``rgb``."""
    if isinstance(value, str):
        try:
            return tuple(rgb(value))  # type: ignore[return-value]
        except ValueError:
            from PIL import ImageColor  # the names the spec's colour kinds accept, for the same did-you-mean

            raise _fail(name, value, "is not a known colour",
                        "use a CSS name ('red'), a hex code ('#cc0000') or three ints 0-255."
                        + did_you_mean(value, ImageColor.colormap)) from None
    try:
        parts = tuple(value)
    except TypeError:
        parts = ()
    # bool is an int subclass but never a channel value; numpy ints pass via __index__.
    ok = len(parts) == 3 and all(not isinstance(c, bool) and hasattr(c, "__index__") and 0 <= int(c) <= 255
                                 for c in parts)
    if not ok:
        raise _fail(name, value, "must be three ints 0-255",
                    "write e.g. [255, 0, 0], a CSS name ('red') or a hex code ('#ff0000').")
    return tuple(int(c) for c in parts)  # type: ignore[return-value]


def _real(name: str, value: Any, *, positive: bool = False, whole: bool = False,
          minimum: float | None = None) -> None:
    """Check a number without changing its type (an int 14 from a spec stays 14 in ``to_dict``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _fail(name, value, "must be a finite number", "write a bare number, e.g. 12.")
    if whole and float(value) != int(value):
        raise _fail(name, value, "must be a whole number", f"write e.g. {round(value)}.")
    if positive and value <= 0:
        raise _fail(name, value, "must be positive", "use a value above 0.")
    if minimum is not None and value < minimum:
        raise _fail(name, value, f"must be at least {minimum:g}", f"use {minimum:g} to switch it off.")


@dataclass(frozen=True, slots=True)
class RenderParams:
    """Resolved render parameters for one image: spec defaults overridden by a cell's levels.

    Frozen (and hashable when extras are) so one instance can be shared by every image of a cell.
    ``extra`` holds keys that registered custom factor kinds resolve to and custom degradations
    read (``Degradation.param``), as sorted ``(key, value)`` pairs; :meth:`get` and :meth:`to_dict`
    see them exactly like the built-in fields.
    """

    font: str = "DejaVu Sans"
    font_size_pt: float = 12.0
    dpi: int = 200
    fg: RGB = (0, 0, 0)
    bg: RGB = (255, 255, 255)
    layout: str = "plain"
    backend: str = "pillow"  # checked against the available backends by the renderer
    fallback_fonts: tuple[str, ...] = ()
    blur_sigma: float = 0.0
    jpeg_quality: int | None = None
    noise_sigma: float = 0.0
    rotation_deg: float = 0.0
    modality: str = "image"
    extra: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        # Normalise representations only (colour strings -> ints, lists -> tuples); never number types.
        set_(self, "fg", _colour("fg", self.fg))
        set_(self, "bg", _colour("bg", self.bg))
        for key in ("font", "layout", "backend"):
            v = getattr(self, key)
            if not isinstance(v, str) or not v.strip():
                example = RenderParams.__dataclass_fields__[key].default
                raise _fail(key, v, "must be a non-empty string", f"name a {key}, e.g. {example!r}.")
        fb = self.fallback_fonts
        if not isinstance(fb, (list, tuple)) or not all(isinstance(n, str) and n.strip() for n in fb):
            raise _fail("fallback_fonts", fb, "must be a list of font family names",
                        "write e.g. ['DejaVu Sans'].")
        set_(self, "fallback_fonts", tuple(fb))
        _real("font_size_pt", self.font_size_pt, positive=True)
        _real("dpi", self.dpi, positive=True, whole=True)
        for key in ("blur_sigma", "noise_sigma"):
            _real(key, getattr(self, key), minimum=0.0)
        _real("rotation_deg", self.rotation_deg)
        # The same ranges as the factor kinds: a value no spec may write cannot reach the renderer
        # either (a 10^6 DPI page would allocate terabytes).
        for key, kind in (("dpi", "dpi"), ("font_size_pt", "font_size"), ("blur_sigma", "blur"),
                          ("noise_sigma", "noise"), ("rotation_deg", "rotation")):
            try:
                get_kind(kind).validate(getattr(self, key))
            except SpecError as exc:
                raise SpecError(f"render params {key}: {exc}") from None
        q = self.jpeg_quality
        if q is not None:
            _real("jpeg_quality", q, whole=True)
            if not 1 <= q <= 100:
                raise _fail("jpeg_quality", q, "must be between 1 and 100", "or None for no JPEG step.")
        if self.modality not in MODALITIES:
            raise _fail("modality", self.modality, f"must be one of {list(MODALITIES)}",
                        "pick one of them." + did_you_mean(str(self.modality), MODALITIES))
        extra = dict(self.extra)
        clash = sorted(k for k in extra if not isinstance(k, str) or k in FIELD_NAMES)
        if clash:
            raise _fail("extra", self.extra, f"repeats built-in or non-string key(s) {clash}",
                        "set built-in fields directly (RenderParams.replace(dpi=...)).")
        # Sorted so that equal parameters compare equal whatever order the levels set them in.
        set_(self, "extra", tuple(sorted(extra.items())))

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any]) -> RenderParams:
        """Build from a render-params mapping (missing keys take :data:`BASE`; unknown keys go to
        ``extra``). Inverse of :meth:`to_dict`."""
        return BASE._replace(dict(mapping))

    @classmethod
    def coerce(cls, params: RenderParams | Mapping[str, Any] | None) -> RenderParams:
        """``params`` as RenderParams: returned as is, or built from a mapping (None gives BASE)."""
        if isinstance(params, RenderParams):
            return params
        if params is None:
            return BASE
        if not isinstance(params, Mapping):
            raise SpecError(f"render params must be a RenderParams or a mapping, got {type(params).__name__} "
                            f"{params!r}; pass e.g. grid.render_params(cell) or {{'dpi': 100}}.")
        return cls.from_dict(params)

    def replace(self, **changes: Any) -> RenderParams:
        """A copy with ``changes``: built-in fields via ``dataclasses.replace`` (re-validated), any
        other key (a custom factor kind's or degradation's parameter) into ``extra``."""
        return self._replace(changes) if changes else self

    def _replace(self, changes: dict[str, Any]) -> RenderParams:
        if "extra" in changes:  # extras are keys of their own, never a nested tuple
            raise SpecError("render param 'extra' cannot be set by name; pass custom keys directly, "
                            "e.g. params.replace(my_param=1).")
        known = {k: v for k, v in changes.items() if k in FIELD_NAMES}
        other = {k: v for k, v in changes.items() if k not in FIELD_NAMES}
        if other:
            known["extra"] = tuple({**dict(self.extra), **other}.items())
        return dataclasses.replace(self, **known)

    # ---------------------------------------------------------------- reading
    def get(self, name: str, default: Any = None) -> Any:
        """A built-in field or an extra by key (what degradations read as ``params.get(d.param)``)."""
        if name in FIELD_NAMES:
            return getattr(self, name)
        for k, v in self.extra:
            if k == name:
                return v
        return default

    def to_dict(self) -> dict[str, Any]:
        """The render-params dict exactly as recorded in provenance before this class existed:
        built-in keys in their historical order (colours and fallback fonts as lists), then extras."""
        d: dict[str, Any] = {name: getattr(self, name) for name in FIELD_NAMES}
        d["fg"], d["bg"] = list(self.fg), list(self.bg)
        d["fallback_fonts"] = list(self.fallback_fonts)
        d.update(self.extra)
        return d


# The built-in keys in declaration order: the historical key order of the render-params dict.
FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(RenderParams) if f.name != "extra")

BASE = RenderParams()
"""The paper's defaults (DejaVu Sans 12 pt, 200 DPI, black on white, plain layout, no degradation)."""
