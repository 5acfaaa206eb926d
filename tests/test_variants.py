"""VariantSet: lazy indexing, filters, sampling, pickling and the torch / HF adapters."""

from __future__ import annotations

import multiprocessing
import pickle

import pytest

from restplus.errors import ProblemError, RestplusError, SpecError, UnknownNameError
from restplus.grammar import factors as F
from restplus.grammar.grid import Grid, variant_seed
from restplus.problems.base import Problem, Segment
from restplus.variants import realization
from restplus.variants.ondemand import VariantIndexError, VariantKeyTypeError, VariantSet, variants


def make_grid() -> Grid:
    return Grid(F.dpi([50, 100], reference=100), F.text_color(["black", "red"]),
                F.modality(["text", "image", "mixed"], reference="text"))


def make_problems(n: int = 3) -> list[Problem]:
    out = [Problem(segments=(Segment("context", f"{i}A + 2B = {7 + i} and A - B = {i - 1}."),
                             Segment("question", "Find A and B.")), answer=f"A={i}, B=1", answer_type="soe",
                   task="soe") for i in range(1, n + 1)]
    return out + [Problem(segments=(Segment("question", "Which colour is a clear sky?"),
                                    Segment("choices", "A. red\nB. blue\nC. green\nD. grey")),
                          answer="B", answer_type="choice", task="mcq", choices=("red", "blue", "green", "grey"))]


@pytest.fixture(scope="module")
def vs() -> VariantSet:
    return VariantSet(make_problems(), make_grid(), seed=3)


def pngs(v) -> list[bytes]:
    return [im.png for im in v.images]


