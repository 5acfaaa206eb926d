"""Failed requests are missing data (not wrong answers); runs are named, unique and never silently pooled."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import polars as pl
import pytest

import restplus as rp
from restplus.cli import main
from restplus.errors import AnalysisError, DuplicateRunError, MissingnessWarning
from restplus.grammar.grid import variant_seed
from restplus.grammar.spec import load_grid
from restplus.problems import builtin_set
from restplus.report.write import write_report
from restplus.runner.gate import reference_text
from restplus.stats import accuracy_table, consistency, missingness, simulate_table
from restplus.testing import AlwaysWrong, EchoGold, Flaky
from restplus.variants.realization import realize

ROOT = Path(__file__).resolve().parents[1]
FACTORS = ["dpi", "text_color"]


@pytest.fixture(scope="module")
def setup():
    grid = load_grid(ROOT / "perturbations" / "smoke.yaml")
    problems = [*builtin_set("soe", n=3), *builtin_set("arith", n=3)]
    variants = [realize(p, grid, c, variant_seed(0, p.problem_id, c)) for p in problems for c in grid.cells()]
    tags = {}
    for v in variants:
        tags[f"solve:{v.answer_type}:{v.variant_id}"] = f"Answer: {v.answer}"
        if v.images:
            tags[f"ocr:{v.answer_type}:{v.variant_id}"] = reference_text([i.rendered_text for i in v.images])
    return grid, problems, variants, tags


def run(setup, model, out, **kw):
    grid, problems, variants, _ = setup
    return rp.evaluate(variants, model, out=out, grid=grid, problems=problems, progress=False, **kw)


@pytest.fixture(scope="module")
def flaky(setup, tmp_path_factory):
    out = tmp_path_factory.mktemp("flaky") / "flaky"
    return run(setup, Flaky(EchoGold(setup[3]), every=3), out)


def _solve(table: pl.DataFrame) -> pl.DataFrame:
    return table.filter(pl.col("prompt_type") == "solve")


def test_flaky_oracle_is_perfect_on_the_answered_rows(flaky):
    t = flaky.table
    solve = _solve(t)
    failed = solve.filter(pl.col("error").is_not_null())
    assert failed.height > 0 and failed["correct"].null_count() == failed["answer"].null_count() == failed.height
    with pytest.warns(rp.AnalysisWarning, match=f"{failed.height} of {solve.height} answer row"):
        acc = accuracy_table(t, ["dpi"], modalities=["text", "image", "mixed"], gate_policy="ignore", n_boot=0)
    assert acc["accuracy"].to_list() == [1.0] * acc.height  # was 66.7% when errors were scored wrong
    expected = failed.group_by(pl.col("dpi").cast(pl.String), "modality").agg(pl.len().alias("want"))
    got = acc.join(expected, on=["dpi", "modality"], how="left", nulls_equal=True)
    got = got.with_columns(pl.col("want").fill_null(0))
    assert (got["n_missing"] == got["want"]).all()
    assert (acc["n"] + acc["n_missing"]).sum() == solve.height


def test_consistency_excludes_and_counts_units_with_a_missing_modality(flaky):
    t = flaky.table
    solve = _solve(t)
    # a unit is (problem, visual cell) with the problem's text row: it is missing if any of its 3 rows failed
    text_failed = set(solve.filter((pl.col("modality") == "text") & pl.col("error").is_not_null())["problem_id"])
    vis = solve.filter(pl.col("modality") != "text")
    units = vis.group_by("problem_id", *FACTORS).agg(pl.col("error").is_not_null().any().alias("bad"))
    n_bad = units.filter(pl.col("bad") | pl.col("problem_id").is_in(list(text_failed))).height
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rp.AnalysisWarning)
        m = consistency(t, FACTORS, n_boot=0, gated="ungated")
    overall = m.filter(pl.col("scope") == "overall")
    assert 0 < n_bad < units.height
    assert set(overall["n_missing"].to_list()) == {n_bad}
    assert overall.filter(pl.col("metric") == "rer")["n_units"][0] == units.height - n_bad
    vals = dict(zip(overall["metric"], overall["value"]))
    assert vals["rer"] == vals["acc_text"] == vals["acc_image"] == vals["acc_mixed"] == 1.0
    per_level = m.filter((pl.col("scope") == "factor") & (pl.col("metric") == "rer"))
    assert per_level["n_missing"].sum() == len(FACTORS) * n_bad  # each lost unit sits at one level per factor


def test_report_shows_the_error_counts(flaky, tmp_path):
    t = flaky.table
    solve = _solve(t)
    n_fail = solve["error"].is_not_null().sum()
    n_ocr = t.filter(pl.col("prompt_type") == "ocr")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rp.AnalysisWarning)
        paths = write_report(t, tmp_path / "rep", factors=FACTORS, gate_policy="ignore", n_boot=0, plot=False)
    summary = paths["summary_md"].read_text()
    assert (f"flaky: failed requests: {n_fail} of {solve.height} answer rows" in summary
            and f"{n_ocr['error'].is_not_null().sum()} of {n_ocr.height} OCR calls" in summary)
    missing = pl.read_csv(paths["missing_csv"])
    overall = missing.filter(pl.all_horizontal([pl.col(f).is_null() for f in FACTORS]))
    assert overall["n_missing"].sum() == n_fail and overall["n"].sum() == solve.height


def test_old_tables_that_scored_errors_wrong_are_read_as_missing(flaky):
    t = flaky.table
    old = t.with_columns(pl.when(pl.col("error").is_not_null() & (pl.col("prompt_type") == "solve"))
                         .then(False).otherwise(pl.col("correct")).alias("correct"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rp.AnalysisWarning)
        a = accuracy_table(t, ["dpi"], n_boot=0, gate_policy="ignore")
        b = accuracy_table(old, ["dpi"], n_boot=0, gate_policy="ignore")
    assert a.equals(b)


def test_null_correct_without_an_error_is_refused():
    t = simulate_table(8, {}, seed=0).with_columns(pl.lit(None, dtype=pl.Boolean).alias("correct"))
    with pytest.raises(AnalysisError, match="correct = null but no error"):
        accuracy_table(t, [], n_boot=0)


def _with_errors(table: pl.DataFrame, where: pl.Expr) -> pl.DataFrame:
    return table.with_columns(pl.when(where).then(pl.lit("timeout")).otherwise(None).alias("error"))


def test_missingness_that_depends_on_a_factor_is_warned():
    t = simulate_table(40, {"dpi": {"50": -1.0, "200": 0.0}}, seed=3).with_columns(
        pl.col("problem_id").rank("dense").alias("_i"))
    # 200-dpi renders time out half the time, 50-dpi ones never: dpi-dependent missingness
    biased = _with_errors(t, (pl.col("dpi") == "200") & (pl.col("_i") % 2 == 0))
    with pytest.warns(MissingnessWarning, match="missing rows depend on 'dpi'"):
        table = missingness(biased, ["dpi"])
    rates = dict(zip(table.filter(pl.col("factor") == "dpi")["level"], table.filter(pl.col("factor") == "dpi")
                     ["missing_rate"]))
    assert rates["50"] == 0.0 and 0.4 < rates["200"] < 0.6
    # the same number of failures spread evenly over the levels: no warning
    even = _with_errors(t, pl.col("_i") % 4 == 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", MissingnessWarning)
        out = missingness(even, ["dpi"])
    assert out.filter(pl.col("factor") == "dpi")["p_adj"][0] > 0.05


# ------------------------------------------------------------------------------------------- runs
def test_every_run_gets_a_unique_id_and_a_name(setup, tmp_path):
    a = run(setup, EchoGold(setup[3]), tmp_path / "a")
    b = run(setup, EchoGold(setup[3]), tmp_path / "b", run_name="second")
    assert a.manifest["run_id"] != b.manifest["run_id"]  # the same experiment twice is two runs
    assert (a.manifest["run_name"], b.manifest["run_name"]) == ("a", "second")
    assert a.table["run"].unique().to_list() == ["a"] and b.table["run"].unique().to_list() == ["second"]
    again = run(setup, EchoGold(setup[3]), tmp_path / "a")  # resuming keeps the id
    assert again.manifest["run_id"] == a.manifest["run_id"]


def test_the_same_run_twice_is_refused(setup, tmp_path, capsys):
    run(setup, EchoGold(setup[3]), tmp_path / "r")
    with pytest.raises(DuplicateRunError, match="given twice") as err:
        rp.read_runs([tmp_path / "r", tmp_path / "r"])
    assert str(tmp_path / "r") in str(err.value)
    shutil.copytree(tmp_path / "r", tmp_path / "copy")  # a copy keeps its run_id: still the same run
    with pytest.raises(DuplicateRunError, match="given twice") as err:
        rp.read_runs([tmp_path / "r", tmp_path / "copy"])
    assert str(tmp_path / "r") in str(err.value) and str(tmp_path / "copy") in str(err.value)
    t = pl.read_parquet(tmp_path / "r" / "results.parquet")
    with pytest.raises(DuplicateRunError):
        rp.concat_results([t, t])
    assert main(["analyse", str(tmp_path / "r"), str(tmp_path / "r")]) == 2
    assert "given twice" in capsys.readouterr().err


@pytest.fixture(scope="module")
def two_runs(setup, tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    run(setup, EchoGold(setup[3]), root / "good", model_name="m")
    run(setup, AlwaysWrong("Answer: 0"), root / "bad", model_name="m")
    return root


def test_two_named_runs_of_one_model_are_two_rows(two_runs, tmp_path):
    got = rp.read_runs([two_runs / "good", two_runs / "bad"])
    assert got.table["model"].unique().to_list() == ["m"]
    with pytest.raises(AnalysisError, match="mixes 2 runs"):
        accuracy_table(got.table, ["dpi"], n_boot=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rp.AnalysisWarning)
        paths = write_report(got.table, tmp_path / "rep", factors=got.factors, reference=got.reference,
                             gate_policy="ignore", n_boot=0, plot=False)
    cons = pl.read_csv(paths["consistency_ungated_csv"])
    assert sorted(cons["run"].to_list()) == ["bad", "good"] and cons["model"].to_list() == ["m", "m"]
    assert dict(zip(cons["run"], cons["acc_text"])) == {"good": 1.0, "bad": 0.0}
    assert "1 model(s), 2 run(s)" in paths["summary_md"].read_text()
    summary = paths["summary_md"].read_text()  # effects are estimated per run (both are constant here)
    assert "effects for good: not estimable" in summary and "effects for bad: not estimable" in summary


def test_pooling_is_explicit(two_runs):
    pooled = rp.read_runs([two_runs / "good", two_runs / "bad"], pool=True).table
    assert pooled["run"].unique().to_list() == ["good+bad"]
    acc = accuracy_table(pooled, ["dpi"], n_boot=0, gate_policy="ignore", modalities=["text"])
    single = accuracy_table(pl.read_parquet(two_runs / "good" / "results.parquet"), ["dpi"], n_boot=0,
                            gate_policy="ignore", modalities=["text"])
    assert acc["n"][0] == 2 * single["n"][0] and acc["accuracy"][0] == 0.5


def test_two_runs_under_one_name_are_refused_unless_named_apart(setup, tmp_path):
    run(setup, EchoGold(setup[3]), tmp_path / "x" / "reader")
    run(setup, EchoGold(setup[3]), tmp_path / "y" / "reader")
    paths = [tmp_path / "x" / "reader", tmp_path / "y" / "reader"]
    with pytest.raises(DuplicateRunError, match="both named 'reader'"):
        rp.read_runs(paths)
    named = rp.read_runs({"x": paths[0], "y": paths[1]})
    assert sorted(named.table["run"].unique().to_list()) == ["x", "y"]


def test_cli_run_name_and_report_pool(two_runs, tmp_path, capsys):
    good, bad = str(two_runs / "good"), str(two_runs / "bad")
    assert main(["report", good, bad, "--out", str(tmp_path / "sep"), "--gate-policy", "ignore"]) == 0
    assert "2 run(s)" in (tmp_path / "sep" / "summary.md").read_text()
    assert main(["report", good, bad, "--pool", "--out", str(tmp_path / "pool"), "--gate-policy", "ignore"]) == 0
    text = (tmp_path / "pool" / "summary.md").read_text()
    assert "1 run(s) (runs of each model pooled on request)" in text
