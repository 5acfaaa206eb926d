"""Run-folder identity and the reproducibility manifest of an evaluation run.

A run folder (``out/``) holds ``manifest.json``, written when a run starts (``status: running``)
and rewritten at the end. Its ``identity`` — spec hash, problem-id digest, problem-content digest
(when the Problem objects are known) and model-fingerprint hash — decides whether a folder may be
resumed: continuing under a different spec, problem set or model would mix answers of different
experiments in one table, so it is refused with :class:`~restplus.errors.CacheMismatchError`
naming both hashes. Files are written with :mod:`restplus.atomic`.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import platform
import secrets
import sys
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


# ---------------------------------------------------------------------------------- reading
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


def problem_ids_digest(problem_ids: Iterable[str]) -> str:
    """Digest of the *set of problem ids* (order and duplicates ignored).

    Ids alone do not pin content (an explicit ``problem_id`` can stay while the choices or the answer
    change), so when the Problem objects are known the identity also records ``problems_digest``
    (:func:`restplus.variants.runfolder.problems_digest`, the digest of the problem lines).
    """
    return digest(sorted(set(problem_ids)), 16)


def make_identity(spec_hash: str, ids_hash: str, model_fp: Mapping[str, Any],
                  problems_hash: str | None = None) -> dict[str, str]:
    """The identity of a run: ``problems_digest`` only when the problems' content is known."""
    identity = {"spec_hash": spec_hash, "problem_ids_digest": ids_hash, "model_fingerprint": fingerprint_hash(model_fp)}
    if problems_hash is not None:
        identity["problems_digest"] = problems_hash
    return identity


_WHAT = {"spec_hash": ("spec (grid)", "the grid"), "problem_ids_digest": ("problem set (ids)", "the problems"),
         "problems_digest": ("problem set (content)", "problems of different content"),
         "model_fingerprint": ("model fingerprint", "the model or its settings")}


def _legacy(before: dict[str, Any], identity: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Folders written before ``problem_ids_digest`` existed stored the ids digest as ``problems_digest``:
    compare it as the ids digest, and skip the content check (nothing was recorded to check against)."""
    if "problem_ids_digest" in before or "problems_digest" not in before:
        return before, identity
    before = {**before, "problem_ids_digest": before["problems_digest"]}
    del before["problems_digest"]
    return before, {k: v for k, v in identity.items() if k != "problems_digest"}


def check_identity(out: str | Path, identity: Mapping[str, str]) -> dict[str, Any] | None:
    """Raise CacheMismatchError if ``out`` holds a run with another identity; return its manifest."""
    old = read_manifest(out)
    if old is None:
        return None
    before, now = _legacy(dict(old.get("identity") or {}), dict(identity))
    for key, (what, changed) in _WHAT.items():
        if before.get(key) != now.get(key):
            hint = (" (a digest is None when that run was given only variants, not the Problem objects)"
                    if None in (before.get(key), now.get(key)) else "")
            raise CacheMismatchError(
                f"run folder {str(out)!r} was made with a different {what}: folder has {key}={before.get(key)}, "
                f"this run has {key}={now.get(key)}{hint}. Resuming would mix {changed} in one table. Use a new "
                "--out folder, or pass resume=False (CLI: --no-resume) to start this folder over.")
    return old


# ---------------------------------------------------------------------------------- run id and name
def new_run_id(identity: Mapping[str, str], prompt_hash: str) -> str:
    """A fresh id for a run folder started now: content (identity + prompts) + creation time + nonce.

    Ids used to be a digest of the content alone, so two folders of the same experiment (a re-run, a
    copy with another gate, ``--no-resume``) shared one id and could not be told apart once their
    tables were concatenated. The nonce is not a seed (nothing random is derived from it); it only
    makes the id unique. A resumed folder keeps the id recorded in its manifest.
    """
    created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds")
    return "run-" + digest({"i": dict(identity), "p": prompt_hash, "t": created, "n": secrets.token_hex(8)}, 12)


def run_label(out: str | Path, name: str | None = None) -> str:
    """The user's label of a run (``--name``), default the output folder's name; analyses key by it."""
    label = Path(out).resolve().name if name is None else str(name).strip()
    if not label:
        from ..errors import SpecError

        raise SpecError(f"run name {name!r} is empty; pass a short label such as --name qwen-ocrfirst.")
    return label


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
                   started: str, finished: str | None, run_name: str | None = None) -> dict[str, Any]:
    return {"manifest_version": MANIFEST_VERSION, "run_id": run_id, "run_name": run_name, "status": status,
            "identity": dict(identity),
            "model": {"name": model_name, "fingerprint": scrub(dict(model_fp))}, "spec": spec,
            "prompts": {"hash": prompt_hash, **dict(prompts)}, "decoding": dict(decoding), "gate": dict(gate),
            "external_gate": external_gate, "factors": factors, "counts": dict(counts), "fonts": dict(fonts),
            "source": dict(source), "environment": environment(), "started": started, "finished": finished,
            "files": {"results": RESULTS, "rows": ROWS, "problems": PROBLEMS, "cache": CACHE}}

