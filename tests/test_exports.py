"""Exports: HF parquet, VLMEvalKit TSV and the lmms-eval task folder load back with the same pixels."""

from __future__ import annotations

import base64
import importlib.util
import io
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml
from PIL import Image

from restplus.errors import SpecError
from restplus.grammar import factors as F
from restplus.grammar.grid import Grid
from restplus.problems.base import Problem, Segment
from restplus.variants.exports import export_hf_parquet, export_lmms_eval, export_vlmevalkit_tsv
from restplus.variants.generation import generate
from restplus.variants.ondemand import VariantSet


def make_grid() -> Grid:
    return Grid(F.dpi([50, 100], reference=100), F.modality(["text", "image", "mixed"], reference="text"))


def make_problems() -> list[Problem]:
    soe = [Problem(segments=(Segment("context", f"{i}A + 2B = {7 + i} and A - B = {i - 1}."),
                             Segment("question", "Find A and B.")), answer=f"A={i}, B=1", answer_type="soe",
                   task="soe") for i in range(1, 3)]
    mcq = Problem(segments=(Segment("question", "Which colour is a clear sky?"),
                            Segment("choices", "A. red\nB. blue\nC. green\nD. grey")),
                  answer="B", answer_type="choice", task="mcq", choices=("red", "blue", "green", "grey"))
    return soe + [mcq]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return generate(make_problems(), make_grid(), seed=5, out=tmp_path_factory.mktemp("exp") / "run", progress=False)


@pytest.fixture(scope="module")
def truth(run):
    return {v.variant_id: v for v in run.variants()}


def pixels(png: bytes) -> bytes:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).tobytes()


def test_hf_parquet_loads_in_polars_and_datasets(run, truth, tmp_path):
    import datasets

    path = export_hf_parquet(run, tmp_path / "x.parquet", batch_size=4)  # several row groups
    df = pl.read_parquet(path)
    assert df.height == len(truth) == 15 and df["variant_id"].to_list() == list(truth)
    assert {"dpi", "modality", "answer", "texts", "images", "choices", "parts"} <= set(df.columns)
    for vid, ims in zip(df["variant_id"], df["images"].to_list(), strict=True):
        assert [im["bytes"] for im in ims] == [im.png for im in truth[vid].images]
    ds = datasets.load_dataset("parquet", data_files=str(path), cache_dir=str(tmp_path / "cache"))["train"]
    assert isinstance(ds.features["images"].feature, datasets.Image)
    assert ds.features["dpi"] == datasets.Value("string") and ds.features["seed"] == datasets.Value("int64")
    for row in ds:
        want = truth[row["variant_id"]]
        assert [np.asarray(im.convert("RGB")).tobytes() for im in row["images"]] == \
            [pixels(im.png) for im in want.images]
        assert row["texts"] == list(want.text_parts) and row["answer"] == want.answer
    mcq = [r for r in ds if r["task"] == "mcq"][0]
    assert mcq["choices"] == ["red", "blue", "green", "grey"]


def test_hf_parquet_from_a_variantset_equals_the_run_folder_export(run, tmp_path):
    a = export_hf_parquet(run, tmp_path / "a.parquet")
    b = export_hf_parquet(VariantSet(make_problems(), make_grid(), seed=5), tmp_path / "b.parquet")
    assert pl.read_parquet(a).equals(pl.read_parquet(b))


