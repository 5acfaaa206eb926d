"""Every benchmark script imports against the current package layout (they run outside CI's
test runner, so a moved module would otherwise break them silently)."""

import importlib.util
from pathlib import Path

import pytest

BENCH = sorted((Path(__file__).resolve().parents[1] / "bench").glob("*.py"))


def test_there_are_benchmarks():
    assert len(BENCH) >= 5


@pytest.mark.parametrize("path", BENCH, ids=[p.name for p in BENCH])
def test_bench_module_imports(path):
    spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # top level only: each script runs under `if __name__ == "__main__"`
    assert callable(mod.main)
