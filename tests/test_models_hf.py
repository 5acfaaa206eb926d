"""HF adapter on tiny random models built on the fly (tests/conftest.py): generation, vision-token
accounting, pixel-budget collapse, hidden-state splitting, sampling determinism, misconfiguration."""

from __future__ import annotations

import io
import json
import math
import warnings

import pytest
from PIL import Image, ImageDraw

from restplus.errors import ModelError
from restplus.models import PixelBudgetWarning, load
from restplus.models.hf import CollapsedGroup
from restplus.records import Decoding, ImagePart, Request, TextPart
from restplus.testing.tiny import TINY_BUILDERS


def png(w: int, h: int, text: str = "3A + 2B = 7") -> bytes:
    im = Image.new("RGB", (w, h), "white")
    ImageDraw.Draw(im).text((4, 4), text, fill="black")
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def qwen_resize(h: int, w: int, min_pixels: int, max_pixels: int, factor: int = 28) -> tuple[int, int]:
    """Qwen2-VL's documented resize rule, written out here independently of the adapter."""
    hb, wb = round(h / factor) * factor, round(w / factor) * factor
    if hb * wb > max_pixels:
        beta = math.sqrt(h * w / max_pixels)
        hb = max(factor, math.floor(h / beta / factor) * factor)
        wb = max(factor, math.floor(w / beta / factor) * factor)
    elif hb * wb < min_pixels:
        beta = math.sqrt(min_pixels / (h * w))
        hb, wb = math.ceil(h * beta / factor) * factor, math.ceil(w * beta / factor) * factor
    return hb, wb


DEFAULT = (56 * 56, 28 * 28 * 1280)
SHORT = Decoding(max_tokens=4)


@pytest.mark.parametrize("family", list(TINY_BUILDERS))
def test_generation_works_for_every_family(tiny_model_dir, family):
    with load("hf", path=str(tiny_model_dir / family), batch_size=2) as m:
        reqs = [Request(parts=(ImagePart(png(300, 100)), TextPart("Solve it.")), decoding=SHORT, system="Be brief."),
                Request(parts=(TextPart("What is 2 + 3?"),), decoding=SHORT),
                Request(parts=(ImagePart(png(200, 120)), TextPart("Transcribe.")), decoding=SHORT)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PixelBudgetWarning)  # fixed-size families always collapse
            out = m.generate(reqs)
    assert all(r.ok for r in out), [r.error for r in out]
    assert all(1 <= r.tokens_out <= 4 and r.finish_reason in ("stop", "length") for r in out)
    assert out[0].vision_tokens > 0 and out[2].vision_tokens > 0 and out[1].vision_tokens == 0
    assert len(out[0].image_sizes) == 1 and out[1].image_sizes == ()
    assert out[0].tokens_in > out[0].vision_tokens  # prompt = image tokens + template + text


# (width, height, budget) -> expected tokens from tiny-vlm.md's measured table where it has the value
TABLE = [((224, 224), DEFAULT, 64), ((1024, 354), DEFAULT, 481), ((1024, 354), (56 * 56, 64 * 28 * 28), 52),
         ((1024, 1284), (56 * 56, 64 * 28 * 28), 56), ((1024, 354), (56 * 56, 256 * 28 * 28), 243),
         ((300, 100), DEFAULT, None), ((40, 30), DEFAULT, None),
         ((650, 200), (4 * 28 * 28, 16 * 28 * 28), None)]


