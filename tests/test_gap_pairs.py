"""Modality gap without real models: pairing (run folders, variants, natural images), extraction
against a fake adapter with identical image/text states, result files and CLI argument handling."""

from __future__ import annotations

import argparse
import io
import json

import numpy as np
import polars as pl
import pytest
from PIL import Image, ImageDraw

import restplus as rp
from restplus.cli.gap import _gap_args, parse_rer, run_gap
from restplus.errors import AnalysisError, ModelError, SpecError
from restplus.gap.extract import (
    GapPair,
    LayerMeans,
    extract_means,
    gap_pairs,
    pairs_from_images,
    pairs_from_run,
    pairs_from_variants,
)
from restplus.gap.measure import measure_gap
from restplus.grammar.spec import save_grid
from restplus.hashing import sha256_bytes
from restplus.models.hf_states import HiddenStates
from restplus.records import ImagePart
from restplus.variants.runfolder import (
    GRID_FILE,
    MANIFEST,
    TABLE_FILE,
    image_relpath,
    rows_to_table,
    table_schema,
    variant_row,
)

INSTR = "Solve the problem."
CONTENTS = ["What is 2 + 3?", "Solve 3A + 2B = 7", "Which option is correct? A. red",
            "A - B = -1", "What is 5 + 2?", "Answer: B green"]


def make_png(text: str, size: tuple[int, int]) -> bytes:
    im = Image.new("RGB", size, "white")
    ImageDraw.Draw(im).text((4, 4), text, fill="black")
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def make_variants(grid) -> list:
    """Variants shaped like ``restplus.render.realize`` makes them: the text variant is one part (segments
    joined by blank lines), the image variant keeps the instruction as text and draws the rest."""
    out = []
    for k, content in enumerate(CONTENTS):
        for cell in grid.cells():
            if cell.modality == "text":
                parts = (rp.TextPart(f"{INSTR}\n\n{content}"),)
                images = ()
            else:
                dpi = int(cell["dpi"])
                png = make_png(content, (112, 56) if dpi == 200 else (84, 56))
                images = (rp.RenderedImage(png=png, sha256=sha256_bytes(png), pixel_sha256="p" * 64, width=112,
                                           height=56, dpi=dpi, rendered_text=f"{content} @{dpi}",
                                           roles=("question",)),)
                parts = (rp.TextPart(INSTR), images[0].part())
            out.append(rp.Variant(problem_id=f"p{k}", task="toy", cell=cell, seed=k, parts=parts, images=images,
                                  answer="5", answer_type="number"))
    return out


def write_run(root, grid):
    """A complete run folder in the layout of restplus.variants.runfolder, written by hand (no renderer needed)."""
    import pyarrow.parquet as pq

    rows = []
    for v in make_variants(grid):
        for k, im in enumerate(v.images):
            p = root / image_relpath(v.problem_id, v.cell.cell_id, k)
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(im.png)
        rows.append(variant_row(v, grid))
    pq.write_table(rows_to_table(rows, table_schema(grid)), root / TABLE_FILE)
    save_grid(grid, root / GRID_FILE)
    (root / MANIFEST).write_text(json.dumps({"status": "complete", "seed": 0}))
    return root


def make_grid():
    return rp.Grid(rp.dpi([100, 200], reference=200), rp.modality(["text", "image"], reference="text"))


@pytest.fixture(scope="module")
def grid():
    return make_grid()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, grid):
    return write_run(tmp_path_factory.mktemp("run"), grid)


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
    text_cell = next(c.cell_id for c in grid.cells() if c.modality == "text")
    with pytest.raises(SpecError, match=f"not an image or mixed cell.*Cells: .*{ref} \\(dpi=200"):
        pairs_from_run(run_dir, cell=text_cell)
    with pytest.raises(AnalysisError, match="empty"):
        gap_pairs([])
    with pytest.raises(AnalysisError, match="ready-made GapPairs"):
        gap_pairs(_fake_pairs(2), cell=ref)


def test_variant_list_pairs_match_run_folder(run_dir, grid):
    vs = make_variants(grid)
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


def _mixed(text: str, layout: list, cell):
    """(image variant with ``layout`` — None marks the image — , text variant whose one part is ``text``)."""
    png = make_png("x", (112, 56))
    img = rp.RenderedImage(png=png, sha256=sha256_bytes(png), pixel_sha256="p" * 64, width=112, height=56, dpi=200,
                           rendered_text="x", roles=("context",))
    parts = tuple(img.part() if p is None else rp.TextPart(p) for p in layout)
    common = dict(problem_id="q", task="toy", seed=0, answer="1", answer_type="number")
    return (rp.Variant(cell=cell, parts=parts, images=(img,), **common),
            rp.Variant(cell=rp.Cell((("modality", "text"),)), parts=(rp.TextPart(text),), images=(), **common))


