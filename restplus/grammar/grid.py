"""Grids and cells: the validated, immutable experimental design.

``rp.Grid(rp.font([...]), rp.dpi([50, 100, 200], reference=200), rp.modality([...]), design=...)``
crosses factors into cells. Cells have content-hash ids that depend only on their assignment and
the spec format version, so reordering factors or adding problems never changes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from ..errors import DesignError, GridTooLargeError, RestplusError, SpecError, check_keys, did_you_mean, unknown_name
from ..hashing import derive_seed, digest
from ..schema import ROLES, level_label
from . import factors as _factors
from .designs import Full, design_from_spec
from .factors import MODALITIES, Factor, Scalar, factor, get_kind, rgb
from .layouts import Layout, get_layout
from .params import BASE, RenderParams
from .visibility import check_visible

SPEC_VERSION = 1
MAX_CELLS = 1_000_000  # cells are materialised (ids, balance); a study with more is a design mistake


@dataclass(frozen=True, slots=True)
class RenderDefaults:
    """Render settings used for every factor the grid does not vary (the spec's ``render:`` section).

    Defaults come from :data:`restplus.grammar.params.BASE`, the one copy of them. Colours stay
    colour *names* here because the spec (and so the spec hash) records what the user wrote.
    """

    font: str = BASE.font
    font_size_pt: float = BASE.font_size_pt
    dpi: int = BASE.dpi
    text_color: str = "black"  # tuple(rgb("black")) == BASE.fg
    background: str = "white"  # tuple(rgb("white")) == BASE.bg
    layout: str = BASE.layout
    backend: str = BASE.backend
    fallback_fonts: tuple[str, ...] = BASE.fallback_fonts  # declared glyph fallbacks, recorded when used

    def __post_init__(self) -> None:
        for key, kind in (("font", "font"), ("font_size_pt", "font_size"), ("dpi", "dpi"),
                          ("text_color", "text_color"), ("background", "background")):
            try:
                get_kind(kind).validate(getattr(self, key))
            except SpecError as exc:  # the kind's message says "level"; name the render key as written
                raise type(exc)(f"render.{key}={getattr(self, key)!r}: {exc}") from None
        if self.backend not in ("pillow", "cairosvg"):
            raise SpecError(f"render.backend={self.backend!r} must be 'pillow' or 'cairosvg'."
                            f"{did_you_mean(self.backend, ('pillow', 'cairosvg'))}")
        if isinstance(self.fallback_fonts, str) or not all(isinstance(f, str) for f in self.fallback_fonts):
            raise SpecError(f"render.fallback_fonts={self.fallback_fonts!r} must be a list of font family names, "
                            "e.g. fallback_fonts: [DejaVu Sans].")
        object.__setattr__(self, "fallback_fonts", tuple(self.fallback_fonts))

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["fallback_fonts"] = list(self.fallback_fonts)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RenderDefaults":
        check_keys("render", d, [f.name for f in fields(cls)])
        return cls(**d)

    def params(self, modality: str = BASE.modality) -> RenderParams:
        """These defaults as resolved render params for a cell of ``modality`` (no degradation)."""
        return RenderParams(font=self.font, font_size_pt=self.font_size_pt, dpi=self.dpi, fg=rgb(self.text_color),
                            bg=rgb(self.background), layout=self.layout, backend=self.backend,
                            fallback_fonts=self.fallback_fonts, modality=modality)


DEFAULT_IMAGE_ROLES = {"image": ("context", "question", "choices"), "mixed": ("context",)}
DEFAULT_FALLBACK_ROLES = {"image": (), "mixed": ("question",)}


@dataclass(frozen=True, slots=True)
class ModalityPlan:
    """Which problem roles go to pixels in each modality; declared, not hard-coded.

    ``mixed`` renders the context as an image and keeps the question and options as text; a problem
    with no context renders its question stem instead (``fallback``). ``instruction`` segments and
    the answer-format prompt always stay text.
    """

    image_roles: tuple[tuple[str, tuple[str, ...]], ...] = tuple(sorted(DEFAULT_IMAGE_ROLES.items()))
    fallback_roles: tuple[tuple[str, tuple[str, ...]], ...] = tuple(sorted(DEFAULT_FALLBACK_ROLES.items()))

    def __post_init__(self) -> None:
        for m, roles in self.image_roles + self.fallback_roles:
            if m not in ("image", "mixed"):
                raise SpecError(f"modalities: {m!r} is not an image-bearing modality (image, mixed)."
                                f"{did_you_mean(m, ('image', 'mixed'))}")
            for r in roles:
                if r not in ROLES:
                    raise SpecError(f"modalities.{m}: unknown role {r!r}.{did_you_mean(r, ROLES)} "
                                    f"Roles: {', '.join(ROLES)}.")

    def roles_for(self, modality: str, present: set[str]) -> tuple[str, ...]:
        """Roles rendered to pixels for a problem whose segments have the ``present`` roles."""
        if modality == "text":
            return ()
        primary = tuple(r for r in dict(self.image_roles).get(modality, ()) if r in present)
        if primary:
            return primary
        return tuple(r for r in dict(self.fallback_roles).get(modality, ()) if r in present)

    def to_dict(self) -> dict[str, Any]:
        fb = dict(self.fallback_roles)
        return {m: {"image_roles": list(r), "fallback_roles": list(fb.get(m, ()))} for m, r in self.image_roles}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModalityPlan":
        img, fb = dict(DEFAULT_IMAGE_ROLES), dict(DEFAULT_FALLBACK_ROLES)
        for m, v in d.items():
            if not isinstance(v, dict):
                raise SpecError(f"modalities.{m} must be a mapping with image_roles, got {v!r}.")
            check_keys(f"modalities.{m}", v, ("image_roles", "fallback_roles"))
            img[m] = tuple(v.get("image_roles", img.get(m, ())))
            fb[m] = tuple(v.get("fallback_roles", ()))
        return cls(tuple(sorted(img.items())), tuple(sorted(fb.items())))


@dataclass(frozen=True, slots=True)
class Cell:
    """One combination of levels. Visual factors are None in the text cell."""

    assignment: tuple[tuple[str, Scalar | None], ...]
    cell_id: str = ""

    def __post_init__(self) -> None:
        if not self.cell_id:
            # Sorted by name so that factor order in the spec never changes ids.
            object.__setattr__(self, "cell_id",
                               "c" + digest({"v": SPEC_VERSION, "a": sorted(self.assignment)}, 12))

    def __getitem__(self, name: str) -> Scalar | None:
        d = dict(self.assignment)
        if name not in d:
            raise unknown_name("factor of this cell", name, d)
        return d[name]

    def as_dict(self) -> dict[str, Scalar | None]:
        return dict(self.assignment)

    @property
    def modality(self) -> str:
        return str(dict(self.assignment).get("modality", "image"))

    def labels(self) -> dict[str, str | None]:
        """Level labels (:func:`restplus.schema.level_label`), as every table and report writes them."""
        return {k: level_label(v) for k, v in self.assignment}

    def short(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.assignment if v is not None)


def variant_seed(run_seed: int, problem_id: str, cell: Cell) -> int:
    """The per-variant seed: a hash of (run seed, problem id, cell id); independent of order."""
    return derive_seed(int(run_seed), problem_id, cell.cell_id)


@dataclass(frozen=True, slots=True, init=False)
class Grid:
    """Factors crossed by a design, with exclusions, render defaults and a modality plan."""

    factors: tuple[Factor, ...]
    design: Any = Full()
    exclude: tuple[tuple[tuple[str, Scalar], ...], ...] = ()
    name: str = "grid"
    description: str = ""
    render: RenderDefaults = RenderDefaults()
    modalities: ModalityPlan = ModalityPlan()
    layouts: tuple[tuple[str, Layout], ...] = ()
    _cells: tuple[Cell, ...] = field(default=(), repr=False, compare=False)
    # Files a spec was read from (the spec, then its includes), as (resolved path, sha256): provenance for
    # manifests, not identity — the merged content is in spec_hash already, and a moved file keeps its hash.
    sources: tuple[tuple[str, str], ...] = field(default=(), repr=False, compare=False)

    def __init__(self, *factors: Factor, design: Any = None, exclude: Any = (), name: str = "grid",
                 description: str = "", render: RenderDefaults | dict | None = None,
                 modalities: ModalityPlan | dict | None = None, layouts: dict[str, Layout] | None = None):
        set_ = object.__setattr__
        if not isinstance(name, str) or not name.strip():
            raise SpecError(f"grid name={name!r} must be a non-empty string, e.g. name: my_study.")
        if not isinstance(description, str):
            raise SpecError(f"grid description must be a string, got {type(description).__name__} {description!r}; "
                            "quote it or use a YAML block (description: |).")
        if len(factors) == 1 and isinstance(factors[0], (list, tuple)):
            factors = tuple(factors[0])
        for f in factors:
            if not isinstance(f, Factor):
                raise SpecError(f"Grid takes factors such as rp.dpi([...]), got {f!r}.")
        names = [f.name for f in factors]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise SpecError(f"factor name(s) {sorted(dup)} appear more than once; each factor needs a unique name.")
        kinds = [f.kind for f in factors]
        dupk = {k for k in kinds if kinds.count(k) > 1}
        if dupk:
            raise SpecError(f"factor kind(s) {sorted(dupk)} are used by more than one factor; they would set the "
                            "same render parameter. Merge their levels into one factor.")
        set_(self, "factors", tuple(factors))
        set_(self, "design", design if design is not None else Full())
        if isinstance(render, dict):
            render = RenderDefaults.from_dict(render)
        set_(self, "render", render or RenderDefaults())
        if isinstance(modalities, dict):
            modalities = ModalityPlan.from_dict(modalities)
        set_(self, "modalities", modalities or ModalityPlan())
        set_(self, "layouts", tuple(sorted((layouts or {}).items())))
        set_(self, "name", name)
        set_(self, "description", description)
        set_(self, "exclude", tuple(self._check_exclusion(e) for e in exclude))
        for f in self.factors:  # layouts declared in the grid must exist for its levels
            if f.kind == "layout":
                for lv in f.levels:
                    get_layout(str(lv), dict(self.layouts))
        get_layout(self.render.layout, dict(self.layouts))
        self._check_size()
        set_(self, "sources", ())
        set_(self, "_cells", self._build_cells())
        if not self._cells:
            raise DesignError(f"grid {self.name!r} has no cells left after exclusions {list(map(dict, self.exclude))}; "
                              "remove an exclusion or add levels.")
        check_visible(self)  # after the cells exist: invisible text is refused before any render

    # ---------------------------------------------------------------- construction helpers
    def _check_exclusion(self, e: Any) -> tuple[tuple[str, Scalar], ...]:
        if not isinstance(e, dict) or not e:
            raise SpecError(f"exclude entries must be non-empty mappings of factor to level, got {e!r}.")
        by_name = {f.name: f for f in self.factors}
        for k, v in e.items():
            if k not in by_name:
                raise SpecError(f"exclude names unknown factor {k!r}.{did_you_mean(k, by_name)} "
                                f"Factors: {', '.join(by_name)}.")
            if v not in by_name[k].levels:
                raise SpecError(f"exclude: {k}={v!r} is not a level of {k!r} {list(by_name[k].levels)}.")
        return tuple(sorted(e.items()))

    def _check_size(self) -> None:
        """Count the cells arithmetically and refuse a grid too large to enumerate, before enumerating."""
        visual = [f for f in self.factors if f.visual]
        mod = next((f for f in self.factors if not f.visual), None)
        modalities = list(mod.levels) if mod else ["image"]
        n = self.design.count(visual) * sum(m != "text" for m in modalities) + ("text" in modalities)
        if n > MAX_CELLS:
            dims = " x ".join(str(len(f.levels)) for f in visual)
            raise GridTooLargeError(
                f"grid {self.name!r} would have {n:,} cells ({dims} levels, design {self.design.to_spec()!r}), "
                f"above the limit of {MAX_CELLS:,}. Use a design that does not cross everything: {{type: sample, "
                "n: 500} draws cells at random, {type: union, arms: [...]} crosses only the factors that interact.",
                n_cells=n, factors=self.factors)

    def _build_cells(self) -> tuple[Cell, ...]:
        visual = [f for f in self.factors if f.visual]
        mod = next((f for f in self.factors if not f.visual), None)
        modalities = list(mod.levels) if mod else ["image"]
        conditions = self.design.conditions(visual)
        cells: list[Cell] = []
        order = [f.name for f in self.factors]
        for m in sorted(modalities, key=MODALITIES.index):
            conds = [tuple(None for _ in visual)] if m == "text" else conditions
            for cond in conds:
                a = dict(zip([f.name for f in visual], cond))
                if mod:
                    a[mod.name] = m
                assignment = tuple((n, a[n]) for n in order)
                if any(all(a.get(k) == v for k, v in ex) for ex in self.exclude):
                    continue
                cells.append(Cell(assignment))
        return tuple(cells)

    # ---------------------------------------------------------------- queries
    def cells(self) -> tuple[Cell, ...]:
        return self._cells

    @property
    def n_cells(self) -> int:
        return len(self._cells)

    def factor(self, name: str) -> Factor:
        for f in self.factors:
            if f.name == name:
                return f
        raise SpecError(f"grid {self.name!r} has no factor {name!r}.{did_you_mean(name, self.factor_names)} "
                        f"Factors: {', '.join(self.factor_names)}.")

    @property
    def factor_names(self) -> list[str]:
        return [f.name for f in self.factors]

    @property
    def visual_factors(self) -> tuple[Factor, ...]:
        return tuple(f for f in self.factors if f.visual)

    @property
    def reference(self) -> dict[str, Scalar]:
        return {f.name: f.reference for f in self.factors}

    @property
    def is_full_factorial(self) -> bool:
        return isinstance(self.design, Full) and not self.exclude

    def cell(self, cell_id: str) -> Cell:
        for c in self._cells:
            if c.cell_id == cell_id:
                return c
        raise SpecError(f"grid {self.name!r} has no cell {cell_id!r}."
                        f"{did_you_mean(cell_id, [c.cell_id for c in self._cells])}")

    def render_params(self, cell: Cell) -> RenderParams:
        """Resolved render parameters for a cell: defaults overridden by the cell's levels.

        Levels apply in factor order, later ones winning; keys a custom factor kind resolves to
        land in ``RenderParams.extra``. ``.to_dict()`` is the dict recorded in provenance.
        """
        by_name = {f.name: f for f in self.factors}
        changes: dict[str, Any] = {}
        for name, value in cell.assignment:
            if value is not None:
                changes.update(by_name[name].params(value))
        # One validated copy instead of one per level: same result, later levels still win.
        return self.render.params(cell.modality).replace(**changes)

    @property
    def spec_hash(self) -> str:
        return digest(self.to_dict(), 16)

    def level_labels(self) -> dict[str, list[str]]:
        """Each visual factor's level labels in spec order: the categories of its results column."""
        return {f.name: [str(level_label(v)) for v in f.levels] for f in self.visual_factors}

    def balance(self) -> dict[str, dict[str, int]]:
        """How many non-text cells carry each level of each visual factor (design balance)."""
        out: dict[str, dict[str, int]] = {}
        for f in self.visual_factors:
            counts = {level_label(lv): 0 for lv in f.levels}
            for c in self._cells:
                if c[f.name] is not None:
                    counts[level_label(c[f.name])] += 1
            out[f.name] = counts
        return out

    def __repr__(self) -> str:
        args = [repr(f) for f in self.factors]
        if not isinstance(self.design, Full):
            args.append(f"design={self.design!r}")
        if self.exclude:
            args.append(f"exclude={[dict(e) for e in self.exclude]!r}")
        if self.name != "grid":
            args.append(f"name={self.name!r}")
        if self.render != RenderDefaults():
            args.append(f"render={self.render.to_dict()!r}")
        return "rp.Grid(" + ", ".join(args) + ")"

    def __str__(self) -> str:
        dims = " x ".join(f"{f.name}[{len(f.levels)}]" for f in self.factors)
        return f"Grid {self.name!r}: {dims}, design={self.design.to_spec()!r} -> {self.n_cells} cells"

    # ---------------------------------------------------------------- serialisation (spec mapping)
    def to_dict(self) -> dict[str, Any]:
        """The spec mapping of this grid (includes resolved); ``Grid.from_dict`` round-trips it exactly."""
        d = spec_header(self)
        d["factors"] = {f.name: f.to_dict() for f in self.factors}
        d["design"] = self.design.to_spec()
        d["exclude"] = [dict(e) for e in self.exclude]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "spec") -> "Grid":
        """Build a validated Grid from a spec mapping (after includes); ``where`` prefixes errors."""
        return _grid_from_dict(d, where)


