"""Every HF family the adapter supports, as a tiny random model (tests/conftest.py): runs through
``evaluate`` and ``measure_gap``, records the vision-token count the *model* consumes (read from the
model's own placeholder check, not from the adapter), and feeds exactly one BOS. Plus the
family-specific cases: Gemma 3's soft image tokens and trimming template, Qwen3-VL's 32-px patches,
tiled processed sizes, devices and attention kernels, on-device modality-gap means."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import polars as pl
import pytest
from PIL import Image
from test_gap_pairs import make_grid, write_run  # shared run-folder helpers
from test_models_hf import png, qwen_resize

import restplus as rp
from restplus.errors import ModelError, PixelBudgetWarning
from restplus.models import load
from restplus.problems import builtin_set
from restplus.records import Decoding, ImagePart, Request, TextPart
from restplus.runner.evaluation import evaluate
from restplus.testing.tiny import TINY_BUILDERS
from restplus.variants.ondemand import VariantSet

FAMILIES = list(TINY_BUILDERS)
TEMPLATE_WRITES_BOS = {"gemma3", "idefics3", "smolvlm"}


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """Tiny models on a shared 2-core machine: intra-op threads only add contention."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def count_model_features(adapter) -> list[int]:
    """Wrap the model's own placeholder check so every image forward records how many image feature
    vectors the model scattered into the sequence: the ground truth for ``vision_tokens``."""
    inner = adapter.model.model
    name = "get_placeholder_mask" if hasattr(inner, "get_placeholder_mask") else "inputs_merger"  # Idefics3
    orig = getattr(inner, name)
    sig = inspect.signature(orig)
    seen: list[int] = []

    def wrapped(*args, **kwargs):
        bound = sig.bind(*args, **kwargs).arguments
        feats = bound.get("image_features", bound.get("image_hidden_states"))
        if feats is not None:
            seen.append(int(feats.numel() // feats.shape[-1]))
        return orig(*args, **kwargs)

    setattr(inner, name, wrapped)  # the instance attribute shadows the method for this adapter only
    return seen


def _req(*parts, system=None, max_tokens=2):
    return Request(parts=tuple(parts), system=system, decoding=Decoding(max_tokens=max_tokens))


@pytest.mark.parametrize("family", FAMILIES)
def test_family_runs_through_evaluate_and_records_the_models_vision_tokens(tiny_model_dir, family, tmp_path):
    grid = rp.Grid(rp.dpi([50, 100], reference=100), rp.modality(["text", "image"], reference="text"))
    vs = VariantSet(builtin_set("soe", n=1), grid, 0)
    with load("hf", path=str(tiny_model_dir / family)) as m:
        seen = count_model_features(m)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PixelBudgetWarning)  # fixed-size families merge DPI levels (true)
            res = evaluate(vs, m, out=tmp_path / "run", decoding={"max_tokens": 2}, progress=False)
    t = res.table
    assert res.status == "complete" and t["error"].null_count() == t.height
    img = t.filter(pl.col("modality") != "text")
    assert img.height > 0 and (t.filter(pl.col("modality") == "text")["vision_tokens"] == 0).all()
    # one image forward per image row (greedy generation passes pixels on the first step only)
    assert sorted(img["vision_tokens"].to_list()) == sorted(seen) and min(seen) > 0
    assert img["processed_width_px"].null_count() == 0


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return write_run(tmp_path_factory.mktemp("run"), make_grid())


@pytest.mark.parametrize("family", FAMILIES)
def test_family_runs_through_measure_gap(tiny_model_dir, run_dir, family):
    with load("hf", path=str(tiny_model_dir / family)) as m:
        seen = count_model_features(m)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PixelBudgetWarning)
            res = rp.measure_gap(m, run_dir, n_boot=0)
        n_layers = m.model.config.get_text_config().num_hidden_layers + 1
    means = res.means
    assert means.n_image_tokens.tolist() == seen  # the image mask is exactly the positions the model fills
    assert (means.n_text_tokens > 0).all() and means.image.shape[1] == n_layers
    assert np.isfinite(means.image).all() and np.isfinite(means.text).all()
    assert res.curves.height == n_layers


