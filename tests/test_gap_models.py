"""Modality gap with tiny random Qwen2-VL and LLaVA built on the fly: shapes, token selection, pairing, CLI."""

from __future__ import annotations

import argparse
import io
import json
import os

os.environ["HF_HUB_OFFLINE"] = "1"

import numpy as np
import polars as pl
import pytest
from PIL import Image, ImageDraw

import restplus as rp
from restplus.cli_gap import _gap_args, parse_rer, run_gap
from restplus.errors import AnalysisError, ModelError, SpecError
from restplus.gap import CURVE_COLUMNS, FewModelsWarning, gap_curves, measure_gap
from restplus.gap_extract import (GapPair, LayerMeans, extract_means, pairs_from_images, pairs_from_run,
                                  pairs_from_variants)
from restplus.hashing import sha256_bytes
from restplus.models import load
from restplus.models.hf_states import HiddenStates
from restplus.records import ImagePart
from restplus.runfolder import GRID_FILE, MANIFEST, TABLE_FILE, image_relpath, rows_to_table, table_schema, variant_row
from restplus.spec import save_grid
from restplus.testing.tiny import build_tiny_llava, build_tiny_qwen2vl

INSTR = "Solve the problem."
CONTENTS = ["What is 2 + 3?", "Solve 3A + 2B = 7", "Which option is correct? A. red",
            "A - B = -1", "What is 5 + 2?", "Answer: B green"]


def _png(text: str, size: tuple[int, int]) -> bytes:
    im = Image.new("RGB", size, "white")
    ImageDraw.Draw(im).text((4, 4), text, fill="black")
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def _variants(grid) -> list:
    """Text variants (instruction + content) and image variants (content drawn, instruction kept as text)."""
    out = []
    for k, content in enumerate(CONTENTS):
        for cell in grid.cells():
            if cell.modality == "text":
                parts = (rp.TextPart(INSTR), rp.TextPart(content))
                images = ()
            else:
                dpi = int(cell["dpi"])
                png = _png(content, (112, 56) if dpi == 200 else (84, 56))
                images = (rp.RenderedImage(png=png, sha256=sha256_bytes(png), pixel_sha256="p" * 64, width=112,
                                           height=56, dpi=dpi, rendered_text=f"{content} @{dpi}",
                                           roles=("question",)),)
                parts = (rp.TextPart(INSTR), images[0].part())
            out.append(rp.Variant(problem_id=f"p{k}", task="toy", cell=cell, seed=k, parts=parts, images=images,
                                  answer="5", answer_type="number"))
    return out


@pytest.fixture(scope="session")
def grid():
    return rp.Grid(rp.dpi([100, 200], reference=200), rp.modality(["text", "image"], reference="text"))


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory, grid):
    """A complete run folder in the layout of restplus.runfolder, written by hand (no renderer needed)."""
    root = tmp_path_factory.mktemp("run")
    rows = []
    for v in _variants(grid):
        for k, im in enumerate(v.images):
            p = root / image_relpath(v.problem_id, v.cell.cell_id, k)
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(im.png)
        rows.append(variant_row(v, grid))
    import pyarrow.parquet as pq

    pq.write_table(rows_to_table(rows, table_schema(grid)), root / TABLE_FILE)
    save_grid(grid, root / GRID_FILE)
    (root / MANIFEST).write_text(json.dumps({"status": "complete", "seed": 0}))
    return root


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory):
    base = tmp_path_factory.mktemp("models")
    return {"qwen": build_tiny_qwen2vl(base / "qwen"), "llava": build_tiny_llava(base / "llava"),
            "qwen_s1": build_tiny_qwen2vl(base / "qwen_s1", seed=1)}


@pytest.fixture(scope="session")
def adapters(model_dirs):
    ads = {k: load("hf", path=str(model_dirs[k])) for k in ("qwen", "llava")}
    yield ads
    for a in ads.values():
        a.close()


def _content_positions(ad, content: str) -> tuple[list[int], list[int]]:
    """Prompt ids of a text-only request and the positions of tokens overlapping the content's characters.

    Found from the tokenizer's offsets on the rendered prompt, independently of the adapter's masks.
    In context the content may tokenise differently from standalone (LLaVA's "USER: " puts a space
    before the first word, which merges into it), so standalone tokenisation is not the reference.
    """
    proc = ad.processor
    msgs = [{"role": "user", "content": [{"type": "text", "text": content}]}]
    prompt = proc.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    lo = prompt.index(content)
    enc = proc.tokenizer(prompt, return_offsets_mapping=True)
    pos = [i for i, (s, e) in enumerate(enc["offset_mapping"]) if s < lo + len(content) and e > lo]
    return list(enc["input_ids"]), pos


