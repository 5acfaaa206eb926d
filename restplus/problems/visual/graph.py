"""Small undirected graphs: an edge list as text, a node-link drawing with a seeded layout.

Nodes are capital letters. The layout is networkx's spring layout with a fixed seed (stored in the
problem's drawing options, so the node-layout seed can vary independently of the content); the SVG
is written here (circles, lines, centred labels in the cell's font) and rasterised by the renderer.
Questions: ``degree``, ``path`` (is there a path, yes/no), ``distance`` (shortest-path length),
``edges`` (number of edges) and ``components`` (number of connected components).
"""

from __future__ import annotations

import math
import random
import re
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from ...hashing import derive_seed
from ..base import Problem
from .base import SOURCES, Drawing, Transcription, VisualSource, bad_item, visual_problem

QUESTIONS = ("degree", "path", "distance", "edges", "components")
SIZE_PT = 288.0
NODE_R = 14.0  # node radius in points
MARGIN = 24.0
_EDGE = re.compile(r"\b([A-Z])\s*(?:<->|->|--|-|–|—)\s*([A-Z])\b")


def _nx():
    import networkx as nx

    return nx


def parse_edges(notation: str, item: str = "?") -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """(nodes, edges) from the notation 'Nodes: A, B, C\\nEdges: A-B, B-C'."""
    lines = dict(line.split(":", 1) for line in notation.strip().splitlines() if ":" in line)
    if "Nodes" not in lines or "Edges" not in lines:
        raise bad_item("graph", item, "notation", f"{notation!r} needs a 'Nodes:' line and an 'Edges:' line.")
    nodes = tuple(x.strip() for x in lines["Nodes"].split(",") if x.strip())
    edges = tuple(tuple(sorted(e.strip().split("-"))) for e in lines["Edges"].split(",") if e.strip())
    return nodes, edges  # type: ignore[return-value]


def graph_notation(nodes: tuple[str, ...], edges: tuple[tuple[str, str], ...]) -> str:
    return f"Nodes: {', '.join(nodes)}\nEdges: {', '.join(f'{a}-{b}' for a, b in edges)}"


def build_graph(nodes: tuple[str, ...], edges: tuple[tuple[str, str], ...], item: str = "?"):
    nx = _nx()
    if not nodes:
        raise bad_item("graph", item, "nodes", "the graph has no nodes; give at least one.")
    # one capital letter per node: the drawing labels, the edge notation and the transcription parser
    # all read nodes that way
    bad = [v for v in nodes if not (isinstance(v, str) and len(v) == 1 and "A" <= v <= "Z")]
    if bad or len(set(nodes)) != len(nodes):
        raise bad_item("graph", item, "nodes", f"{list(nodes)} must be distinct single capital letters (A … Z)"
                       + (f"; {bad} are not." if bad else "; some repeat."))
    for i, e in enumerate(edges):
        if len(e) != 2 or e[0] == e[1] or any(v not in nodes for v in e):
            raise bad_item("graph", item, f"edges[{i}]", f"{'-'.join(e)!r} must join two different nodes of "
                           f"{list(nodes)}.")
    g = nx.Graph()
    g.add_nodes_from(nodes)
    g.add_edges_from(edges)
    return g


