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


# --- gated and ungated side by side; union designs; spec order; LaTeX markers -------------------------

UNION_EFF = {"dpi": {"200": 0.0, "100": -0.4, "50": -1.6}, "font": {"sans": 0.0, "serif": -0.1, "mono": -0.5},
             "text_color": {"black": 0.0, "blue": 0.0}}
UNION_REF = {"dpi": "200", "font": "sans", "text_color": "black"}
SPEC_ORDER = {"dpi": ["200", "100", "50"], "font": ["sans", "serif", "mono"], "text_color": ["black", "blue"]}


def _union_table(model: str = "m", seed: int = 3) -> pl.DataFrame:
    """A union design as REST+ has it: arm 1 crosses dpi x font in black, arm 2 varies text_color
    at dpi 200 / sans. Factor columns are Enums in spec order (not alphabetical, not natural)."""
    full = simulate_table(40, UNION_EFF, seed=seed, gate_fail=0.25, model=model)
    arm1 = pl.col("text_color") == "black"
    arm2 = (pl.col("dpi") == "200") & (pl.col("font") == "sans")
    t = full.filter((pl.col("modality") == "text") | arm1 | arm2)
    return t.with_columns([pl.col(f).cast(pl.Enum(v)) for f, v in SPEC_ORDER.items()])