def _ref_cell(grid) -> str:
    return next(c.cell_id for c in grid.cells() if c.modality == "image" and c["dpi"] == 200)


# ---------------------------------------------------------------- pairing

def test_run_folder_pairs_default_to_reference_cell_and_drop_shared_instruction(run_dir, grid):
    pairs = list(pairs_from_run(run_dir))
    assert [p.item_id for p in pairs] == [f"p{k}" for k in range(len(CONTENTS))]
    assert [p.text_parts for p in pairs] == [(c,) for c in CONTENTS]  # INSTR is text in both: not content
    ref = _ref_cell(grid)
    assert pairs[0].images[0].png == (run_dir / image_relpath("p0", ref, 0)).read_bytes()
    assert Image.open(io.BytesIO(pairs[0].images[0].png)).size == (112, 56)
    rendered = list(pairs_from_run(run_dir, text_from="rendered"))
    assert rendered[1].text_parts == (f"{CONTENTS[1]} @200",)
    other = next(c.cell_id for c in grid.cells() if c.modality == "image" and c["dpi"] == 100)
    assert Image.open(io.BytesIO(next(iter(pairs_from_run(run_dir, cell=other))).images[0].png)).size == (84, 56)


def test_run_folder_pair_errors(run_dir, grid):
    ref = _ref_cell(grid)
    with pytest.raises(SpecError, match=f"Did you mean: {ref}"):
        pairs_from_run(run_dir, cell=ref[:-1] + ("0" if ref[-1] != "0" else "1"))
    with pytest.raises(SpecError, match="text_from"):
        pairs_from_run(run_dir, text_from="texts")


def test_variant_list_pairs_match_run_folder(run_dir, grid):
    vs = _variants(grid)
    from_list = pairs_from_variants(vs, grid=grid)
    from_run = list(pairs_from_run(run_dir))
    assert [(p.item_id, p.text_parts, p.images[0].sha256) for p in from_list] == \
           [(p.item_id, p.text_parts, p.images[0].sha256) for p in from_run]
    with pytest.raises(AnalysisError, match="2 image cells"):
        pairs_from_variants(vs)
    no_text = [v for v in vs if v.modality != "text"]
    with pytest.raises(AnalysisError, match="no text-modality variant"):
        pairs_from_variants(no_text, grid=grid)
    assert pairs_from_variants(no_text, grid=grid, text_from="rendered")[0].text_parts == (f"{CONTENTS[0]} @200",)


def test_natural_images_with_csv_and_jsonl_labels(tmp_path):
    for i, ext in enumerate(("png", "jpg", "png")):
        Image.new("RGB", (60 + i, 60), (40 * i, 90, 200)).save(tmp_path / f"im{i}.{ext}")
    (tmp_path / "labels.csv").write_text("image,label\nim0.png,a cat\nim1.jpg,a dog\nim2.png,a red car\n")
    pairs = list(pairs_from_images(tmp_path, tmp_path / "labels.csv"))
    assert [(p.item_id, p.text_parts) for p in pairs] == [("im0.png", ("a cat",)), ("im1.jpg", ("a dog",)),
                                                          ("im2.png", ("a red car",))]
    assert pairs[1].images[0].png[:8] == b"\x89PNG\r\n\x1a\n"  # JPEG re-encoded losslessly as PNG
    (tmp_path / "l.jsonl").write_text('{"image": "im0.png", "label": "x"}\n{"image": "imm1.jpg", "label": "y"}\n')
    with pytest.raises(SpecError, match="imm1.jpg.*Did you mean: im1.jpg"):
        pairs_from_images(tmp_path, tmp_path / "l.jsonl")
    (tmp_path / "bad.csv").write_text("img,label\nim0.png,x\nim1.jpg,y\n")
    with pytest.raises(SpecError, match=r"missing \['image'\]"):
        pairs_from_images(tmp_path, tmp_path / "bad.csv")


# ---------------------------------------------------------------- tiny models: shapes and token selection

@pytest.mark.parametrize("name, image_tokens", [("qwen", 8), ("llava", 256)])
def test_layer_means_shapes(adapters, run_dir, name, image_tokens):
    ad = adapters[name]
    means = extract_means(ad, pairs_from_run(run_dir))
    cfg = ad.model.config.text_config
    n_layers = cfg.num_hidden_layers + 1
    assert means.image.shape == means.text.shape == (len(CONTENTS), n_layers, cfg.hidden_size)
    assert means.image.dtype == np.float32 and means.layers == tuple(range(n_layers))
    assert means.n_image_tokens.tolist() == [image_tokens] * len(CONTENTS)  # 112x56 -> (56/28)*(112/28) = 8
    assert means.n_text_tokens.tolist() == [len(_content_positions(ad, c)[1]) for c in CONTENTS]
    sel = extract_means(ad, pairs_from_run(run_dir), layers=[0, -1])
    assert sel.layers == (0, n_layers - 1)
    np.testing.assert_array_equal(sel.image[:, 1], means.image[:, -1])
    curves = gap_curves(means, n_boot=50)
    assert curves.height == n_layers and curves.columns == list(CURVE_COLUMNS)


