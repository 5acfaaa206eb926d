"""The folder listing is the architecture (../shared/reference/architecture.md), checked on the source.

Every module belongs to a part: a folder under ``restplus/``, or the small kernel of top-level modules.
A new module is covered by these tests the moment it exists. Dependencies point one way and there is
no import cycle, counting imports inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "restplus"

KERNEL = {"__init__", "__main__", "errors", "hashing", "envinfo", "records", "schema", "registry", "atomic"}
KERNEL_MODULES = {"errors", "hashing", "envinfo", "records", "schema", "registry", "atomic"}
PARTS = {"grammar", "problems", "render", "variants", "models", "runner", "stats", "report", "search", "gap", "cli",
         "testing"}
# part -> parts it may import besides the kernel (architecture.md, "May use")
ALLOWED = {
    "grammar": set(),
    "problems": set(),
    "render": {"grammar"},
    "variants": {"grammar", "problems", "render"},
    "models": set(),
    "runner": {"grammar", "variants", "models", "problems"},
    "stats": set(),  # tables only: analysis works on a table that came from anywhere
    "report": {"stats"},
    "search": {"grammar", "variants", "runner", "problems", "render", "models"},
    "gap": {"models", "variants", "grammar", "problems"},
    "testing": {"models"},  # fake adapters and tiny models for tests
    "cli": PARTS,
}
EXCEPTIONS = {"models/reader.py": {"problems"}}  # the reader baseline solves the text it read


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def imports_of(path: Path) -> set[str]:
    """restplus modules imported anywhere in the file (function-local imports included)."""
    tree = ast.parse(path.read_text())
    pkg = module_name(path).split(".")
    if path.name != "__init__.py":
        pkg = pkg[:-1]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[: len(pkg) - (node.level - 1)] + (node.module.split(".") if node.module else [])
            elif node.module and node.module.split(".")[0] == "restplus":
                base = node.module.split(".")
            else:
                continue
            target = ".".join(base)
            subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in MODULES]
            out |= set(subs) if subs else {target}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "restplus"}
    return out


def part_of(module: str) -> str:
    bits = module.split(".")
    return bits[1] if len(bits) > 1 else "restplus"


def test_top_level_is_the_kernel():
    top = sorted(p.stem for p in PKG.glob("*.py"))
    assert len(top) <= 12, top
    assert set(top) <= KERNEL, f"top-level modules outside the kernel: {sorted(set(top) - KERNEL)}"
    folders = sorted(p.name for p in PKG.iterdir() if p.is_dir() and (p / "__init__.py").exists())
    assert set(folders) == PARTS, folders


@pytest.mark.parametrize("part", sorted(PARTS))
def test_dependency_direction(part):
    bad = {}
    for name, path in MODULES.items():
        if part_of(name) != part:
            continue
        rel = str(path.relative_to(PKG))
        allowed = {part} | KERNEL_MODULES | ALLOWED[part] | EXCEPTIONS.get(rel, set())
        hits = {part_of(m) for m in imports_of(path)} - allowed - {"restplus"}  # the root: ``__version__``
        if hits:
            bad[rel] = sorted(hits)
    assert not bad, f"{part} imports parts it must not: {bad}"


def test_kernel_imports_only_kernel():
    for name, path in MODULES.items():
        if part_of(name) in KERNEL_MODULES:
            extra = {part_of(m) for m in imports_of(path)} - KERNEL_MODULES
            assert not extra, f"kernel module {name} imports {sorted(extra)}"


def test_no_import_cycles():
    """Strongly connected components of the module import graph (Tarjan), lazy imports included."""
    graph = {m: sorted(i for i in imports_of(p) if i in MODULES and i != m) for m, p in MODULES.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for m in graph:
        if m not in index:
            visit(m)
    assert not cycles, f"import cycles: {cycles}"


def test_graph_builder_sees_lazy_and_relative_imports(tmp_path):
    """The checker itself: a function-local relative import and a package re-export are edges."""
    assert "restplus.grammar.grid" in imports_of(PKG / "grammar" / "spec.py")
    assert "restplus.variants.realization" in imports_of(PKG / "variants" / "chunks.py")  # inside functions
    assert "restplus.variants" in imports_of(PKG / "variants" / "__init__.py") or \
        "restplus.variants.generation" in imports_of(PKG / "variants" / "__init__.py")


def test_every_part_exports_its_names():
    """Each part's ``__init__`` declares ``__all__`` and every listed name resolves."""
    import importlib

    for part in sorted(PARTS - {"cli"}):
        mod = importlib.import_module(f"restplus.{part}")
        names = getattr(mod, "__all__", None)
        assert names, part
        missing = [n for n in names if not hasattr(mod, n)]
        assert not missing, (part, missing)
