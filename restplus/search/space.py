"""Factor spaces for search mode: per factor a level list or a continuous / integer range.

A grid crosses a few fixed levels; a *space* says where each factor may go, so that a search can
ask where a model breaks. Every axis has a **reference** (the least-perturbed value): strategies
shrink toward it and bisection starts from it.

Axis modes (spec keys; exactly one per factor):

============  =================================================================================
``levels``    a list of levels of any registered factor kind (font, layout, text_color ...)
``range``     ``[low, high]`` of a numeric kind (dpi, font_size, blur, jpeg, noise, rotation) or of
              a layout number (``line_spacing``, ``margin_in``, ``page_width_in``,
              ``column_gap_in``); ``integer`` defaults to what the kind's validator demands
              (DPI and JPEG quality are whole numbers)
``contrast``  ``[low, high]`` WCAG contrast ratio of the text on the background (kind
              text_color). A value resolves to the 8-bit colour on the path anchor → ``hue`` →
              background whose contrast is nearest (anchor: black on light pages, white on dark);
              without ``hue`` that is a grey. The rendered contrast is recorded as a covariate.
``rgb``       ``[[r0, r1], [g0, g1], [b0, b1]]`` channel ranges (kind text_color or background)
============  =================================================================================

Spec files use the grammar's loader (``restplus_spec: 1``, ``include:``, unknown keys with
did-you-mean, ``yaml.safe_load`` only)::

    restplus_spec: 1
    include: _defaults.yaml
    factors:
      dpi: {range: [30, 300], reference: 200}
      text_color: {contrast: [1.2, 21], reference: 21}
      line_spacing: {range: [1.0, 2.5], reference: 1.3}
      font: {levels: [DejaVu Sans, Kalam], reference: DejaVu Sans}

A *point* is a dict axis name → value (a contrast axis holds the ratio, an rgb axis a hex code).
:meth:`Space.grid` turns a point into a one-cell :class:`~restplus.grammar.grid.Grid` (every factor has the
single drawn level), so :func:`restplus.render.realize` and the runner work unchanged and every
level passes the factor kinds' validators.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import RestplusError, SpecError, check_keys, did_you_mean
from ..grammar.factors import MODALITIES, Scalar, factor, get_kind, rgb
from ..grammar.grid import Grid, ModalityPlan, RenderDefaults
from ..grammar.layouts import Layout, get_layout
from .axes import (
    DIGITS,
    LAYOUT_PARAMS,
    MODES,
    Axis,
    _bounds,
    colour_for_contrast,
    contrast_axis,
    hex_colour,
    levels_axis,
    range_axis,
    rgb_axis,
)

__all__ = ["Space", "Axis", "levels_axis", "range_axis", "contrast_axis", "rgb_axis", "colour_for_contrast",
           "space_from_dict", "load_space", "save_space", "hex_colour", "DIGITS", "LAYOUT_PARAMS", "MODES"]

AXIS_KEYS = ("kind", *MODES, "reference", "integer", "hue", "tolerance", "ordered", "description")
SEARCH_MODALITIES = ("image", "mixed")
_UNUSED_TOP = ("design", "exclude")

# ---------------------------------------------------------------- the space

@dataclass(frozen=True, slots=True)
class Space:
    """Axes plus render defaults, layouts and the modality searched (image or mixed)."""

    axes: tuple[Axis, ...]
    name: str = "space"
    description: str = ""
    render: RenderDefaults = field(default_factory=RenderDefaults)
    layouts: tuple[tuple[str, Layout], ...] = ()
    modalities: ModalityPlan = field(default_factory=ModalityPlan)
    modality: str = "image"

    def __post_init__(self) -> None:
        if not self.axes:
            raise SpecError(f"space {self.name!r} has no axes; give at least one factor to search over.")
        names = [a.name for a in self.axes]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise SpecError(f"space {self.name!r}: axis name(s) {dup} appear more than once.")
        kinds = [a.kind for a in self.axes if a.param is None]
        dupk = sorted({k for k in kinds if kinds.count(k) > 1})
        if dupk:
            raise SpecError(f"space {self.name!r}: kind(s) {dupk} are searched by more than one axis; they would "
                            "set the same render parameter. Keep one axis per kind.")
        if self.modality not in SEARCH_MODALITIES:
            raise SpecError(f"space {self.name!r}: modality={self.modality!r} must be one of "
                            f"{list(SEARCH_MODALITIES)}.{did_you_mean(str(self.modality), SEARCH_MODALITIES)} "
                            "(the text answer is evaluated automatically where a property needs it).")
        object.__setattr__(self, "layouts", tuple(sorted(dict(self.layouts).items())))
        # Every axis at both ends (others at reference) must build a valid grid: since validators are
        # range checks, this proves every point of the space validates before any search starts.
        checks = [{}] + [{a.name: v} for a in self.axes for v in self.extremes(a)]
        # The one interaction validators cannot see: a contrast must be reachable on every background.
        bg = next((a for a in self.axes if a.kind == "background"), None)
        checks += [{a.name: a.high, bg.name: b} for a in self.axes if a.mode == "contrast" and bg is not None
                   for b in self._corners(bg)]
        for change in checks:
            try:
                self.grid({**self.reference, **change})
            except RestplusError as exc:
                at = ", ".join(f"{k}={v}" for k, v in change.items()) or "the reference"
                raise type(exc)(f"space {self.name!r} at {at} (others at reference): {exc}") from None

    @property
    def reference(self) -> dict[str, Scalar]:
        return {a.name: a.reference for a in self.axes}

    @property
    def names(self) -> list[str]:
        return [a.name for a in self.axes]

    def axis(self, name: str) -> Axis:
        for a in self.axes:
            if a.name == name:
                return a
        raise SpecError(f"space {self.name!r} has no axis {name!r}.{did_you_mean(name, self.names)} "
                        f"Axes: {', '.join(self.names)}.")

    def factor_of(self, name: str) -> str:
        """The grid factor an axis sets (layout numbers all set the one ``layout`` factor)."""
        a = self.axis(name)
        if a.param is None:
            return a.name
        return next((b.name for b in self.axes if b.kind == "layout" and b.param is None), "layout")

    @staticmethod
    def extremes(a: Axis) -> list[Scalar]:
        if a.mode == "levels":
            return list(a.levels)
        if a.mode == "rgb":
            return [hex_colour([c[i] for c in a.channels]) for i in (0, 1)]
        return [a.low, a.high]  # type: ignore[list-item]

    @staticmethod
    def _corners(a: Axis) -> list[Scalar]:
        if a.mode != "rgb":
            return Space.extremes(a)
        import itertools

        return [hex_colour(c) for c in itertools.product(*a.channels)]

    def complete(self, point: Mapping[str, Any] | None = None) -> dict[str, Scalar]:
        """``point`` with missing axes at reference, every value checked and normalised."""
        point = dict(point or {})
        for k in point:
            if k not in self.names:
                raise SpecError(f"point names unknown axis {k!r}.{did_you_mean(str(k), self.names)} "
                                f"Axes: {', '.join(self.names)}.")
        return {a.name: a.check(point.get(a.name, a.reference)) for a in self.axes}

    def changed(self, point: Mapping[str, Any]) -> list[str]:
        """Axes of ``point`` that are off their reference."""
        p = self.complete(point)
        return [a.name for a in self.axes if p[a.name] != a.reference]

    def levels(self, point: Mapping[str, Any] | None = None) -> dict[str, Scalar]:
        """Grid levels of a point: factor name -> level (contrast resolved to a colour, layout numbers
        folded into one derived layout preset)."""
        return {f.name: f.levels[0] for f in self.grid(point).visual_factors}

    def grid(self, point: Mapping[str, Any] | None = None, *, modality: str | None = None) -> Grid:
        """The one-cell grid of ``point`` (missing axes at reference); ``modality="text"`` gives the
        text cell of the same factors (the text answer a consistency check compares against)."""
        p = self.complete(point)
        bg_axis = next((a for a in self.axes if a.kind == "background"), None)
        bg = rgb(str(p[bg_axis.name])) if bg_axis else rgb(self.render.background)
        layouts = dict(self.layouts)
        base, lay_name, params, lay_pos = self.render.layout, "layout", {}, None
        factors: list[Any] = []
        for a in self.axes:
            if a.kind == "layout":
                lay_pos = len(factors) if lay_pos is None else lay_pos
                if a.param is not None:
                    params[a.param] = p[a.name]
                else:
                    base, lay_name = str(p[a.name]), a.name
                continue
            factors.append(factor(a.kind, [a.level(p[a.name], bg)], name=a.name))
        if lay_pos is not None:
            level, preset = base, get_layout(base, layouts)
            # Only numbers that differ from the preset derive a new one (the reference stays "plain");
            # its name records them, so cell ids stay content ids.
            params = {k: v for k, v in params.items() if getattr(preset, k) != v}
            if params:
                level = base + "+" + ",".join(f"{k}={v:g}" for k, v in sorted(params.items()))
                try:
                    layouts[level] = replace(preset, **params)
                except RestplusError as exc:
                    raise SpecError(f"space {self.name!r}: layout {base!r} with {params}: {exc}") from None
            factors.insert(lay_pos, _layout_factor(level, lay_name, layouts))
        mod = modality or self.modality
        if mod not in MODALITIES:
            raise SpecError(f"modality={mod!r} is not one of {list(MODALITIES)}.{did_you_mean(str(mod), MODALITIES)}")
        factors.append(factor("modality", [mod]))
        return Grid(*factors, name=self.name, description=self.description, render=self.render,
                    modalities=self.modalities, layouts=layouts)

    def to_dict(self) -> dict[str, Any]:
        from ..grammar.grid import spec_header

        d = spec_header(self)
        d["factors"] = {a.name: a.to_dict() for a in self.axes}
        if self.modality != "image":
            d["factors"]["modality"] = {"levels": [self.modality], "reference": self.modality}
        return d


def _layout_factor(level: str, name: str, layouts: dict[str, Layout]) -> Any:
    """A layout factor whose level may be a derived preset. The layout kind validates names against
    the presets the spec loader declares (factors._SPEC_LAYOUTS), as restplus.grammar.spec does for files."""
    from ..grammar import factors as _factors

    saved = dict(_factors._SPEC_LAYOUTS)
    _factors._SPEC_LAYOUTS.update(layouts)
    try:
        return factor("layout", [level], name=name)
    finally:
        _factors._SPEC_LAYOUTS.clear()
        _factors._SPEC_LAYOUTS.update(saved)


# ---------------------------------------------------------------- spec files

def space_from_dict(d: Mapping[str, Any], where: str = "space") -> Space:
    """Build a validated Space from a spec mapping (after includes); errors name file and factor."""
    from ..grammar.grid import TOP_KEYS

    for k in d:
        if k in _UNUSED_TOP:
            raise SpecError(f"{where}: {k!r} has no meaning in a search space (a search draws points, it does "
                            "not cross levels); remove it.")
    check_keys(where, d, TOP_KEYS)
    fdict = d.get("factors")
    if not isinstance(fdict, Mapping) or not fdict:
        raise SpecError(f"{where}: 'factors' must be a non-empty mapping of factor name to "
                        "{range: [low, high], reference: ...} or {levels: [...], reference: ...}.")
    try:
        layouts = {}
        for lname, ld in (d.get("layouts") or {}).items():
            if not isinstance(ld, Mapping):
                raise SpecError(f"{where}: layouts.{lname} must be a mapping of layout settings.")
            layouts[str(lname)] = Layout.from_dict(dict(ld), where=f"{where}: layouts.{lname}")
        axes, modality = [], "image"
        for name, fd in fdict.items():
            if name == "modality" or (isinstance(fd, Mapping) and fd.get("kind") == "modality"):
                modality = _modality(fd, where)
                continue
            axes.append(_axis_from_dict(str(name), fd, layouts, where))
        return Space(tuple(axes), name=str(d.get("name", "space")), description=str(d.get("description", "")),
                     render=RenderDefaults.from_dict(d.get("render") or {}), layouts=tuple(layouts.items()),
                     modalities=ModalityPlan.from_dict(d.get("modalities") or {}), modality=modality)
    except RestplusError as exc:
        if str(exc).startswith(where):
            raise
        raise type(exc)(f"{where}: {exc}") from None
    except (TypeError, ValueError) as exc:  # a wrong type deep inside: still one clear SpecError
        raise SpecError(f"{where}: invalid value ({exc}).") from None


def _modality(fd: Any, where: str) -> str:
    levels = fd.get("levels") if isinstance(fd, Mapping) else None
    if not isinstance(levels, list) or len(levels) != 1 or levels[0] not in SEARCH_MODALITIES:
        raise SpecError(f"{where}: factor 'modality' in a search space is fixed: write "
                        f"{{levels: [image], reference: image}} (or mixed), got {fd!r}.")
    return str(levels[0])


def _axis_from_dict(name: str, fd: Any, layouts: dict[str, Layout], where: str) -> Axis:
    from ..grammar import factors as _factors

    here = f"{where}: factors.{name}"
    if not isinstance(fd, Mapping):
        raise SpecError(f"{here} must be a mapping such as {{range: [low, high], reference: ...}}, got {fd!r}.")
    check_keys(here, fd, AXIS_KEYS)
    modes = [m for m in MODES if m in fd]
    if len(modes) != 1:
        raise SpecError(f"{here} needs exactly one of {', '.join(MODES)}, got {modes or 'none'}.")
    if "reference" not in fd:
        raise SpecError(f"{here} has no 'reference'; name the least-perturbed value (shrinking and bisection "
                        "start there).")
    mode, kind = modes[0], str(fd.get("kind", name))
    allowed = {"integer": ("range",), "hue": ("contrast",), "ordered": ("levels",), "tolerance": ("range", "contrast")}
    misplaced = [k for k, modes_ok in allowed.items() if k in fd and mode not in modes_ok]
    if misplaced:
        raise SpecError(f"{here}: key {misplaced[0]!r} does not apply to a {mode} axis.")
    if kind not in LAYOUT_PARAMS:
        get_kind(kind)  # unknown kind: did-you-mean over registered kinds
    ref, desc = fd["reference"], str(fd.get("description", ""))
    try:
        _factors._SPEC_LAYOUTS.clear()
        _factors._SPEC_LAYOUTS.update(layouts)  # layout levels may name presets declared in the file
        if mode == "levels":
            if not isinstance(fd["levels"], list):
                raise SpecError(f"levels must be a list, got {fd['levels']!r}.")
            return levels_axis(kind, fd["levels"], reference=ref, name=name, ordered=fd.get("ordered"),
                               description=desc)
        if mode == "range":
            lo, hi = _bounds("range", fd["range"], "")
            return range_axis(kind, lo, hi, reference=ref, integer=fd.get("integer"), name=name,
                              tolerance=fd.get("tolerance"), description=desc)
        if mode == "contrast":
            if kind != "text_color":
                raise SpecError(f"a contrast axis sets the text colour; its kind must be text_color, not {kind!r}.")
            lo, hi = _bounds("contrast", fd["contrast"], "")
            return contrast_axis(lo, hi, reference=ref, hue=fd.get("hue"), name=name,
                                 tolerance=fd.get("tolerance"), description=desc)
        return rgb_axis(fd["rgb"], reference=ref, kind=kind, name=name, description=desc)
    except RestplusError as exc:
        msg = str(exc).removeprefix(": ")
        raise type(exc)(f"{here}: {msg}") from None
    finally:
        _factors._SPEC_LAYOUTS.clear()


def load_space(path: str | Path) -> Space:
    """Load and validate a search-space spec file (same loader, version key and includes as grids)."""
    from ..grammar.spec import load_spec_dict

    return space_from_dict(load_spec_dict(path), where=Path(path).name)


def save_space(space: Space, path: str | Path) -> None:
    """Write a space as a self-contained spec file (YAML, or JSON by suffix); round-trips."""
    from ..grammar.spec import save_spec_dict

    save_spec_dict(space.to_dict(), path)
