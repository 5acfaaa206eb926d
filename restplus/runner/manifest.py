"""Run-folder identity and the reproducibility manifest of an evaluation run.

A run folder (``out/``) holds ``manifest.json``, written when a run starts (``status: running``)
and rewritten at the end. Its ``identity`` — spec hash, problems digest and model-fingerprint hash
— decides whether a folder may be resumed: continuing under a different spec, problem set or
model would mix answers of different experiments in one table, so it is refused with
:class:`~restplus.errors.CacheMismatchError` naming both hashes.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..envinfo import git_commit, package_versions
from ..errors import CacheMismatchError
from ..hashing import digest

MANIFEST = "manifest.json"
RESULTS = "results.parquet"
ROWS = "rows.parquet"
PROBLEMS = "problems.jsonl"
CACHE = "cache.sqlite"
MANIFEST_VERSION = 1

_SECRET_WORDS = ("api_key", "apikey", "secret", "password", "token", "authorization", "bearer")
_PACKAGES = ("restplus", "pillow", "numpy", "polars", "pyarrow", "rapidfuzz", "tqdm", "torch", "transformers",
             "tokenizers", "openai", "pytesseract")


# ---------------------------------------------------------------------------------- atomic io
def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write via a temporary file in the same folder and rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode())


def write_parquet_atomic(df: Any, path: str | Path) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        df.write_parquet(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_manifest(out: str | Path) -> dict[str, Any] | None:
    p = Path(out) / MANIFEST
    if not p.exists():
        return None
    return json.loads(p.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------- identity
def scrub(obj: Any) -> Any:
    """A copy of a fingerprint with any secret-looking key removed (adapters should not put
    secrets there; this is a second line of defence for third-party adapters)."""
    if isinstance(obj, Mapping):
        return {k: scrub(v) for k, v in obj.items()
                if not any(w in str(k).lower().replace("-", "_") for w in _SECRET_WORDS)}
    if isinstance(obj, (list, tuple)):
        return [scrub(v) for v in obj]
    return obj


def fingerprint_hash(fp: Mapping[str, Any]) -> str:
    return digest(fp, 16)


def problems_digest(problem_ids: Iterable[str]) -> str:
    """Digest of the set of problem ids (ids are content hashes, so this pins content)."""
    return digest(sorted(set(problem_ids)), 16)


def make_identity(spec_hash: str, problems_hash: str, model_fp: Mapping[str, Any]) -> dict[str, str]:
    return {"spec_hash": spec_hash, "problems_digest": problems_hash, "model_fingerprint": fingerprint_hash(model_fp)}


_WHAT = {"spec_hash": ("spec (grid)", "the grid"), "problems_digest": ("problem set", "the problems"),
         "model_fingerprint": ("model fingerprint", "the model or its settings")}


def check_identity(out: str | Path, identity: Mapping[str, str]) -> dict[str, Any] | None:
    """Raise CacheMismatchError if ``out`` holds a run with another identity; return its manifest."""
    old = read_manifest(out)
    if old is None:
        return None
    before = old.get("identity") or {}
    for key, (what, changed) in _WHAT.items():
        if before.get(key) != identity[key]:
            raise CacheMismatchError(
                f"run folder {str(out)!r} was made with a different {what}: folder has {key}={before.get(key)}, "
                f"this run has {key}={identity[key]}. Resuming would mix {changed} in one table. Use a new "
                "--out folder, or pass resume=False (CLI: --no-resume) to start this folder over.")
    return old


# ---------------------------------------------------------------------------------- environment
@functools.lru_cache(maxsize=1)
def _environment() -> str:
    return json.dumps({"python": sys.version.split()[0], "platform": platform.platform(),
                       "machine": platform.machine(), "packages": package_versions(*_PACKAGES),
                       "git_commit": git_commit()})


def environment() -> dict[str, Any]:
    """Python, platform, package versions and git commit (computed once per process)."""
    return json.loads(_environment())


def font_checksums(provenances: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """``{font family or file: sha256}`` from image provenance records (``font`` entries)."""
    out: dict[str, str] = {}
    for prov in provenances:
        fonts = [prov.get("font")] + list((prov.get("fallback_fonts") or []))
        for f in fonts:
            if isinstance(f, Mapping) and f.get("sha256"):
                out[str(f.get("family") or f.get("file") or f.get("path"))] = str(f["sha256"])
    return dict(sorted(out.items()))


def build_manifest(*, run_id: str, status: str, identity: Mapping[str, str], model_name: str,
                   model_fp: Mapping[str, Any], spec: Mapping[str, Any] | None, prompts: Mapping[str, Any],
                   prompt_hash: str, decoding: Mapping[str, Any], gate: Mapping[str, Any],
                   counts: Mapping[str, Any], fonts: Mapping[str, str], factors: list[str],
                   source: Mapping[str, Any], external_gate: Mapping[str, Any] | None,
                   started: str, finished: str | None) -> dict[str, Any]:
    return {"manifest_version": MANIFEST_VERSION, "run_id": run_id, "status": status, "identity": dict(identity),
            "model": {"name": model_name, "fingerprint": scrub(dict(model_fp))}, "spec": spec,
            "prompts": {"hash": prompt_hash, **dict(prompts)}, "decoding": dict(decoding), "gate": dict(gate),
            "external_gate": external_gate, "factors": factors, "counts": dict(counts), "fonts": dict(fonts),
            "source": dict(source), "environment": environment(), "started": started, "finished": finished,
            "files": {"results": RESULTS, "rows": ROWS, "problems": PROBLEMS, "cache": CACHE}}

