"""``restplus search`` on the command line (the handler is called directly: the lead registers
restplus.cli.search in cli.EXTENSIONS)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import restplus.cli.search as cli_search
from restplus.cli import build_parser
from restplus.errors import SpecError

ROOT = Path(__file__).resolve().parents[1]


def run(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    return cli_search.run_search(args)


def test_search_command_writes_the_run_folder(tmp_path, capsys):
    space = tmp_path / "dpi.yaml"
    space.write_text("restplus_spec: 1\ninclude: " + str(ROOT / "perturbations" / "_defaults.yaml") +
                     "\nfactors: {dpi: {range: [30, 200], reference: 200}}\n")
    code = run(["search", str(space), "--model", "reader", "--workers", "1", "--problems", "soe", "--n", "1",
                "--budget", "20", "--no-minimal", "--out", str(tmp_path / "out")])
    assert code == 0
    cap = capsys.readouterr()
    printed = cap.out
    assert "search complete" in printed and "dpi down: holds at" in printed
    summary = json.loads((tmp_path / "out" / "search.json").read_text())
    # a progress bar over the call budget reports while it searches, naming the phase
    assert "search out:" in cap.err and "/20 [" in cap.err and f"{summary['counts']['calls']}/20" in cap.err
    assert "phase=" in cap.err
    assert summary["budget"] == 20 and 0 < summary["counts"]["calls"] <= 20
    assert summary["model"]["fingerprint"]["adapter"] == "reader"
    assert summary["minimal"][0]["status"] == "not_run" and summary["thresholds"][0]["status"] == "found"
    for name in ("evaluations", "minimal", "thresholds"):
        assert (tmp_path / "out" / f"{name}.parquet").is_file()


def test_search_command_names_bad_input(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("restplus_spec: 1\nfactors: {dpi: {range: [30, 300], referense: 200}}\n")
    with pytest.raises(SpecError, match="Did you mean: reference"):
        run(["search", str(bad), "--model", "reader", "--out", str(tmp_path / "o")])
    with pytest.raises(SpecError, match="Did you mean: consistency"):
        run(["search", str(ROOT / "perturbations" / "search_space.yaml"), "--model", "always-wrong", "--n", "1",
             "--property", "consistancy", "--out", str(tmp_path / "o")])


def test_example_in_help_uses_the_example_space():
    from restplus.cli import COMMANDS

    example = COMMANDS["search"].example
    assert "perturbations/search_space.yaml" in example and (ROOT / "perturbations" / "search_space.yaml").is_file()
