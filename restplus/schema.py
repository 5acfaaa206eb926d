"""Column contract of the long per-sample table (runner → analysis).

One row per (model, problem, cell, prompt type). Analysis functions need only a subset (marked *)
and accept tables built anywhere, polars or pandas.

Identity
  run_id, model            str  — run folder id; model name (several models may share a table)
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
  correct *                bool — answer == gold; unparsed and errors count as wrong
Gate
  ocr_text                 str  — the model's transcription of this row's image(s)
  ocr_cer                  f64  — CER of that transcription; null for text rows
  gate_passed *            bool — ocr_cer <= threshold; null for text rows
Covariates
  contrast_ratio           f64  — WCAG contrast of text on background
  x_height_px              f64  — x-height of the font in pixels at this size and DPI
  image_width_px, image_height_px  i64
  vision_tokens, text_tokens       i64 — tokens the image/text became, where knowable
Call
  response                 str  — raw model output
  tokens_in, tokens_out    i64
  latency_s                f64
  from_cache               bool
  error                    str  — adapter error after retries, or null
"""

ID_COLUMNS = ("run_id", "model", "problem_id", "task", "cell_id", "variant_id", "prompt_type", "modality")
OUTCOME_COLUMNS = ("answer", "parse_status", "gold", "correct")
GATE_COLUMNS = ("ocr_text", "ocr_cer", "gate_passed")
COVARIATE_COLUMNS = ("contrast_ratio", "x_height_px", "image_width_px", "image_height_px", "vision_tokens",
                     "text_tokens")
CALL_COLUMNS = ("response", "tokens_in", "tokens_out", "latency_s", "from_cache", "error")
REQUIRED_FOR_ANALYSIS = ("problem_id", "modality", "answer", "correct")
MODALITIES = ("text", "image", "mixed")
ROLES = ("instruction", "context", "question", "choices")  # problem segment roles, in reading order
