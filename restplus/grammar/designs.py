"""Designs: which visual conditions of a grid are realised.

A *condition* is an assignment of a level to every visual factor. Designs choose conditions;
the modality factor is always crossed with every condition afterwards (text collapses to one
cell, since visual factors do not apply to text). Designs are immutable data and serialise to the
spec's ``design:`` block.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import SpecError, check_keys, did_you_mean, expect_number
from ..hashing import canonical_json, derive_seed

if TYPE_CHECKING:
    from .factors import Factor

Condition = tuple[Any, ...]  # one level per visual factor, in grid factor order


def _product(factors: "list[Factor]", vary: set[str] | None) -> list[Condition]:
    axes = [f.levels if vary is None or f.name in vary else (f.reference,) for f in factors]
    return list(itertools.product(*axes))


@dataclass(frozen=True, slots=True)
class Full:
    """Full factorial over all visual factors."""

    def conditions(self, factors: "list[Factor]") -> list[Condition]:
        return _product(factors, None)

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
        expect_number("design sample n", self.n, integer=True, optional=True)
        expect_number("design sample fraction", self.fraction, optional=True)
        expect_number("design sample seed", self.seed, integer=True)
        if (self.n is None) == (self.fraction is None):
            raise SpecError("design sample needs exactly one of n or fraction, e.g. {type: sample, n: 20, seed: 1}.")
        if self.n is not None and (isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 1):
            raise SpecError(f"design sample n={self.n!r} must be a positive integer.")
        if self.fraction is not None and not (0 < self.fraction <= 1):
            raise SpecError(f"design sample fraction={self.fraction!r} must be in (0, 1].")

    def conditions(self, factors: "list[Factor]") -> list[Condition]:
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
