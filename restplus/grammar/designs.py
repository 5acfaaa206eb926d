"""Designs: which visual conditions of a grid are realised.

A *condition* is an assignment of a level to every visual factor. Designs choose conditions;
the modality factor is always crossed with every condition afterwards (text collapses to one
cell, since visual factors do not apply to text). Designs are immutable data and serialise to the
spec's ``design:`` block.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import DesignError, SpecError, check_keys, did_you_mean, expect_number
from ..hashing import canonical_json, derive_seed

if TYPE_CHECKING:
    from .factors import Factor

Condition = tuple[Any, ...]  # one level per visual factor, in grid factor order


# Designs count their conditions arithmetically (``count``) so a grid can refuse an impossible size
# before enumerating it; a sample of a base larger than this draws indices instead of enumerating.
MAX_ENUMERATE = 1_000_000


def _n_product(factors: "list[Factor]", vary: set[str] | None) -> int:
    return math.prod(len(f.levels) if vary is None or f.name in vary else 1 for f in factors)


def _product(factors: "list[Factor]", vary: set[str] | None) -> list[Condition]:
    axes = [f.levels if vary is None or f.name in vary else (f.reference,) for f in factors]
    return list(itertools.product(*axes))


@dataclass(frozen=True, slots=True)
class Full:
    """Full factorial over all visual factors."""

    def conditions(self, factors: "list[Factor]") -> list[Condition]:
        return _product(factors, None)

    def count(self, factors: "list[Factor]") -> int:
        return _n_product(factors, None)

    def to_spec(self) -> Any:
        return "full"

    def __repr__(self) -> str:
        return "rp.Full()"


@dataclass(frozen=True, slots=True)
class OneAtATime:
    """The reference condition plus each factor varied alone, the others at reference."""

    def conditions(self, factors: "list[Factor]") -> list[Condition]:
        out = [tuple(f.reference for f in factors)]
        for i, f in enumerate(factors):
            for lv in f.levels:
                if lv != f.reference:
                    c = list(out[0])
                    c[i] = lv
                    out.append(tuple(c))
        return out

    def count(self, factors: "list[Factor]") -> int:
        return 1 + sum(len(f.levels) - 1 for f in factors)

    def to_spec(self) -> Any:
        return "ofat"

    def __repr__(self) -> str:
        return "rp.OneAtATime()"


@dataclass(frozen=True, slots=True)
class Union:
    """Union of sub-grids: each arm crosses the factors it names, the others stay at reference.

    The paper's REST+ set is ``Union([["font", "dpi"], ["text_color"]])``.
    """

    arms: tuple[tuple[str, ...], ...]

    def __init__(self, arms: Any) -> None:
        if not arms or isinstance(arms, (str, bytes)):
            raise SpecError(f"design union needs a non-empty list of arms (lists of factor names), got {arms!r}.")
        norm = []
        for arm in arms:
            if isinstance(arm, str) or not all(isinstance(a, str) for a in arm):
                raise SpecError(f"design union arm {arm!r} must be a list of factor names.")
            norm.append(tuple(arm))
        object.__setattr__(self, "arms", tuple(norm))

    def conditions(self, factors: "list[Factor]") -> list[Condition]:
        names = [f.name for f in factors]
        out: list[Condition] = []
        seen: set[Condition] = set()
        for arm in self.arms:
            for n in arm:
                if n not in names:
                    raise SpecError(f"design union arm names unknown visual factor {n!r}.{did_you_mean(n, names)} "
                                    f"Visual factors: {', '.join(names)}.")
            for c in _product(factors, set(arm)):
                if c not in seen:
                    seen.add(c)
                    out.append(c)
        return out

    def count(self, factors: "list[Factor]") -> int:
        """An upper bound: arms share at least the reference condition, counted once per arm here."""
        return sum(_n_product(factors, set(arm)) for arm in self.arms)

    def to_spec(self) -> Any:
        return {"type": "union", "arms": [list(a) for a in self.arms]}

    def __repr__(self) -> str:
        return f"rp.Union({[list(a) for a in self.arms]!r})"


@dataclass(frozen=True, slots=True)
class Sample:
    """A seeded random subset of another design's conditions; the reference condition is always kept.

    Give either ``n`` (number of conditions) or ``fraction`` (0 < f <= 1).
    """

    n: int | None = None
    fraction: float | None = None
    seed: int = 0
    of: Any = Full()

    def __post_init__(self) -> None:
        expect_number("design sample n", self.n, integer=True, optional=True, example=20)
        expect_number("design sample fraction", self.fraction, optional=True)
        expect_number("design sample seed", self.seed, integer=True)
        if (self.n is None) == (self.fraction is None):
            raise SpecError("design sample needs exactly one of n or fraction, e.g. {type: sample, n: 20, seed: 1}.")
        if self.n is not None and (isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 1):
            raise SpecError(f"design sample n={self.n!r} must be a positive integer.")
        if self.fraction is not None and not (0 < self.fraction <= 1):
            raise SpecError(f"design sample fraction={self.fraction!r} must be in (0, 1].")

    def _k(self, n_base: int) -> int:
        k = self.n if self.n is not None else max(1, round(self.fraction * n_base))
        return min(k, n_base)

    def count(self, factors: "list[Factor]") -> int:
        return self._k(self.of.count(factors))

    def conditions(self, factors: "list[Factor]") -> list[Condition]:
        n_base = self.of.count(factors)
        if n_base > MAX_ENUMERATE:
            return self._draw_indices(factors, n_base)
        base = self.of.conditions(factors)
        ref = tuple(f.reference for f in factors)
        k = self.n if self.n is not None else max(1, round(self.fraction * len(base)))
        k = min(k, len(base))
        rng = random.Random(derive_seed("design-sample", self.seed))
        names = [f.name for f in factors]
        # Sort by a factor-order-free key so the sample does not change when factors are reordered.
        others = sorted((c for c in base if c != ref), key=lambda c: canonical_json(sorted(zip(names, c))))
        keep = set(rng.sample(others, max(0, k - (1 if ref in base else 0))))
        return [c for c in base if c == ref or c in keep]

    def _draw_indices(self, factors: "list[Factor]", n_base: int) -> list[Condition]:
        """Sample a huge full factorial without enumerating it: draw mixed-radix indices.

        Factors are decoded in name order, so the draw does not depend on their order in the grid.
        """
        if not isinstance(self.of, Full):
            raise DesignError(f"design sample of {self.of!r} with about {n_base} conditions is too large to "
                              f"enumerate (limit {MAX_ENUMERATE}); sample a full design, or use fewer levels.")
        by_name = sorted(range(len(factors)), key=lambda i: factors[i].name)
        ref = tuple(f.reference for f in factors)
        rng = random.Random(derive_seed("design-sample-index", self.seed))
        out, seen = [ref], {ref}
        want = self._k(n_base)
        while len(out) < want:  # rejection of repeats and of the reference: negligible at this size
            idx, cond = rng.randrange(n_base), list(ref)
            for i in by_name:
                idx, r = divmod(idx, len(factors[i].levels))
                cond[i] = factors[i].levels[r]
            c = tuple(cond)
            if c not in seen:
                seen.add(c)
                out.append(c)
        return out

    def to_spec(self) -> Any:
        d: dict[str, Any] = {"type": "sample", "seed": self.seed, "of": self.of.to_spec()}
        d["n" if self.n is not None else "fraction"] = self.n if self.n is not None else self.fraction
        return d

    def __repr__(self) -> str:
        size = f"n={self.n!r}" if self.n is not None else f"fraction={self.fraction!r}"
        return f"rp.Sample({size}, seed={self.seed!r}, of={self.of!r})"


DESIGN_TYPES = ("full", "ofat", "union", "sample")


def design_from_spec(spec: Any, where: str = "design") -> Any:
    """Parse the spec's ``design:`` value (a type name or a mapping with ``type``)."""
    if spec is None:
        return Full()
    if isinstance(spec, str):
        spec = {"type": spec}
    if not isinstance(spec, dict) or "type" not in spec:
        raise SpecError(f"{where} must be one of {list(DESIGN_TYPES)} or a mapping with 'type', got {spec!r}.")
    t = spec["type"]
    allowed = {"full": {"type"}, "ofat": {"type"}, "union": {"type", "arms"},
               "sample": {"type", "n", "fraction", "seed", "of"}}
    if t not in allowed:
        raise SpecError(f"{where}: unknown design type {t!r}.{did_you_mean(str(t), DESIGN_TYPES)} "
                        f"Available: {', '.join(DESIGN_TYPES)}.")
    check_keys(f"{where}: design type {t!r}", spec, allowed[t])
    if t == "full":
        return Full()
    if t == "ofat":
        return OneAtATime()
    if t == "union":
        return Union(spec.get("arms"))
    return Sample(n=spec.get("n"), fraction=spec.get("fraction"), seed=spec.get("seed", 0),
                  of=design_from_spec(spec.get("of", "full"), where + ".of"))
