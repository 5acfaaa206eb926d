"""Spec files: versioned YAML (or JSON) that describe a grid. Pure data, never code.

Format (``restplus_spec: 1``)::

    restplus_spec: 1              # required format version
    name: rest_plus
    description: ...
    include: [_defaults.yaml]     # optional; relative paths; later keys override included ones
    render: {font: DejaVu Sans, font_size_pt: 12, dpi: 200, ...}
    layouts: {roomy: {line_spacing: 1.8}}   # extra layout presets usable as levels
    modalities: {mixed: {image_roles: [context], fallback_roles: [question]}}
    factors:
      dpi: {levels: [50, 100, 200], reference: 200}
      ink: {kind: text_color, levels: [black, red], reference: black}
    design: {type: union, arms: [[font, dpi], [text_color]]}
    exclude: [{modality: mixed, dpi: 50}]

Only ``yaml.safe_load`` is used, so tags that would construct Python objects are rejected.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from ..errors import SpecError, check_keys
from ..schema import level_label
from .grid import SPEC_VERSION, TOP_KEYS, Grid


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"spec file {str(path)!r} does not exist; check the path.") from None
    except UnicodeDecodeError as exc:
        raise SpecError(f"spec file {str(path)!r} is not valid UTF-8 ({exc.reason}).") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except yaml.constructor.ConstructorError as exc:
        raise SpecError(f"spec file {str(path)!r}: {exc.problem} — spec files are plain data; tags such as "
                        "!!python/object are never executed. Remove the tag.") from None
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise SpecError(f"spec file {str(path)!r} is not valid YAML/JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SpecError(f"spec file {str(path)!r} must contain a mapping at top level, got {type(data).__name__}.")
    return data


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_spec_dict(path: str | Path, _stack: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a spec file, resolve ``include:`` recursively (cycles are errors), check keys/version."""
    path = Path(path).resolve()
    if path in _stack:
        chain = " -> ".join(p.name for p in (*_stack, path))
        raise SpecError(f"include cycle: {chain}. Remove one of the includes.")
    data = _read(path)
    check_keys(path.name, data, TOP_KEYS)
    version = data.get("restplus_spec")
    if version is None:
        raise SpecError(f"{path.name}: missing required key 'restplus_spec' (the format version). "
                        f"Add 'restplus_spec: {SPEC_VERSION}' at the top.")
    if version != SPEC_VERSION:
        raise SpecError(f"{path.name}: restplus_spec={version!r} is not supported; this restplus reads "
                        f"version {SPEC_VERSION}.")
    inc = data.pop("include", None) or []
    if isinstance(inc, str):
        inc = [inc]
    merged: dict[str, Any] = {}
    for rel in inc:
        if not isinstance(rel, str):
            raise SpecError(f"{path.name}: include entries must be file paths, got {rel!r}.")
        merged = _merge(merged, load_spec_dict(path.parent / rel, (*_stack, path)))
    return _merge(merged, data)


def load_grid(path: str | Path) -> Grid:
    """Load and validate a spec file into a Grid."""
    return Grid.from_dict(load_spec_dict(path), where=Path(path).name)


def save_grid(grid: Grid, path: str | Path) -> None:
    """Write a grid as a self-contained spec (includes resolved). Round-trips exactly."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    d = grid.to_dict()
    text = json.dumps(d, indent=2, ensure_ascii=False) if path.suffix == ".json" else \
        yaml.safe_dump(d, sort_keys=False, allow_unicode=True)
    path.write_text(text, encoding="utf-8")


def describe(grid: Grid) -> str:
    """Human-readable summary: factors, levels, references, cell count, design balance."""
    lines = [str(grid), f"spec_hash: {grid.spec_hash}", "factors:"]
    for f in grid.factors:
        lv = ", ".join(f"*{level_label(v)}*" if v == f.reference else level_label(v) for v in f.levels)
        tag = " (ordered)" if f.ordered else ""
        lines.append(f"  {f.name} [{f.kind}]{tag}: {lv}")
    lines.append(f"design: {grid.design.to_spec()}")
    if grid.exclude:
        lines.append(f"exclude: {[dict(e) for e in grid.exclude]}")
    by_mod: dict[str, int] = {}
    for c in grid.cells():
        by_mod[c.modality] = by_mod.get(c.modality, 0) + 1
    lines.append("cells: " + str(grid.n_cells) + " (" + ", ".join(f"{m}: {n}" for m, n in by_mod.items()) + ")")
    lines.append("balance (cells per level, image+mixed):")
    for name, counts in grid.balance().items():
        vals = set(counts.values())
        flag = "balanced" if len(vals) == 1 else "unbalanced"
        lines.append(f"  {name}: " + ", ".join(f"{k}={v}" for k, v in counts.items()) + f"  [{flag}]")
    return "\n".join(lines)
