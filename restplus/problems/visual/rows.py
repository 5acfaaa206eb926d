"""Image-native problems from data rows (a JSONL / CSV / parquet file through ``load_problems``).

One row is one item: its content in the source's own notation and a question type with its
arguments. The answer is computed from the content with the rules (chess), graph algorithms
(graph) or the table (chart), never read from the row; a row may give ``answer`` as a check, and
a different computed answer is an error (a wrong key in the file is caught, not silently kept).

  chess  fen, question (piece | moves | check | mate), square (for piece); text_form (fen | pieces),
         theme, pieces
  graph  edges ("A-B, B-C" or a list of "A-B" / ["A", "B"]), question (degree | path | distance |
         edges | components), a, b; nodes (default: the nodes of the edges, so list isolated ones),
         layout_seed (default: derived from the edge list)
  chart  table ({"apples": 3, ...}, a list of [category, value] pairs or "category | value" text),
         question (largest | smallest | value | difference), x, y; style

Every source also takes ``id`` (kept as ``meta["source_id"]``) and ``answer``. A bad value raises
ProblemError naming the item and the field (``bad_item``); the loader adds the file and line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ...errors import did_you_mean
from ...hashing import derive_seed
from ..base import Problem
from .base import bad_item

COMMON = ("id", "answer")
FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {  # source -> (required, optional)
    "chess": (("fen", "question"), ("square", "text_form", "theme", "pieces")),
    "graph": (("edges", "question"), ("nodes", "a", "b", "layout_seed")),
    "chart": (("table", "question"), ("x", "y", "style")),
}


def load_row(kind: str, row: Mapping[str, Any], source: str) -> tuple[Problem, str | None]:
    """(problem, the row's own id) for the file loader; ``source`` is "file:line"."""
    sid = row.get("id")
    if sid is not None and (isinstance(sid, bool) or not isinstance(sid, (str, int))):
        raise bad_item(kind, source, "id", f"wrong type: expected text or an integer id, got {type(sid).__name__}.")
    problem = problem_from_row(kind, row, source if sid is None else str(sid))
    meta = {**dict(problem.meta), **({"source_id": str(sid)} if sid is not None else {})}
    return replace(problem, source=source, meta=tuple(sorted(meta.items()))), None if sid is None else str(sid)


def problem_from_row(kind: str, row: Mapping[str, Any], item: str) -> Problem:
    """The ``kind`` problem described by ``row`` (module docstring); ``item`` names it in errors."""
    required, optional = FIELDS[kind]
    allowed = (*required, *optional, *COMMON)
    for key in row:
        if key not in allowed:
            raise bad_item(kind, item, str(key), f"not a {kind} field.{did_you_mean(str(key), allowed)} {kind} "
                           f"rows take {', '.join(allowed)}.")
    for key in required:
        if row.get(key) in (None, ""):
            raise bad_item(kind, item, key, f"missing; a {kind} row needs {', '.join(required)}.")
    args = {k: row[k] for k in optional if row.get(k) is not None}
    for key, value in args.items():
        if key not in ("layout_seed",) and not isinstance(value, str):
            raise bad_item(kind, item, key, f"{value!r} must be text.")
    question = _text(kind, item, "question", row["question"])
    if kind == "chess":
        from .chess import chess_problem, parse_fen

        fen = _text(kind, item, "fen", row["fen"])
        parse_fen(fen, item, field="fen")  # a bad FEN is reported under the row's own field name
        problem = chess_problem(fen, question, item=item, **args)
    elif kind == "graph":
        from .graph import graph_problem

        nodes, edges = _graph(item, row["edges"], row.get("nodes"))
        seed = args.pop("layout_seed", None)
        if seed is None:
            seed = derive_seed("graph-row", list(nodes), [list(e) for e in edges]) % 2**31
        elif isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
            raise bad_item("graph", item, "layout_seed", f"{seed!r} must be an integer in [0, 2**31).")
        args.pop("nodes", None)
        problem = graph_problem(nodes, edges, question, item=item, layout_seed=seed, **args)
    else:
        from .chart import chart_problem

        problem = chart_problem(_table(item, row["table"]), question, item=item, **args)
    if row.get("answer") is not None and str(row["answer"]).strip() != problem.answer:
        raise bad_item(kind, item, "answer", f"the row says {row['answer']!r} but the {kind} content gives "
                       f"{problem.answer!r}; answers are computed from the content, so fix or drop the answer.")
    return problem


def _text(kind: str, item: str, name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise bad_item(kind, item, name, f"{value!r} must be non-empty text.")
    return value.strip()


def _graph(item: str, edges: Any, nodes: Any) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    if isinstance(edges, str):
        edges = [e for e in edges.split(",") if e.strip()]
    if not isinstance(edges, list):
        raise bad_item("graph", item, "edges", f"{edges!r} must be 'A-B, B-C' or a list of edges.")
    pairs = []
    for i, e in enumerate(edges):
        ends = e.split("-") if isinstance(e, str) else e
        if not isinstance(ends, list | tuple) or len(ends) != 2 or not all(isinstance(v, str) for v in ends):
            raise bad_item("graph", item, f"edges[{i}]", f"{e!r} is not an edge; write 'A-B' or ['A', 'B'].")
        pair = tuple(sorted(v.strip() for v in ends))
        if pair in pairs:
            raise bad_item("graph", item, f"edges[{i}]", f"edge {'-'.join(pair)} is given twice.")
        pairs.append(pair)
    if nodes is None:
        names = sorted({v for p in pairs for v in p})
    elif isinstance(nodes, str):
        names = [v.strip() for v in nodes.split(",") if v.strip()]
    elif isinstance(nodes, list) and all(isinstance(v, str) for v in nodes):
        names = [v.strip() for v in nodes]
    else:
        raise bad_item("graph", item, "nodes", f"{nodes!r} must be 'A, B, C' or a list of node letters.")
    return tuple(names), tuple(pairs)  # type: ignore[arg-type]


def _table(item: str, table: Any) -> tuple[tuple[str, int], ...]:
    if isinstance(table, str):
        from .chart import parse_table

        return parse_table(table if table.lower().startswith("category") else "category | value\n" + table, item)
    if isinstance(table, Mapping):
        table = list(table.items())
    if not isinstance(table, list) or not all(isinstance(r, list | tuple) and len(r) == 2 for r in table):
        raise bad_item("chart", item, "table", f"{table!r} must be {{category: value}}, a list of "
                       "[category, value] pairs or 'category | value' lines.")
    rows = []
    for i, (cat, value) in enumerate(table):
        if not isinstance(cat, str) or not cat.strip():
            raise bad_item("chart", item, f"table[{i}]", f"category {cat!r} must be non-empty text.")
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad_item("chart", item, f"table[{i}]", f"value {value!r} of {cat!r} must be an integer (bar "
                           "labels show whole numbers).")
        rows.append((cat.strip(), value))
    return tuple(rows)
