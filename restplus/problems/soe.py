"""SoEBench: systems of linear equations with a unique integer solution.

The text uses only digits, the letters A–E, ``+``, ``-``, ``=``, spaces and newlines (plus the
fixed question sentence), so OCR is trivially easy and any reading error is a real one. Each
system is checked with exact elimination (:mod:`.linalg`) to have exactly one solution, and
that solution is the integer vector it was built from.

Solution values are non-zero by default: if a variable were 0, misreading its coefficient would
leave the answer unchanged, so a wrong reading could still score as right. With non-zero values
every digit of the text matters (the reader-baseline tests rely on this).

The same module holds the parse-from-text checker (:func:`solve_text`), used by the offline
reader baseline: it parses equations from (possibly OCR-corrupted) text and solves them exactly.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from ..errors import ProblemError, unknown_name
from ..hashing import derive_seed
from .base import Problem, Segment
from .canon import canonical_assignment, normalize_dashes
from .distinct import distinct_items
from .linalg import solve_unique

VARIABLES = "ABCDE"
GENERATOR_VERSION = 1
QUESTION_RE = re.compile(r"Solve the system for ([A-E](?:, [A-E])*(?:,? and [A-E])?)\.")


@dataclass(frozen=True, slots=True)
class SoEConfig:
    """Difficulty of generated systems.

    ``unknowns``: the numbers of unknowns to cycle through (item i gets ``unknowns[i % len]``),
    each 2–5. ``coef_range``/``solution_range``: inclusive integer bounds; 0 is never drawn for a
    coefficient (every variable appears in every equation), and for a solution value only when
    ``allow_zero_solution``.
    """

    unknowns: tuple[int, ...] = (2, 3, 4)
    coef_range: tuple[int, int] = (-9, 9)
    solution_range: tuple[int, int] = (-9, 9)
    allow_zero_solution: bool = False

    def __post_init__(self) -> None:
        if not self.unknowns or any(not isinstance(k, int) or not 2 <= k <= len(VARIABLES)
                                    for k in self.unknowns):
            raise ProblemError(f"SoEConfig.unknowns={self.unknowns!r}: give numbers of unknowns "
                               f"between 2 and {len(VARIABLES)} (variables are A–E), e.g. (2, 3, 4).")
        for name in ("coef_range", "solution_range"):
            lo, hi = getattr(self, name)
            if lo > hi:
                raise ProblemError(f"SoEConfig.{name}=({lo}, {hi}): the low bound exceeds the high "
                                   f"bound; write ({hi}, {lo}).")
        if self.coef_range == (0, 0):
            raise ProblemError("SoEConfig.coef_range=(0, 0) has no non-zero coefficient; widen it, "
                               "e.g. (-9, 9).")
        if self.solution_range == (0, 0) and not self.allow_zero_solution:
            raise ProblemError("SoEConfig.solution_range=(0, 0) has no non-zero value; widen it or "
                               "set allow_zero_solution=True.")


DIFFICULTIES = {
    "easy": SoEConfig(unknowns=(2,), coef_range=(-5, 5), solution_range=(-5, 5)),
    "medium": SoEConfig(),
    "hard": SoEConfig(unknowns=(4, 5), coef_range=(-12, 12), solution_range=(-20, 20)),
}


def soe_config(difficulty: str) -> SoEConfig:
    """The preset config for ``"easy"``, ``"medium"`` (the default set) or ``"hard"``."""
    if difficulty not in DIFFICULTIES:
        raise unknown_name("SoE difficulty", difficulty, DIFFICULTIES)
    return DIFFICULTIES[difficulty]


def format_equation(coefs: Sequence[int], variables: Sequence[str], constant: int) -> str:
    """``(2, -1), "AB", 5`` → ``"2A - B = 5"``; zero coefficients are left out."""
    parts: list[str] = []
    for c, v in zip(coefs, variables):
        if c == 0:
            continue
        mag = "" if abs(c) == 1 else str(abs(c))
        if not parts:
            parts.append(("-" if c < 0 else "") + mag + v)
        else:
            parts.append(("- " if c < 0 else "+ ") + mag + v)
    return f"{' '.join(parts) or '0'} = {constant}"


def question_for(variables: Sequence[str]) -> str:
    names = list(variables)
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"Solve the system for {listed}."


def _draw(rng: random.Random, lo: int, hi: int, allow_zero: bool) -> int:
    while True:
        v = rng.randint(lo, hi)
        if v != 0 or allow_zero:
            return v


def make_soe(rng: random.Random, n_unknowns: int, config: SoEConfig = SoEConfig()) -> Problem:
    """One system with ``n_unknowns`` unknowns drawn from ``rng``; verified unique and integral."""
    variables = sorted(rng.sample(VARIABLES, n_unknowns))
    solution = [_draw(rng, *config.solution_range, config.allow_zero_solution) for _ in variables]
    for _ in range(1000):
        matrix = [[_draw(rng, *config.coef_range, False) for _ in variables] for _ in variables]
        if len({tuple(r) for r in matrix}) < n_unknowns:
            continue
        rhs = [sum(a * x for a, x in zip(row, solution)) for row in matrix]
        found = solve_unique(matrix, rhs)
        if found is not None:
            break
    else:  # pragma: no cover - only with a degenerate config, e.g. coef_range=(1, 1)
        raise ProblemError(f"could not draw a non-singular {n_unknowns}x{n_unknowns} system from "
                           f"coef_range={config.coef_range}; widen the range.")
    if list(found) != [Fraction(x) for x in solution]:  # pragma: no cover - exactness guard
        raise ProblemError(f"internal check failed: system solves to {found}, not {solution}")
    context = "\n".join(format_equation(row, variables, b) for row, b in zip(matrix, rhs))
    answer = canonical_assignment(dict(zip(variables, solution)))
    meta = {"generator": "soe", "generator_version": GENERATOR_VERSION, "n_unknowns": n_unknowns,
            "variables": ",".join(variables)}
    return Problem(segments=(Segment("context", context), Segment("question", question_for(variables))),
                   answer=answer, answer_type="soe", task="soe", source="builtin:soe",
                   meta=tuple(sorted(meta.items())))


def generate_soe(n: int = 150, seed: int = 0, config: SoEConfig | None = None,
                 difficulty: str = "medium") -> tuple[Problem, ...]:
    """``n`` distinct systems. Item i depends only on (seed, config, i): a smaller ``n`` gives a
    prefix of a larger set. ``config`` overrides ``difficulty``."""
    cfg = config if config is not None else soe_config(difficulty)
    return distinct_items(n, lambda i, attempt: make_soe(
        random.Random(derive_seed("soe", seed, _config_key(cfg), i, attempt)), cfg.unknowns[i % len(cfg.unknowns)],
        cfg))


def _config_key(cfg: SoEConfig) -> list:
    return [list(cfg.unknowns), list(cfg.coef_range), list(cfg.solution_range), cfg.allow_zero_solution]


# ---------------------------------------------------------------------------------------------
# Parse-from-text checker
# ---------------------------------------------------------------------------------------------

_SIDE_RE = re.compile(r"(?:[+-]?(?:\d+[A-E]?|[A-E]))+")
_TERM_RE = re.compile(r"([+-]?)(\d*)([A-E]?)")
_PROSE_RE = re.compile(r"[a-z]{2,}")


def parse_equation(line: str) -> tuple[dict[str, int], int] | None:
    """``"2A - B = 5"`` → ``({"A": 2, "B": -1}, 5)``; None if the line is not a linear equation.

    Both sides may hold terms and constants; everything is moved to ``lhs = constant`` form.
    """
    s = re.sub(r"\s+", "", normalize_dashes(line))
    if s.count("=") != 1:
        return None
    coefs: dict[str, int] = {}
    constant = 0
    for side, sign in zip(s.split("="), (1, -1)):
        if not _SIDE_RE.fullmatch(side):
            return None
        for m in _TERM_RE.finditer(side):
            sgn, digits, var = m.groups()
            if not digits and not var:
                continue
            value = (-1 if sgn == "-" else 1) * (int(digits) if digits else 1)
            if var:
                coefs[var] = coefs.get(var, 0) + sign * value
            else:
                constant -= sign * value
    return coefs, constant


def solve_text(text: str) -> str | None:
    """Answer a system read from text, or None.

    Lines containing ``=`` and no lowercase word are equations and must all parse; one
    unparseable equation line makes the whole reading unusable (a partial system is never
    solved). If the question sentence names the unknowns, they must be exactly the variables of
    the equations. None when the system is singular, inconsistent or unparseable.
    """
    equations = []
    for line in normalize_dashes(text).splitlines():
        if "=" not in line or _PROSE_RE.search(line):
            continue
        parsed = parse_equation(line)
        if parsed is None:
            return None
        equations.append(parsed)
    if not equations:
        return None
    variables = sorted({v for coefs, _ in equations for v in coefs})
    q = QUESTION_RE.search(re.sub(r"\s+", " ", text))
    if q is not None and sorted(re.findall(r"[A-E]", q.group(1))) != variables:
        return None
    if not variables:
        return None
    matrix = [[coefs.get(v, 0) for v in variables] for coefs, _ in equations]
    solution = solve_unique(matrix, [c for _, c in equations])
    if solution is None:
        return None
    return canonical_assignment(dict(zip(variables, solution)))
