"""Paired items for the modality gap, and streaming extraction of per-layer mean hidden states.

A :class:`GapPair` is one piece of content twice: as text (``text_parts``) and as pixels
(``images``). :func:`extract_means` runs two separate forward passes per pair — the text alone and
the image(s) alone, no system prompt, no instruction — and keeps, per layer, the mean hidden state
over the image-token positions (image pass) and over the user-text positions (text pass). Chat
template markup, role names and special tokens (``<|vision_start|>``, BOS ...) are excluded on both
sides: the adapter's ``HiddenStates.image_mask`` marks only image-placeholder tokens and ``text_mask``
only tokens of the user's text parts. Only these mean vectors are kept (n_items x n_layers x hidden,
float32); full hidden states are dropped after each pass.

Sources of pairs:

* a run folder (path or :class:`~restplus.variants.runfolder.RunFolder`) or a list of
  :class:`~restplus.variants.variant.Variant`: each problem's text is paired with its image variant in one cell
  (default: the reference image cell, every visual factor at its reference level).
  ``text_from="text_variant"`` (default) takes the exact stretch of the text-modality prompt that
  the image replaces: the image variant's layout (e.g. ``[instruction text, IMAGE]``, or in a mixed
  cell ``[instruction, IMAGE, question text]``) is aligned against the text variant's text and the
  text parts both share are dropped, so only the content drawn in the image remains (one text part
  per image). ``text_from="rendered"`` takes the exact string drawn in the image (the OCR
  reference, with the renderer's line breaks).
* a folder of natural images plus a labels file (:func:`pairs_from_images`): image ↔ label text.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AnalysisError, ModelError, SpecError, did_you_mean
from ..records import ImagePart, Request, TextPart

TEXT_FROM = ("text_variant", "rendered")


@dataclass(frozen=True, slots=True)
class GapPair:
    """The same content as text and as image(s); ``item_id`` names it in outputs."""

    item_id: str
    text_parts: tuple[str, ...]
    images: tuple[ImagePart, ...] = field(repr=False)

    def text_request(self) -> Request:
        return Request(parts=tuple(TextPart(t) for t in self.text_parts), tag=f"gap-text:{self.item_id}")

    def image_request(self) -> Request:
        return Request(parts=tuple(self.images), tag=f"gap-image:{self.item_id}")


# ---------------------------------------------------------------- pairs from variants / run folders

def reference_image_cell(grid: Any) -> str:
    """Id of the image-modality cell with every visual factor at its reference level."""
    refs = {f.name: f.reference for f in grid.visual_factors}
    images = [c for c in grid.cells() if c.modality == "image"]
    for c in images:
        if all(c[name] == ref for name, ref in refs.items()):
            return c.cell_id
    raise SpecError(f"grid {grid.name!r} has no image cell at the reference levels {refs} (excluded or not in "
                    f"the design); pass cell= one of: {', '.join(c.cell_id for c in images) or '(no image cells)'}.")


Layout = list[tuple[str, str]]  # the image variant's parts in order: ("text", text) or ("image", "")


def _content(pid: str, text: Sequence[str] | None, layout: Layout, rendered: str | None,
             text_from: str) -> tuple[str, ...]:
    if text_from == "rendered":
        if not rendered:
            raise AnalysisError(f"problem {pid!r}: the image variant records no rendered text; use "
                                "text_from='text_variant'.")
        return (rendered,)
    if text is None:
        raise AnalysisError(f"problem {pid!r} has no text-modality variant to pair with its image; add a text "
                            "cell to the grid or use text_from='rendered' (the exact string drawn in the image).")
    kinds = [k for k, _ in layout]
    if any(a == b == "image" for a, b in zip(kinds, kinds[1:])):
        raise AnalysisError(f"problem {pid!r}: two adjacent images cannot be told apart in the text; use "
                            "text_from='rendered'.")
    # The text variant is the same segments all as text (realize joins blocks with blank lines), so the
    # image variant's layout with each image as a wildcard must match it exactly; whitespace between
    # blocks is free, and each wildcard captures what that image shows.
    pattern = r"\s*".join(re.escape(t) if k == "text" else "(.+?)" for k, t in layout)
    m = re.fullmatch(r"\s*" + pattern + r"\s*", "\n\n".join(text), flags=re.DOTALL)
    if m is None or not m.groups() or not all(g.strip() for g in m.groups()):
        raise AnalysisError(f"problem {pid!r}: the image variant's text parts do not occur in its text variant in "
                            "order, so the text shown as image cannot be located; use text_from='rendered'.")
    return tuple(g.strip() for g in m.groups())


def _layout_of_row(parts_json: str) -> Layout:
    return [("text", p["text"]) if p["type"] == "text" else ("image", "") for p in json.loads(parts_json)]


def _check_text_from(text_from: str) -> None:
    if text_from not in TEXT_FROM:
        raise SpecError(f"text_from={text_from!r} is not one of {TEXT_FROM}.{did_you_mean(text_from, TEXT_FROM)}")


def pairs_from_run(run: Any, *, cell: str | None = None, text_from: str = "text_variant") -> Iterator[GapPair]:
    """Pairs of a run folder (path or RunFolder), one per problem; PNGs are read lazily, one item at a time."""
    from ..variants.runfolder import RunFolder, load_run

    _check_text_from(text_from)
    rf = run if isinstance(run, RunFolder) else load_run(run)
    cell_id = cell or reference_image_cell(rf.grid)
    pixel_cells = {c.cell_id: c for c in rf.grid.cells() if c.modality != "text"}
    if cell_id not in pixel_cells:
        listed = ", ".join(f"{c.cell_id} ({c.short()})" for c in list(pixel_cells.values())[:12])
        raise SpecError(f"cell {cell_id!r} is not an image or mixed cell of {rf.path}."
                        f"{did_you_mean(cell_id, pixel_cells)} Cells: {listed}"
                        f"{' ...' if len(pixel_cells) > 12 else ''} (restplus describe <spec> --cells lists them).")
    cols = ["problem_id", "cell_id", "modality", "text_parts", "parts", "image_paths", "rendered_text"]
    texts: dict[str, list[str]] = {}
    rows: list[dict[str, Any]] = []
    for row in rf.iter_rows(columns=cols):
        if row["modality"] == "text":
            texts[row["problem_id"]] = json.loads(row["text_parts"])
        elif row["cell_id"] == cell_id:
            rows.append(row)
    if not rows:
        raise AnalysisError(f"run folder {rf.path} has no variants in cell {cell_id!r}.")
    # Validate every pair before any model runs, so a bad item fails fast, not after an hour.
    contents = [_content(r["problem_id"], texts.get(r["problem_id"]), _layout_of_row(r["parts"]),
                         r["rendered_text"], text_from) for r in rows]

    def gen() -> Iterator[GapPair]:
        for r, content in zip(rows, contents):
            ims = tuple(ImagePart(png=rf.read_png(p)) for p in r["image_paths"])
            yield GapPair(r["problem_id"], content, ims)

    return gen()


def pairs_from_variants(variants: Iterable[Any], *, cell: str | None = None, grid: Any = None,
                        text_from: str = "text_variant") -> list[GapPair]:
    """Pairs from in-memory :class:`~restplus.variants.variant.Variant` s (text-modality and image variants).

    The image cell is ``cell``, else the reference image cell of ``grid``, else the only image cell present.
    """
    _check_text_from(text_from)
    texts: dict[str, tuple[str, ...]] = {}
    by_cell: dict[str, list[Any]] = {}
    for v in variants:
        if v.modality == "text":
            texts[v.problem_id] = v.text_parts
        elif v.modality == "image" or cell is not None:
            by_cell.setdefault(v.cell.cell_id, []).append(v)
    if cell is None:
        if grid is not None:
            cell = reference_image_cell(grid)
        elif len(by_cell) == 1:
            cell = next(iter(by_cell))
        else:
            raise AnalysisError(f"the variants hold {len(by_cell)} image cells ({', '.join(sorted(by_cell))}); pass "
                                "cell= one of them or grid= to use the reference cell.")
    if cell not in by_cell:
        raise AnalysisError(f"no variants in cell {cell!r}.{did_you_mean(cell, by_cell)}")
    out = []
    for v in by_cell[cell]:
        layout = [("image", "") if isinstance(p, ImagePart) else ("text", p.text) for p in v.parts]
        rendered = "\n\n".join(im.rendered_text for im in v.images)
        out.append(GapPair(v.problem_id, _content(v.problem_id, texts.get(v.problem_id), layout, rendered, text_from),
                           tuple(p for p in v.parts if isinstance(p, ImagePart))))
    return out


def gap_pairs(source: Any, *, cell: str | None = None, text_from: str = "text_variant") -> Iterable[GapPair]:
    """Pairs from a run-folder path, a RunFolder, an iterable of Variants, or an iterable of GapPairs (as is)."""
    if isinstance(source, (str, os.PathLike)) or hasattr(source, "iter_rows"):
        return pairs_from_run(source, cell=cell, text_from=text_from)
    it = iter(source)
    first = next(it, None)
    if first is None:
        raise AnalysisError("no items to measure: the source of pairs is empty.")
    items = itertools.chain([first], it)
    if isinstance(first, GapPair):
        if cell is not None:
            raise AnalysisError(f"cell={cell!r} applies to variants, but ready-made GapPairs were given.")
        return items
    return pairs_from_variants(items, cell=cell, text_from=text_from)


# ---------------------------------------------------------------- pairs from natural images

def read_labels(path: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """(image file name, label) rows of a CSV with header ``image,label`` or JSONL ``{"image", "label"}``."""
    p = Path(path)
    if not p.is_file():
        raise SpecError(f"labels file {str(p)!r} does not exist; pass a CSV (header image,label) or JSONL file.")
    if p.suffix.lower() in (".jsonl", ".ndjson"):
        recs = [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
    elif p.suffix.lower() == ".csv":
        with open(p, newline="", encoding="utf-8") as fh:
            recs = list(csv.DictReader(fh))
    else:
        raise SpecError(f"labels file {str(p)!r} must end in .csv or .jsonl, got {p.suffix!r}.")
    out: list[tuple[str, str]] = []
    for i, r in enumerate(recs):
        missing = [k for k in ("image", "label") if k not in r]
        if missing:
            raise SpecError(f"{p} row {i + 1}: missing {missing}; found keys {sorted(r)}."
                            f"{did_you_mean(missing[0], list(r))} Each row needs 'image' (file name) and 'label'.")
        out.append((str(r["image"]), str(r["label"])))
    dup = sorted(n for n, c in Counter(n for n, _ in out).items() if c > 1)
    if dup:
        raise SpecError(f"{p}: image(s) {dup[:5]} are labelled more than once; keep one label per image.")
    if len(out) < 2:
        raise SpecError(f"{p} has {len(out)} labelled image(s); the gap needs at least 2 items.")
    return out


def pairs_from_images(images_dir: str | os.PathLike[str], labels: str | os.PathLike[str]) -> Iterator[GapPair]:
    """Natural images (any format Pillow reads; re-encoded as PNG) paired with their label text."""
    import io

    from PIL import Image

    root = Path(images_dir)
    rows = read_labels(labels)
    have = sorted(f.name for f in root.iterdir()) if root.is_dir() else []
    missing = [n for n, _ in rows if not (root / n).is_file()]
    if missing:
        raise SpecError(f"{len(missing)} labelled image(s) are not in {str(root)!r}, e.g. {missing[0]!r}."
                        f"{did_you_mean(missing[0], have)}")

    def gen() -> Iterator[GapPair]:
        for name, label in rows:
            buf = io.BytesIO()
            with Image.open(root / name) as im:
                im.convert("RGB").save(buf, format="PNG")
            yield GapPair(name, (label,), (ImagePart(png=buf.getvalue()),))

    return gen()


# ---------------------------------------------------------------- extraction

@dataclass(frozen=True, slots=True, eq=False)
class LayerMeans:
    """Per-item, per-layer mean hidden states of both passes.

    ``image`` / ``text``: float32 (n_items, n_layers, hidden); ``layers``: hidden-state index of each
    layer slot (0 = input embeddings); ``n_image_tokens`` / ``n_text_tokens``: int (n_items,).
    """

    model: str
    item_ids: tuple[str, ...]
    layers: tuple[int, ...]
    image: np.ndarray
    text: np.ndarray
    n_image_tokens: np.ndarray
    n_text_tokens: np.ndarray

    def save(self, path: str | os.PathLike[str]) -> None:
        np.savez_compressed(path, model=self.model, item_ids=np.array(self.item_ids), layers=np.array(self.layers),
                            image=self.image, text=self.text, n_image_tokens=self.n_image_tokens,
                            n_text_tokens=self.n_text_tokens)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "LayerMeans":
        with np.load(path) as z:
            return cls(str(z["model"]), tuple(str(s) for s in z["item_ids"]), tuple(int(i) for i in z["layers"]),
                       z["image"], z["text"], z["n_image_tokens"], z["n_text_tokens"])


def _mean(hs: Any, mask: np.ndarray) -> np.ndarray:
    # float64 accumulation: hundreds of image tokens of a large model would lose digits in float32
    return hs.layers[:, mask].astype(np.float64).mean(axis=1).astype(np.float32)


def _pass_means(adapter: Any, request: Request, layers: Sequence[int] | None,
                which: str) -> tuple[tuple[int, ...], np.ndarray, int]:
    """(layer indices, per-layer mean over the ``which`` positions, n positions) of one pass.

    The HF adapter reduces on its device (``masked_means``); any other adapter with
    ``hidden_states`` (test fakes, custom backends) is reduced here from its full states.
    """
    fn = getattr(adapter, "masked_means", None)
    if callable(fn):
        m = fn(request, layers, which)
        return tuple(m.layer_indices), np.asarray(m.means, dtype=np.float32), int(m.n)
    hs = adapter.hidden_states(request, layers)
    mask = hs.image_mask if which == "image" else hs.text_mask
    n = int(mask.sum())
    means = _mean(hs, mask) if n else np.full(hs.layers.shape[::2], np.nan, dtype=np.float32)
    return tuple(hs.layer_indices), means, n


def extract_means(adapter: Any, pairs: Iterable[GapPair], *, model: str | None = None,
                  layers: Sequence[int] | None = None, progress: bool = False) -> LayerMeans:
    """Run the text and image passes of every pair and keep per-layer mean vectors only.

    ``adapter`` is anything with ``hidden_states(request, layers) -> HiddenStates``; the HF adapter's
    ``masked_means`` is used when present, so only mean vectors leave the GPU. ``layers`` selects
    hidden-state indices (default all: ``num_hidden_layers + 1``).
    """
    from tqdm.auto import tqdm

    if not callable(getattr(adapter, "hidden_states", None)):
        raise ModelError(f"{adapter!r} exposes no hidden_states(); the modality gap needs a local model "
                         "(restplus.models.load('hf', path=...)), not an HTTP API.")
    ids: list[str] = []
    img: list[np.ndarray] = []
    txt: list[np.ndarray] = []
    n_img: list[int] = []
    n_txt: list[int] = []
    idx: tuple[int, ...] | None = None
    for pair in tqdm(pairs, desc="gap", unit="item", disable=not progress):
        li, mi, ni = _pass_means(adapter, pair.image_request(), layers, "image")
        lt, mt, nt = _pass_means(adapter, pair.text_request(), layers, "text")
        if ni == 0:
            raise ModelError(f"item {pair.item_id!r}: the image pass has no image-token positions.")
        if nt == 0:
            raise ModelError(f"item {pair.item_id!r}: the text pass has no user-text positions (empty text?).")
        if idx is None:
            idx = li
        if li != idx or lt != idx:
            raise ModelError(f"item {pair.item_id!r}: layer indices changed between passes "
                             f"({idx} vs {li} / {lt}).")
        ids.append(pair.item_id)
        img.append(mi)
        txt.append(mt)
        n_img.append(ni)
        n_txt.append(nt)
    if len(ids) < 2:
        raise AnalysisError(f"the modality gap needs at least 2 paired items, got {len(ids)}.")
    dup = sorted(i for i, c in Counter(ids).items() if c > 1)
    if dup:
        raise AnalysisError(f"item ids {dup[:5]} occur more than once; each pair needs a unique item_id.")
    name = model or getattr(adapter, "name", type(adapter).__name__)
    return LayerMeans(str(name), tuple(ids), idx or (), np.stack(img), np.stack(txt),
                      np.array(n_img, dtype=np.int64), np.array(n_txt, dtype=np.int64))
