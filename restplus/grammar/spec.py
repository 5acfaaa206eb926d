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

Only a ``yaml.SafeLoader`` is used, so tags that would construct Python objects are rejected. It is
stricter than ``safe_load``: aliases (``*name``) and duplicate keys are errors, nesting too deep for
the parser is a SpecError (not a RecursionError), and a file above :data:`MAX_SPEC_BYTES` is refused.
"""

from __future__ import annotations

import hashlib
import json
import re
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from ..errors import SpecError, check_keys
from ..schema import level_label
from .grid import SPEC_VERSION, TOP_KEYS, Grid

MAX_SPEC_BYTES = 1_000_000  # a spec is a page of settings; anything larger is a mistake


class _SpecLoader(yaml.SafeLoader):
    """safe_load, stricter: no aliases (an alias bomb expands to gigabytes), no duplicate keys."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise SpecError(f"line {mark.line + 1}: YAML aliases (*name) are not allowed in spec files; write "
                            "the value out, or share settings with include:.")
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:
                raise SpecError(f"line {line}: a mapping key must be a plain value, got {key!r}.") from None
            if first is not None:
                raise SpecError(f"line {line}: duplicate key {key!r} (first written on line {first}); the "
                                "last one would silently win. Keep one.")
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


# YAML 1.1 (PyYAML) reads 1e9, 1.0e9 and 5e-3 as *strings*: a blur of 1e-3 would fail as "expected a
# number" although it is one. Also accept the YAML 1.2 / JSON exponent forms as floats.
_SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."))


def _json_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise SpecError(f"duplicate key {k!r}; the last one would silently win. Keep one.")
        out[k] = v
    return out


def _too_big(path: Path, size: str) -> SpecError:
    return SpecError(f"spec file {str(path)!r} is {size} bytes, above the limit of {MAX_SPEC_BYTES:,} "
                     "(restplus.grammar.spec.MAX_SPEC_BYTES); a spec holds settings, not data (problems go in a "
                     "problem file).")