@pytest.fixture(scope="module")
def union_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("union")
    table = _union_table()
    gate = {"m": {"threshold": 0.02, "normalization": {"nfkc": True, "casefold": False}}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        paths = write_report(table, out, factors=list(UNION_EFF), reference=UNION_REF, name="union", n_boot=50,
                             plot=False, gate=gate)
    return table, paths


def test_gated_and_ungated_deltas_in_one_table_equal_rp_effects(union_report):
    import restplus as rp

    table, paths = union_report
    side = pl.read_csv(paths["effects_gate_csv"], infer_schema_length=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        views = {tag: rp.effects(table, list(UNION_EFF), reference=UNION_REF, gate_policy=policy, n_boot=50)
                 for tag, policy in (("gated", "exclude"), ("ungated", "ignore"))}
    assert side.height == views["gated"].frame.height
    for tag, eff in views.items():
        want = {(r["term"], str(r["level"])): r for r in eff.frame.iter_rows(named=True)}
        for r in side.iter_rows(named=True):
            w = want[(r["term"], str(r["level"]))]
            assert r[f"delta_{tag}"] == pytest.approx(w["delta"])
            assert r[f"delta_{tag}_ci_low"] == pytest.approx(w["delta_ci_low"])
            assert r[f"p_adj_{tag}"] == pytest.approx(w["p_adj"])
    # the two views differ (the gate drops a quarter of the rows), so both columns carry information
    assert side["delta_gated"].to_list() != side["delta_ungated"].to_list()
    # gate pass rate per level, from the image/mixed answer rows at that level
    vis = table.filter(pl.col("modality") != "text")
    mono = side.filter(pl.col("level") == "mono")["gate_pass"][0]
    assert mono == pytest.approx(vis.filter(pl.col("font") == "mono")["gate_passed"].cast(pl.Float64).mean())
    md = paths["effects_gate_md"].read_text()
    assert "Gated Delta (pp) [95% CI]" in md and "Ungated Delta (pp) [95% CI]" in md and "Gate pass (%)" in md
    summary = paths["summary_md"].read_text()
    assert "OCR gate: CER <= 0.02 after normalisation: nfkc" in summary
    assert "## Factor effects, gated and ungated" in summary


def test_reference_accuracy_is_on_the_matched_cells_of_the_arm(union_report):
    table, paths = union_report
    side = pl.read_csv(paths["effects_gate_csv"], infer_schema_length=None)
    gated = table.filter((pl.col("modality") != "text") & pl.col("gate_passed") & pl.col("correct").is_not_null())
    blue = side.filter(pl.col("level") == "blue").row(0, named=True)
    # text_color's arm is dpi 200 / sans: black there, not black pooled over arm 1's 50 DPI cells
    matched = gated.filter((pl.col("text_color") == "black") & (pl.col("dpi") == "200") & (pl.col("font") == "sans"))
    pooled = gated.filter(pl.col("text_color") == "black")
    assert blue["acc_reference_arm"] == pytest.approx(matched["correct"].cast(pl.Float64).mean())
    assert abs(blue["acc_reference_arm"] - pooled["correct"].cast(pl.Float64).mean()) > 0.05
    # dpi's arm is arm 1 (dpi x font, black): the reference is dpi 200 over both fonts there
    d50 = side.filter(pl.col("level") == "50").row(0, named=True)
    arm1 = gated.filter((pl.col("dpi") == "200") & (pl.col("text_color") == "black"))
    assert d50["acc_reference_arm"] == pytest.approx(arm1["correct"].cast(pl.Float64).mean())
    assert "Acc. ref., same arm (%)" in paths["effects_gate_md"].read_text()


def test_levels_stay_in_spec_order(union_report):
    table, paths = union_report
    side = pl.read_csv(paths["effects_gate_csv"], infer_schema_length=None)
    # spec order 200, 100, 50 and sans, serif, mono: neither alphabetical (mono < serif) nor natural (50 < 100)
    assert side.filter(pl.col("term") == "dpi")["level"].cast(pl.String).to_list() == ["100", "50"]
    assert side.filter(pl.col("term") == "font")["level"].to_list() == ["serif", "mono"]
    first = table["problem_id"][0]
    broken = table.with_columns(pl.when((pl.col("modality") == "image") & (pl.col("problem_id") == first))
                                .then(pl.lit("timeout")).otherwise(None).alias("error"))
    broken = broken.with_columns(pl.when(pl.col("error").is_not_null()).then(None).otherwise(pl.col("correct"))
                                 .alias("correct"))
    from restplus.report.write import _missing_table

    miss = _missing_table(broken, list(UNION_EFF), ["model"])
    fonts = miss.filter(pl.col("dpi") == "200")["font"].unique(maintain_order=True).to_list()
    assert fonts == ["sans", "serif", "mono"]
    dpis = miss.filter(pl.col("font") == "sans")["dpi"].unique(maintain_order=True).to_list()
    assert dpis == ["200", "100", "50"]


def test_interactions_are_not_listed_as_main_effects(tmp_path):
    t = simulate_table(60, {"dpi": {"200": 0.0, "50": -2.5}, "font": {"sans": 0.0, "mono": -2.0}}, seed=5,
                       gate_fail=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        paths = write_report(t, tmp_path, factors=["dpi", "font"], reference={"dpi": "200", "font": "sans"},
                             interactions=2, n_boot=50, plot=False)
    summary = paths["summary_md"].read_text()
    md = paths["effects_gate_md"].read_text()
    assert "dpi:font (interaction)" in md and "Legend:" in md and "differences of differences" in md
    section = summary.split("## Largest factor effects")[1].split("\n## ")[0]
    assert "main effects:" in section
    if "dpi:font=" in section:  # when the interaction is significant it sits under its own label
        assert section.index("interaction terms") < section.index("dpi:font=")
        assert section.index("main effects:") < section.index("interaction terms")


def test_latex_less_than_in_math_mode_and_a_legend_for_markers():
    from restplus.stats import _format as fmt

    tex = fmt.latex(["Term", "p"], [["dpi", "<0.001"], ["font", "<0.001*"], ["x<y", "0.5"]], "lr",
                    legend="Legend: * marks a row with a note.")
    assert "& $<$0.001 \\\\" in tex and "& $<$0.001* \\\\" in tex
    assert "<0.001" not in tex.replace("$<$0.001", "")
    assert "\\multicolumn{2}{l}{\\footnotesize Legend: * marks a row with a note.} \\\\" in tex
    assert tex.index("\\bottomrule") < tex.index("\\multicolumn") < tex.index("\\end{tabular}")