def test_problem_major_order_and_lengths(vs):
    grid, problems = make_grid(), make_problems()
    assert len(vs) == len(problems) * grid.n_cells == 36
    for i in (0, 8, 9, 35):
        p, c = vs.locate(i)
        assert p.problem_id == problems[i // 9].problem_id and c == grid.cells()[i % 9]
    v = vs[10]
    assert v.seed == variant_seed(3, problems[1].problem_id, grid.cells()[1])
    assert v == realization.realize(problems[1], grid, grid.cells()[1], v.seed)


def test_negative_indices_and_slices(vs):
    assert vs[-1].variant_id == vs[35].variant_id and pngs(vs[-36]) == pngs(vs[0])
    sl = vs[3:9:2]
    assert isinstance(sl, list) and [v.variant_id for v in sl] == [vs[i].variant_id for i in (3, 5, 7)]
    assert [v.variant_id for v in vs] == [vs[i].variant_id for i in range(36)]


@pytest.mark.parametrize("bad", [36, -37, 10**9])
def test_out_of_range_index_is_a_clear_index_error(vs, bad):
    with pytest.raises(VariantIndexError) as ei:
        vs[bad]
    assert isinstance(ei.value, IndexError) and isinstance(ei.value, RestplusError)
    assert str(bad) in str(ei.value) and "-36..35" in str(ei.value) and "4 problems x 9 cells" in str(ei.value)


@pytest.mark.parametrize("bad", ["v123", 1.0, True, None])
def test_non_integer_index_is_refused(vs, bad):
    with pytest.raises(VariantKeyTypeError, match="int or slice"):
        vs[bad]


def test_filter_by_levels(vs):
    sub = vs.filter(dpi=50, modality="image")
    assert len(sub) == 4 * 2
    assert all(v.cell["dpi"] == 50 and v.modality == "image" for v in sub)
    assert [v.variant_id for v in vs.filter(dpi="50", modality=["image"])] == [v.variant_id for v in sub]
    both = vs.filter(text_color=["black", "red"], modality=["image", "mixed"])
    assert len(both) == 4 * 8
    assert {v.modality for v in vs.filter(modality="text")} == {"text"}
    # a visual-factor filter keeps the text baseline: it has no visual levels and every level is compared with it
    kalam = vs.filter(dpi=50)
    assert {v.modality for v in kalam} == {"text", "image", "mixed"}
    assert all(v.cell["dpi"] == 50 for v in kalam if v.modality != "text")
    assert len(vs.filter(modality="text", dpi=50)) == 4  # the text cells, whatever the visual filter
    # the filtered view yields exactly the same variants as the full set
    full = {v.variant_id: pngs(v) for v in vs}
    assert all(pngs(v) == full[v.variant_id] for v in sub)


@pytest.mark.parametrize("levels, exc, hint", [
    ({"dpj": 50}, UnknownNameError, "Did you mean: dpi"),
    ({"text_colour": "red"}, UnknownNameError, "Did you mean: text_color"),
    ({"dpi": 75}, SpecError, "Levels: 50, 100"),
    ({"text_color": "rde"}, SpecError, "Did you mean: red"),
    ({"modality": "imgae"}, SpecError, "Did you mean: image"),
])
def test_bad_filters_raise_with_did_you_mean(vs, levels, exc, hint):
    with pytest.raises(exc) as ei:
        vs.filter(**levels)
    assert hint in str(ei.value)


def test_pickled_set_holds_plain_data_and_renders_the_same_bytes(vs):
    vs[0]
    blob = pickle.dumps(vs)
    assert b"\x89PNG" not in blob and len(blob) < 20_000
    clone = pickle.loads(blob)
    assert len(clone) == len(vs) and [pngs(clone[i]) for i in (1, 20, 35)] == [pngs(vs[i]) for i in (1, 20, 35)]
    sub = pickle.loads(pickle.dumps(vs.filter(dpi=100, modality=["image", "mixed"])))
    assert len(sub) == 4 * 4 and all(v.cell["dpi"] == 100 for v in sub)


def test_lru_cache_reuses_objects_only_when_enabled():
    cached = VariantSet(make_problems(), make_grid(), cache_size=2)
    assert cached[1] is cached[1]
    cached[2], cached[3]
    a = cached[1]  # evicted by 2 and 3: rendered again, same bytes
    assert pngs(a) == pngs(cached[1])
    plain = VariantSet(make_problems(), make_grid())
    assert plain[1] is not plain[1] and pngs(plain[1]) == pngs(plain[1])


def test_random_cell_sampling_is_reproducible_and_per_problem(vs):
    a, b = vs.sample_cells(seed=11), VariantSet(make_problems(), make_grid(), seed=3).sample_cells(seed=11)
    assert len(a) == 4
    assert [v.variant_id for v in a] == [v.variant_id for v in b]
    assert [v.problem_id for v in a] == [p.problem_id for p in make_problems()]
    # a problem's draw depends on (seed, problem id) only: drop other problems and it stays put
    solo = VariantSet(make_problems()[2:3], make_grid(), seed=3).sample_cells(seed=11)
    assert solo[0].variant_id == a[2].variant_id
    many = VariantSet(make_problems(40), make_grid()).sample_cells(seed=1)
    drawn = [many.locate(i)[1].cell_id for i in range(len(many))]
    assert len(set(drawn)) >= 5  # the draw really varies across problems
    other = [VariantSet(make_problems(40), make_grid()).sample_cells(seed=2).locate(i)[1].cell_id for i in range(41)]
    assert drawn != other


def test_variants_of_raw_text_and_of_a_problem():
    vs_text = variants("What is 2 + 3?", make_grid(), answer="5", answer_type="number")
    assert len(vs_text) == make_grid().n_cells and {v.answer for v in vs_text} == {"5"}
    assert vs_text[0].modality == "text" and vs_text[0].text_parts == ("What is 2 + 3?",)
    assert all(v.images for v in vs_text[1:])
    p = make_problems()[0]
    assert [v.variant_id for v in variants(p, make_grid())] == \
        [v.variant_id for v in VariantSet([p], make_grid())]
    with pytest.raises(ProblemError, match="answer"):
        variants(p, make_grid(), answer="A=1")
    with pytest.raises(ProblemError):
        VariantSet([], make_grid())
    with pytest.raises(ProblemError, match="Problem objects"):
        VariantSet(["raw text"], make_grid())  # type: ignore[list-item]
    with pytest.raises(ProblemError, match="unique"):
        VariantSet([p, p], make_grid())


def _loader_items(ds, workers: int) -> list[dict]:
    from torch.utils.data import DataLoader

    ctx = multiprocessing.get_context("spawn") if workers else None
    dl = DataLoader(ds, batch_size=None, shuffle=False, num_workers=workers, multiprocessing_context=ctx)
    return list(dl)


@pytest.mark.slow
def test_torch_dataloader_two_workers_match_zero_workers(vs):
    from torch.utils.data import ConcatDataset

    # One spawned loader over both views (each spawn re-imports torch, so keep it to one).
    full, sampled = vs.torch_dataset(), vs.sample_cells(seed=4).torch_dataset()
    both = ConcatDataset([full, sampled])
    serial, parallel = _loader_items(both, 0), _loader_items(both, 2)
    assert [x["variant_id"] for x in parallel] == [x["variant_id"] for x in serial]
    assert [x["variant_id"] for x in serial[:36]] == [v.variant_id for v in vs]
    assert [x["variant_id"] for x in serial[36:]] == [v.variant_id for v in vs.sample_cells(seed=4)]
    assert [x["images"] for x in parallel] == [x["images"] for x in serial]
    assert serial[5]["levels"] == {"dpi": "50", "text_color": "black", "modality": "mixed"}
    assert serial[5]["texts"] == list(vs[5].text_parts) and serial[5]["images"] == pngs(vs[5])


def test_torch_dataset_pil_items(vs):
    import io

    import numpy as np
    from PIL import Image

    item = vs.filter(modality="image").torch_dataset(images="pil")[0]
    im = item["images"][0]
    want = vs.filter(modality="image")[0].images[0]
    assert im.mode == "RGB" and im.size == (want.width, want.height)
    # the decoded pixels are the render's PNG pixels, not merely an image of the right size
    assert np.asarray(im).tobytes() == np.asarray(Image.open(io.BytesIO(want.png)).convert("RGB")).tobytes()
    with pytest.raises(SpecError, match="png"):
        vs.torch_dataset(images="jpeg")


def test_hf_dataset_round_trips_with_identical_pixels(vs, tmp_path):
    import datasets
    import numpy as np

    sub = vs.filter(dpi=50)
    ds = sub.hf_dataset(cache_dir=str(tmp_path / "cache"))
    assert isinstance(ds.features["images"].feature, datasets.Image)
    assert len(ds) == len(sub)
    ds.save_to_disk(str(tmp_path / "hf"))
    back = datasets.load_from_disk(str(tmp_path / "hf"))
    assert back["variant_id"] == [v.variant_id for v in sub]
    raw = back.cast_column("images", datasets.List(datasets.Image(decode=False)))
    for i, v in enumerate(sub):
        assert [im["bytes"] for im in raw[i]["images"]] == pngs(v)
        decoded = back[i]["images"]
        assert [np.asarray(d.convert("RGB")).tobytes() for d in decoded] == \
            [np.asarray(im.part().to_pil()).tobytes() for im in v.images]
    it = vs.filter(modality="text").hf_dataset(iterable=True)
    assert [r["modality"] for r in it] == ["text"] * 4
    # another seed must not be served from the cache of the first
    other = VariantSet(make_problems(), make_grid(), seed=4).filter(dpi=50)
    other = other.hf_dataset(cache_dir=str(tmp_path / "cache"))
    assert other["variant_id"] != ds["variant_id"]
