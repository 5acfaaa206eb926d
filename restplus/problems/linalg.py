"""Exact linear algebra over the rationals (``fractions.Fraction``), for systems of equations.

Floating point could call a singular system solvable or round 2.9999 to 3; exact elimination
cannot, so "unique integer solution" is a checked fact, not an approximation.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction


def solve_unique(matrix: Sequence[Sequence[int | Fraction]], rhs: Sequence[int | Fraction]) \
        -> tuple[Fraction, ...] | None:
    """The unique solution ``x`` of ``matrix @ x == rhs``, or None.

    Works for any number of equations (rows): None when the system is inconsistent or has
    infinitely many solutions (rank below the number of unknowns). Gauss-Jordan elimination with
    exact fractions; the first non-zero entry of a column is the pivot (exactness makes pivoting
    for stability unnecessary).
    """
    n_rows = len(matrix)
    n_cols = len(matrix[0]) if n_rows else 0
    if n_cols == 0 or len(rhs) != n_rows or any(len(r) != n_cols for r in matrix):
        return None
    aug = [[Fraction(v) for v in row] + [Fraction(b)] for row, b in zip(matrix, rhs)]
    pivot_row = 0
    for col in range(n_cols):
        pivot = next((r for r in range(pivot_row, n_rows) if aug[r][col] != 0), None)
        if pivot is None:
            return None  # a free variable: infinitely many solutions (or none)
        aug[pivot_row], aug[pivot] = aug[pivot], aug[pivot_row]
        p = aug[pivot_row][col]
        aug[pivot_row] = [v / p for v in aug[pivot_row]]
        for r in range(n_rows):
            if r != pivot_row and aug[r][col] != 0:
                f = aug[r][col]
                aug[r] = [a - f * b for a, b in zip(aug[r], aug[pivot_row])]
        pivot_row += 1
    # Rows beyond the pivots are 0 = b; any non-zero b means the equations contradict each other.
    if any(aug[r][-1] != 0 for r in range(pivot_row, n_rows)):
        return None
    return tuple(aug[i][-1] for i in range(n_cols))
