"""Column contract of the long per-sample table (runner → analysis).

One row per (model, problem, cell, prompt type). Analysis functions need only a subset (marked *)
and accept tables built anywhere, polars or pandas.

Identity
  run_id, run, model       str  — unique run id; the run's name (``restplus run --name``, default the
                                  output folder's name: analyses key by it); model name (several
                                  models, or several runs of one model, may share a table)
  problem_id *             str  — base problem, the cluster unit
  task                     str  — problem source (soe, arith, mcq, ...)
  cell_id, variant_id      str  — content-hash ids
  prompt_type *            str  — "solve" or "ocr" (analysis keeps "solve" rows)
  modality *               str  — "text" | "image" | "mixed"
  <factor columns> *       str  — one column per visual factor, level label as string; null on text
                                  rows (visual factors do not apply to text)
Outcome
  answer *                 str  — extracted answer (canonical string) or null when unparsed
  parse_status             str  — "ok" | "unparsed" | "error"
  gold                     str  — gold answer
  correct *                bool — answer == gold; unparsed counts as wrong. Null when the request
                                  failed (``error`` set): a *missing* row, left out of every metric
                                  and counted (``n_missing``), never scored as wrong
Gate
  ocr_text                 str  — the model's transcription of this row's image(s)
  ocr_cer                  f64  — CER of that transcription (for a drawing of an image-native source:
                                  1 - its transcription score, see restplus.runner.gate); null for text rows
  gate_passed *            bool — ocr_cer <= threshold; null for text rows. False (with ocr_cer null)
                                  when the OCR request failed: the model never showed it can read the
                                  image, so gated analyses drop the row like any gate failure
Covariates
  contrast_ratio           f64  — WCAG contrast of text on background
  x_height_px              f64  — x-height of the font in pixels at this size and DPI
  image_width_px, image_height_px  i64 — size of the (first) image as rendered
  image_dpi                i64  — the DPI it was rendered at
  processed_width_px, processed_height_px  i64 — size of that image after the model's processor
                                  resized it (``Response.image_sizes``), where the adapter reports
                                  it; a pixel budget that collapses several DPIs to one size shows here
  vision_tokens, text_tokens       i64 — tokens the image/text became, where knowable
Call
  response                 str  — raw model output
  tokens_in, tokens_out    i64
  latency_s                f64
  from_cache               bool
  error *                  str  — adapter error after retries, or null; a non-null error marks the
                                  row missing (its answer and correct are null)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

ID_COLUMNS = ("run_id", "run", "model", "problem_id", "task", "cell_id", "variant_id", "prompt_type", "modality")
OUTCOME_COLUMNS = ("answer", "parse_status", "gold", "correct")
GATE_COLUMNS = ("ocr_text", "ocr_cer", "gate_passed")
COVARIATE_COLUMNS = ("contrast_ratio", "x_height_px", "image_width_px", "image_height_px", "image_dpi",
                     "processed_width_px", "processed_height_px", "vision_tokens", "text_tokens")
CALL_COLUMNS = ("response", "tokens_in", "tokens_out", "latency_s", "from_cache", "error")
MODALITIES = ("text", "image", "mixed")
ROLES = ("instruction", "context", "question", "choices")  # problem segment roles, in reading order

# Parquet field metadata key of a factor column: its levels in grammar order, reference and ordered flag.
FACTOR_FIELD_META = b"restplus.factor"


def level_label(value: Any) -> str | None:
    """The one text form of a factor level: table columns, references, reports, plots and the CLI.

    Numbers are labelled by their value, so ``12``, ``12.0`` and ``"12"`` are one level ("12") wherever
    they come from (a spec, a search range or a command line); other floats use the shortest repr that
    round-trips ("0.1"). Strings are kept as written. ``None`` (a factor that does not apply) stays None.
    """
    if value is None:
        return None
    if isinstance(value, bool):  # a bool is an int in Python; say what was meant
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 2**53:
            return str(int(value))
        return repr(value)
    return str(value)


def _number(text: str) -> float | None:
    try:
        x = float(text)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def match_level(value: Any, labels: Iterable[str]) -> str | None:
    """The label among ``labels`` that ``value`` names, or None.

    Exact label first; then numeric equality, so a reference written ``12``, ``12.0`` or ``"12"`` finds the
    level however a table spelled it (tables written by other tools or older versions may say "12.0").
    """
    labels = list(labels)
    lab = level_label(value)
    if lab in labels:
        return lab
    x = value if isinstance(value, (int, float)) and not isinstance(value, bool) else _number(str(value))
    if x is None:
        return None
    for cand in labels:
        if _number(cand) == float(x):
            return cand
    return None
