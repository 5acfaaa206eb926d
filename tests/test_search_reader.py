"""rp.search with real perception: the tesseract OCR-then-solve reader on SoE items, DPI bisection.

Band: for 12 pt DejaVu Sans (x-height 0.55 em), 60 DPI gives text ~10 px high with a ~5.5 px
x-height — below what tesseract reads reliably; measured while building this (first 6 SoE items,
seed 0): at <= 60 DPI every item's transcription had CER >= 0.15 and every answer was wrong, at
150 and 200 DPI every item was answered as in text. So the lowest DPI at which an item is still
answered as in text must lie in [60, 150]; the two items here measured 85 and 99.
"""

from __future__ import annotations

import os

import pytest

from restplus import models
from restplus.problems import builtin_set
from restplus.search.run import search
from restplus.search.space import Space, range_axis
from restplus.testing import Counting

os.environ.setdefault("OMP_THREAD_LIMIT", "1")
BAND = (60, 150)
BUDGET = 50


@pytest.mark.slow
def test_reader_dpi_threshold_is_plausible_reproducible_and_within_budget(tmp_path):
    space = Space((range_axis("dpi", 30, 200, reference=200),), name="dpi")
    problems = list(builtin_set("soe", n=2))
    # concurrency 1: the solve and OCR requests of a variant then share one tesseract run (memoised)
    first = search(problems, space, models.load("reader", concurrency=1), out=tmp_path / "a", budget=BUDGET,
                   seed=0, minimal=False)
    t = first.thresholds
    assert first.status == "complete" and 0 < first.calls <= BUDGET
    assert t["status"].to_list() == ["found", "found"]
    for r in t.iter_rows(named=True):
        assert BAND[0] <= r["last_pass"] <= BAND[1] and r["first_fail"] == r["last_pass"] - 1
        assert r["calls"] <= 2 * 8 + 2  # far end + at most 8 halvings of [30, 200], 2 calls each
    # the same seed in a fresh folder: the same thresholds for the same number of calls
    second = search(problems, space, models.load("reader", concurrency=1), out=tmp_path / "b", budget=BUDGET,
                    seed=0, minimal=False)
    assert second.thresholds.equals(t) and second.calls == first.calls
    # and again in the first folder: everything comes from the cache
    counting = Counting(models.load("reader", concurrency=1))
    again = search(problems, space, counting, out=tmp_path / "a", budget=BUDGET, seed=0, minimal=False)
    assert counting.total == 0 and again.calls == 0
    assert again.thresholds.drop("calls").equals(t.drop("calls"))
    assert (tmp_path / "a" / "renders" / problems[0].problem_id / "dpi-down-first_fail.png").is_file()