def _read(path: Path, included_by: Path | None = None, reads: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    try:
        if path.is_dir():
            raise SpecError(f"spec file {str(path)!r} is a directory; name a .yaml or .json file in it.")
        st = path.stat()
        if included_by is not None and not stat.S_ISREG(st.st_mode):
            # /dev/zero would be read forever, a FIFO blocks: an include names a spec file on disk.
            raise SpecError(f"{included_by.name}: include {str(path)!r} is not a regular file (a device, FIFO or "
                            "socket); include only .yaml/.json spec files.")
        if st.st_size > MAX_SPEC_BYTES:
            raise _too_big(path, f"{st.st_size:,}")
        # Read at most one byte past the limit: a file that grows, or a pipe given as the main spec,
        # cannot make the loader read without bound.
        with open(path, "rb") as fh:
            raw = fh.read(MAX_SPEC_BYTES + 1)
        if len(raw) > MAX_SPEC_BYTES:
            raise _too_big(path, f"more than {MAX_SPEC_BYTES:,}")
        if reads is not None:
            reads.append((str(path), hashlib.sha256(raw).hexdigest()))
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise SpecError(f"spec file {str(path)!r} does not exist; check the path.") from None
    except UnicodeDecodeError as exc:
        raise SpecError(f"spec file {str(path)!r} is not valid UTF-8 ({exc.reason}).") from None
    except OSError as exc:
        raise SpecError(f"spec file {str(path)!r} cannot be read ({exc.strerror or exc}).") from None
    try:
        data = json.loads(text, object_pairs_hook=_json_pairs) if path.suffix == ".json" else \
            yaml.load(text, Loader=_SpecLoader)  # noqa: S506 - _SpecLoader is a SafeLoader
    except SpecError as exc:
        raise SpecError(f"spec file {str(path)!r}: {exc}") from None
    except yaml.constructor.ConstructorError as exc:
        raise SpecError(f"spec file {str(path)!r}: {exc.problem} — spec files are plain data; tags such as "
                        "!!python/object are never executed. Remove the tag.") from None
    except yaml.MarkedYAMLError as exc:  # one line: where, and what the parser expected
        mark = exc.problem_mark
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        raise SpecError(f"spec file {str(path)!r} is not valid YAML{at}: {what}.") from None
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise SpecError(f"spec file {str(path)!r} is not valid YAML/JSON: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise SpecError(f"spec file {str(path)!r} is nested too deeply to be a spec.") from None
    if not isinstance(data, dict):
        raise SpecError(f"spec file {str(path)!r} must contain a mapping at top level, got {type(data).__name__}.")
    return data


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_spec_dict(path: str | Path, _stack: tuple[Path, ...] = (),
                   reads: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """Read a spec file, resolve ``include:`` recursively (cycles are errors), check keys/version.

    Every file, included ones too, is bounded by MAX_SPEC_BYTES; an include must be a regular file.
    ``reads``, when given, collects (resolved path, sha256) of every file read, the spec first.
    """
    path = Path(path).resolve()
    if path in _stack:
        chain = " -> ".join(p.name for p in (*_stack, path))
        raise SpecError(f"include cycle: {chain}. Remove one of the includes.")
    data = _read(path, _stack[-1] if _stack else None, reads)
    check_keys(path.name, data, TOP_KEYS)
    version = data.get("restplus_spec")
    if isinstance(version, (bool, str)):  # YAML `true` or a quoted '1' is not version 1
        raise SpecError(f"{path.name}: restplus_spec={version!r} must be the integer format version; write "
                        f"'restplus_spec: {SPEC_VERSION}'.")
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
        target = path.parent / rel
        if not target.exists():  # say which include, from where, and where it was looked for
            raise SpecError(f"{path.name}: include {rel!r} was looked for at {str(target.resolve())!r} (relative to "
                            f"the including file's folder) and does not exist. Copy it beside {path.name} (the "
                            "shipped defaults are perturbations/_defaults.yaml), or give a path relative to "
                            f"{path.parent} or an absolute one.")
        merged = _merge(merged, load_spec_dict(target, (*_stack, path), reads))
    return _merge(merged, data)


def load_grid(path: str | Path) -> Grid:
    """Load and validate a spec file into a Grid; ``grid.sources`` lists the files read, with sha256."""
    reads: list[tuple[str, str]] = []
    grid = Grid.from_dict(load_spec_dict(path, reads=reads), where=Path(path).name)
    object.__setattr__(grid, "sources", tuple(reads))  # provenance only: not part of spec_hash
    return grid


def save_grid(grid: Grid, path: str | Path) -> None:
    """Write a grid as a self-contained spec (includes resolved). Round-trips exactly."""
    save_spec_dict(grid.to_dict(), path)


def save_spec_dict(d: dict[str, Any], path: str | Path) -> None:
    """Write a spec mapping as YAML (key order kept, as the user reads it), or JSON by suffix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(d, indent=2, ensure_ascii=False) if path.suffix == ".json" else \
        yaml.safe_dump(d, sort_keys=False, allow_unicode=True)
    path.write_text(text, encoding="utf-8")


def factor_lines(factors: Iterable[Any]) -> list[str]:
    """'factors:' and one line per factor: name, kind, order flag, levels with the reference starred."""
    lines = ["factors:"]
    for f in factors:
        lv = ", ".join(f"*{level_label(v)}*" if v == f.reference else level_label(v) for v in f.levels)
        tag = " (ordered)" if f.ordered else ""
        lines.append(f"  {f.name} [{f.kind}]{tag}: {lv}")
    return lines


def describe(grid: Grid) -> str:
    """Human-readable summary: factors, levels, references, cell count, design balance."""
    lines = [str(grid), f"spec_hash: {grid.spec_hash}", *factor_lines(grid.factors)]
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