@pytest.mark.parametrize("text, layout, expected", [
    ("Solve.\n\nA story.\n\nWhat is x?", ["Solve.", None, "What is x?"], ("A story.",)),   # mixed cell
    ("Solve.\n\nA story.\n\nWhat is x?", ["Solve.", None], ("A story.\n\nWhat is x?",)),   # image cell
    ("A story.\n\nWhat is x?", [None], ("A story.\n\nWhat is x?",)),                         # no instruction
    ("Q1\n\nmid\n\nQ2", [None, "mid", None], ("Q1", "Q2")),                                 # two images
])
def test_text_variant_alignment_keeps_only_what_the_image_shows(text, layout, expected):
    cell = rp.Cell((("modality", "mixed"),))
    img_v, txt_v = _mixed(text, layout, cell)
    assert pairs_from_variants([txt_v, img_v], cell=cell.cell_id)[0].text_parts == expected


def test_text_variant_alignment_failure_is_explained():
    cell = rp.Cell((("modality", "mixed"),))
    img_v, txt_v = _mixed("Solve.\n\nA story.", ["Answer briefly.", None], cell)
    with pytest.raises(AnalysisError, match="do not occur in its text variant"):
        pairs_from_variants([txt_v, img_v], cell=cell.cell_id)
    assert pairs_from_variants([txt_v, img_v], cell=cell.cell_id, text_from="rendered")[0].text_parts == ("x",)


def test_pairs_from_a_generated_run_match_the_problem_segments(tmp_path):
    """Against the real renderer: the text side is exactly the segments the image shows, as text."""
    from restplus.variants.generation import generate

    probs = [rp.Problem(segments=(rp.Segment("instruction", "Answer with a number."),
                                  rp.Segment("context", f"Ann has {k} apples."),
                                  rp.Segment("question", "How many apples are left?")),
                        answer=str(k), answer_type="number", task="toy") for k in (3, 7)]
    grid = rp.Grid(rp.modality(["text", "image", "mixed"], reference="text"))
    run = generate(probs, grid, seed=0, out=tmp_path / "run", progress=False)
    image = {p.item_id: p.text_parts for p in pairs_from_run(run)}
    assert image == {p.problem_id: (p.text_of(("context", "question")),) for p in probs}
    mixed = next(c.cell_id for c in grid.cells() if c.modality == "mixed")
    assert {p.item_id: p.text_parts for p in pairs_from_run(tmp_path / "run", cell=mixed)} == \
           {p.problem_id: (p.text_of(("context",)),) for p in probs}


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


def run_cli(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    _gap_args(p)
    return run_gap(p.parse_args(argv))


def test_gap_subcommand_registers_with_the_main_parser():
    from restplus.cli import COMMANDS, build_parser

    assert COMMANDS["gap"].run.__module__ == "restplus.cli.gap"
    args = build_parser().parse_args(["gap", "--model", "m", "--variants", "r", "--out", "o", "--rer", "m=0.5"])
    assert (args.command, args.model, args.variants, args.rer, args.n_boot) == ("gap", ["m"], "r", ["m=0.5"], 1000)


def test_cli_argument_errors(tmp_path, run_dir):
    with pytest.raises(SpecError, match="exactly one item source"):
        run_cli(["--model", "m", "--out", str(tmp_path)])
    with pytest.raises(SpecError, match="--images needs --labels"):
        run_cli(["--model", "m", "--images", str(tmp_path), "--out", str(tmp_path)])
    with pytest.raises(SpecError, match="one label per model"):
        run_cli(["--model", "a", "--model", "b", "--name", "x", "--variants", str(run_dir), "--out", str(tmp_path)])


def test_parse_rer_sources(tmp_path):
    (tmp_path / "r.json").write_text('{"a": 0.5, "b": 0.25}')
    (tmp_path / "r.csv").write_text("model,rer\nc,0.1\n")
    assert parse_rer([str(tmp_path / "r.json"), str(tmp_path / "r.csv"), "hf:x=0.9"]) == \
           {"a": 0.5, "b": 0.25, "c": 0.1, "hf:x": 0.9}
    with pytest.raises(SpecError, match="not a number"):
        parse_rer(["a=high"])
    with pytest.raises(SpecError, match="neither"):
        parse_rer(["missing.json"])
