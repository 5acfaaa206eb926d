"""Every exception restplus defines or raises is a RestplusError; every warning a RestplusWarning."""

import ast
import builtins
import importlib
import inspect
import pkgutil
import warnings
from pathlib import Path

import pytest

import restplus
import restplus as rp
from restplus.errors import RestplusError, RestplusWarning

PKG = Path(restplus.__file__).parent
BUILTIN_EXC = {n for n, v in vars(builtins).items() if isinstance(v, type) and issubclass(v, BaseException)}
# Raises that a protocol requires, with the function they are allowed in:
PROTOCOL = {("AttributeError", "__getattr__"),  # module __getattr__ must raise AttributeError
            ("TypeError", "_default"),  # json.dumps(default=) must raise TypeError
            ("AssertionError", None)}  # internal invariants that no input can reach


def _modules():
    for info in pkgutil.walk_packages([str(PKG)], "restplus."):
        if info.name.endswith("__main__"):  # importing it would run the CLI
            continue
        yield info.name


def test_every_defined_exception_and_warning_is_in_the_tree():
    seen = 0
    for name in _modules():
        mod = importlib.import_module(name)
        for _, cls in inspect.getmembers(mod, inspect.isclass):
            if cls.__module__ != mod.__name__:
                continue
            if issubclass(cls, Warning):
                assert issubclass(cls, RestplusWarning), f"{name}.{cls.__name__} is not a RestplusWarning"
                seen += 1
            elif issubclass(cls, BaseException):
                assert issubclass(cls, RestplusError), f"{name}.{cls.__name__} is not a RestplusError"
                seen += 1
    assert seen >= 20  # the tree itself lives in restplus.errors and is counted


class _Raises(ast.NodeVisitor):
    """Collect (exception name, innermost enclosing function, line) for each ``raise Name(...)``."""

    def __init__(self):
        self.stack, self.found = [None], []

    def visit_FunctionDef(self, node):
        self.stack.append(node.name)
        self.generic_visit(node)
        self.stack.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Raise(self, node):
        exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        if isinstance(exc, ast.Name):
            self.found.append((exc.id, self.stack[-1], node.lineno))


def test_no_bare_builtin_raise():
    bad = []
    for path in PKG.rglob("*.py"):
        v = _Raises()
        v.visit(ast.parse(path.read_text(encoding="utf-8")))
        for name, fn, line in v.found:
            if name in BUILTIN_EXC and (name, fn) not in PROTOCOL and (name, None) not in PROTOCOL:
                bad.append(f"{path.relative_to(PKG)}:{line} raise {name} in {fn}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("name", ["AnalysisWarning", "PixelBudgetWarning", "FewModelsWarning"])
def test_warnings_share_one_root_and_rp_exports_them(name):
    cls = getattr(rp, name)
    assert issubclass(cls, rp.RestplusWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error", rp.RestplusWarning)
        with pytest.raises(cls):
            warnings.warn("x", cls, stacklevel=1)


def test_cell_lookup_of_unknown_factor_suggests_one():
    g = rp.Grid(rp.dpi([50, 100], reference=100), rp.modality(["image"]))
    c = g.cells()[0]
    with pytest.raises(rp.UnknownNameError, match="Did you mean: dpi"):
        c["dip"]