@pytest.mark.parametrize("family", FAMILIES)
def test_exactly_one_bos_in_generation_and_hidden_states(tiny_model_dir, family):
    req = _req(ImagePart(png(120, 60)), TextPart("Solve it."), system="Be brief.")
    with load("hf", path=str(tiny_model_dir / family)) as m, warnings.catch_warnings():
        warnings.simplefilter("ignore", PixelBudgetWarning)
        tok = m.processor.tokenizer
        ids = m.encode([req])[0]["input_ids"][0].tolist()
        hs = m.hidden_states(req)
        prompt = m.processor.apply_chat_template([{"role": "user", "content": [{"type": "text", "text": "x"}]}],
                                                 add_generation_prompt=True, tokenize=False)
    if tok.bos_token_id is None:  # Qwen, InternVL: no BOS token at all, and none is added
        assert tok("x")["input_ids"] == tok("x", add_special_tokens=False)["input_ids"]
        return
    assert ids.count(tok.bos_token_id) == 1 and ids[0] == tok.bos_token_id
    assert hs.input_ids.tolist().count(tok.bos_token_id) == 1
    naive = tok(prompt)["input_ids"].count(tok.bos_token_id)  # what plain tokenisation would feed
    assert naive == (2 if family in TEMPLATE_WRITES_BOS else 1)


# ---------------------------------------------------------------- Gemma 3

def test_gemma3_counts_soft_image_tokens_not_the_begin_of_image_marker(tiny_model_dir):
    with load("hf", path=str(tiny_model_dir / "gemma3")) as m, warnings.catch_warnings():
        warnings.simplefilter("ignore", PixelBudgetWarning)
        cfg = m.model.config
        seen = count_model_features(m)
        one, two = m.generate([_req(ImagePart(png(120, 60)), TextPart("Read.")),
                               _req(ImagePart(png(90, 90)), TextPart("and"), ImagePart(png(60, 30)))])
        hs = m.hidden_states(_req(ImagePart(png(120, 60))))
        assert m.processor.image_token_id == cfg.boi_token_index != m.image_token_id == cfg.image_token_index
    assert one.vision_tokens == cfg.mm_tokens_per_image and two.vision_tokens == 2 * cfg.mm_tokens_per_image
    assert seen == [one.vision_tokens, two.vision_tokens, int(hs.image_mask.sum())]
    assert int(hs.image_mask.sum()) == cfg.mm_tokens_per_image
    assert not (hs.input_ids[hs.image_mask] == cfg.boi_token_index).any()


def test_gemma3_trimming_template_accepts_text_with_edge_whitespace(tiny_model_dir):
    req = _req(TextPart("  Solve: 2 + 3\n"), ImagePart(png(60, 30)), TextPart(" Give the answer. "))
    with load("hf", path=str(tiny_model_dir / "gemma3")) as m, warnings.catch_warnings():
        warnings.simplefilter("ignore", PixelBudgetWarning)
        hs = m.hidden_states(req)
        text = m.processor.tokenizer.decode(hs.input_ids[hs.text_mask].tolist())
        mm = m.masked_means(req, which="text")
    assert text == "Solve: 2 + 3Give the answer."  # the trimmed texts, as the template wrote them
    assert mm.n == int(hs.text_mask.sum())


def test_a_template_that_changes_text_beyond_trimming_is_still_refused(tiny_model_dir):
    with load("hf", path=str(tiny_model_dir / "qwen2vl")) as m:
        m.processor.chat_template = m.processor.chat_template.replace("{{ c['text'] }}", "{{ c['text'] | upper }}")
        with pytest.raises(ModelError, match="rewrites user text"):
            m.hidden_states(_req(TextPart("solve it")))


# ---------------------------------------------------------------- Qwen3-VL and tiled sizes

@pytest.mark.parametrize("size,budget", [((300, 100), (64 * 64, 32 * 32 * 1280)),
                                         ((1024, 354), (64 * 64, 32 * 32 * 64)), ((40, 30), (64 * 64, 32 * 32 * 1280))])
