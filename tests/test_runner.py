"""Runner with fake adapters: table contract, caching, dedup, resume, mismatch refusal, interrupts, rescore."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from restplus.errors import BudgetExceeded, CacheMismatchError
from restplus.grammar.grid import variant_seed
from restplus.grammar.spec import load_grid
from restplus.models.base import ModelAdapter
from restplus.problems import builtin_set
from restplus.records import Request, Response
from restplus.runner.cache import ResponseCache
from restplus.runner.evaluation import evaluate
from restplus.runner.gate import reference_text
from restplus.runner.manifest import fingerprint_hash, problem_ids_digest
from restplus.runner.rows import rescore
from restplus.schema import CALL_COLUMNS, COVARIATE_COLUMNS, GATE_COLUMNS, ID_COLUMNS, OUTCOME_COLUMNS
from restplus.testing import AlwaysWrong, Counting, EchoGold
from restplus.variants.realization import realize
from restplus.variants.runfolder import problem_line, problems_digest

ROOT = Path(__file__).resolve().parents[1]
FACTORS = ["dpi", "text_color"]  # visual factors of perturbations/smoke.yaml


@pytest.fixture(scope="module")
def setup():
    grid = load_grid(ROOT / "perturbations" / "smoke.yaml")
    problems = [*builtin_set("soe", n=2), *builtin_set("mcq", n=1)]
    variants = [realize(p, grid, c, variant_seed(0, p.problem_id, c)) for p in problems for c in grid.cells()]
    return grid, problems, variants


def oracle(variants, ocr_edit=lambda s: s) -> dict[str, str]:
    """Per request tag: the gold answer line (solve) or the (edited) exact transcription (ocr)."""
    out = {}
    for v in variants:
        out[f"solve:{v.answer_type}:{v.variant_id}"] = f"Let me think.\nAnswer: {v.answer}"
        if v.images:
            out[f"ocr:{v.answer_type}:{v.variant_id}"] = ocr_edit(reference_text([i.rendered_text for i in v.images]))
    return out


def gold_model(variants, **kw) -> Counting:
    return Counting(EchoGold(oracle(variants, **kw)))


def n_rows(variants) -> int:
    return sum(2 if v.images else 1 for v in variants)


def run(variants, model, out, setup, progress=False, **kw):
    grid, problems, _ = setup
    return evaluate(variants, model, out=out, grid=grid, problems=problems, progress=progress, **kw)


class Scripted(ModelAdapter):
    """Same fingerprint as EchoGold(oracle); fails the first time it sees chosen keys, or stops after n."""

    def __init__(self, inner: EchoGold, fail_once: set[str] = frozenset(), stop_after: int | None = None,
                 stop_with: type[BaseException] = KeyboardInterrupt) -> None:
        self.inner, self.fail_once, self.stop_after, self.stop_with = inner, set(fail_once), stop_after, stop_with
        self.name, self.sent = "scripted", 0

    def fingerprint(self) -> dict[str, Any]:
        return self.inner.fingerprint()

    def iter_generate(self, requests: Sequence[Request]) -> Iterator[tuple[int, Response]]:
        for i, r in enumerate(requests):
            if self.stop_after is not None and self.sent >= self.stop_after:
                raise self.stop_with("stop")
            self.sent += 1
            if r.tag in self.fail_once:
                self.fail_once.discard(r.tag)
                yield i, Response(error="HTTP 500 after 5 attempts")
                continue
            yield i, next(iter(self.inner.iter_generate([r])))[1]


def test_table_contract_and_scoring(setup, tmp_path):
    grid, problems, variants = setup
    res = run(variants, gold_model(variants), tmp_path / "r", setup)
    t = res.table
    assert t.columns == [*ID_COLUMNS, *FACTORS, *OUTCOME_COLUMNS, *GATE_COLUMNS, *COVARIATE_COLUMNS, *CALL_COLUMNS]
    assert t.height == n_rows(variants) and res.status == "complete"
    assert t.select("variant_id", "prompt_type").is_duplicated().sum() == 0
    solve = t.filter(pl.col("prompt_type") == "solve")
    assert solve.height == len(variants) and solve["correct"].all() and (solve["parse_status"] == "ok").all()
    assert sorted(solve["answer"].unique()) == sorted({v.answer for v in variants})
    assert set(solve["task"]) == {"soe", "mcq"}
    text = t.filter(pl.col("modality") == "text")
    assert text["dpi"].null_count() == text.height and text["gate_passed"].null_count() == text.height
    img = t.filter(pl.col("modality") != "text")
    assert img["gate_passed"].all() and (img["ocr_cer"] == 0).all()
    assert set(img["dpi"]) == {"50", "200"} and set(img["text_color"]) == {"black", "red"}
    assert img["image_width_px"].min() > 0 and img["contrast_ratio"].min() > 1
    assert (t["from_cache"] == False).all() and t["error"].null_count() == t.height  # noqa: E712
    assert t.schema["tokens_in"] == pl.Int64 and t.schema["gate_passed"] == pl.Boolean
    on_disk = pl.read_parquet(tmp_path / "r" / "results.parquet")
    assert on_disk.equals(t)


def test_manifest_records_everything(setup, tmp_path):
    grid, problems, variants = setup

    class Secretive(EchoGold):
        def fingerprint(self):
            return {**super().fingerprint(), "api_key": "sk-top-secret", "nested": {"Authorization": "Bearer x"}}

    res = run(variants, Secretive(oracle(variants)), tmp_path / "r", setup, gate_threshold=0.02)
    m = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert "sk-top-secret" not in json.dumps(m) and "Bearer" not in json.dumps(m)
    assert m["identity"]["spec_hash"] == grid.spec_hash
    assert m["identity"]["problem_ids_digest"] == problem_ids_digest(p.problem_id for p in problems)
    by_id = sorted(problems, key=lambda p: p.problem_id)  # the digest of the problems.jsonl written next to it
    assert m["identity"]["problems_digest"] == problems_digest(by_id)
    assert (tmp_path / "r" / "problems.jsonl").read_bytes() == b"".join(problem_line(p) for p in by_id)
    assert m["gate"] == {"threshold": 0.02, "policy": "exclude", "image_join": "\\n",
                         "normalization": {"nfkc": True, "collapse_whitespace": True, "strip": True,
                                           "casefold": False, "strip_code_fence": True,
                                           "ignore_whitespace": False}}
    assert m["decoding"]["soe"]["max_tokens"] == 2048 and m["decoding"]["mcq"]["max_tokens"] == 1024
    assert len(m["prompts"]["hash"]) == 16 and "ocr" in m["prompts"]["texts"]
    assert "DejaVu Sans" in m["fonts"] and len(m["fonts"]["DejaVu Sans"]) == 64
    assert m["counts"]["requests"] == n_rows(variants) and m["counts"]["calls"] == n_rows(variants)
    assert m["environment"]["packages"]["polars"] and m["environment"]["python"]
    assert m["factors"] == FACTORS and m["status"] == "complete" and res.manifest == m


def test_identical_rerun_makes_zero_calls(setup, tmp_path):
    _, _, variants = setup
    first = run(variants, gold_model(variants), tmp_path / "r", setup)
    again = gold_model(variants)
    second = run(variants, again, tmp_path / "r", setup)
    assert again.total == 0 and second.counts["calls"] == 0
    assert second.counts["cache_hits"] == n_rows(variants) and second.table["from_cache"].all()
    drop = ["from_cache"]
    assert second.table.drop(drop).equals(first.table.drop(drop))


def test_identical_requests_are_sent_once(setup, tmp_path):
    _, _, variants = setup
    twin = dataclasses.replace(variants[3], variant_id="twin")  # same parts, so the same request keys
    gold = oracle(variants)
    model = Counting(EchoGold(answer_fn=lambda r: gold.get(r.tag.replace(":twin", ":" + variants[3].variant_id))))
    res = run([*variants, variants[0], twin], model, tmp_path / "r", setup)  # variants[0] repeated
    assert max(model.counts.values()) == 1 and model.total == n_rows(variants)
    assert res.table.height == n_rows(variants) + n_rows([twin])
    assert res.counts["duplicate_variants"] == 1 and res.counts["duplicates"] == n_rows([twin])


def test_resume_refuses_other_model_or_problems(setup, tmp_path):
    grid, problems, variants = setup
    out = tmp_path / "r"
    m1 = EchoGold(oracle(variants))
    run(variants, m1, out, setup)
    m2 = AlwaysWrong("Answer: 0")
    with pytest.raises(CacheMismatchError) as ei:
        run(variants, m2, out, setup)
    msg = str(ei.value)
    assert fingerprint_hash(m1.fingerprint()) in msg and fingerprint_hash(m2.fingerprint()) in msg
    assert "model fingerprint" in msg and "resume=False" in msg
    sub = [v for v in variants if v.problem_id == problems[0].problem_id]
    with pytest.raises(CacheMismatchError, match="problem set"):
        evaluate(sub, m1, out=out, grid=grid, problems=problems[:1], progress=False)
    other = load_grid(ROOT / "perturbations" / "layout_size.yaml")
    with pytest.raises(CacheMismatchError, match=f"spec_hash={grid.spec_hash}.*spec_hash={other.spec_hash}"):
        evaluate(variants, m1, out=out, grid=other, problems=problems, progress=False)
    res = run(variants, m2, out, setup, resume=False)  # explicit override starts the folder over
    assert res.status == "complete" and not res.table.filter(pl.col("prompt_type") == "solve")["correct"].any()


def test_resume_refuses_changed_problem_content_under_the_same_ids(setup, tmp_path):
    grid, problems, variants = setup
    out = tmp_path / "r"
    model = EchoGold(oracle(variants))
    run(variants, model, out, setup)
    edited = [dataclasses.replace(problems[0], source="edited by hand"), *problems[1:]]  # id: task, text, answer
    assert edited[0].problem_id == problems[0].problem_id
    with pytest.raises(CacheMismatchError, match="problem set \\(content\\)"):
        evaluate(variants, model, out=out, grid=grid, problems=edited, progress=False)


def test_folder_from_before_problem_ids_digest_still_resumes(setup, tmp_path):
    """Older manifests stored the id digest under ``problems_digest``; such a folder resumes, then is upgraded."""
    _, problems, variants = setup
    out = tmp_path / "r"
    run(variants, EchoGold(oracle(variants)), out, setup)
    m = json.loads((out / "manifest.json").read_text())
    ident = m["identity"]
    m["identity"] = {"spec_hash": ident["spec_hash"], "problems_digest": ident.pop("problem_ids_digest"),
                     "model_fingerprint": ident["model_fingerprint"]}
    (out / "manifest.json").write_text(json.dumps(m))
    model = gold_model(variants)
    res = run(variants, model, out, setup)
    assert res.status == "complete" and model.total == 0
    assert res.manifest["identity"]["problem_ids_digest"] == problem_ids_digest(p.problem_id for p in problems)
    assert res.manifest["identity"]["problems_digest"] == problems_digest(sorted(problems, key=lambda p: p.problem_id))


def test_errors_are_not_cached_and_are_retried(setup, tmp_path):
    _, _, variants = setup
    tags = oracle(variants)
    failing = set(sorted(tags)[::5])
    res = run(variants, Scripted(EchoGold(tags), fail_once=failing), tmp_path / "r", setup)
    errs = res.table.filter(pl.col("error").is_not_null())
    assert errs.height == len(failing) == res.counts["errors"]
    assert (errs.filter(pl.col("prompt_type") == "solve")["parse_status"] == "error").all()
    # a failed request is missing, not wrong: answer and correct are null (updated: it used to be False)
    failed_solve = errs.filter(pl.col("prompt_type") == "solve")
    assert failed_solve["correct"].null_count() == failed_solve["answer"].null_count() == failed_solve.height > 0
    # an OCR call that failed does not pass the gate (the solve row of that variant neither)
    bad_ocr = errs.filter(pl.col("prompt_type") == "ocr")["variant_id"]
    assert not res.table.filter(pl.col("variant_id").is_in(bad_ocr.implode()))["gate_passed"].any()
    again = Counting(EchoGold(tags))
    res2 = run(variants, again, tmp_path / "r", setup)
    assert again.total == len(failing) and res2.table["error"].null_count() == res2.table.height


def test_max_requests_leaves_the_rest_pending_then_resumes(setup, tmp_path):
    _, _, variants = setup
    res = run(variants, gold_model(variants), tmp_path / "r", setup, max_requests=7)
    assert res.status == "partial" and res.counts["calls"] == 7 and res.table.height == 7
    assert res.counts["pending"] == n_rows(variants) - 7
    m = gold_model(variants)
    res2 = run(variants, m, tmp_path / "r", setup)
    assert m.total == n_rows(variants) - 7 and res2.status == "complete" and res2.table.height == n_rows(variants)


@pytest.mark.parametrize("stop_with, status", [(KeyboardInterrupt, "interrupted"), (BudgetExceeded, "budget_exceeded")])
def test_interrupt_keeps_committed_work(setup, tmp_path, stop_with, status):
    _, _, variants = setup
    out = tmp_path / "r"
    with pytest.raises(stop_with):
        run(variants, Scripted(EchoGold(oracle(variants)), stop_after=20, stop_with=stop_with), out, setup,
            chunk_size=4)
    m = json.loads((out / "manifest.json").read_text())
    partial = pl.read_parquet(out / "results.parquet")
    assert m["status"] == status and partial.height == 20 and m["counts"]["calls"] == 20
    with ResponseCache(out / "cache.sqlite") as c:
        assert len(c) == 20
    rest = gold_model(variants)
    res = run(variants, rest, out, setup)
    assert rest.total == n_rows(variants) - 20 and max(rest.counts.values()) == 1
    assert res.table.height == n_rows(variants) and res.table["correct"].drop_nulls().all()


def test_unparsed_answers_count_as_wrong(setup, tmp_path):
    _, _, variants = setup
    res = run(variants, AlwaysWrong("I am not sure."), tmp_path / "r", setup)
    solve = res.table.filter(pl.col("prompt_type") == "solve")
    assert (solve["parse_status"] == "unparsed").all() and solve["answer"].null_count() == solve.height
    assert not solve["correct"].any()


def test_external_gate_columns(setup, tmp_path):
    _, _, variants = setup
    ext = Counting(EchoGold(oracle(variants, ocr_edit=lambda s: s + " x")))
    res = run(variants, EchoGold(oracle(variants)), tmp_path / "r", setup, external_gate=ext)
    t = res.table
    assert t.columns[-3:] == ["ext_ocr_text", "ext_ocr_cer", "ext_gate_passed"]
    img = t.filter(pl.col("modality") != "text")
    assert img["gate_passed"].all() and not img["ext_gate_passed"].any() and (img["ext_ocr_cer"] > 0).all()
    assert ext.total == sum(1 for v in variants if v.images) == res.counts["ext_calls"]
    assert res.manifest["external_gate"]["fingerprint"] == ext.fingerprint()


def test_rescore_changes_gate_without_model_calls(setup, tmp_path):
    _, _, variants = setup
    out = tmp_path / "r"
    model = EchoGold(oracle(variants, ocr_edit=str.swapcase))  # every letter in the other case
    res = run(variants, model, out, setup)
    img = lambda t: t.filter(pl.col("modality") != "text")  # noqa: E731
    assert not img(res.table)["gate_passed"].any()
    before = {f.name: f.read_bytes() for f in out.iterdir() if f.is_file()}
    t2 = rescore(out, normalization={"casefold": True})
    assert img(t2)["gate_passed"].all() and (img(t2)["ocr_cer"] == 0).all()
    assert t2.columns == res.table.columns and t2.height == res.table.height
    ids = ("ocr_cer", "gate_passed", "run", "run_id")
    assert t2.drop(*ids).equals(res.table.drop(*ids))
    # a new run beside the original (threshold and normalisation in its name); the original is untouched
    new = [d for d in tmp_path.iterdir() if d.name.startswith("r.rescored-cer0-norm")]
    assert len(new) == 1 and {f.name: f.read_bytes() for f in out.iterdir() if f.is_file()} == before
    m = json.loads((new[0] / "manifest.json").read_text())
    assert m["gate"]["normalization"]["casefold"] is True and m["rescored_from"]["path"] == str(out.resolve())
    assert json.loads((out / "manifest.json").read_text())["gate"]["normalization"]["casefold"] is False
    t3 = rescore(out, threshold=1.0, normalization={"casefold": False})
    assert img(t3)["gate_passed"].all() and (img(t3)["ocr_cer"] > 0).all()
    with pytest.raises(CacheMismatchError, match="not a finished"):
        rescore(tmp_path / "nothing")


def test_limit_and_other_input_kinds(setup, tmp_path):
    from restplus.variants.generation import generate
    from restplus.variants.ondemand import VariantSet
    from restplus.variants.runfolder import load_run

    grid, problems, variants = setup
    rf = generate(problems, grid, 0, tmp_path / "variants", workers=1, progress=False)
    cache = tmp_path / "shared.sqlite"
    ref = run(variants, EchoGold(oracle(variants)), tmp_path / "list", setup, cache=cache)
    key = ["variant_id", "prompt_type"]
    for i, src in enumerate([tmp_path / "variants", load_run(tmp_path / "variants"), VariantSet(problems, grid, 0)]):
        m = gold_model(variants)
        res = evaluate(src, m, out=tmp_path / f"k{i}", progress=False, cache=cache)
        assert m.total == 0  # same requests as the list input, so all from the shared cache
        # every run folder is its own run (unique run_id, named after its folder); the rows are the same
        own = ["from_cache", "run_id", "run"]
        assert res.table.sort(key).drop(own).equals(ref.table.sort(key).drop(own))
        assert res.table["run"].unique().to_list() == [f"k{i}"] and res.table["run_id"][0] != ref.table["run_id"][0]
    res = evaluate(rf, EchoGold(oracle(variants)), out=tmp_path / "lim", progress=False, limit=1)
    assert set(res.table["problem_id"]) == {problems[0].problem_id}
    assert res.table.height == n_rows([v for v in variants if v.problem_id == problems[0].problem_id])


def test_progress_bar_shows_hits_failures_and_tokens(setup, tmp_path, capfd):
    _, _, variants = setup
    run(variants[:6], EchoGold(oracle(variants)), tmp_path / "r", setup, progress=True)
    err = capfd.readouterr().err
    assert "6/6" in err and "variant/s" in err
    assert all(f"{k}=" in err for k in ("hits", "calls", "fail", "tok"))


def test_two_models_in_one_table_have_their_own_pass_sets(setup, tmp_path):
    from restplus.runner.gate import apply_gate, pass_rates, pass_sets

    _, _, variants = setup
    low = {v.variant_id for v in variants if v.cell.labels().get("dpi") == "50"}
    exact, typo = oracle(variants), oracle(variants, ocr_edit=lambda s: s + "?")
    blurry = EchoGold({t: typo[t] if t.split(":")[2] in low else exact[t] for t in exact})
    a = run(variants, EchoGold(oracle(variants)), tmp_path / "a", setup, model_name="sharp").table
    b = run(variants, blurry, tmp_path / "b", setup, model_name="blurry").table
    both = pl.concat([a, b])
    ps = pass_sets(both)
    image_ids = {v.variant_id for v in variants if v.images}
    assert ps["sharp"] == image_ids and ps["blurry"] == image_ids - low
    rates = pass_rates(both)
    assert set(rates.filter(pl.col("model") == "blurry").group_by("dpi").agg(pl.col("pass_rate").mean()).iter_rows()) \
        == {("50", 0.0), ("200", 1.0)}
    gated = apply_gate(both).filter(pl.col("prompt_type") == "solve")
    assert gated.filter(pl.col("model") == "sharp").height == len(variants)
    assert gated.filter(pl.col("model") == "blurry").height == len(variants) - len(low)
