"""restplus.atomic: a target is always the old complete file or the new one, never half of either."""

from __future__ import annotations

import json
import os
import stat
import threading

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from restplus import atomic


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_write_creates_and_replaces(tmp_path):
    path = tmp_path / "sub" / "f.bin"  # the parent is created
    atomic.write_bytes(path, b"one")
    assert path.read_bytes() == b"one"
    atomic.write_bytes(path, b"two", fsync=False)
    assert path.read_bytes() == b"two"
    atomic.write_text(path, "é\n")
    assert path.read_bytes() == "é\n".encode()
    assert leftovers(path.parent) == []


def test_write_json_format(tmp_path):
    atomic.write_json(tmp_path / "m.json", {"b": 1, "a": "ü"})
    assert (tmp_path / "m.json").read_text(encoding="utf-8") == '{\n  "a": "ü",\n  "b": 1\n}\n'


def test_temp_path_is_unique_and_hidden_in_the_same_folder(tmp_path):
    a, b = atomic.temp_path(tmp_path / "x.parquet"), atomic.temp_path(tmp_path / "x.parquet")
    assert a != b and a.parent == b.parent == tmp_path
    assert a.name.startswith(f".x.parquet.{os.getpid()}.") and a.name.endswith(".tmp") and not a.exists()


def test_failure_inside_replacing_keeps_the_old_file_and_no_temp(tmp_path):
    path = tmp_path / "f.txt"
    atomic.write_text(path, "old")

    class Boom(BaseException):  # BaseException too (KeyboardInterrupt-like)
        pass

    with pytest.raises(Boom):
        with atomic.replacing(path) as tmp:
            tmp.write_text("half")
            raise Boom
    assert path.read_text() == "old" and leftovers(tmp_path) == []
    with pytest.raises(ValueError):  # the body never created the temp file: nothing to clean up
        with atomic.replacing(tmp_path / "new.txt"):
            raise ValueError
    assert not (tmp_path / "new.txt").exists() and leftovers(tmp_path) == []


def test_failing_parquet_writer_keeps_the_old_file(tmp_path):
    path = tmp_path / "t.parquet"
    atomic.write_parquet(path, pl.DataFrame({"a": [1]}))
    with pytest.raises(Exception):
        atomic.write_parquet(path, object())
    assert pl.read_parquet(path)["a"].to_list() == [1] and leftovers(tmp_path) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_mode_honours_the_umask(tmp_path, mask, mode):
    old = os.umask(mask)
    try:
        atomic.write_bytes(tmp_path / "f.bin", b"x")
        atomic.write_json(tmp_path / "f.json", {})
        atomic.write_parquet(tmp_path / "p.parquet", pl.DataFrame({"a": [1]}))
        atomic.write_parquet(tmp_path / "a.parquet", pa.table({"a": [1]}))
    finally:
        os.umask(old)
    for name in ("f.bin", "f.json", "p.parquet", "a.parquet"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode, name


def test_polars_and_pyarrow_tables_round_trip(tmp_path):
    df = pl.DataFrame({"a": [1, 2, None], "s": ["x", "ü", None], "l": [[1], [], [2, 3]]})
    atomic.write_parquet(tmp_path / "p.parquet", df)
    assert pl.read_parquet(tmp_path / "p.parquet").equals(df)
    t = pa.table({"a": pa.array([1, None], pa.int64()), "s": ["x", "ü"]})
    atomic.write_parquet(tmp_path / "a.parquet", t)
    assert pq.read_table(tmp_path / "a.parquet").equals(t)
    assert leftovers(tmp_path) == []


def test_concurrent_writers_never_expose_a_partial_file(tmp_path):
    path = tmp_path / "shared.json"
    payloads = [{"writer": i, "data": str(i) * 200_000} for i in range(4)]
    expected = {json.dumps(p, indent=2, sort_keys=True, ensure_ascii=False) + "\n" for p in payloads}
    atomic.write_json(path, payloads[0])
    stop = threading.Event()
    seen: list[str] = []
    errors: list[BaseException] = []

    def writer(p):
        try:
            for _ in range(15):
                atomic.write_json(path, p, fsync=False)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def reader():
        while not stop.is_set():
            seen.append(path.read_text(encoding="utf-8"))

    readers = [threading.Thread(target=reader) for _ in range(2)]
    writers = [threading.Thread(target=writer, args=(p,)) for p in payloads]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in readers:
        t.join()
    assert not errors
    assert seen and set(seen) <= expected  # readers only ever saw complete payloads
    assert path.read_text(encoding="utf-8") in expected and leftovers(tmp_path) == []
