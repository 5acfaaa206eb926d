"""Atomic file writes (every output file is either the old complete file or the new one), and one
writer per run folder (:func:`folder_lock`).

Run folders are read while they are written (the merger reads chunk parts that workers are still
producing, a second process may look at a manifest) and are resumed after crashes, ``kill -9`` or
a full disk. A file written in place can be seen, or left behind, half written: a truncated
parquet, a manifest cut mid-object. So every writer here writes a temporary file in the *same
folder* and renames it over the target. A rename within one folder (one filesystem) is atomic on
POSIX and, through ``os.replace`` (``MoveFileEx`` with replace-existing), on Windows: a reader
opens either the old file or the new one, never a mix, and a crash leaves at most a stray
``.<name>.<pid>.<hex>.tmp`` file, never a damaged target.

With ``fsync=True`` (the default) the data is flushed to disk before the rename and the folder
after it (POSIX), so after a power loss the new name points at complete data rather than at an
empty file. Callers may pass ``fsync=False`` where a later, fsynced file vouches for the data
(see the per-image writes in :mod:`restplus.variants.generation`).

Temporary files are created with ``open()``, not ``tempfile.mkstemp``: mkstemp makes files mode
0600, and outputs must honour the user's umask like any other file.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import FolderLockedError

__all__ = ["temp_path", "commit", "replacing", "write_bytes", "write_text", "write_json", "write_parquet",
           "folder_lock", "LOCK_FILE", "name_path"]


def temp_path(path: str | os.PathLike[str]) -> Path:
    """A unique temporary name next to ``path`` (``.{name}.{pid}.{hex}.tmp``); creates the parent folder.

    The file itself is not created: the caller writes it, then :func:`commit` moves it into place.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))  # Windows' _commit needs a writable handle
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":  # Windows cannot open a folder as a file; NTFS journals the rename itself
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some filesystems (and platforms) refuse fsync on a folder; the rename still happened
        pass
    finally:
        os.close(fd)


def commit(tmp: str | os.PathLike[str], path: str | os.PathLike[str], *, fsync: bool = True) -> None:
    """Move the finished temporary file ``tmp`` over ``path`` atomically (fsync file, rename, fsync folder)."""
    tmp, path = Path(tmp), Path(path)
    if fsync:
        _fsync_file(tmp)
    os.replace(tmp, path)
    if fsync:
        _fsync_dir(path.parent)


@contextlib.contextmanager
def replacing(path: str | os.PathLike[str], *, fsync: bool = True) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``, on any exception it is removed.

    ::

        with atomic.replacing(out / "table.parquet") as tmp:
            writer = pq.ParquetWriter(tmp, schema)  # close it inside the block
            ...
    """
    path = Path(path)
    tmp = temp_path(path)
    try:
        yield tmp
        commit(tmp, path, fsync=fsync)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            name_path(exc, path, tmp)
        raise


NOTE = "restplus: while writing "


def name_path(exc: OSError, path: str | os.PathLike[str], tmp: str | os.PathLike[str] | None = None) -> None:
    """Record on ``exc`` the file being written: a failed write() (or a polars/pyarrow writer) names
    none, and the user needs to know which; an error naming the temporary file names a file the
    user never asked for, so it names ``path`` instead. Sets ``filename`` where that keeps
    ``str(exc)`` right (an errno is set), else adds a note."""
    if tmp is not None and exc.filename is not None and str(exc.filename) == str(tmp):
        exc.filename = str(path)
    if exc.filename is not None:
        return
    if exc.errno is not None:
        exc.filename = str(path)
    else:
        exc.add_note(NOTE + str(path))


def write_bytes(path: str | os.PathLike[str], data: bytes, *, fsync: bool = True) -> None:
    """Write ``data`` to ``path`` atomically."""
    with replacing(path, fsync=fsync) as tmp, open(tmp, "wb") as fh:
        fh.write(data)


def write_text(path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8", fsync: bool = True) -> None:
    """Write ``text`` to ``path`` atomically (no newline translation: the bytes are the same on every OS)."""
    write_bytes(path, text.encode(encoding), fsync=fsync)


def write_json(path: str | os.PathLike[str], obj: Any, *, fsync: bool = True) -> None:
    """Write ``obj`` as JSON (indent 2, sorted keys, UTF-8, trailing newline) atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n", fsync=fsync)


def write_parquet(path: str | os.PathLike[str], table: Any, *, fsync: bool = True) -> None:
    """Write a polars DataFrame or a pyarrow Table to ``path`` as parquet, atomically."""
    with replacing(path, fsync=fsync) as tmp:
        if callable(getattr(table, "write_parquet", None)):  # polars
            table.write_parquet(tmp)
        else:
            import pyarrow.parquet as pq

            pq.write_table(table, tmp)


# ------------------------------------------------------------------------------ one writer per folder
# Two ``generate`` (or ``run``) processes writing one folder used to interleave their parts, merges
# and manifests: the folder said ``complete`` while its table was unreadable, and two evaluations
# sent most requests twice. Now each writer takes ``OUT/.restplus.lock`` first. The lock is an OS
# lock (``flock`` on POSIX, ``msvcrt.locking`` on Windows) on an open file, so it vanishes with the
# process: a ``kill -9`` never leaves a stale lock to delete by hand. The file itself stays (deleting
# it on release would let a third process lock a new file while a second still holds the old one);
# it holds the holder's PID, host, purpose and start time, so the refusal can name who holds it.
LOCK_FILE = ".restplus.lock"


def _try_lock(fd: int) -> bool:
    if os.name == "nt":  # pragma: no cover - exercised on Windows only
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        info = {}
    if not isinstance(info, dict) or "pid" not in info:
        return "another process"
    return (f"process {info.get('pid')} on {info.get('host', '?')} ({info.get('purpose', '?')}, since "
            f"{info.get('started', '?')})")


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike[str], purpose: str) -> Iterator[Path]:
    """Hold the exclusive lock of ``folder`` (created if missing) for the ``with`` block.

    Raises FolderLockedError at once, naming the holder's PID, when another process holds it.
    ``purpose`` (e.g. ``"generate"``) is written into the lock file for that message.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        if not _try_lock(fd):
            raise FolderLockedError(
                f"{folder} is being written by {_holder(path)}. Wait for it to finish, or write to another "
                "folder (--out). One process at a time may write a run folder.")
        info = {"pid": os.getpid(), "host": socket.gethostname(), "purpose": purpose,
                "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(info).encode())
        try:
            yield path
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # released: the next refusal must not name a finished process
    finally:
        os.close(fd)  # closing the descriptor releases the OS lock
