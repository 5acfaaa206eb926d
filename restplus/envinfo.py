"""Facts about the running environment that go into manifests and fingerprints (no restplus deps)."""

from __future__ import annotations

import functools
import importlib.metadata
import subprocess
from pathlib import Path


def package_versions(*names: str) -> dict[str, str | None]:
    """Installed versions of the given distributions (None when not installed)."""
    out: dict[str, str | None] = {}
    for n in names:
        try:
            out[n] = importlib.metadata.version(n)
        except importlib.metadata.PackageNotFoundError:
            out[n] = None
    return out


@functools.lru_cache(maxsize=1)
def git_commit() -> str | None:
    """HEAD of the git checkout restplus runs from (None when not a checkout), '+dirty' if modified.

    Cached per process: it costs two subprocesses, and manifests are written many times per search.
    """
    root = Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        return None  # e.g. an installed wheel: the manifest records null rather than guessing
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")
