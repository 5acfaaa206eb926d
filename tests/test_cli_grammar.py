"""CLI: validate and describe, help texts with examples, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from restplus.cli import COMMANDS, build_parser, main

build_parser()  # registers the extension commands, so every command is parametrised below


def test_validate_ok(capsys):
    assert main(["validate", "perturbations/rest_plus.yaml", "perturbations/smoke.yaml"]) == 0
    out = capsys.readouterr().out
    assert "rest_plus.yaml: ok — 27 cells" in out and "smoke.yaml: ok — 9 cells" in out


def test_describe_prints_factors_and_balance(capsys):
    assert main(["describe", "perturbations/rest_plus.yaml", "--cells"]) == 0
    out = capsys.readouterr().out
    assert "dpi [dpi] (ordered): 50, 100, *200*" in out
    assert "cells: 27 (text: 1, image: 13, mixed: 13)" in out
    assert "unbalanced" in out and out.count("  c") >= 27


def test_error_is_one_line_without_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("restplus_spec: 1\nfactors:\n  dpi: {levels: [50], reference: 70}\n")
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "reference=70" in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_debug_shows_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("restplus_spec: 1\nfactors:\n  dpi: {levels: [50], reference: 70}\n")
    proc = subprocess.run([sys.executable, "-m", "restplus", "validate", "--debug", str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_all_commands_are_registered():
    assert {"validate", "describe", "generate", "contact-sheet", "show", "export", "run", "rescore", "analyse",
            "report", "demo", "gap", "search"} <= set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help_with_example(name, capsys):
    with pytest.raises(SystemExit) as e:
        main([name, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "Example:" in out and f"restplus {name}" in out
