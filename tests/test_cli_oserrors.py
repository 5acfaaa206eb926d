"""Ordinary OS failures reach the CLI user as one line naming the path and what to do, never a traceback.

Each case runs ``python -m restplus`` in a subprocess, as a user would. Permission cases need a
process that file permissions apply to: when the tests run as root, the subprocess drops the
capabilities that let root ignore them (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH); a full disk is a
file-size limit (``ulimit -f``), under which writes fail with EFBIG.
"""

from __future__ import annotations

import ctypes
import os
import resource
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SMOKE = str(ROOT / "perturbations" / "smoke.yaml")
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_THREAD_LIMIT": "1", "HF_HUB_OFFLINE": "1"}
PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 24, 1, 2


def _can_drop_caps() -> bool:
    if os.geteuid() != 0:
        return True  # permissions already apply
    r = subprocess.run([sys.executable, "-c", "pass"], preexec_fn=_unprivileged, capture_output=True)
    return r.returncode == 0


def _unprivileged() -> None:
    """In the child, before exec: a root process loses the capabilities that bypass file permissions."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _limit_file_size(nbytes: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))
    return apply


@dataclass(frozen=True)
class Case:
    """argv (with {d} for the case folder), a setup of that folder, and what the one line must say."""

    id: str
    argv: list[str]
    expect: list[str]
    setup: Callable[[Path], None] = lambda d: None
    perms: bool = False  # needs permissions to apply
    fsize: int | None = None  # file-size limit in bytes
    code: int = 2
    stdout_closed: bool = False
    extra: dict = field(default_factory=dict)


def _file(name: str, text: str = "x") -> Callable[[Path], None]:
    return lambda d: (d / name).write_text(text)


def _ro_dir(name: str) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        (d / name).mkdir()
        (d / name).chmod(0o555)
    return make


def _unreadable(name: str, src: str | None = None) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        p = d / name
        if src is None:
            p.write_text("x")
        elif Path(src).is_dir():
            shutil.copytree(src, p)
        else:
            shutil.copy(src, p)
        p.chmod(0)
    return make


def _copy(src_key: str, name: str, then: Callable[[Path], None] | None = None) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        shutil.copytree(FOLDERS[src_key], d / name)
        if then is not None:
            then(d / name)
    return make


def _chmod_cache_ro(run: Path) -> None:
    for p in run.glob("cache.sqlite*"):
        p.chmod(0o444)
    run.chmod(0o555)


FOLDERS: dict[str, Path] = {}
PERM = "permission denied"
GEN = ["generate", SMOKE, "--problems", "soe", "--n", "1", "--no-progress"]


def _run(src: str) -> list[str]:
    return ["run", src, "--model", "always-wrong", "--no-progress"]


CASES = [
    # generate
    Case("generate-out-is-a-file", [*GEN, "--out", "{d}/f"], ["{d}/f", "exists and is in the way"], _file("f")),
    Case("generate-out-under-a-file", [*GEN, "--out", "{d}/f/sub"], ["{d}/f/sub", "is a file, not a folder"],
         _file("f")),
    Case("generate-out-in-readonly-folder", [*GEN, "--out", "{d}/ro/x"], ["{d}/ro/x", PERM], _ro_dir("ro"), perms=True),
    Case("generate-out-readonly-itself", [*GEN, "--out", "{d}/ro"], ["{d}/ro", PERM], _ro_dir("ro"), perms=True),
    Case("generate-out-foreign-folder", [*GEN, "--out", "{d}/foreign"], ["{d}/foreign", "is not empty"],
         lambda d: (d / "foreign").mkdir() or (d / "foreign" / "notes.txt").write_text("mine")),
    Case("generate-full-disk", [*GEN, "--out", "{d}/x"], ["{d}/x/", "file-size limit"], fsize=2_000),
    Case("generate-spec-is-a-folder", ["generate", "{d}/spec.yaml", "--out", "{d}/x"],
         ["{d}/spec.yaml", "is a directory"], lambda d: (d / "spec.yaml").mkdir()),
    Case("generate-spec-missing", ["generate", "{d}/nope.yaml", "--out", "{d}/x"], ["{d}/nope.yaml"]),
    Case("generate-spec-unreadable", ["generate", "{d}/s.yaml", "--out", "{d}/x"], ["{d}/s.yaml", PERM],
         _unreadable("s.yaml", SMOKE), perms=True),
    Case("generate-problems-unreadable", ["generate", SMOKE, "--problems", "{d}/p.jsonl", "--out", "{d}/x"],
         ["{d}/p.jsonl", PERM], _unreadable("p.jsonl"), perms=True),
    # run
    Case("run-out-is-a-file", [*_run("{v}"), "--out", "{d}/f"], ["{d}/f", "exists and is in the way"], _file("f")),
    Case("run-out-under-a-file", [*_run("{v}"), "--out", "{d}/f/r"], ["{d}/f/r", "is a file, not a folder"],
         _file("f")),
    Case("run-out-in-readonly-folder", [*_run("{v}"), "--out", "{d}/ro/r"], ["{d}/ro/r", PERM], _ro_dir("ro"),
         perms=True),
    Case("run-readonly-cache", [*_run("{v}"), "--out", "{d}/run"], ["{d}/run/cache.sqlite", "readonly", "writable"],
         _copy("run", "run", _chmod_cache_ro), perms=True),
    Case("run-full-disk", [*_run("{v}"), "--out", "{d}/r"], ["{d}/r/"], fsize=30_000),
    Case("run-source-unreadable", [*_run("{d}/v"), "--out", "{d}/r"], ["{d}/v", PERM],
         _copy("variants", "v", lambda p: p.chmod(0)), perms=True),
    Case("run-spec-source-out-readonly", ["run", SMOKE, "--model", "always-wrong", "--n", "1", "--out", "{d}/ro/r",
                                          "--no-progress"], ["{d}/ro/r", PERM], _ro_dir("ro"), perms=True),
    # rescore
    Case("rescore-readonly-run", ["rescore", "{d}/run", "--threshold", "0.5", "--out", "{d}/run/new"],
         ["{d}/run", PERM],
         _copy("run", "run", lambda p: p.chmod(0o555)), perms=True),
    # describe / validate
    Case("describe-broken-pipe", ["describe", SMOKE, "--cells"], [], code=141, stdout_closed=True),
    Case("validate-spec-is-a-folder", ["validate", "{d}/s.yaml"], ["{d}/s.yaml", "is a directory"],
         lambda d: (d / "s.yaml").mkdir()),
    Case("validate-spec-unreadable", ["validate", "{d}/s.yaml"], ["{d}/s.yaml", PERM],
         _unreadable("s.yaml", SMOKE), perms=True),
    # analyse / report
    Case("analyse-run-unreadable", ["analyse", "{d}/run"], ["{d}/run", PERM],
         _copy("run", "run", lambda p: p.chmod(0)), perms=True),
    Case("report-out-is-a-file", ["report", "{r}", "--out", "{d}/f"], ["{d}/f"], _file("f")),
    Case("report-out-in-readonly-folder", ["report", "{r}", "--out", "{d}/ro/rep"], ["{d}/ro/rep", PERM],
         _ro_dir("ro"), perms=True),
    # polars names no file: the line names the report folder being written
    Case("report-full-disk", ["report", "{r}", "--out", "{d}/rep"], ["writing under {d}/rep:", "file-size limit"],
         fsize=2_000),
    # export / contact-sheet / show
    Case("export-out-in-readonly-folder", ["export", "{v}", "--to", "hf-parquet", "--out", "{d}/ro/x.parquet"],
         ["{d}/ro/x.parquet", PERM], _ro_dir("ro"), perms=True),
    Case("export-lmms-out-is-a-file", ["export", "{v}", "--to", "lmms-eval", "--out", "{d}/f"], ["{d}/f"],
         _file("f")),
    Case("contact-sheet-out-is-a-folder", ["contact-sheet", "{v}", "--out", "{d}/sheet.png"],
         ["{d}/sheet.png", "folder"], lambda d: (d / "sheet.png").mkdir()),
    Case("contact-sheet-out-in-readonly-folder", ["contact-sheet", "{v}", "--out", "{d}/ro/s.png"],
         ["{d}/ro/s.png", PERM], _ro_dir("ro"), perms=True),
    Case("show-out-under-a-file", ["show", "hello", "--spec", SMOKE, "--out", "{d}/f/s.png"],
         ["{d}/f", "is in the way"], _file("f")),
]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    base = tmp_path_factory.mktemp("oserr")
    v, r = base / "variants", base / "run"
    for argv in ([*GEN[:-1], "--out", str(v)], [*_run(str(v)), "--out", str(r)]):
        p = subprocess.run([sys.executable, "-m", "restplus", *argv, "--no-progress"], capture_output=True, text=True,
                           env=ENV, cwd=ROOT, timeout=300)
        assert p.returncode == 0, p.stderr
    FOLDERS.update(variants=v, run=r)
    return FOLDERS


def _fill(s: str, d: Path) -> str:
    return s.format(d=d, v=FOLDERS["variants"], r=FOLDERS["run"])


def test_there_are_at_least_25_cases():
    assert len({c.id for c in CASES}) == len(CASES) >= 25


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_os_error_is_one_clear_line(case: Case, folders, tmp_path):
    if case.perms and not _can_drop_caps():
        pytest.skip("running as root without CAP_SETPCAP: file permissions cannot be made to apply here")
    d = tmp_path / "case"
    d.mkdir()
    case.setup(d)
    argv = [_fill(a, d) for a in case.argv]

    def pre() -> None:
        if case.perms:
            _unprivileged()
        if case.fsize is not None:
            _limit_file_size(case.fsize)()

    try:
        if case.stdout_closed:
            p = subprocess.Popen([sys.executable, "-m", "restplus", *argv], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT, preexec_fn=pre)
            p.stdout.close()  # the reader is gone before the first line is printed, as with `| head -0`
            err = p.stderr.read()
            rc = p.wait(timeout=120)
        else:
            r = subprocess.run([sys.executable, "-m", "restplus", *argv], capture_output=True, text=True, env=ENV,
                               cwd=ROOT, timeout=300, preexec_fn=pre)
            rc, err = r.returncode, r.stderr
    finally:
        for p in d.rglob("*"):  # let pytest clean up
            if not p.is_symlink():
                p.chmod(0o755)
    assert "Traceback" not in err, err
    assert rc == case.code, err
    if case.code == 141:
        assert err == ""
        return
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"restplus {argv[0]}: error: "), err
    for want in case.expect:
        assert _fill(want, d).lower() in lines[0].lower(), lines[0]
