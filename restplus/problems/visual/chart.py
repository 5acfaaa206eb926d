"""Small tables as text, bar charts drawn by matplotlib (SVG, text as paths in the cell's font).

Values are distinct integers, so 'largest' and 'smallest' have one answer, and each bar carries its
value label, so every answer is readable from the drawing. matplotlib draws to SVG with
``svg.fonttype: path`` (glyph outlines from the vendored font file, no font lookup when
rasterising), a fixed ``svg.hashsalt`` and no date metadata, so the SVG text, hence the pixels, is
the same in every process. Questions: ``largest``, ``smallest``, ``value`` and ``difference``.
"""

from __future__ import annotations

import io
import random
import re
from typing import Any

from ...hashing import derive_seed
from ..base import Problem
from .base import SOURCES, Drawing, Transcription, VisualSource, bad_item, visual_problem

QUESTIONS = ("largest", "value", "difference", "smallest")
CATEGORIES = ("apples", "pears", "plums", "figs", "limes", "kiwis", "dates", "lemons")
WIDTH_IN, HEIGHT_IN = 4.0, 3.0
_ROW = re.compile(r"^\s*\|?\s*([A-Za-z][A-Za-z ]*?)\s*[|:,=]\s*(-?\d+)\s*\|?\s*$")


def parse_table(notation: str, item: str = "?") -> tuple[tuple[str, int], ...]:
    """(category, value) rows from the 'category | value' notation (header line first)."""
    rows = []
    for line in notation.strip().splitlines()[1:]:
        m = _ROW.match(line)
        if m:
            rows.append((m.group(1).strip().lower(), int(m.group(2))))
    if not rows:
        raise bad_item("chart", item, "table", f"{notation!r} has no 'category | value' rows; give at least two.")
    return tuple(rows)


def table_notation(rows: tuple[tuple[str, int], ...]) -> str:
    return "category | value\n" + "\n".join(f"{c} | {v}" for c, v in rows)


def chart_problem(rows: tuple[tuple[str, int], ...], question: str, *, x: str | None = None, y: str | None = None,
                  item: str = "?", style: str = "plain") -> Problem:
    """One chart problem; the answer is computed here from the table."""
    rows = tuple((str(c), int(v)) for c, v in rows)
    if style not in STYLES:
        from ...errors import did_you_mean

        raise bad_item("chart", item, "style",
                       f"{style!r} is not one of {sorted(STYLES)}.{did_you_mean(style, STYLES)}")
    if len(rows) < 2:
        raise bad_item("chart", item, "table", f"the table has {len(rows)} row(s); a chart question needs at "
                       "least two categories.")
    values = dict(rows)
    if len(values) != len(rows):
        raise bad_item("chart", item, "table", f"category names repeat in {[c for c, _ in rows]}.")
    if question in ("largest", "smallest") and len(set(values.values())) != len(rows):
        raise bad_item("chart", item, "table", "values repeat, so 'largest'/'smallest' may have two answers.")
    for name, v in (("x", x), ("y", y)):
        if (question == "value" and name == "x" or question == "difference") and v not in values:
            raise bad_item("chart", item, name, f"category {v!r} is not in the table ({list(values)}).")
    if question == "largest":
        text, answer, atype = "Which category has the largest value?", max(values, key=values.get), "exact"
    elif question == "smallest":
        text, answer, atype = "Which category has the smallest value?", min(values, key=values.get), "exact"
    elif question == "value":
        text, answer, atype = f"What is the value of {x}?", str(values[x]), "number"
    elif question == "difference":
        text = f"What is the value of {x} minus the value of {y}?"
        answer, atype = str(values[x] - values[y]), "number"
    else:
        from ...errors import unknown_name

        raise unknown_name("chart question", question, QUESTIONS)
    notation = table_notation(rows)
    return visual_problem("chart", notation, "Table.\n" + notation, text, answer, atype,
                          options={"style": style}, extra_meta={"question_type": question})


def generate_chart(n: int, seed: int = 0) -> tuple[Problem, ...]:
    """``n`` chart problems; item i depends only on (seed, i) and cycles through QUESTIONS."""
    out = []
    for i in range(n):
        rng = random.Random(derive_seed(int(seed), "chart", i))
        q = QUESTIONS[i % len(QUESTIONS)]
        cats = rng.sample(CATEGORIES, rng.randint(4, 6))
        vals = rng.sample(range(2, 60), len(cats))
        rows = tuple(zip(cats, vals))
        x, y = rng.sample(cats, 2)
        out.append(chart_problem(rows, q, x=x, y=y, item=f"chart[{i}]"))
    return tuple(out)


