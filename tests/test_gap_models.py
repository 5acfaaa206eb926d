"""Modality gap with tiny random Qwen2-VL and LLaVA built on the fly: shapes, token selection, CLI."""

from __future__ import annotations

import io
import json
import os

os.environ["HF_HUB_OFFLINE"] = "1"

import numpy as np
import polars as pl
import pytest
from PIL import Image
from test_gap_pairs import CONTENTS, make_grid, make_png, run_cli, write_run  # shared run-folder helpers

from restplus.gap.extract import GapPair, extract_means, pairs_from_run
from restplus.gap.measure import CURVE_COLUMNS, FewModelsWarning, gap_curves
from restplus.models import load
from restplus.records import ImagePart
from restplus.testing.tiny import build_tiny_llava, build_tiny_qwen2vl


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """Tiny models on a shared 2-core machine: intra-op threading costs ~40x (measured 0.12 s vs 4.9 s
    for 6 items under load); restore the caller's setting afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return write_run(tmp_path_factory.mktemp("run"), make_grid())


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
    png = make_png(content, (112, 56))
    pair = GapPair("x", (content,), (ImagePart(png=png),))
    means = extract_means(ad, [pair, GapPair("y", (CONTENTS[0],), (ImagePart(png=make_png("y", (112, 56))),))])

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


# ---------------------------------------------------------------- CLI

def test_cli_three_models_with_rer_reports_caveat(model_dirs, run_dir, tmp_path, capsys):
    out = tmp_path / "gap"
    argv = ["--variants", str(run_dir), "--out", str(out), "--n-boot", "50", "--no-progress"]
    for key in ("qwen", "llava", "qwen_s1"):
        argv += ["--model", str(model_dirs[key]), "--name", key]
    argv += ["--rer", "qwen=0.8", "--rer", "llava=0.3", "--rer", "qwen_s1=0.5"]
    with pytest.warns(FewModelsWarning):
        assert run_cli(argv) == 0
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
    assert run_cli(["--model", str(model_dirs["qwen"]), "--images", str(tmp_path), "--labels",
                 str(tmp_path / "labels.jsonl"), "--out", str(out), "--n-boot", "0", "--layers", "0,-1",
                 "--no-progress"]) == 0
    summary = pl.read_parquet(out / "gap_summary.parquet")
    assert summary["n_items"].to_list() == [3] and summary["n_layers"].to_list() == [2]
    assert "cos_max" in capsys.readouterr().out and not (out / "gap_correlation.json").exists()




def test_cli_two_models_with_rer_write_curves_and_skip_the_correlation(model_dirs, run_dir, tmp_path, capsys):
    out = tmp_path / "g"
    argv = ["--variants", str(run_dir), "--out", str(out), "--n-boot", "0", "--no-progress"]
    for key in ("qwen", "llava"):
        argv += ["--model", str(model_dirs[key]), "--name", key]
    argv += ["--rer", "qwen=0.8", "--rer", "llava=0.3"]
    assert run_cli(argv) == 0
    cap = capsys.readouterr()
    assert "needs >= 3 models, got 2 --model" in cap.err  # said before any model is measured
    assert "correlation skipped: 2 measured model(s) have an RER" in cap.out
    assert pl.read_parquet(out / "gap_curves.parquet")["model"].n_unique() == 2
    assert not (out / "gap_correlation.json").exists()
