"""On-demand variants: a lazy, indexable, picklable view of problems x cells.

``VariantSet(problems, grid, seed)`` renders a variant only when it is accessed, so no run folder
is needed. Order is problem-major: index ``i`` is problem ``i // n_cells`` in cell
``i % n_cells`` (cells in ``grid.cells()`` order, restricted by :meth:`VariantSet.filter`). In
``random_cell`` mode (:meth:`VariantSet.sample_cells`) index ``i`` is problem ``i`` in one cell drawn
with ``random.Random(derive_seed(sample_seed, problem_id, "random_cell"))`` — reproducible and the
same in every process, whatever the number of DataLoader workers.

The state is plain data (problem dicts, the grid spec dict, seeds, cell ids), so a VariantSet
pickles into torch DataLoader workers and renders the same bytes there as in the parent — and
the same bytes that :func:`restplus.variants.generation.generate` writes for the same seed. (Factor kinds or
layouts registered at run time must also be registered in a module the worker imports, as with
any spawned process.)
"""

from __future__ import annotations

import random
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any

from ..errors import (
    ProblemError,
    SpecError,
    VariantIndexError,
    VariantKeyTypeError,
    did_you_mean,
)
from ..grammar.grid import Cell, Grid, variant_seed
from ..grammar.select import filter_cells
from ..hashing import derive_seed
from ..problems.base import Problem, Segment
from .variant import Variant