@pytest.mark.parametrize("size,budget,measured", TABLE)
def test_qwen_vision_tokens_follow_smart_resize(tiny_qwen2vl, size, budget, measured):
    w, h = size
    with load("hf", path=str(tiny_qwen2vl), min_pixels=budget[0], max_pixels=budget[1]) as m:
        r = m.generate([Request(parts=(ImagePart(png(w, h)), TextPart("Read.")), decoding=Decoding(max_tokens=1))])[0]
    hh, ww = qwen_resize(h, w, *budget)
    assert r.image_sizes == ((ww, hh),)
    assert r.vision_tokens == (hh // 28) * (ww // 28)
    if measured is not None:
        assert r.vision_tokens == measured


def test_collapse_warning_when_budget_merges_dpi_levels(tiny_qwen2vl):
    # One 6.5 x 2 in page at 50 / 100 / 200 DPI.
    dpi_sizes = [(325, 100), (650, 200), (1300, 400)]
    reqs = [Request(parts=(ImagePart(png(w, h)), TextPart("Read.")), decoding=Decoding(max_tokens=1))
            for w, h in dpi_sizes[:2]]
    with load("hf", path=str(tiny_qwen2vl), min_pixels=4 * 28 * 28, max_pixels=16 * 28 * 28) as small:
        assert small.check_budget(dpi_sizes, warn=False) == [CollapsedGroup((196, 56), tuple(dpi_sizes))]
        with pytest.warns(PixelBudgetWarning, match=r"325x100, 650x200 all become 196x56 .*max_pixels=12544"):
            out = small.generate(reqs)
        assert out[0].image_sizes == out[1].image_sizes and out[0].vision_tokens == out[1].vision_tokens
        with pytest.warns(PixelBudgetWarning):
            small.check_budget(dpi_sizes)
    with load("hf", path=str(tiny_qwen2vl)) as default:
        assert default.check_budget(dpi_sizes) == []
        with warnings.catch_warnings():
            warnings.simplefilter("error", PixelBudgetWarning)
            out = default.generate(reqs)
        assert out[0].vision_tokens < out[1].vision_tokens


def test_no_collapse_warning_for_renders_of_different_content(tiny_qwen2vl):
    # Same processed size, but not the same content at two levels: an image render and a mixed render
    # (other text parts), and two pages of other shapes. Only renders of one content are compared.
    a = Request(parts=(ImagePart(png(325, 100)), TextPart("Read.")), decoding=Decoding(max_tokens=1))
    b = Request(parts=(ImagePart(png(650, 200)), TextPart("Read."), TextPart("Question: x?")),
                decoding=Decoding(max_tokens=1))
    c = Request(parts=(ImagePart(png(340, 100)), TextPart("Read.")), decoding=Decoding(max_tokens=1))
    with load("hf", path=str(tiny_qwen2vl), min_pixels=4 * 28 * 28, max_pixels=16 * 28 * 28) as small:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PixelBudgetWarning)
            out = small.generate([a, b, c])
        assert out[0].image_sizes == out[1].image_sizes  # they did collapse: the warning was right to stay quiet


def test_fixed_size_model_collapses_every_size(tiny_llava):
    with load("hf", path=str(tiny_llava)) as m:
        groups = m.check_budget([(325, 100), (650, 200), (224, 224)], warn=False)
    assert groups == [CollapsedGroup((224, 224), ((224, 224), (325, 100), (650, 200)))]


@pytest.mark.parametrize("family", list(TINY_BUILDERS))
def test_hidden_states_split_image_and_user_text(tiny_model_dir, family):
    texts = ("Solve: 2 + 3", "Give the answer.")
    req = Request(parts=(TextPart(texts[0]), ImagePart(png(300, 100))) + (TextPart(texts[1]),),
                  system="Solve carefully.", decoding=Decoding(max_tokens=1))
    with load("hf", path=str(tiny_model_dir / family)) as m, warnings.catch_warnings():
        warnings.simplefilter("ignore", PixelBudgetWarning)
        hs = m.hidden_states(req)
        vision = m.generate([req])[0].vision_tokens
        n_layers = m.model.config.get_text_config().num_hidden_layers
        tok = m.processor.tokenizer
        sub = m.hidden_states(req, layers=[0, -1])
        with pytest.raises(ModelError, match="out of range"):
            m.hidden_states(req, layers=[n_layers + 1])
    seq = len(hs.input_ids)
    assert hs.layers.shape[:2] == (n_layers + 1, seq) and hs.layers.dtype.name == "float32"
    assert hs.layer_indices == tuple(range(n_layers + 1))
    assert int(hs.image_mask.sum()) == vision > 0
    assert not (hs.image_mask & hs.text_mask).any()
    # exactly the user's text parts: not the system text, not the template, not special tokens
    assert tok.decode(hs.input_ids[hs.text_mask].tolist()) == "".join(texts)
    assert hs.text(n_layers).shape == (int(hs.text_mask.sum()), hs.layers.shape[2])
    assert sub.layer_indices == (0, n_layers) and (sub.layers[1] == hs.layers[-1]).all()
    with pytest.raises(ModelError, match="closed"):
        m.hidden_states(req)


def test_batched_and_single_generation_agree(tiny_qwen2vl):
    d = Decoding(max_tokens=3)
    reqs = [Request(parts=(ImagePart(png(300 + 28 * k, 100)), TextPart("Read " * (k + 1))), decoding=d)
            for k in range(3)] + [Request(parts=(TextPart("only text"),), decoding=d)]
    with load("hf", path=str(tiny_qwen2vl), batch_size=1) as one, \
            load("hf", path=str(tiny_qwen2vl), batch_size=3) as three:
        a, b = one.generate(reqs), three.generate(reqs)
    counts = lambda rs: [(r.tokens_in, r.vision_tokens, r.image_sizes) for r in rs]  # noqa: E731
    assert counts(a) == counts(b)
    assert [r.text for r in a] == [r.text for r in b]  # left padding + attention mask: same greedy tokens