def test_qwen3vl_uses_32px_merged_patches(tiny_model_dir, size, budget):
    w, h = size
    with load("hf", path=str(tiny_model_dir / "qwen3vl"), min_pixels=budget[0], max_pixels=budget[1]) as m:
        r = m.generate([_req(ImagePart(png(w, h)), TextPart("Read."), max_tokens=1)])[0]
        assert m.processed_size(w, h) == r.image_sizes[0]
        assert m.fingerprint()["pixel_budget"] == {"min_pixels": budget[0], "max_pixels": budget[1]}
    hh, ww = qwen_resize(h, w, *budget, factor=32)
    assert r.image_sizes == ((ww, hh),) and r.vision_tokens == (hh // 32) * (ww // 32)


def test_qwen3vl_budget_below_one_merged_patch_is_refused(tiny_model_dir):
    with pytest.raises(ModelError, match=r"below one merged patch of qwen3_vl \(32x32 = 1024"):
        load("hf", path=str(tiny_model_dir / "qwen3vl"), min_pixels=500, max_pixels=900)


@pytest.mark.parametrize("family", ["internvl", "idefics3", "smolvlm"])
@pytest.mark.parametrize("size", [(300, 100), (100, 300), (64, 64), (128, 128), (250, 180)])
def test_tiled_processed_size_is_the_tile_canvas_the_model_sees(tiny_model_dir, family, size):
    with load("hf", path=str(tiny_model_dir / family)) as m, warnings.catch_warnings():
        warnings.simplefilter("ignore", PixelBudgetWarning)
        r = m.generate([_req(ImagePart(png(*size)), max_tokens=1)])[0]
    w, h = r.image_sizes[0]
    assert w % 64 == 0 and h % 64 == 0  # whole 64-px tiles
    tiles = (w // 64) * (h // 64)
    extra = (1 if tiles > 1 else 0) if family == "internvl" else 1  # InternVL thumbnail / Idefics3 global tile
    assert r.vision_tokens == (tiles + extra) * 4  # 4 tokens per tile in these configs


def test_tiled_family_tells_sizes_apart_that_the_processor_tiles_differently(tiny_model_dir):
    with load("hf", path=str(tiny_model_dir / "internvl")) as m:
        ip = m.processor.image_processor
        assert m.check_budget([(64, 64), (128, 128)], warn=False) == []  # 1 tile vs 2x2 tiles + thumbnail
        n = [int(ip(Image.new("RGB", s), return_tensors="np")["num_patches"][0]) for s in ((64, 64), (128, 128))]
        assert n == [1, 5]
        assert m.check_budget([(300, 100), (600, 200)], warn=False)[0].processed == (192, 64)  # both 3x1


@pytest.mark.parametrize("size", [(300, 100), (100, 300), (90, 90), (50, 40)])
def test_llava_next_processed_size_is_the_content_inside_its_pinpoint(tiny_model_dir, size):
    with load("hf", path=str(tiny_model_dir / "llava_next")) as m:
        pins = m.processor.image_processor.image_grid_pinpoints
        w, h = m.processed_size(*size)
    fits = [(pw, ph) for ph, pw in pins if w <= pw and h <= ph and (w == pw or h == ph)]
    assert fits, (w, h, pins)  # fills one side of a pinpoint
    assert abs(w / h - size[0] / size[1]) <= max(1 / h, 1 / w) * (size[0] / size[1] + 1)  # aspect kept


# ---------------------------------------------------------------- devices, kernels, big-model gap

def test_default_device_is_cuda_when_visible(tiny_model_dir, monkeypatch):
    import torch

    from restplus.models._hf_load import default_device

    with load("hf", path=str(tiny_model_dir / "llava")) as m:
        assert m.device == ("cuda" if torch.cuda.is_available() else "cpu") and m.model.device.type == m.device
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert default_device(None) == "cuda" and default_device("cpu") == "cpu"
    with pytest.raises(ModelError, match="device must be"):
        default_device("")


def test_device_auto_needs_accelerate(tiny_model_dir, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "accelerate" else real(name, *a))
    with pytest.raises(ModelError, match="needs the accelerate package"):
        load("hf", path=str(tiny_model_dir / "llava"), device="auto")


def test_attn_implementation_reaches_the_model_and_the_fingerprint(tiny_model_dir):
    fps = {}
    for impl in ("eager", "sdpa"):
        with load("hf", path=str(tiny_model_dir / "qwen2vl"), attn_implementation=impl, dtype="fp32") as m:
            fps[impl] = m.fingerprint()
    assert fps["eager"]["attn_implementation"] == "eager" and fps["sdpa"]["attn_implementation"] == "sdpa"
    assert fps["eager"]["dtype"] == "float32"
    with pytest.raises(ModelError, match="could not load the model weights"):
        load("hf", path=str(tiny_model_dir / "qwen2vl"), attn_implementation="no_such_kernel")


@pytest.mark.parametrize("family", ["qwen2vl", "gemma3", "internvl"])
def test_gap_means_on_device_equal_the_full_states_and_keep_one_logit(tiny_model_dir, family):
    req_i = _req(ImagePart(png(120, 60)))
    req_t = _req(TextPart("Solve 3A + 2B = 7"))
    with load("hf", path=str(tiny_model_dir / family)) as m, warnings.catch_warnings():
        warnings.simplefilter("ignore", PixelBudgetWarning)
        logits = []
        hook = m.model.register_forward_hook(lambda mod, args, out: logits.append(tuple(out.logits.shape)))
        mi, mt = m.masked_means(req_i, which="image"), m.masked_means(req_t, [0, -1], which="text")
        hi, ht = m.hidden_states(req_i), m.hidden_states(req_t, [0, -1])
        hook.remove()
        with pytest.raises(ModelError, match="'image' or 'text'"):
            m.masked_means(req_t, which="both")
    assert all(shape[1] == 1 for shape in logits) and len(logits) == 4  # logits_to_keep=1: no seq x vocab tensor
    assert mi.layer_indices == hi.layer_indices and mi.n == int(hi.image_mask.sum())
    np.testing.assert_allclose(mi.means, hi.layers[:, hi.image_mask].mean(axis=1), atol=1e-5)
    assert mt.layer_indices == ht.layer_indices and mt.n == int(ht.text_mask.sum()) > 0
    np.testing.assert_allclose(mt.means, ht.layers[:, ht.text_mask].mean(axis=1), atol=1e-5)


def test_cli_attn_implementation_option(tiny_model_dir):
    from restplus.cli.evaluate import load_model

    with load_model(f"hf:{tiny_model_dir / 'qwen2vl'}", options={"attn_implementation": "eager"}) as m:
        assert m.fingerprint()["attn_implementation"] == "eager"


def test_gpu_smoke_script_is_valid_bash_and_documented():
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    script = root / "bench" / "gpu_smoke.sh"
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    assert "bench/gpu_smoke.sh" in (root / "README.md").read_text(encoding="utf-8")
    # without a model folder it stops with the setup status (2) before touching any GPU
    out = subprocess.run(["bash", str(script), str(root / "no-such-model")], capture_output=True, text=True)
    assert out.returncode == 2 and "has no config.json" in out.stderr


def test_gemma3_folder_pan_and_scan_setting_does_not_reach_the_model(tiny_model_dir, tmp_path):
    """The size model treats Gemma 3 as fixed-size: transformers' processor applies pan-and-scan crops
    only when a call asks for them, whatever the folder says. Guard that, with crops that would apply."""
    import json
    import shutil

    path = shutil.copytree(tiny_model_dir / "gemma3", tmp_path / "gemma3")
    cfg = json.loads((path / "processor_config.json").read_text())
    crops = dict(do_pan_and_scan=True, pan_and_scan_min_crop_size=32, pan_and_scan_max_num_crops=4,
                 pan_and_scan_min_ratio_to_activate=1.2)
    cfg["image_processor"].update(crops)
    (path / "processor_config.json").write_text(json.dumps(cfg))
    with load("hf", path=str(path)) as m, warnings.catch_warnings():
        warnings.simplefilter("ignore", PixelBudgetWarning)
        seen = count_model_features(m)
        wide = m.generate([_req(ImagePart(png(400, 100)))])[0]
        per_view = m.model.config.mm_tokens_per_image
        asked = m.processor(text=["<start_of_image>"], images=[Image.new("RGB", (400, 100))], return_tensors="pt",
                            **crops)
    assert wide.vision_tokens == per_view == seen[0] and wide.image_sizes == ((64, 64),)
    assert int(asked["pixel_values"].shape[0]) == 5  # the same image, asked per call: 4 crops + the full view
