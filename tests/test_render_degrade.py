"""Degradations: applied in a fixed order, seeded, recorded with resolved params and measures."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from restplus.errors import RenderError
from restplus.render import degradation_names, register_degradation, render_text
from restplus.render.degrade import Degradation, apply_degradations, psnr

TEXT = "Solve the system of equations:\n3A + 2B = 7\nA - B = -1"
BASE = {"dpi": 100}


def _steps(img):
    return dict(img.provenance)["steps"]


def _pixels(img) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(img.png)).convert("RGB"), dtype=np.int16)


def test_clean_render_has_no_steps():
    assert _steps(render_text(TEXT, BASE)) == []


def test_blur_records_sigma_in_px_and_pt_and_softens_edges():
    clean, blurred = render_text(TEXT, BASE), render_text(TEXT, BASE, blur_sigma=1.5)
    (step,) = _steps(blurred)
    assert step["step"] == "blur" and step["sigma_px"] == 1.5
    assert step["sigma_pt"] == pytest.approx(1.5 * 72 / 100, abs=1e-4)
    assert step["psnr_db"] is not None and step["psnr_db"] < 40
    # blur reduces the sharpest horizontal intensity step
    grad = lambda a: np.abs(np.diff(a.mean(axis=2), axis=1)).max()  # noqa: E731
    assert grad(_pixels(blurred)) < grad(_pixels(clean))
    assert blurred.rendered_text == clean.rendered_text
    assert (blurred.width, blurred.height) == (clean.width, clean.height)


def test_jpeg_quality_orders_psnr():
    q90, q10 = (_steps(render_text(TEXT, BASE, jpeg_quality=q))[0] for q in (90, 10))
    assert q90["subsampling"] == q10["subsampling"] == "4:2:0"
    assert q90["quality"] == 90 and q10["quality"] == 10
    assert q90["psnr_db"] > q10["psnr_db"] and q90["jpeg_bytes"] > q10["jpeg_bytes"]


def test_noise_is_seeded_and_measured():
    a, b, c = (render_text(TEXT, BASE, noise_sigma=12.0, seed=s) for s in (1, 1, 2))
    assert a.png == b.png and a.pixel_sha256 != c.pixel_sha256
    (step,) = _steps(a)
    assert step["sigma"] == 12.0 and step["seed"] != _steps(c)[0]["seed"]
    diff = _pixels(a) - _pixels(render_text(TEXT, BASE))
    # clipping at 255 on white paper halves the spread upward; the std is still of the right order
    assert 4.0 < diff.std() < 12.5


def test_rotation_expands_the_canvas_with_background_fill():
    clean = render_text(TEXT, BASE, bg=[250, 240, 200])
    rot = render_text(TEXT, BASE, bg=[250, 240, 200], rotation_deg=10.0)
    (step,) = _steps(rot)
    assert step["size_before"] == [clean.width, clean.height] and step["size_after"] == [rot.width, rot.height]
    assert rot.width > clean.width and rot.height > clean.height
    im = Image.open(io.BytesIO(rot.png)).convert("RGB")
    assert im.getpixel((0, 0)) == (250, 240, 200)  # corners filled with the page colour, not black
    assert dict(rot.covariates)["width_px"] == rot.width


def test_steps_apply_in_registry_order_regardless_of_param_order():
    img = render_text(TEXT, {"jpeg_quality": 50, "noise_sigma": 3.0, "blur_sigma": 1.0, "rotation_deg": 2.0,
                             "dpi": 50})
    assert [s["step"] for s in _steps(img)] == ["rotation", "blur", "noise", "jpeg"]
    assert degradation_names()[:4] == ["rotation", "blur", "noise", "jpeg"]


def test_psnr_of_identical_images_is_none():
    im = Image.new("RGB", (4, 4), (1, 2, 3))
    assert psnr(im, im.copy()) is None


def test_register_degradation_validates_names():
    with pytest.raises(RenderError, match="already registered"):
        register_degradation(Degradation("blur", "blur_sigma", bool, lambda im, v, s, c: (im, {})))
    from restplus.errors import UnknownNameError

    with pytest.raises(UnknownNameError, match="Did you mean: jpeg"):
        register_degradation(Degradation("x_new", "x", bool, lambda im, v, s, c: (im, {})), before="jpg")


def test_apply_degradations_ignores_unset_params():
    im = Image.new("RGB", (10, 10), "white")
    out, steps = apply_degradations(im, {"blur_sigma": 0.0, "jpeg_quality": None}, 0, 100)
    assert steps == [] and out.tobytes() == im.tobytes()