def test_sampling_needs_seed_and_leaves_global_rng_alone(tiny_qwen2vl):
    import torch

    req = lambda seed: Request(parts=(TextPart("What is 2 + 3?"),),  # noqa: E731
                               decoding=Decoding(temperature=1.0, max_tokens=12, seed=seed))
    with load("hf", path=str(tiny_qwen2vl)) as m:
        with pytest.raises(ModelError, match="Decoding.seed"):
            m.generate([req(None)])
        state = torch.random.get_rng_state()
        a, b, c = m.generate([req(1), req(1), req(2)])
        assert torch.equal(state, torch.random.get_rng_state())
    assert a.text == b.text and a.text != c.text


def test_bad_image_is_a_per_request_error(tiny_qwen2vl):
    reqs = [Request(parts=(ImagePart(png(100, 60)), TextPart("ok")), decoding=SHORT),
            Request(parts=(ImagePart(b"not a png"), TextPart("broken")), decoding=SHORT)]
    with load("hf", path=str(tiny_qwen2vl), batch_size=2) as m:
        good, bad = m.generate(reqs)
    assert good.ok and not bad.ok and "UnidentifiedImageError" in bad.error


def test_fingerprint_tracks_weights_and_budget_not_paths(tiny_model_dir, tmp_path):
    from restplus.testing.tiny import build_tiny_qwen2vl

    other = build_tiny_qwen2vl(tmp_path / "qwen2vl", seed=1)  # same folder name, other weights
    fps = {}
    for key, kw in {"a": {}, "a_again": {}, "budget": {"max_pixels": 256 * 28 * 28},
                    "bf16": {"dtype": "bfloat16"}}.items():
        with load("hf", path=str(tiny_model_dir / "qwen2vl"), **kw) as m:
            fps[key] = m.fingerprint()
    with load("hf", path=str(other)) as m:
        fps["seed1"] = m.fingerprint()
    assert fps["a"] == fps["a_again"]
    assert len({json.dumps(v, sort_keys=True) for v in fps.values()}) == 4
    assert fps["a"]["files_sha256"] != fps["seed1"]["files_sha256"]
    assert fps["budget"]["pixel_budget"] == {"min_pixels": 56 * 56, "max_pixels": 256 * 28 * 28}
    assert str(tmp_path) not in json.dumps(fps) and str(tiny_model_dir) not in json.dumps(fps)
    assert set(fps["a"]["versions"]) >= {"transformers", "torch"}


@pytest.mark.parametrize("kwargs,match", [
    ({"path": "/nonexistent/model"}, "no config.json"),
    ({"family": "llava", "max_pixels": 1000}, "dynamic resolution only"),
    ({"family": "qwen2vl", "dtype": "float13"}, "not a torch dtype"),
    ({"family": "qwen2vl", "batch_size": 0}, "batch_size"),
    ({"family": "qwen2vl", "min_pixels": 5000, "max_pixels": 4000}, "min_pixels <= max_pixels"),
])
def test_misconfiguration_raises_model_error(tiny_model_dir, kwargs, match):
    kwargs = dict(kwargs)
    if "family" in kwargs:
        kwargs["path"] = str(tiny_model_dir / kwargs.pop("family"))
    with pytest.raises(ModelError, match=match):
        load("hf", **kwargs)


def test_stop_strings_cut_the_output_like_the_openai_api(tiny_qwen2vl):
    base = Request(parts=(TextPart("What is 2 + 3?"),), decoding=Decoding(max_tokens=8))
    with load("hf", path=str(tiny_qwen2vl)) as m:
        full = m.generate([base])[0].text
        k = next(i for i, ch in enumerate(full) if i > 0 and ch.isascii() and ch.isalnum() and full.index(ch) == i)
        stopped = m.generate([Request(parts=base.parts, decoding=Decoding(max_tokens=8, stop=(full[k],)))])[0]
    assert stopped.text == full[:k] and stopped.finish_reason == "stop"


def test_tiny_builders_are_deterministic_and_leave_the_rng_alone(tmp_path):
    import torch

    from restplus.models._hf_load import folder_digest
    from restplus.testing.tiny import build_tiny_llava

    state = torch.random.get_rng_state()
    a, b = build_tiny_llava(tmp_path / "a", seed=5), build_tiny_llava(tmp_path / "b", seed=5)
    assert torch.equal(state, torch.random.get_rng_state())
    assert folder_digest(a)["files_sha256"] == folder_digest(b)["files_sha256"]
    assert folder_digest(build_tiny_llava(tmp_path / "c", seed=6))["files_sha256"] != folder_digest(a)["files_sha256"]


