"""Round trips through the peer harnesses: export -> (emulated) lmms-eval / VLMEvalKit run of a fake model ->
import-results -> the same long table and effects as a native ``evaluate`` of that fake model.

The harness files are built here from the formats' documented fields: lmms-eval ``--log_samples`` lines
(``doc_id``, ``input``, ``target``, ``resps`` / ``filtered_resps``, ``doc`` in versions < 0.4, metrics) with the
``<date>_results.json`` beside them, and VLMEvalKit prediction files (the dataset TSV's columns without
``image``, plus ``prediction``, written with pandas as VLMEvalKit's ``dump`` does).
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import io
import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml
from PIL import Image
from polars.testing import assert_frame_equal

import restplus as rp
from restplus.cli.app import main
from restplus.errors import ResultsImportError
from restplus.grammar import factors as F
from restplus.grammar.grid import Grid
from restplus.problems import builtin_set
from restplus.records import Request, TextPart
from restplus.testing import EchoGold
from restplus.variants.generation import generate

FACTORS = ["dpi"]
# Columns a harness run and a native run must agree on (run ids, timing, cache and OCR differ by design).
SAME = ["problem_id", "task", "cell_id", "variant_id", "prompt_type", "modality", "dpi", "answer", "parse_status",
        "gold", "correct", "response", "contrast_ratio", "x_height_px", "image_width_px", "image_height_px",
        "image_dpi"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    grid = Grid(F.dpi([50, 100], reference=100), F.modality(["text", "image", "mixed"], reference="text"))
    problems = list(builtin_set("arith", n=8, seed=1)) + list(builtin_set("mcq", n=4, seed=1))
    return generate(problems, grid, seed=3, out=tmp_path_factory.mktemp("imp") / "variants", progress=False)


@pytest.fixture(scope="module")
def model(run):
    """A fake model whose accuracy depends on the factor (wrong on 3/4 of the 50-DPI renders, 3/10 of the
    100-DPI ones, never on text) and whose OCR is perfect."""
    info = {v.variant_id: v for v in run.variants()}

    def answer(request: Request) -> str:
        kind, _, vid = request.tag.split(":", 2)
        v = info[vid]
        if kind == "ocr":
            return "\n".join(im.rendered_text for im in v.images)
        h = int(hashlib.sha256(vid.encode()).hexdigest(), 16)
        bad = v.cell["dpi"] is not None and h % (10 if str(v.cell["dpi"]) == "100" else 4) < 3
        return "I think so.\nAnswer: 12345" if bad else f"Let me see.\nAnswer: {v.answer}"

    return EchoGold(answer_fn=answer, name="fake-vlm")


@pytest.fixture(scope="module")
def native(run, model, tmp_path_factory):
    return rp.evaluate(run.path, model, out=tmp_path_factory.mktemp("native") / "run", progress=False)


def _ask(model, answer_type: str, variant_id: str, prompt: str) -> str:
    (_, resp), = model.iter_generate([Request(parts=(TextPart(prompt),), tag=f"solve:{answer_type}:{variant_id}")])
    return resp.text


class _LmmsLoader(yaml.SafeLoader):
    """lmms-eval's task loading, emulated: ``!function mod.attr`` is ``attr`` of ``mod.py`` beside the YAML."""