class VariantSet:
    """Lazy variants of ``problems`` x cells of ``grid`` for run ``seed`` (see the module docstring).

    ``cache_size`` > 0 keeps that many recently rendered variants (LRU) in this process.
    """

    def __init__(self, problems: Iterable[Problem], grid: Grid, seed: int = 0, cache_size: int = 0, *,
                 mode: str = "all", sample_seed: int | None = None):

        problems = list(problems)
        if not problems:
            raise ProblemError("VariantSet needs at least one Problem.")
        for p in problems:
            if not isinstance(p, Problem):
                raise ProblemError(f"VariantSet takes Problem objects, got {type(p).__name__}: {p!r:.80}. Wrap raw "
                                   "text with rp.variants(text, grid, answer=...) or build a Problem.")
        dup = sorted(i for i, n in Counter(p.problem_id for p in problems).items() if n > 1)
        if dup:
            raise ProblemError(f"problem ids must be unique; {dup[:5]} occur more than once. Remove duplicates or "
                               "give them distinct problem_id values.")
        if mode not in ("all", "random_cell"):
            raise SpecError(f"mode={mode!r} must be 'all' or 'random_cell'."
                            f"{did_you_mean(mode, ('all', 'random_cell'))}")
        self._pdicts = [p.to_dict() for p in problems]
        self._spec = grid.to_dict()
        self.seed = int(seed)
        self.cache_size = int(cache_size)
        self.mode = mode
        self.sample_seed = int(self.seed if sample_seed is None else sample_seed)
        self._cell_ids = tuple(c.cell_id for c in grid.cells())
        self._setup(problems, grid)

    # ------------------------------------------------------------------ state
    def _setup(self, problems: list[Problem] | None = None, grid: Grid | None = None) -> None:

        self._problems = problems if problems is not None else [Problem.from_dict(d) for d in self._pdicts]
        self._grid = grid if grid is not None else Grid.from_dict(self._spec)
        self._cells = tuple(self._grid.cell(cid) for cid in self._cell_ids)
        self._cache: OrderedDict[int, Variant] = OrderedDict()

    def __getstate__(self) -> dict[str, Any]:
        # Only plain data crosses processes; grid, problems and cache are rebuilt on arrival.
        return {k: getattr(self, k) for k in ("_pdicts", "_spec", "seed", "cache_size", "mode", "sample_seed",
                                              "_cell_ids")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for k, v in state.items():
            setattr(self, k, v)
        self._setup()

    def _derive(self, **changes: Any) -> "VariantSet":
        new = object.__new__(VariantSet)
        new.__setstate__({**self.__getstate__(), **changes})
        return new

    @property
    def grid(self) -> Grid:
        return self._grid

    @property
    def problems(self) -> list[Problem]:
        return list(self._problems)

    @property
    def cells(self) -> tuple[Cell, ...]:
        return self._cells

    # ------------------------------------------------------------------ indexing
    def __len__(self) -> int:
        n = len(self._problems)
        return n if self.mode == "random_cell" else n * len(self._cells)

    def locate(self, i: int) -> tuple[Problem, Cell]:
        """The (problem, cell) at index ``i`` without rendering."""
        n = len(self)
        if isinstance(i, bool) or not isinstance(i, int):
            raise VariantKeyTypeError(f"VariantSet indices must be int or slice, not {type(i).__name__} ({i!r}).")
        if not -n <= i < n:
            shape = (f"{len(self._problems)} problems, one random cell each" if self.mode == "random_cell"
                     else f"{len(self._problems)} problems x {len(self._cells)} cells")
            raise VariantIndexError(f"index {i} is out of range for a VariantSet of {n} variants ({shape}); "
                                    f"valid indices are {-n}..{n - 1}.")
        i %= n
        if self.mode == "random_cell":
            p = self._problems[i]
            rng = random.Random(derive_seed(self.sample_seed, p.problem_id, "random_cell"))
            return p, self._cells[rng.randrange(len(self._cells))]
        return self._problems[i // len(self._cells)], self._cells[i % len(self._cells)]

    def __getitem__(self, i: int | slice) -> Variant | list[Variant]:
        """A rendered Variant; a slice returns a list of rendered Variants."""
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        p, cell = self.locate(i)
        key = i % len(self)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        from . import realization

        v = realization.realize(p, self._grid, cell, variant_seed(self.seed, p.problem_id, cell))
        if self.cache_size > 0:
            self._cache[key] = v
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return v

    def __iter__(self) -> Iterator[Variant]:
        return self.iter()

    def iter(self) -> Iterator[Variant]:
        """Plain generator over all variants, in index order."""
        for i in range(len(self)):
            yield self[i]  # type: ignore[misc]

    def __repr__(self) -> str:
        extra = f", mode='random_cell', sample_seed={self.sample_seed}" if self.mode == "random_cell" else ""
        return (f"VariantSet({len(self._problems)} problems x {len(self._cells)} cells = {len(self)} variants, "
                f"grid={self._grid.name!r}, seed={self.seed}{extra})")

    # ------------------------------------------------------------------ views
    def filter(self, **levels: Any) -> "VariantSet":
        """Keep the cells whose levels match, e.g. ``filter(dpi=50, modality="image")``.

        A value may be one level or a list of levels; levels compare as their labels
        (:func:`restplus.schema.match_level`), so ``dpi=50``, ``dpi=50.0`` and ``dpi="50"`` are the same.
        Unknown factor names or levels raise with a did-you-mean. Text cells have no visual levels: they
        are the baseline every visual level is compared with, so they pass every visual-factor filter
        (``filter(font="Kalam")`` keeps the text cell); only a ``modality`` filter drops them.
        """
        keep = filter_cells(self._grid, self._cells, levels)
        return self._derive(_cell_ids=tuple(c.cell_id for c in keep))

    def sample_cells(self, seed: int | None = None) -> "VariantSet":
        """One cell per problem drawn at random (seeded per problem; see the module docstring)."""
        return self._derive(mode="random_cell", sample_seed=int(self.seed if seed is None else seed))

    # ------------------------------------------------------------------ adapters
    def torch_dataset(self, images: str = "png"):
        """A ``torch.utils.data.Dataset`` view; items are dicts (see :func:`item_dict`)."""
        return _torch_class()(self, images)

    def hf_dataset(self, iterable: bool = False, cache_dir: str | None = None):
        """A HF ``datasets.Dataset`` (or ``IterableDataset``) with declared Features incl. Image().

        Columns: see :data:`restplus.variants.hfrows.HF_COLUMNS_DOC`. The map-style dataset is written to
        the HF cache under a fingerprint of this set's inputs plus the restplus version, render
        library versions and font hashes, so it is rebuilt whenever any of them changes.
        """
        import datasets

        from .. import __version__
        from ..hashing import digest
        from .generation import grid_fonts, render_env
        from .hfrows import hf_features

        features = hf_features(self._grid)
        gen_kwargs = {"vs": self}
        if iterable:
            return datasets.IterableDataset.from_generator(_hf_rows, features=features, gen_kwargs=gen_kwargs)
        fp = digest({"state": self.__getstate__(), "restplus": __version__, "env": render_env(self._grid),
                     "fonts": grid_fonts(self._grid)}, 32)
        return datasets.Dataset.from_generator(_hf_rows, features=features, gen_kwargs=gen_kwargs, fingerprint=fp,
                                               cache_dir=cache_dir)


@lru_cache(maxsize=1)
def _torch_class() -> type:
    # Built on first use so that importing restplus never imports torch. Registered under the
    # module's name (see __getattr__) so DataLoader workers can unpickle instances by reference.
    from torch.utils.data import Dataset

    class TorchVariantDataset(Dataset):
        """Map-style torch Dataset over a VariantSet; items are :func:`item_dict` dicts."""

        def __init__(self, vs: VariantSet, images: str = "png"):
            if images not in ("png", "pil"):
                raise SpecError(f"images={images!r} must be 'png' or 'pil'.{did_you_mean(images, ('png', 'pil'))}")
            self.vs, self.images = vs, images

        def __len__(self) -> int:
            return len(self.vs)

        def __getitem__(self, i: int) -> dict[str, Any]:
            return item_dict(self.vs[i], int(i) % len(self.vs), self.images)

    TorchVariantDataset.__module__, TorchVariantDataset.__qualname__ = __name__, "TorchVariantDataset"
    return TorchVariantDataset


def __getattr__(name: str) -> Any:
    if name == "TorchVariantDataset":
        return _torch_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _hf_rows(vs: VariantSet) -> Iterator[dict[str, Any]]:
    from .hfrows import hf_row

    for v in vs.iter():
        yield hf_row(v, vs.grid)


def item_dict(v: Variant, index: int, images: str = "png") -> dict[str, Any]:
    """A framework-neutral item: ids, levels, texts and images (PNG bytes or PIL images)."""
    if images not in ("png", "pil"):
        raise SpecError(f"images={images!r} must be 'png' or 'pil'.{did_you_mean(images, ('png', 'pil'))}")
    return {"index": index, "variant_id": v.variant_id, "problem_id": v.problem_id, "cell_id": v.cell.cell_id,
            "modality": v.modality, "levels": v.cell.labels(), "texts": list(v.text_parts),
            "images": [im.png if images == "png" else im.part().to_pil() for im in v.images],
            "answer": v.answer, "answer_type": v.answer_type}


def variants(problem_or_text: Problem | str, grid: Grid, seed: int = 0, answer: str | None = None,
             answer_type: str = "exact") -> list[Variant]:
    """All variants of one problem (or of a raw string) in ``grid.cells()`` order, rendered in memory.

    A string becomes a Problem with one ``question`` segment and the given ``answer`` (empty when
    None, e.g. for OCR-only use). For a Problem the answer comes from the Problem itself.
    """
    if isinstance(problem_or_text, str):
        problem = Problem(segments=(Segment("question", problem_or_text),), answer="" if answer is None else
                          str(answer), answer_type=answer_type, task="text")
    elif isinstance(problem_or_text, Problem):
        if answer is not None:
            raise ProblemError(f"answer={answer!r} was given with a Problem that already has answer "
                               f"{problem_or_text.answer!r}; pass answer only with raw text.")
        problem = problem_or_text
    else:
        raise ProblemError(f"variants() takes a Problem or a string, got {type(problem_or_text).__name__}.")
    return list(VariantSet([problem], grid, seed).iter())