def graph_problem(nodes: tuple[str, ...], edges: tuple[tuple[str, str], ...], question: str, *,
                  a: str | None = None, b: str | None = None, item: str = "?", layout_seed: int = 0) -> Problem:
    """One graph problem; the answer is computed here with networkx."""
    nx = _nx()
    edges = tuple(sorted(tuple(sorted(e)) for e in edges))  # type: ignore[misc]
    g = build_graph(tuple(nodes), edges, item)
    for name, v in (("a", a), ("b", b)):
        if question in ("degree", "path", "distance") and (name == "a" or question != "degree") and v not in g:
            raise bad_item("graph", item, name, f"node {v!r} is not in the graph (nodes {list(nodes)}).")
    if question == "degree":
        text = f"What is the degree of node {a} (the number of edges touching it)?"
        answer, atype = str(g.degree[a]), "number"
    elif question == "path":
        text = f"Is there a path from node {a} to node {b}? Answer yes or no."
        answer, atype = ("yes" if nx.has_path(g, a, b) else "no"), "exact"
    elif question == "distance":
        if not nx.has_path(g, a, b):
            raise bad_item("graph", item, "b", f"node {b!r} is not reachable from {a!r}: the graph is disconnected "
                           "there, so the shortest-path length is undefined. Ask 'path' instead.")
        text = f"What is the length (number of edges) of the shortest path from node {a} to node {b}?"
        answer, atype = str(nx.shortest_path_length(g, a, b)), "number"
    elif question == "edges":
        text, answer, atype = "How many edges does the graph have?", str(g.number_of_edges()), "number"
    elif question == "components":
        text = "How many connected components does the graph have (an isolated node counts as one)?"
        answer, atype = str(nx.number_connected_components(g)), "number"
    else:
        from ...errors import unknown_name

        raise unknown_name("graph question", question, QUESTIONS)
    notation = graph_notation(tuple(nodes), edges)
    return visual_problem("graph", notation, "Undirected graph.\n" + notation, text, answer, atype,
                          options={"layout_seed": int(layout_seed)}, extra_meta={"question_type": question})


def generate_graph(n: int, seed: int = 0) -> tuple[Problem, ...]:
    """``n`` graph problems; item i depends only on (seed, i) and cycles through QUESTIONS."""
    nx = _nx()
    out = []
    for i in range(n):
        rng = random.Random(derive_seed(int(seed), "graph", i))
        q = QUESTIONS[i % len(QUESTIONS)]
        while True:
            k = rng.randint(5, 8)
            nodes = tuple(chr(65 + j) for j in range(k))
            edges = tuple((u, v) for j, u in enumerate(nodes) for v in nodes[j + 1:] if rng.random() < 0.3)
            g = build_graph(nodes, edges)
            a, b = rng.sample(nodes, 2)
            if q == "distance" and not nx.has_path(g, a, b):
                continue
            if q == "distance" and nx.shortest_path_length(g, a, b) < 2 and rng.random() < 0.7:
                continue  # mostly multi-step paths: adjacency alone should not answer it
            break
        out.append(graph_problem(nodes, edges, q, a=a, b=b, item=f"graph[{i}]", layout_seed=rng.randrange(2**31)))
    return tuple(out)


