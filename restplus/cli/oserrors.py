"""Ordinary operating-system failures as one line that names the path and what to do.

The CLI turns restplus's own errors into one line; an ``OSError`` (a read-only folder, a full disk,
a file where a folder should be) used to surface as a raw traceback although nothing is wrong with
restplus, only with the path. ``--debug`` still shows the traceback.
"""

from __future__ import annotations

import errno
import re

from ..atomic import NOTE

_HINTS: dict[int, str] = {
    errno.EACCES: "permission denied. Check the permissions of this path and its folder, or choose another "
                  "path (e.g. another --out)",
    errno.EPERM: "operation not permitted. Check the permissions of this path, or choose another path",
    errno.EROFS: "the file system is read-only. Write to a writable location (e.g. another --out)",
    errno.ENOSPC: "no space left on the device. Free some space or write elsewhere; finished work is kept "
                  "and a re-run resumes",
    errno.EFBIG: "file too large for this file system or the process's file-size limit (ulimit -f). Raise the "
                 "limit or write elsewhere; finished work is kept and a re-run resumes",
    errno.EDQUOT: "disk quota exceeded. Free some space or write elsewhere; finished work is kept",
    errno.ENOENT: "no such file or folder. Check the path",
    errno.ENOTDIR: "a part of this path is a file, not a folder. Choose a path whose folders are folders",
    errno.EISDIR: "this is a folder, but a file is needed here. Give a file path",
    errno.EEXIST: "this exists and is in the way (e.g. a file where a folder is needed). Remove it or choose "
                  "another path",
    errno.ENOTEMPTY: "the folder is not empty. Choose an empty or new folder",
    errno.ENAMETOOLONG: "the path is too long for this file system. Choose a shorter path",
    errno.EMFILE: "too many open files. Raise the limit (ulimit -n) or use fewer --workers",
    errno.ELOOP: "too many symbolic links (a link loop?). Check the path",
}


_ERRNO = re.compile(r"(?:os error|errno)\s*(\d+)", re.IGNORECASE)  # polars/pyarrow put it in the text


def describe_os_error(exc: OSError, fallback_path: str | None = None) -> str:
    """``"<path>: <what happened> (<detail>)."`` for an OSError.

    The path is the error's own (both, for a rename), else the one :mod:`restplus.atomic` noted while
    writing, else ``fallback_path`` (the command's --out): polars and pyarrow raise OSErrors that name
    no file and carry their errno only in the message.
    """
    code = exc.errno
    if code is None:
        m = _ERRNO.search(str(exc))
        code = int(m.group(1)) if m else None
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    if not paths:
        paths = [n.removeprefix(NOTE) for n in getattr(exc, "__notes__", ()) if n.startswith(NOTE)][:1]
    where = " -> ".join(paths) or (f"writing under {fallback_path}" if fallback_path else "")
    detail = exc.strerror or (exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc))
    hint = _HINTS.get(code) if code is not None else None
    text = f"{hint} ({detail})" if hint else f"{detail}. Check the path and try again"
    return f"{where}: {text}." if where else f"{text}."
