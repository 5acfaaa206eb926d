"""Build the committed image-native sources report: contact sheets and a table of items.

    PYTHONPATH=. python reports/visual_sources/build.py

The table's "reader (text path)" column is the offline reader's solver on the text modality (the
notation read back exactly); the reader cannot read drawings, so image cells are not scored here.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import restplus as rp
from restplus.problems import solve_from_text
from restplus.problems.visual import score_transcription

HERE = Path(__file__).resolve().parent
grid = rp.load_grid(HERE.parent.parent / "perturbations" / "visual_sources.yaml")
lines = ["# Image-native sources: chess, graph, chart", "",
         f"Grid `{grid.name}`: {grid.n_cells} cells (DPI 50/100/200, blur 1.5, board_theme green, piece_style "
         "low_contrast, chart_style grid, layout_seed 1; text / image / mixed). Built by `build.py` (seed 0).", ""]
for name in ("chess", "graph", "chart"):
    p = rp.builtin_set(name, 1)[0]
    mixed = [c for c in grid.cells() if c.modality == "mixed"]
    rp.contact_sheet([rp.realize(p, grid, c, seed=0) for c in mixed], HERE / f"contact_{name}.png",
                     title=f"{name}: {p.problem_id} (mixed cells)")
    lines.append(f"![{name}](contact_{name}.png)")
lines += ["", "| source | question type | n | answers right from the notation (reader, text path) | "
          "perfect transcription passes |", "|---|---|---|---|---|"]
for name in ("chess", "graph", "chart"):
    items = rp.builtin_set(name).problems
    for q in dict.fromkeys(dict(p.meta)["question_type"] for p in items):
        sub = [p for p in items if dict(p.meta)["question_type"] == q]
        right = sum(solve_from_text(p.task, p.full_text, p) == p.answer for p in sub)
        ok = sum(score_transcription(p, dict(p.meta)["notation"]).passed for p in sub)
        lines.append(f"| {name} | {q} | {len(sub)} | {right}/{len(sub)} | {ok}/{len(sub)} |")
# Physical covariates each drawing records (restplus.render.drawing): the reference cell (200 DPI), 50 DPI
# and the source's own arms.
lines += ["", "Physical covariates of the drawings (mixed cells: reference, DPI 50 and the source's own factors):",
          "", "| source | cell | covariates |", "|---|---|---|"]
arm_of = {"chess": ("board_theme", "piece_style"), "graph": ("layout_seed",), "chart": ("chart_style",)}
for name in ("chess", "graph", "chart"):
    p = rp.builtin_set(name, 1)[0]
    for c in [c for c in grid.cells() if c.modality == "mixed"]:
        lv = c.as_dict()
        varied = [f for f in lv if f != "modality" and lv[f] != grid.factor(f).reference]
        if not (varied == [] or (varied == ["dpi"] and lv["dpi"] == 50) or varied[0] in arm_of[name]):
            continue
        cov = {k: v for k, v in dict(rp.realize(p, grid, c, seed=0).images[0].covariates).items()
               if k not in ("width_px", "height_px", "dpi")}
        label = ", ".join(f"{f}={lv[f]}" for f in varied) or "reference (200 DPI)"
        lines.append(f"| {name} | {label} | " + ", ".join(f"{k} {v:g}" for k, v in sorted(cov.items())) + " |")
lines += ["", "Example items:", ""]
for name in ("chess", "graph", "chart"):
    for p in rp.builtin_set(name, 2):
        notation = dict(p.meta)["notation"].replace("\n", "; ")
        lines.append(f"- **{name}** `{notation}` — {p.segments[1].text} → `{p.answer}`")
# The offline reader end to end (run + report): honest about what an OCR pipeline can do here.
with tempfile.TemporaryDirectory() as tmp:
    spec = HERE.parent.parent / "perturbations" / "visual_sources.yaml"
    cmd = [sys.executable, "-m", "restplus", "run", str(spec), "--model", "reader", "--problems", "chess,graph,chart",
           "--n", "2", "--out", f"{tmp}/run", "--no-progress"]
    subprocess.run(cmd, check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "restplus", "report", f"{tmp}/run", "--gate-policy", "ignore", "--out",
                    f"{tmp}/report"], check=True, capture_output=True)
    summary = Path(tmp, "report", "summary.md").read_text(encoding="utf-8")
table = summary.split("## Consistency (all units, ungated)", 1)[1].split("\n## ", 1)[0].strip()
lines += ["", "## Offline reader, end to end", "",
          "`restplus run perturbations/visual_sources.yaml --model reader --problems chess,graph,chart --n 2` then "
          "`restplus report RUN --gate-policy ignore`. The reader is OCR + exact solvers: it answers the **text "
          "path** (the notation) and cannot read a board, a node-link drawing or a chart, so its image and mixed "
          "accuracy and its OCR-gate pass rate are expected to be 0 (for a drawing the gate is a transcription: the "
          "reader's OCR of the board, graph or chart scored as a FEN, edge list or table by the source's parser). "
          "An MLLM is needed for the image side.", "",
          table]
(HERE / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