# -- decoding and loading options (issue 22) ---------------------------------------------------------
def _copy_with_generation_config(src, dst, **overrides):
    import shutil

    shutil.copytree(src, dst)
    gc = json.loads((dst / "generation_config.json").read_text())
    (dst / "generation_config.json").write_text(json.dumps({**gc, **overrides}))
    return dst


def test_repetition_penalty_is_explicit_not_the_checkpoints(tiny_qwen2vl, tmp_path):
    # A checkpoint shipping a (deliberately huge) repetition_penalty must not change greedy answers:
    # the adapter passes 1.0 unless told otherwise, and records the value it passes.
    shipped = _copy_with_generation_config(tiny_qwen2vl, tmp_path / "qwen2vl", repetition_penalty=50.0)
    reqs = [Request(parts=(TextPart(t),), decoding=Decoding(max_tokens=12)) for t in ("What is 2 + 3?", "x y z")]
    with load("hf", path=str(tiny_qwen2vl)) as m:
        plain, fp = [r.text for r in m.generate(reqs)], m.fingerprint()
    with load("hf", path=str(shipped)) as m:
        ignored = [r.text for r in m.generate(reqs)]
    with load("hf", path=str(tiny_qwen2vl), repetition_penalty=50.0) as m:
        penalised, fp50 = [r.text for r in m.generate(reqs)], m.fingerprint()
    assert ignored == plain
    assert penalised != plain  # the parameter does act on this model, so the equality above means something
    assert fp["repetition_penalty"] == 1.0 and fp50["repetition_penalty"] == 50.0
    with pytest.raises(ModelError, match="repetition_penalty"):
        load("hf", path=str(tiny_qwen2vl), repetition_penalty=0)


def test_dtype_auto_loads_the_checkpoint_dtype_and_records_it(tiny_llava):
    saved = json.loads((tiny_llava / "config.json").read_text()).get("dtype", "float32")
    with load("hf", path=str(tiny_llava), dtype="auto") as m:
        assert str(m.model.dtype) == f"torch.{saved}"
        assert m.fingerprint()["dtype"] == saved


def _custom_code_folder(tmp_path):
    from restplus.testing.tiny import build_tiny_llava

    path = build_tiny_llava(tmp_path / "custom")
    (path / "modeling_custom.py").write_text(
        "from transformers import LlavaForConditionalGeneration\n\n\n"
        "class CustomLlava(LlavaForConditionalGeneration):\n    pass\n")
    cfg = json.loads((path / "config.json").read_text())
    cfg["auto_map"] = {"AutoModelForImageTextToText": "modeling_custom.CustomLlava"}
    (path / "config.json").write_text(json.dumps(cfg))
    return path


def test_trust_remote_code_is_explicit_warned_and_reaches_from_pretrained(tmp_path, monkeypatch):
    import transformers.dynamic_module_utils as dmu

    from restplus.errors import RestplusWarning

    monkeypatch.setattr(dmu, "HF_MODULES_CACHE", str(tmp_path / "modules"))  # not the user's ~/.cache
    path = _custom_code_folder(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RestplusWarning)  # off by default: no warning, no custom code run
        with load("hf", path=str(path)) as m:
            assert type(m.model).__name__ == "LlavaForConditionalGeneration"
            assert m.fingerprint()["trust_remote_code"] is False
    with pytest.warns(RestplusWarning, match="trust_remote_code=True runs the Python files"):
        m = load("hf", path=str(path), trust_remote_code=True)
    with m:
        assert type(m.model).__name__ == "CustomLlava"  # the folder's own class was imported
        assert m.fingerprint()["trust_remote_code"] is True
    with pytest.raises(ModelError, match="True or False"):
        load("hf", path=str(path), trust_remote_code="yes")


def test_a_folder_that_needs_remote_code_says_how_to_allow_it(tmp_path, monkeypatch):
    path = _custom_code_folder(tmp_path)
    cfg = json.loads((path / "config.json").read_text())
    cfg["model_type"] = "restplus_custom"  # unknown to transformers: only the folder's code can load it
    cfg["auto_map"]["AutoConfig"] = "configuration_custom.CustomConfig"
    (path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match=r"trust_remote_code=True \(CLI --trust-remote-code\)"):
        load("hf", path=str(path))


def test_cli_hf_options_reach_the_adapter(tiny_qwen2vl):
    from restplus.cli.evaluate import load_model

    opts = {"dtype": "auto", "device": "cpu", "min_pixels": 28 * 28 * 4, "max_pixels": 28 * 28 * 64}
    with load_model(f"hf:{tiny_qwen2vl}", options=opts) as m:
        fp = m.fingerprint()
    assert fp["pixel_budget"] == {"min_pixels": 28 * 28 * 4, "max_pixels": 28 * 28 * 64}
    assert fp["dtype"] == "float32" and fp["trust_remote_code"] is False
