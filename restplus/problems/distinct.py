"""Drawing n distinct generated items, where item i depends only on (seed, i)."""

from __future__ import annotations

from collections.abc import Callable

from .base import Problem


def distinct_items(n: int, make: Callable[[int, int], Problem]) -> tuple[Problem, ...]:
    """``make(i, attempt)`` builds item i from its own seed; a duplicate id is redrawn with the next
    attempt, so a smaller ``n`` always gives a prefix of a larger set."""
    out: list[Problem] = []
    seen: set[str] = set()
    for i in range(n):
        attempt = 0
        p = make(i, attempt)
        while p.problem_id in seen:
            attempt += 1
            p = make(i, attempt)
        seen.add(p.problem_id)
        out.append(p)
    return tuple(out)