TOP_KEYS = ("restplus_spec", "name", "description", "include", "render", "layouts", "modalities", "factors",
            "design", "exclude")
FACTOR_KEYS = ("kind", "levels", "reference", "ordered", "description")


def _grid_from_dict(d: dict[str, Any], where: str) -> Grid:
    check_keys(where, d, TOP_KEYS)
    for key in ("layouts", "render", "modalities"):
        if d.get(key) is not None and not isinstance(d[key], dict):
            raise SpecError(f"{where}: '{key}' must be a mapping (key: value lines), got {type(d[key]).__name__} "
                            f"{d[key]!r:.60}.")
    try:
        layouts = {}
        for lname, ld in (d.get("layouts") or {}).items():
            if not isinstance(ld, dict):
                raise SpecError(f"{where}: layouts.{lname} must be a mapping of layout settings.")
            layouts[str(lname)] = Layout.from_dict(ld, where=f"{where}: layouts.{lname}")
        _factors._SPEC_LAYOUTS.clear()
        _factors._SPEC_LAYOUTS.update(layouts)
        fs = []
        fdict = d.get("factors")
        if not isinstance(fdict, dict) or not fdict:
            raise SpecError(f"{where}: 'factors' must be a non-empty mapping of factor name to "
                            "{levels: [...], reference: ...}.")
        for name, fd in fdict.items():
            if not isinstance(fd, dict):
                raise SpecError(f"{where}: factor {name!r} must be a mapping with 'levels' and 'reference', "
                                f"got {fd!r}.")
            check_keys(f"{where}: factor {name!r}", fd, FACTOR_KEYS)
            kind = fd.get("kind", name)
            get_kind(kind)
            if "levels" not in fd:
                raise SpecError(f"{where}: factor {name!r} has no 'levels'; list at least one level.")
            levels = fd["levels"]
            if not isinstance(levels, list):
                raise SpecError(f"{where}: factor {name!r} levels must be a list, got {levels!r}.")
            try:
                fs.append(factor(kind, levels, reference=fd.get("reference"), name=str(name),
                                 ordered=fd.get("ordered"), description=fd.get("description", "")))
            except RestplusError as exc:  # say where in the file the bad level is
                raise type(exc)(f"{where}: factors.{name}: {exc}") from None
        exclude = d.get("exclude") or []
        if not isinstance(exclude, list):
            raise SpecError(f"{where}: 'exclude' must be a list of partial assignments, got {exclude!r}.")
        return Grid(*fs, design=design_from_spec(d.get("design"), f"{where}: design"), exclude=exclude,
                    name=d.get("name", "grid"), description=d.get("description", ""),
                    render=RenderDefaults.from_dict(d.get("render") or {}),
                    modalities=ModalityPlan.from_dict(d.get("modalities") or {}), layouts=layouts)
    except RestplusError:
        raise
    except (TypeError, ValueError, AttributeError) as exc:  # a wrong type deep inside: still one clear SpecError
        raise SpecError(f"{where}: invalid value ({exc}).") from None
    finally:
        _factors._SPEC_LAYOUTS.clear()


def spec_header(obj: Any) -> dict[str, Any]:
    """The keys every spec file shares (version, name, description, render, layouts, modalities),
    from a Grid or a search Space."""
    d: dict[str, Any] = {"restplus_spec": SPEC_VERSION, "name": obj.name}
    if obj.description:
        d["description"] = obj.description
    d["render"] = obj.render.to_dict()
    if obj.layouts:
        d["layouts"] = {n: lay.to_dict() for n, lay in obj.layouts}
    d["modalities"] = obj.modalities.to_dict()
    return d