def test_vlmevalkit_tsv_decodes_to_the_same_pixels(run, truth, tmp_path):
    import pandas as pd

    res = export_vlmevalkit_tsv(run, tmp_path / "restplus.tsv", batch_size=3)
    df = pd.read_csv(res.path, sep="\t")  # how VLMEvalKit reads a TSV
    order = list(truth)
    with_images = [v for v in truth.values() if v.images]
    assert len(df) == len(with_images) == res.n_image_rows == 12
    # index = the variant's position in the source, so both files' indices name distinct variants
    assert df["index"].tolist() == [order.index(v) for v in df["variant_id"]]
    for _, row in df.iterrows():
        want = truth[row["variant_id"]]
        assert base64.b64decode(row["image"]) == want.images[0].png
        assert row["category"] == want.modality and row["l2-category"] == want.task
        assert str(row["dpi"]) == str(want.cell["dpi"]) and row["answer"] == want.answer
    mcq = df[(df["task"] == "mcq") & (df["dpi"] == 50)].set_index("category")
    # drawn in the image: options must not leak as text; shown as text: options in A..D, not in question
    assert mcq.loc["image", ["A", "B", "C", "D"]].isna().all()
    assert mcq.loc["image", "question"] == "Answer the question shown in the image."
    assert mcq.loc["mixed", ["A", "B", "C", "D"]].tolist() == ["red", "blue", "green", "grey"]
    assert "B. blue" not in mcq.loc["mixed", "question"]
    assert json.loads(mcq.loc["image", "choices_json"]) == ["red", "blue", "green", "grey"]
    soe_mixed = df[(df["task"] == "soe") & (df["category"] == "mixed")]
    assert (soe_mixed["question"] == "Find A and B.").all()
    # the text variants are not dropped: they are a second, image-less dataset beside it
    text = pd.read_csv(res.text_path, sep="\t")
    assert res.text_path.name == "restplus_text.tsv" and len(text) == res.n_text_rows == 3
    assert "image" not in text.columns and "image_path" not in text.columns and {"A", "B"} <= set(text.columns)
    assert sorted([*df["index"], *text["index"]]) == list(range(len(truth)))
    assert (text["category"] == "text").all() and set(text["variant_id"]) == {v for v in truth
                                                                              if not truth[v].images}
    mcq_text = text[text["task"] == "mcq"].iloc[0]
    assert [mcq_text[c] for c in "ABCD"] == ["red", "blue", "green", "grey"] and "B. blue" not in mcq_text["question"]


def test_vlmevalkit_tsv_with_the_solve_instruction(run, truth, tmp_path):
    import pandas as pd

    from restplus.runner.peer_export import export_vlmevalkit_tsv as with_prompts
    from restplus.runner.prompts import PromptSet

    res = with_prompts(run, tmp_path / "r.tsv")
    df = pd.concat([pd.read_csv(p, sep="\t") for p in res.files])
    for _, row in df.iterrows():
        v = truth[row["variant_id"]]
        assert row["question"].endswith(PromptSet().solve_text(v.modality, v.task, v.answer_type))
    image_mcq = df[(df["task"] == "mcq") & (df["category"] == "image")].iloc[0]
    assert image_mcq["question"] == PromptSet().solve_text("image", "mcq", "choice")  # no text parts, no leak


def test_vlmevalkit_tsv_of_a_text_only_grid_is_the_text_file(tmp_path):
    (tmp_path / "t.tsv").write_text("stale")  # an earlier export's image file must not look current
    res = export_vlmevalkit_tsv(VariantSet(make_problems(), Grid(F.modality(["text"]))), tmp_path / "t.tsv")
    assert res.path is None and res.n_image_rows == 0 and res.n_text_rows == 3
    assert not (tmp_path / "t.tsv").exists() and Path(res) == res.text_path == tmp_path / "t_text.tsv"


class _FunctionLoader(yaml.SafeLoader):
    """lmms-eval resolves ``!function module.name``; here it is kept as a string to check it."""


_FunctionLoader.add_constructor("!function", lambda loader, node: "!function " + loader.construct_scalar(node))


