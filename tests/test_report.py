"""Report writers: files, table shapes, LaTeX that compiles, figures that are real PNG/PDF."""

from __future__ import annotations

import re
import shutil
import subprocess
import warnings
from pathlib import Path

import polars as pl
import pytest
from PIL import Image

from restplus.report import plots
from restplus.report.write import consistency_table, write_report
from restplus.stats import accuracy_table, consistency, gate_summary, simulate_table, token_curve

EFF = {"dpi": {"200": 0.0, "100": -0.3, "50": -1.0}, "font": {"sans": 0.0, "mono": -0.2}}
REF = {"dpi": "200", "font": "sans"}


@pytest.fixture(scope="module")
def two_models() -> pl.DataFrame:
    return pl.concat([simulate_table(60, EFF, seed=1, gate_fail=0.1, tokens=True, model="alpha"),
                      simulate_table(60, EFF, seed=2, gate_fail=0.05, tokens=True, model="beta/v2", intercept=1.2)])


@pytest.fixture(scope="module")
def report(two_models, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("report")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return write_report(two_models, out, factors=["dpi", "font"], reference=REF, name="demo", n_boot=100)


@pytest.mark.slow  # shares the ~7 s report fixture (plots dominate)
def test_every_promised_file_exists_and_is_non_empty(report):
    expected = {"summary_md", "metrics_csv", "consistency_csv", "consistency_md", "consistency_tex", "gate_csv",
                "gate_md", "gate_tex", "effects_csv", "effects_md", "effects_tests_csv", "effects_tex_alpha",
                "effects_tex_beta-v2"}
    for kind in ("marginal", "rer", "interaction", "tokens", "gate"):
        for model in ("alpha", "beta-v2"):
            expected |= {f"fig_{kind}_{model}_png", f"fig_{kind}_{model}_pdf"}
    assert expected <= set(report)
    for path in report.values():
        assert path.exists() and path.stat().st_size > 0, path


@pytest.mark.slow  # shares the ~7 s report fixture (plots dominate)
def test_figures_are_real_images(report):
    for key, path in report.items():
        if key.endswith("_png"):
            with Image.open(path) as im:
                assert im.format == "PNG" and im.width > 300 and im.height > 200
        if key.endswith("_pdf"):
            assert path.read_bytes()[:5] == b"%PDF-"


@pytest.mark.slow  # shares the ~7 s report fixture (plots dominate)
def test_consistency_table_has_one_row_per_model_with_the_metric_values(two_models, report):
    wide = pl.read_csv(report["consistency_csv"])
    assert wide.get_column("model").to_list() == ["alpha", "beta/v2"]
    metrics = pl.read_csv(report["metrics_csv"])
    rer = metrics.filter((pl.col("model") == "beta/v2") & (pl.col("scope") == "overall") & pl.col("gated")
                         & (pl.col("metric") == "rer")).get_column("value")[0]
    assert wide.filter(pl.col("model") == "beta/v2").get_column("rer")[0] == pytest.approx(rer)
    for col in ("cfr", "mmc", "acc_text", "acc_image", "acc_mixed", "gate_pass", "rer_ci_low"):
        assert col in wide.columns
    md = report["consistency_md"].read_text()
    header, sep, *body = [line for line in md.splitlines() if line.startswith("|")]
    assert header.count("|") == sep.count("|") and len(body) == 2
    assert "RER (%)" in header and "OCR pass (%)" in header


@pytest.mark.slow  # shares the ~7 s report fixture (plots dominate)
def test_effects_csv_carries_the_model_column(report):
    eff = pl.read_csv(report["effects_csv"])
    assert set(eff.get_column("model")) == {"alpha", "beta/v2"}
    assert set(eff.get_column("level")) == {"50", "100", "mono"}


@pytest.mark.slow  # shares the ~7 s report fixture (plots dominate)
def test_summary_reads_first(report):
    text = report["summary_md"].read_text()
    assert text.startswith("# demo")
    for needle in ("## Consistency", "## Largest factor effects", "alpha", "beta/v2", "dpi=50", "## OCR gate",
                   "## Vision tokens", "`consistency.tex`"):
        assert needle in text, needle
    assert len(text.splitlines()) < 120  # short: the numbers a person reads first


def _tabular_column_count(tex: str) -> int:
    return len(re.search(r"\\begin\{tabular\}\{([lcr]+)\}", tex).group(1))


@pytest.mark.slow  # shares the ~7 s report fixture (plots dominate)
def test_latex_tables_are_well_formed(report):
    for key in ("consistency_tex", "gate_tex", "effects_tex_alpha"):
        tex = report[key].read_text()
        n_cols = _tabular_column_count(tex)
        body = tex.split("\\midrule", 1)[1].split("\\bottomrule", 1)[0]
        for line in filter(None, (ln.strip() for ln in body.splitlines())):
            assert line.endswith("\\\\") and line.count(" & ") == n_cols - 1, (key, line)
        assert re.search(r"(?<!\\)[%_&]", tex.split("\\toprule", 1)[1].replace(" & ", " ")) is None


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed: structure checked above")
def test_latex_tables_compile_with_input(report, tmp_path):
    has_booktabs = subprocess.run(["kpsewhich", "booktabs.sty"], capture_output=True, text=True).stdout.strip()
    # without booktabs.sty, stand-in rules keep the compile check meaningful for everything else
    preamble = ("\\usepackage{booktabs}" if has_booktabs else
                "\\newcommand{\\toprule}{\\hline}\\newcommand{\\midrule}{\\hline}\\newcommand{\\bottomrule}{\\hline}")
    inputs = "\n".join(f"\\input{{{report[k]}}}\\par\\bigskip"
                       for k in ("consistency_tex", "gate_tex", "effects_tex_alpha", "effects_tex_beta-v2"))
    doc = tmp_path / "doc.tex"
    doc.write_text(f"\\documentclass{{article}}\n\\usepackage[landscape,margin=1cm]{{geometry}}\n{preamble}\n"
                   f"\\begin{{document}}\n\\tiny\n{inputs}\n\\end{{document}}\n")
    res = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", doc.name], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout[-3000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 1000


def test_consistency_table_without_gate_falls_back_to_all_units():
    t = simulate_table(30, EFF, seed=3).drop("gate_passed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wide = consistency_table(consistency(t, ["dpi", "font"], n_boot=0))
    assert wide.height == 1 and wide.get_column("gate_pass")[0] is None and wide.get_column("rer")[0] > 0


@pytest.mark.slow
def test_plot_functions_write_png_and_pdf(two_models, tmp_path):
    alpha = two_models.filter(pl.col("model") == "alpha")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        metrics = consistency(alpha, ["dpi", "font"], n_boot=50)
        made = [
            plots.plot_marginal_accuracy(metrics, ["dpi", "font"], tmp_path / "m"),
            plots.plot_rer(metrics, ["dpi", "font"], tmp_path / "r"),
            plots.plot_interaction(accuracy_table(alpha, ["dpi", "font"], n_boot=50), "dpi", "font", tmp_path / "i"),
            plots.plot_tokens(token_curve(alpha, n_boot=50), tmp_path / "t"),
            plots.plot_gate(gate_summary(alpha, ["dpi", "font"]), ["dpi", "font"], tmp_path / "g"),
        ]
    for png, pdf in made:
        assert png.suffix == ".png" and pdf.suffix == ".pdf" and png.stat().st_size > 5000


def test_report_on_an_image_only_table_skips_consistency_and_says_why(tmp_path):
    t = simulate_table(40, EFF, seed=4, modalities=("image",))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        paths = write_report(t, tmp_path, factors=["dpi", "font"], reference=REF, n_boot=0, plot=False)
    assert "consistency_csv" not in paths and "effects_csv" in paths
    assert "consistency metrics: not computable" in paths["summary_md"].read_text()