@pytest.mark.parametrize("name, image_token", [("qwen", "<|image_pad|>"), ("llava", "<image>")])
def test_selected_positions_are_the_processors_tokens(adapters, name, image_token):
    """Means equal a direct forward pass averaged over positions found independently of the adapter."""
    import torch

    ad = adapters[name]
    proc, tok = ad.processor, ad.processor.tokenizer
    content = CONTENTS[1]
    png = _png(content, (112, 56))
    pair = GapPair("x", (content,), (ImagePart(png=png),))
    means = extract_means(ad, [pair, GapPair("y", (CONTENTS[0],), (ImagePart(png=_png("y", (112, 56))),))])

    image_id = tok.convert_tokens_to_ids(image_token)
    msgs = [{"role": "user", "content": [{"type": "image"}]}]
    prompt = proc.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    inputs = proc(text=[prompt], images=[Image.open(io.BytesIO(png)).convert("RGB")], return_tensors="pt")
    ids = inputs["input_ids"][0]
    img_pos = ids == image_id
    hs = ad.hidden_states(pair.image_request())
    np.testing.assert_array_equal(hs.image_mask, img_pos.numpy())
    assert not hs.text_mask.any()  # an image-only request has no user text

    tids, pos = _content_positions(ad, content)
    ht = ad.hidden_states(pair.text_request())
    assert ht.input_ids.tolist() == tids
    assert np.flatnonzero(ht.text_mask).tolist() == pos and pos == list(range(pos[0], pos[-1] + 1))
    assert not {tids[i] for i in pos} & set(tok.all_special_ids)
    assert tok.decode([tids[i] for i in pos]).strip() == content  # the content, no template markup

    with torch.inference_mode():
        out_i = ad.model(**inputs, output_hidden_states=True).hidden_states
        out_t = ad.model(input_ids=torch.tensor([tids]), output_hidden_states=True).hidden_states
    for layer in range(len(out_i)):
        np.testing.assert_allclose(means.image[0, layer], out_i[layer][0][img_pos].mean(0).numpy(), atol=1e-5)
        np.testing.assert_allclose(means.text[0, layer], out_t[layer][0][pos].mean(0).numpy(), atol=1e-5)


# ---------------------------------------------------------------- fake adapter: identical image/text states

class MatchingAdapter:
    """Puts one vector per item at the image positions (image pass) and the text positions (text pass),
    and junk everywhere else, so only exact masking yields similarity 1."""

    name = "matching"

    def __init__(self, n_layers: int = 3, hidden: int = 8, empty_image: bool = False):
        self.n_layers, self.hidden, self.empty_image = n_layers, hidden, empty_image

    def hidden_states(self, request, layers=None) -> HiddenStates:
        kind, item = request.tag.split(":", 1)
        vec = np.random.default_rng(int(item[1:])).normal(size=(self.n_layers, self.hidden))
        junk = np.random.default_rng(1000 + len(request.tag)).normal(size=(self.n_layers, 10, self.hidden)) * 50
        mask = np.zeros(10, dtype=bool)
        mask[2:6] = not (self.empty_image and kind == "gap-image")
        arr = junk.copy()
        arr[:, mask] = vec[:, None, :]
        other = np.zeros(10, dtype=bool)
        return HiddenStates(arr.astype(np.float32), tuple(range(self.n_layers)),
                            mask if kind == "gap-image" else other, mask if kind == "gap-text" else other,
                            np.arange(10))


def _fake_pairs(n: int) -> list[GapPair]:
    return [GapPair(f"i{k}", ("t",), (ImagePart(png=b"x"),)) for k in range(n)]


def test_identical_states_give_similarity_one_and_perfect_retrieval():
    res = measure_gap(MatchingAdapter(), _fake_pairs(7), n_boot=100)
    c = res.curves
    for col in ("cos_mean", "cos_ci_low", "cos_ci_high", "i2t_r1", "i2t_r5", "t2i_r1", "t2i_r5"):
        np.testing.assert_allclose(c[col].to_numpy(), 1.0, atol=1e-6, err_msg=col)
    assert (c["cos_shuffled"] < 0.95).all()
    assert res.summary["model"].to_list() == ["matching"] and res.summary["cos_max_layer"].to_list() == [0]