def _function(loader, node):
    module, attr = loader.construct_scalar(node).rsplit(".", 1)
    path = Path(loader.name).parent / f"{module}.py"
    spec = importlib.util.spec_from_file_location(f"lmms_task_{abs(hash(str(path)))}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return getattr(mod, attr)


_LmmsLoader.add_constructor("!function", _function)


def load_task(yml: Path, cache: Path):
    """(config, docs) as lmms-eval builds them: YAML with functions resolved, the dataset as it says."""
    import datasets

    with open(yml, encoding="utf-8") as fh:
        cfg = yaml.load(fh, Loader=_LmmsLoader)  # noqa: S506 - our loader is a SafeLoader plus !function
    ds = datasets.load_dataset(cfg["dataset_path"], cache_dir=str(cache), **cfg["dataset_kwargs"])
    split = ds[cfg["test_split"]]
    if cfg.get("process_docs"):
        split = cfg["process_docs"](split)
    return cfg, list(split)


def lmms_samples(folder: Path, cfg, docs, model, *, layout: str = "0.7", task: str = "restplus") -> Path:
    """Run the fake model on the task's prompts and write lmms-eval's samples (and results) files."""
    logs = folder / "fake-vlm"
    logs.mkdir(parents=True)
    lines = []
    for doc_id, doc in enumerate(docs):
        prompt = cfg["doc_to_text"](doc, cfg["lmms_eval_specific_kwargs"]["default"])
        assert len(cfg["doc_to_visual"](doc)) == len(doc["images"])
        text = _ask(model, doc["answer_type"], doc["variant_id"], prompt)
        metrics = cfg["process_results"](doc, [text])
        if layout == "0.7":  # doc dropped, single response flattened, resps omitted when equal
            line = {"doc_id": doc_id, "input": prompt, "target": str(doc["answer"]), "filtered_resps": text,
                    "token_counts": [{"input_tokens": 100 + doc_id, "output_tokens": 7}],
                    "doc_hash": hashlib.sha256(str(doc_id).encode()).hexdigest(), **metrics}
        else:  # lmms-eval 0.2/0.3: the doc's non-image fields, nested resps
            saved = {k: v for k, v in doc.items() if k != "images"}
            line = {"doc_id": doc_id, "doc": saved, "target": doc["answer"], "arguments": [prompt],
                    "resps": [[text]], "filtered_resps": [text], **metrics}
        lines.append(json.dumps(line))
    path = logs / f"20260101_120000_samples_{task}.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    if layout == "0.7":
        (logs / "20260101_120000_results.json").write_text(json.dumps(
            {"results": {task: {}}, "lmms_eval_version": "0.7.3",
             "configs": {task: {"task": task, "generation_kwargs": cfg["generation_kwargs"],
                                "metadata": cfg["metadata"]}}}))
    return path


def vlmevalkit_predictions(tsv: Path, model, out: Path) -> Path:
    """VLMEvalKit's inference on a custom TSV, emulated: read it with pandas, predict, drop image, dump TSV."""
    import pandas as pd

    data = pd.read_csv(tsv, sep="\t")
    preds = []
    for _, line in data.iterrows():
        options = "".join(f"\n{c}. {line[c]}" for c in "ABCDEFGHIJ" if c in line and not pd.isna(line[c]))
        preds.append(_ask(model, line["answer_type"], line["variant_id"], f"Question: {line['question']}{options}"))
    data["prediction"] = preds
    data = data.drop(columns=[c for c in ("image",) if c in data])
    data.to_csv(out, sep="\t", index=False, encoding="utf-8", quoting=csv.QUOTE_ALL)
    return out


def same_as_native(imported, native) -> None:
    want = native.table.filter(pl.col("prompt_type") == "solve").select(SAME).sort("variant_id")
    got = imported.table.select(SAME).sort("variant_id")
    assert got.height == want.height == len(rp.load_run(imported.manifest["source"]["variants"]))
    assert_frame_equal(got, want)
    assert got["correct"].sum() not in (0, got.height)  # the fake model is neither always right nor always wrong
    for policy in ("exclude", "ignore"):
        e_imp = rp.effects(imported.table, FACTORS, reference={"dpi": 100}, gate_policy=policy)
        e_nat = rp.effects(native.table, FACTORS, reference={"dpi": 100}, gate_policy=policy)
        assert_frame_equal(e_imp.frame, e_nat.frame)
        assert e_imp.frame.filter(pl.col("term") == "dpi")["delta"].item() < -0.2  # the planted DPI effect
    c_imp = rp.consistency(imported.table, FACTORS, n_boot=50).filter(pl.col("gated") == False)  # noqa: E712
    c_nat = rp.consistency(native.table, FACTORS, n_boot=50).filter(pl.col("gated") == False)  # noqa: E712
    assert_frame_equal(c_imp, c_nat)


def test_lmms_eval_round_trip_equals_native_evaluate(run, model, native, tmp_path):
    yml = rp.export_lmms_eval(run, tmp_path / "task")
    cfg, docs = load_task(yml, tmp_path / "hf")
    samples = lmms_samples(tmp_path / "logs", cfg, docs, model)
    res = rp.import_results(samples, run.path, out=tmp_path / "imported", model_name="fake-vlm")
    same_as_native(res, native)
    src = res.manifest["source"]
    assert src["harness"] == "lmms-eval" and src["version"] == "0.7.3" and res.status == "complete"
    assert src["files"][0]["sha256"] == hashlib.sha256(samples.read_bytes()).hexdigest()
    assert src["files"][0]["generation_kwargs"]["max_new_tokens"] == 1024  # the run's decoding, not 256
    assert res.table["gate_passed"].is_null().all() and (res.table["model"] == "fake-vlm").all()
    assert res.table["latency_s"].is_null().all()  # not measured by the harness: unknown, not 0
    by_id = dict(zip(res.table["variant_id"], res.table["tokens_in"], strict=True))
    assert [by_id[d["variant_id"]] for d in docs] == [100 + k for k in range(len(docs))]
    logged = [json.loads(x)["exact_match"] for x in samples.read_text().splitlines()]
    assert src["files"][0]["harness_metrics"] == {"exact_match": pytest.approx(sum(logged) / len(logged))}
    # the folder is a run folder: rescore re-applies the same extractors to the stored responses
    again = rp.rescore(tmp_path / "imported")
    assert_frame_equal(again.select(SAME).sort("variant_id"), res.table.select(SAME).sort("variant_id"))


def test_old_lmms_eval_layout_with_docs_imports_too(run, model, native, tmp_path):
    yml = rp.export_lmms_eval(run, tmp_path / "task")
    cfg, docs = load_task(yml, tmp_path / "hf")
    samples = lmms_samples(tmp_path / "logs", cfg, docs, model, layout="0.3")
    res = rp.import_results(samples, run.path, out=tmp_path / "imported", model_name="fake-vlm")
    same_as_native(res, native)
    assert res.manifest["source"]["version"] == "unknown"  # no results JSON beside the samples
    assert res.manifest["source"]["files"][0]["response_field"] == ["resps"]


def test_vlmevalkit_round_trip_equals_native_evaluate(run, model, native, tmp_path):
    exp = rp.export_vlmevalkit_tsv(run, tmp_path / "restplus.tsv")
    assert exp.n_image_rows + exp.n_text_rows == len(run) and exp.n_text_rows == 12  # nothing dropped
    preds = [vlmevalkit_predictions(exp.path, model, tmp_path / "fake-vlm_restplus.tsv"),
             vlmevalkit_predictions(exp.text_path, model, tmp_path / "fake-vlm_restplus_text.tsv")]
    res = rp.import_results(preds, run.path, out=tmp_path / "imported", model_name="fake-vlm")
    same_as_native(res, native)
    assert res.manifest["source"]["harness"] == "vlmevalkit" and res.manifest["source"]["version"] == "unknown"
    assert [f["sha256"] for f in res.manifest["source"]["files"]] == \
        [hashlib.sha256(p.read_bytes()).hexdigest() for p in preds]
    # the image predictions alone leave the text variants out: refused, naming the count and the text file
    with pytest.raises(ResultsImportError, match=r"12 of 60 exported variants have no result.*_text\.tsv"):
        rp.import_results(preds[0], run.path, out=tmp_path / "partial")


def test_cli_export_import_then_analyse_and_report(run, model, tmp_path, capsys):
    assert main(["export", str(run.path), "--to", "vlmevalkit", "--out", str(tmp_path / "restplus.tsv")]) == 0
    said = capsys.readouterr().out
    assert "restplus.tsv: 48 image and mixed variants" in said and "restplus_text.tsv: 12 text variants" in said
    files = [tmp_path / "restplus.tsv", tmp_path / "restplus_text.tsv"]
    preds = [vlmevalkit_predictions(p, model, tmp_path / f"fake-vlm_{p.stem}.tsv") for p in files]
    out = tmp_path / "imported"
    assert main(["import-results", *map(str, preds), "--variants", str(run.path), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "60 rows from vlmevalkit unknown (2 file(s)); 0 failed, 0 missing; status complete" in said
    assert main(["analyse", str(out), "--gate-policy", "ignore"]) == 0
    assert "dpi" in capsys.readouterr().out
    assert main(["report", str(out), "--out", str(tmp_path / "report")]) == 0
    summary = (tmp_path / "report" / "summary.md").read_text()
    assert "60 answer rows, 12 problems" in summary


def test_failed_predictions_are_errors_not_answers(run, model, tmp_path):
    exp = rp.export_vlmevalkit_tsv(run, tmp_path / "restplus.tsv")
    preds = [vlmevalkit_predictions(p, model, tmp_path / f"m_{p.stem}.tsv") for p in exp.files]
    frame = pl.read_csv(preds[0], separator="\t", infer_schema=False)
    failed = frame["variant_id"][:3].to_list()
    frame = frame.with_columns(pl.when(pl.col("variant_id").is_in(failed))
                               .then(pl.lit("Failed to obtain answer via API.")).otherwise(pl.col("prediction"))
                               .alias("prediction"))
    frame.write_csv(preds[0], separator="\t")
    res = rp.import_results(preds, run.path, out=tmp_path / "imported")
    bad = res.table.filter(pl.col("variant_id").is_in(failed))
    assert bad["error"].is_not_null().all() and bad["answer"].is_null().all()
    assert not bad["correct"].fill_null(False).any() and bad["response"].is_null().all()
    assert res.status == "partial" and res.counts["errors"] == 3


def test_missing_extra_duplicate_and_mismatched_rows_are_refused(run, model, tmp_path):
    yml = rp.export_lmms_eval(run, tmp_path / "task")
    cfg, docs = load_task(yml, tmp_path / "hf")
    samples = lmms_samples(tmp_path / "logs", cfg, docs, model)
    lines = samples.read_text().splitlines()

    def variant(name: str, body: list[str]) -> Path:
        p = tmp_path / name / samples.name
        p.parent.mkdir()
        p.write_text("\n".join(body) + "\n")
        shutil.copy(samples.with_name("20260101_120000_results.json"), p.parent)
        return p

    with pytest.raises(ResultsImportError, match=r"^2 of 60 exported variants have no result \(first: v"):
        rp.import_results(variant("missing", lines[2:]), run.path, out=tmp_path / "o1")
    part = rp.import_results(variant("limit", lines[:10]), run.path, out=tmp_path / "o2", allow_missing=True)
    assert part.status == "partial" and part.table.height == 10 and part.counts["missing"] == 50
    dup = json.loads(lines[0])
    with pytest.raises(ResultsImportError, match=r"1 variant\(s\) answered twice"):
        rp.import_results(variant("dup", [*lines, json.dumps(dup)]), run.path, out=tmp_path / "o3")
    with pytest.raises(ResultsImportError, match=r"1 row\(s\) point past the 60 exported variants"):
        rp.import_results(variant("extra", [*lines, json.dumps({**dup, "doc_id": 60})]), run.path, out=tmp_path / "o4")
    # doc ids shuffled: the targets no longer match the variants at those positions
    gold = [json.loads(x)["target"] for x in lines]
    j = next(k for k in range(1, 60) if gold[k] != gold[0])
    swapped = [json.loads(x) for x in lines]
    swapped[0]["doc_id"], swapped[j]["doc_id"] = j, 0
    with pytest.raises(ResultsImportError, match=r"2 row\(s\) do not match the exported variant.*answer"):
        rp.import_results(variant("swap", [json.dumps(x) for x in swapped]), run.path, out=tmp_path / "o5")
    assert not (tmp_path / "o1" / "results.parquet").exists()


def test_a_file_from_another_export_is_refused(run, model, tmp_path):
    other = generate(list(builtin_set("arith", n=2, seed=9)), Grid(F.modality(["text", "image"])), seed=0,
                     out=tmp_path / "other", progress=False)
    yml = rp.export_lmms_eval(other, tmp_path / "task")
    cfg, docs = load_task(yml, tmp_path / "hf")
    samples = lmms_samples(tmp_path / "logs", cfg, docs, EchoGold(answer_fn=lambda r: "Answer: 1"))
    with pytest.raises(ResultsImportError, match="row order"):  # the digest in the results JSON disagrees
        rp.import_results(samples, run.path, out=tmp_path / "o")
    samples.with_name("20260101_120000_results.json").unlink()
    with pytest.raises(ResultsImportError, match="do not match the exported variant"):  # then the targets do
        rp.import_results(samples, run.path, out=tmp_path / "o")
    # the old layout carries our variant_id in the doc: checked directly
    old = [{**json.loads(x), "doc": {"variant_id": "vnot-this-one"}} for x in samples.read_text().splitlines()]
    samples.write_text("\n".join(json.dumps({k: v for k, v in x.items() if k != "target"}) for x in old))
    with pytest.raises(ResultsImportError, match=r"variant_id 'vnot-this-one' but variant 0 has 'v"):
        rp.import_results(samples, run.path, out=tmp_path / "o")


def test_unreadable_inputs_say_what_to_do(run, tmp_path):
    bad = tmp_path / "x_samples_t.jsonl"
    bad.write_text('{"no_doc_id": 1}\n')
    with pytest.raises(ResultsImportError, match="has no 'doc_id'"):
        rp.import_results(bad, run.path, out=tmp_path / "o")
    many = tmp_path / "y_samples_t.jsonl"
    many.write_text(json.dumps({"doc_id": 0, "filtered_resps": ["a", "b"]}) + "\n")
    with pytest.raises(ResultsImportError, match="holds 2 responses"):
        rp.import_results(many, run.path, out=tmp_path / "o")
    with pytest.raises(ResultsImportError, match="cannot tell which harness"):
        rp.import_results(_touch(tmp_path / "preds.parquet"), run.path, out=tmp_path / "o")
    with pytest.raises(rp.UnknownNameError, match="Did you mean: vlmevalkit"):
        rp.import_results(bad, run.path, out=tmp_path / "o", harness="vlmevalkt")
    nocol = tmp_path / "m_restplus.tsv"
    nocol.write_text("index\tanswer\n0\tB\n")
    with pytest.raises(ResultsImportError, match=r"lacks column\(s\) \['prediction'\]"):
        rp.import_results(nocol, run.path, out=tmp_path / "o")


def _touch(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def test_xlsx_needs_openpyxl_or_reads_it(run, model, tmp_path):
    import pandas as pd

    exp = rp.export_vlmevalkit_tsv(run, tmp_path / "restplus.tsv")
    preds = [vlmevalkit_predictions(p, model, tmp_path / f"m_{p.stem}.tsv") for p in exp.files]
    xlsx = tmp_path / "m_restplus.xlsx"
    if importlib.util.find_spec("openpyxl") is None:
        xlsx.write_bytes(b"PK\x03\x04 not really")  # pandas cannot write xlsx without openpyxl either
        with pytest.raises(ResultsImportError, match=r"needs openpyxl.*pip install openpyxl.*PRED_FORMAT=tsv"):
            rp.import_results([xlsx, preds[1]], run.path, out=tmp_path / "o")
    else:
        pd.read_csv(preds[0], sep="\t").to_excel(xlsx, index=False)
        res = rp.import_results([xlsx, preds[1]], run.path, out=tmp_path / "o")
        assert res.table.height == len(run)


def test_moved_lmms_eval_folder_still_loads(run, tmp_path, monkeypatch):
    yml = rp.export_lmms_eval(run, tmp_path / "a" / "task")
    assert str(tmp_path) not in yml.read_text()  # no absolute path in the task YAML
    moved = tmp_path / "b" / "elsewhere"
    moved.parent.mkdir()
    shutil.move(str(yml.parent), str(moved))
    assert not (tmp_path / "a" / "task").exists()
    monkeypatch.chdir(tmp_path)  # lmms-eval runs from anywhere, not from the task folder
    cfg, docs = load_task(moved / yml.name, tmp_path / "hf")
    assert cfg["dataset_kwargs"]["data_files"] == {"test": str(moved.resolve() / "restplus.parquet")}
    variants = list(run.variants())
    assert [d["variant_id"] for d in docs] == [v.variant_id for v in variants]
    k = next(i for i, v in enumerate(variants) if v.images)
    assert [np.asarray(im).tobytes() for im in cfg["doc_to_visual"](docs[k])] == \
        [np.asarray(Image.open(io.BytesIO(im.png)).convert("RGB")).tobytes() for im in variants[k].images]
    prompt = cfg["doc_to_text"](docs[k], cfg["lmms_eval_specific_kwargs"]["default"])
    assert prompt.endswith(rp.PromptSet().solve_text(variants[k].modality, variants[k].task,
                                                     variants[k].answer_type))


def test_import_never_replaces_another_run(run, model, native, tmp_path):
    exp = rp.export_vlmevalkit_tsv(run, tmp_path / "restplus.tsv")
    preds = [vlmevalkit_predictions(p, model, tmp_path / f"m_{p.stem}.tsv") for p in exp.files]
    before = (native.out / "results.parquet").read_bytes()
    with pytest.raises(ResultsImportError, match=r"already holds another run .*'fake-vlm'.*new --out"):
        rp.import_results(preds, run.path, out=native.out)
    assert (native.out / "results.parquet").read_bytes() == before
    first = rp.import_results(preds, run.path, out=tmp_path / "imp")
    again = rp.import_results(preds, run.path, out=tmp_path / "imp")  # the same import again: same folder
    assert first.manifest["run_id"] == again.manifest["run_id"] and again.table.equals(first.table)
    frame = pl.read_csv(preds[1], separator="\t", infer_schema=False).with_columns(pl.lit("2.5").alias("index"))
    frame.head(1).write_csv(tmp_path / "frac.tsv", separator="\t")
    with pytest.raises(ResultsImportError, match=r"index '2.5' is not an integer"):
        rp.import_results(tmp_path / "frac.tsv", run.path, out=tmp_path / "o")