def layout_positions(nodes: tuple[str, ...], edges: tuple[tuple[str, str], ...],
                     layout_seed: int) -> dict[str, tuple[float, float]]:
    """Node centres in points: spring layout (fixed seed) scaled into the square canvas."""
    nx = _nx()
    g = build_graph(nodes, edges)
    # Overlapping nodes would hide content the notation has: try the next seeds (deterministically)
    # until every pair of centres is at least 3 radii apart in the final canvas.
    for attempt in range(50):
        placed = _scaled(nx.spring_layout(g, seed=int(layout_seed) + attempt), nodes)
        pts = list(placed.values())
        if all((p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2 >= (3 * NODE_R) ** 2
               for i, p in enumerate(pts) for q in pts[i + 1:]):
            return placed
    return placed


def _scaled(pos: Any, nodes: tuple[str, ...]) -> dict[str, tuple[float, float]]:
    xs = [float(p[0]) for p in pos.values()]
    ys = [float(p[1]) for p in pos.values()]
    span = max(max(xs) - min(xs), max(ys) - min(ys), 1e-9)
    inner = SIZE_PT - 2 * MARGIN
    # centre the shorter axis; round to 0.01 pt so the SVG text, hence the pixels, cannot depend on
    # the last float bits of the layout
    ox = MARGIN + (inner - (max(xs) - min(xs)) / span * inner) / 2
    oy = MARGIN + (inner - (max(ys) - min(ys)) / span * inner) / 2
    return {v: (round(ox + (float(pos[v][0]) - min(xs)) / span * inner, 2),
                round(oy + (max(ys) - float(pos[v][1])) / span * inner, 2)) for v in nodes}


def draw_graph(notation: str, options: dict[str, Any], font_family: str, font_path: str) -> Drawing:
    nodes, edges = parse_edges(notation)
    # a layout_seed factor level k shifts the problem's own layout seed: k = 0 is the reference layout
    seed = int(options.get("layout_seed", 0)) + 1000 * int(options.get("layout_offset", 0))
    pos = layout_positions(nodes, edges, seed)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{SIZE_PT}pt" height="{SIZE_PT}pt" '
           f'viewBox="0 0 {SIZE_PT} {SIZE_PT}">', f'<rect width="{SIZE_PT}" height="{SIZE_PT}" fill="#ffffff"/>']
    for a, b in edges:
        (x1, y1), (x2, y2) = pos[a], pos[b]
        out.append(f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#000000" stroke-width="1.5"/>')
    for v in nodes:
        x, y = pos[v]
        out.append(f'<circle id="node-{v}" cx="{x}" cy="{y}" r="{NODE_R}" fill="#ffffff" stroke="#000000" '
                   'stroke-width="1.5"/>')
        out.append(f'<text x="{x}" y="{round(y + 5.0, 2)}" font-family={quoteattr(font_family)} font-size="14" '
                   f'text-anchor="middle" fill="#000000">{escape(v)}</text>')
    out.append("</svg>")
    # the closest pair of node centres: where a layout crowds nodes, labels and edges are hardest to read
    pts = [pos[v] for v in nodes]
    closest = min((math.dist(p, q) for i, p in enumerate(pts) for q in pts[i + 1:]), default=0.0)
    return Drawing(svg="\n".join(out), width_pt=SIZE_PT, height_pt=SIZE_PT, families=(font_family,),
                   px_measures=(("node_diameter_px", 2 * NODE_R / SIZE_PT),
                                ("min_node_distance_px", closest / SIZE_PT)))


def transcribe_graph(gold: str, text: str) -> Transcription:
    """Edge-set F1 of the 'X-Y' pairs in ``text`` against the gold edge list (undirected)."""
    _, want_edges = parse_edges(gold)
    want = {tuple(sorted(e)) for e in want_edges}
    # a node list ("Nodes: A, B") is not edges: read only after an "Edges:" label when there is one
    body = text.split("Edges:", 1)[1] if "Edges:" in text else text
    got = {tuple(sorted(m.groups())) for m in _EDGE.finditer(body) if m.group(1) != m.group(2)}
    if not want and not got:
        return Transcription(1.0, True, "")
    tp = len(want & got)
    f1 = 0.0 if tp == 0 else 2 * tp / (len(want) + len(got))
    missing = sorted("-".join(e) for e in want - got)
    extra = sorted("-".join(e) for e in got - want)
    detail = "; ".join(x for x in (f"missing {missing}" if missing else "", f"extra {extra}" if extra else "") if x)
    return Transcription(round(f1, 6), got == want, detail)


SOURCES.register("graph", VisualSource(
    "graph", draw_graph, transcribe_graph,
    "Transcribe the graph in the image as an edge list: every edge once, as two node letters joined by a "
    "hyphen, separated by commas (e.g. A-B, B-C). Reply with the edge list only.",
    (("layout_seed", "layout_offset"),),
    "edge-set F1 of the X-Y pairs in the reply (after an 'Edges:' label if any) against the edge list"))


def solve_text(text: str) -> str | None:
    """The reader baseline's answer from a (transcribed) edge list and question; None if unreadable."""
    from ...errors import RestplusError

    m = re.search(r"Nodes: (.*)\nEdges: (.*)", text)
    if m is None:
        return None
    ab = re.findall(r"node ([A-Z])\b", text)
    q = ("degree" if "degree of node" in text else "path" if "Is there a path" in text
         else "distance" if "shortest path" in text else "edges" if "How many edges" in text
         else "components" if "connected components" in text else None)
    try:
        nodes, edges = parse_edges(f"Nodes: {m.group(1)}\nEdges: {m.group(2)}")
        if q is None:
            return None
        return graph_problem(nodes, edges, q, a=ab[0] if ab else None, b=ab[1] if len(ab) > 1 else None).answer
    except (RestplusError, ValueError):
        return None