def test_extraction_errors():
    with pytest.raises(ModelError, match="no image-token positions"):
        extract_means(MatchingAdapter(empty_image=True), _fake_pairs(3))
    with pytest.raises(ModelError, match="hidden_states"):
        extract_means(object(), _fake_pairs(3))
    with pytest.raises(AnalysisError, match="more than once"):
        extract_means(MatchingAdapter(), _fake_pairs(3) + _fake_pairs(1))
    with pytest.raises(AnalysisError, match="at least 2"):
        extract_means(MatchingAdapter(), _fake_pairs(1))


def test_means_and_result_round_trip(tmp_path):
    res = measure_gap(MatchingAdapter(), _fake_pairs(4), model="org/m:1", n_boot=20)
    paths = res.save(tmp_path)
    assert paths["curves"].parent.name == "org_m_1"
    back = LayerMeans.load(paths["means"])
    assert back.item_ids == res.means.item_ids and back.model == "org/m:1" and back.layers == res.means.layers
    np.testing.assert_array_equal(back.image, res.means.image)
    assert pl.read_parquet(paths["curves"]).equals(res.curves)


# ---------------------------------------------------------------- CLI

def _cli(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    _gap_args(p)
    return run_gap(p.parse_args(argv))


@pytest.mark.slow
def test_cli_three_models_with_rer_reports_caveat(model_dirs, run_dir, tmp_path, capsys):
    out = tmp_path / "gap"
    argv = ["--variants", str(run_dir), "--out", str(out), "--n-boot", "50", "--no-progress"]
    for key in ("qwen", "llava", "qwen_s1"):
        argv += ["--model", str(model_dirs[key]), "--name", key]
    argv += ["--rer", "qwen=0.8", "--rer", "llava=0.3", "--rer", "qwen_s1=0.5"]
    with pytest.warns(FewModelsWarning):
        assert _cli(argv) == 0
    text = capsys.readouterr().out
    assert "caveat: only 3 models" in text and "n_models 3" in text
    curves = pl.read_parquet(out / "gap_curves.parquet")
    assert curves.columns == list(CURVE_COLUMNS) and curves.height == 3 * 3
    assert sorted(curves["model"].unique().to_list()) == ["llava", "qwen", "qwen_s1"]
    corr = json.loads((out / "gap_correlation.json").read_text())
    assert corr["n_models"] == 3 and corr["caveat"] and corr["models"] == ["qwen", "llava", "qwen_s1"]
    for png in ("gap_curves.png", "gap_rer.png"):
        data = (out / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    assert (out / "llava" / "means.npz").is_file()


def test_cli_natural_images(model_dirs, tmp_path, capsys):
    for i in range(3):
        Image.new("RGB", (112, 56), (80 * i, 30, 200)).save(tmp_path / f"im{i}.png")
    (tmp_path / "labels.jsonl").write_text("".join(json.dumps({"image": f"im{i}.png", "label": f"colour {i}"}) + "\n"
                                                   for i in range(3)))
    out = tmp_path / "out"
    assert _cli(["--model", str(model_dirs["qwen"]), "--images", str(tmp_path), "--labels",
                 str(tmp_path / "labels.jsonl"), "--out", str(out), "--n-boot", "0", "--layers", "0,-1",
                 "--no-progress"]) == 0
    summary = pl.read_parquet(out / "gap_summary.parquet")
    assert summary["n_items"].to_list() == [3] and summary["n_layers"].to_list() == [2]
    assert "cos_max" in capsys.readouterr().out and not (out / "gap_correlation.json").exists()


def test_cli_argument_errors(tmp_path, run_dir):
    with pytest.raises(SpecError, match="exactly one item source"):
        _cli(["--model", "m", "--out", str(tmp_path)])
    with pytest.raises(SpecError, match="--images needs --labels"):
        _cli(["--model", "m", "--images", str(tmp_path), "--out", str(tmp_path)])
    with pytest.raises(SpecError, match="one label per model"):
        _cli(["--model", "a", "--model", "b", "--name", "x", "--variants", str(run_dir), "--out", str(tmp_path)])


def test_parse_rer_sources(tmp_path):
    (tmp_path / "r.json").write_text('{"a": 0.5, "b": 0.25}')
    (tmp_path / "r.csv").write_text("model,rer\nc,0.1\n")
    assert parse_rer([str(tmp_path / "r.json"), str(tmp_path / "r.csv"), "hf:x=0.9"]) == \
           {"a": 0.5, "b": 0.25, "c": 0.1, "hf:x": 0.9}
    with pytest.raises(SpecError, match="not a number"):
        parse_rer(["a=high"])
    with pytest.raises(SpecError, match="neither"):
        parse_rer(["missing.json"])