def test_lmms_eval_task_folder(run, truth, tmp_path):
    import datasets

    yml = export_lmms_eval(run, tmp_path / "task", task="restplus_smoke")
    cfg = yaml.load(yml.read_text(), Loader=_FunctionLoader)
    assert cfg["task"] == "restplus_smoke" and cfg["dataset_path"] == "parquet"
    assert cfg["doc_to_visual"] == "!function utils.doc_to_visual"
    assert cfg["process_results"] == "!function utils.process_results"
    assert cfg["metadata"]["restplus_spec_hash"] == run.manifest["spec_hash"]
    assert cfg["dataset_kwargs"]["data_files"] == "!function utils.data_files"
    spec = importlib.util.spec_from_file_location("restplus_task_utils", tmp_path / "task" / "utils.py")
    utils = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(utils)
    data = utils.data_files["test"]
    assert data == str((tmp_path / "task" / "restplus_smoke.parquet").resolve())
    # as lmms-eval loads it: datasets with decoded PIL images
    ds = datasets.load_dataset(cfg["dataset_path"], data_files={"test": data}, cache_dir=str(tmp_path / "c"))
    docs = list(ds[cfg["test_split"]])
    assert len(docs) == len(truth)
    for doc in docs:
        want = truth[doc["variant_id"]]
        vis = utils.doc_to_visual(doc)
        assert [np.asarray(im).tobytes() for im in vis] == [pixels(im.png) for im in want.images]
        prompt = utils.doc_to_text(doc, {"pre_prompt": "", "post_prompt": ""})
        assert all(t in prompt for t in want.text_parts)
    # raw parquet rows (bytes structs) work too
    raw = pl.read_parquet(data).row(4, named=True)
    assert [np.asarray(im).tobytes() for im in utils.doc_to_visual(raw)] == \
        [pixels(im.png) for im in truth[raw["variant_id"]].images]
    mcq = next(d for d in docs if d["task"] == "mcq")
    assert utils.process_results(mcq, ["The answer is B."]) == {"exact_match": 1.0}
    assert utils.process_results(mcq, ["C"]) == {"exact_match": 0.0}
    soe = next(d for d in docs if d["task"] == "soe")
    assert utils.process_results(soe, ["A = 1, B = 1"])["exact_match"] == (soe["answer"] == "A=1, B=1")
    assert utils.process_results(soe, ["no idea"]) == {"exact_match": 0.0}
    with pytest.raises(SpecError, match="identifier"):
        export_lmms_eval(run, tmp_path / "bad", task="my task")


def _yaml(path):
    return yaml.load(path.read_text(), Loader=_FunctionLoader)


def test_lmms_eval_export_carries_the_runs_decoding_and_prompts(run, tmp_path):
    import restplus as rp
    from restplus.runner.prompts import PromptSet
    from restplus.testing import AlwaysWrong

    cfg = _yaml(rp.export_lmms_eval(run, tmp_path / "paper"))  # defaults: 2048 tokens for SoE, 1024 otherwise
    assert cfg["generation_kwargs"] == {"max_new_tokens": 2048, "temperature": 0.0, "do_sample": False}
    assert cfg["metadata"]["restplus_decoding"]["soe"]["max_tokens"] == 2048
    assert cfg["metadata"]["restplus_decoding"]["mcq"]["max_tokens"] == 1024
    assert cfg["metadata"]["restplus_prompt_hash"] == PromptSet().content_hash
    # like=: the prompts and decoding recorded by an evaluated run
    prompts = {"image": "Look closely. {answer_format}"}
    done = rp.evaluate(run.path, AlwaysWrong(), out=tmp_path / "evaluated", prompts=prompts,
                       decoding={"*": {"max_tokens": 300, "temperature": 0.5}}, progress=False)
    cfg = _yaml(rp.export_lmms_eval(run, tmp_path / "like", like=done.out))
    assert cfg["generation_kwargs"] == {"max_new_tokens": 300, "temperature": 0.5, "do_sample": True}
    assert cfg["metadata"]["restplus_prompt_hash"] == done.manifest["prompts"]["hash"]
    utils = (tmp_path / "like" / "utils.py").read_text()
    assert "Look closely." in utils and "Solve the problem shown in the image." not in utils
    with pytest.raises(SpecError, match="either like=RUN"):
        rp.export_lmms_eval(run, tmp_path / "x", like=done.out, prompts=prompts)
    with pytest.raises(rp.CacheMismatchError, match="not an evaluated run"):
        rp.export_lmms_eval(run, tmp_path / "x", like=run.path)
