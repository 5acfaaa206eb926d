"""Dependency directions between parts (../shared/reference/architecture.md), checked on the source.

Grammar never imports Render or Models (a spec is pure data); Render never imports Models or the
Runner (images can be made with no evaluation); Stats never imports Models or Render (analysis works
on any table); Models are leaves (no Runner, Stats, Render or Grammar).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "restplus"

GRAMMAR = ["factors", "design", "grid", "spec", "layouts"]
RENDER = ["render"]
MODELS = ["models"]
RUNNER = ["runner", "cache", "gate", "prompts", "manifest", "runfiles"]
STATS = ["stats", "report", "plots"]

RULES = [  # (part, modules in it, parts it must not import)
    ("grammar", GRAMMAR, RENDER + MODELS + RUNNER + STATS + ["generation", "variantset"]),
    ("render", RENDER, MODELS + RUNNER + STATS),
    ("stats", STATS, MODELS + RENDER + RUNNER),
    ("models", MODELS, RUNNER + STATS + RENDER + GRAMMAR + ["generation", "variantset"]),
]


def modules_of(names: list[str]) -> list[Path]:
    out = []
    for n in names:
        p = PKG / n
        out += sorted(p.rglob("*.py")) if p.is_dir() else [PKG / f"{n}.py"]
    return out


def restplus_imports(path: Path) -> set[str]:
    """Top-level restplus module names imported anywhere in the file (lazy imports included)."""
    tree = ast.parse(path.read_text())
    rel = path.relative_to(PKG).parts[:-1]  # package path of the file, for relative imports
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(rel[: len(rel) - (node.level - 1)]) if node.level > 1 else list(rel)
                parts = base + (node.module.split(".") if node.module else [])
                if not parts:  # "from . import x" at the top level
                    parts = [a.name for a in node.names]
                found.add(parts[0])
            elif node.module and node.module.startswith("restplus."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("restplus."):
                    found.add(a.name.split(".")[1])
    return found


@pytest.mark.parametrize("part,names,forbidden", RULES, ids=[r[0] for r in RULES])
def test_dependency_direction(part, names, forbidden):
    files = modules_of(names)
    assert files, part
    bad = {}
    for f in files:
        hits = restplus_imports(f) & set(forbidden)
        if hits:
            bad[str(f.relative_to(PKG))] = sorted(hits)
    assert not bad, f"{part} imports what it must not: {bad}"


def test_models_are_leaves():
    """Adapters use records, errors and environment facts only; the reader baseline also uses the
    problem solvers, since solving the read text is what it does."""
    allowed = {"models", "records", "errors", "envinfo", "hashing"}
    for f in modules_of(MODELS):
        extra = restplus_imports(f) - allowed - ({"problems"} if f.name == "reader.py" else set())
        assert not extra, f"{f.relative_to(PKG)} imports {sorted(extra)}"