STYLES: dict[str, dict[str, Any]] = {
    "plain": {"color": "#4c72b0", "grid": False},
    "grid": {"color": "#dd8452", "grid": True},
}


def draw_chart(notation: str, options: dict[str, Any], font_family: str, font_path: str) -> Drawing:
    import matplotlib
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

    rows = parse_table(notation)
    style = options.get("style", "plain")
    if style not in STYLES:
        raise bad_item("chart", notation, "style", f"{style!r} is not one of {sorted(STYLES)}.")
    st = STYLES[style]
    font = FontProperties(fname=font_path, size=9)
    rc = {"svg.fonttype": "path", "svg.hashsalt": "restplus", "path.simplify": False, "axes.unicode_minus": False}
    with matplotlib.rc_context(rc):
        fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=72)
        FigureCanvasSVG(fig)
        ax = fig.add_subplot(1, 1, 1)
        cats = [c for c, _ in rows]
        bars = ax.bar(range(len(rows)), [v for _, v in rows], color=st["color"])
        ax.set_xticks(range(len(rows)), cats)
        for lab in ax.get_xticklabels() + ax.get_yticklabels():
            lab.set_fontproperties(font)
        for b, (_, v) in zip(bars, rows):
            ax.annotate(str(v), (b.get_x() + b.get_width() / 2, b.get_height()), xytext=(0, 2),
                        textcoords="offset points", ha="center", va="bottom", fontproperties=font)
        ax.set_ylim(0, max(v for _, v in rows) * 1.15)
        if st["grid"]:
            ax.yaxis.grid(True, color="#cccccc")
            ax.set_axisbelow(True)
        fig.tight_layout()
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
        # the figure is drawn at 72 dpi, so display units are points: the bar width as a fraction of
        # the figure width, after tight_layout, becomes pixels once the raster width is known
        bar_frac = bars[0].get_window_extent().width / (WIDTH_IN * 72)
    svg = buf.getvalue()
    return Drawing(svg=svg, width_pt=WIDTH_IN * 72, height_pt=HEIGHT_IN * 72,
                   px_measures=(("label_font_px", 9 / (WIDTH_IN * 72)), ("bar_width_px", round(float(bar_frac), 9))),
                   contrasts=(("bar_contrast", st["color"], "#ffffff"),))


def transcribe_chart(gold: str, text: str) -> Transcription:
    """Cell accuracy: gold categories transcribed with the right value, over max(rows, gold rows)."""
    want = dict(parse_table(gold))
    got: dict[str, int] = {}
    for line in text.splitlines():
        m = _ROW.match(line)
        if m and m.group(1).strip().lower() not in ("category",):
            got[m.group(1).strip().lower()] = int(m.group(2))
    right = [c for c in want if got.get(c) == want[c]]
    score = len(right) / max(len(want), len(got))
    wrong = [f"{c}: {got.get(c)} for {want[c]}" for c in want if got.get(c) != want[c]]
    wrong += [f"extra row {c!r}" for c in got if c not in want]
    return Transcription(round(score, 6), not wrong, "; ".join(wrong[:5]))


SOURCES.register("chart", VisualSource(
    "chart", draw_chart, transcribe_chart,
    "Transcribe the bar chart in the image as a table: one line per bar, 'category | value', in the order "
    "of the bars. Reply with the table only.", (("chart_style", "style"),),
    "table cell accuracy: categories given with the right value over max(gold rows, transcribed rows)"))


def solve_text(text: str) -> str | None:
    """The reader baseline's answer from a (transcribed) table and question; None if unreadable."""
    from ...errors import RestplusError

    m = re.search(r"category \| value\n((?:.+ \| -?\d+\n?)+)", text)
    if m is None:
        return None
    xy = re.search(r"value of (\w+) minus the value of (\w+)\?", text) or re.search(r"value of (\w+)\?", text)
    q = ("largest" if "largest value" in text else "smallest" if "smallest value" in text
         else "difference" if "minus" in text else "value" if xy else None)
    if q is None:
        return None
    try:
        rows = parse_table("category | value\n" + m.group(1))
        groups = xy.groups() if xy else ()
        return chart_problem(rows, q, x=groups[0] if groups else None, y=groups[1] if len(groups) > 1 else None).answer
    except RestplusError:
        return None
