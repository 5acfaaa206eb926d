#!/usr/bin/env bash
# GPU smoke test: a real, downloaded Qwen2.5-VL-3B-Instruct folder end to end through restplus.
#
#   bench/gpu_smoke.sh /models/Qwen2.5-VL-3B-Instruct [OUT_DIR]
#
# Renders a handful of variants (perturbations/smoke.yaml: DPI 50/200 x black/red text x
# text/image/mixed; N mcq + N soe problems), runs the model on them with the local HF adapter
# (greedy, bf16, CUDA), gates by the model's own OCR, prints the factor effects gated and ungated,
# and then checks that the numbers are those of a working model, not of broken plumbing:
#   1. the run completed and (almost) no request failed;
#   2. OCR CER = 0 on most 200-DPI image/mixed renders (the model reads clean renders exactly);
#   3. text-modality accuracy on the 4-option mcq items is above chance (0.25);
#   4. 200-DPI renders became more vision tokens than 50-DPI ones (the pixel budget kept DPI apart).
# Exit status 0 = all checks passed; 1 = a check failed (the message says which); 2 = bad setup.
#
# It needs a CUDA GPU (about 8 GB for the 3B model in bf16) and cannot run in CI. Nothing is
# downloaded: pass the folder that holds config.json, the safetensors and the processor files
# (e.g. `huggingface-cli download Qwen/Qwen2.5-VL-3B-Instruct --local-dir /models/Qwen2.5-VL-3B-Instruct`).
# Environment overrides: PYTHON (interpreter with restplus installed), N (problems per set, default 12),
# DEVICE (default cuda), DTYPE (default bfloat16), BATCH (default 8), MIN_OCR_EXACT (default 0.5).
set -euo pipefail

MODEL=${1:?"usage: bench/gpu_smoke.sh /path/to/Qwen2.5-VL-3B-Instruct [OUT_DIR]"}
OUT=${2:-runs/gpu_smoke}
PYTHON=${PYTHON:-python}
N=${N:-12}
DEVICE=${DEVICE:-cuda}
DTYPE=${DTYPE:-bfloat16}
BATCH=${BATCH:-8}
MIN_OCR_EXACT=${MIN_OCR_EXACT:-0.5}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SPEC="$ROOT/perturbations/smoke.yaml"

if [[ ! -f "$MODEL/config.json" ]]; then
    echo "gpu_smoke: $MODEL has no config.json; pass the downloaded model folder." >&2
    exit 2
fi
if [[ "$DEVICE" == cuda* ]] && ! "$PYTHON" -c "import sys, torch; sys.exit(not torch.cuda.is_available())"; then
    echo "gpu_smoke: no CUDA GPU is visible to $PYTHON (torch.cuda.is_available() is False)." >&2
    exit 2
fi

RUN="$OUT/qwen25vl3b"
echo "== run: $MODEL on $SPEC ($N mcq + $N soe problems) -> $RUN"
"$PYTHON" -m restplus run "$SPEC" --model "hf:$MODEL" --device "$DEVICE" --dtype "$DTYPE" \
    --batch-size "$BATCH" --problems mcq,soe --n "$N" --out "$RUN" --name qwen25vl3b --no-progress

# An analysis that cannot be estimated is a failed check, but the sanity checks below still run:
# their messages say why (e.g. no row passed the OCR gate).
ANALYSE_FAILED=0
echo "== effects (gated: rows whose OCR failed are excluded)"
"$PYTHON" -m restplus analyse "$RUN" || ANALYSE_FAILED=1
echo "== effects (ungated)"
"$PYTHON" -m restplus analyse "$RUN" --gate-policy ignore || ANALYSE_FAILED=1

echo "== sanity checks"
"$PYTHON" - "$RUN" "$MIN_OCR_EXACT" <<'PY'
import json
import sys

import polars as pl

run, min_exact = sys.argv[1], float(sys.argv[2])
t = pl.read_parquet(f"{run}/results.parquet")
manifest = json.loads(open(f"{run}/manifest.json", encoding="utf-8").read())
failures = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)


check(manifest.get("status") == "complete", f"run status is complete (got {manifest.get('status')!r})")
err = t["error"].is_not_null().mean()
check(err <= 0.02, f"failed requests <= 2% (got {err:.1%})")

solve = t.filter(pl.col("prompt_type") == "solve")
pix = solve.filter(pl.col("modality") != "text")
hi = pix.filter((pl.col("dpi") == "200") & pl.col("ocr_cer").is_not_null())
exact = (hi["ocr_cer"] == 0).mean() if hi.height else 0.0
check(hi.height > 0 and exact >= min_exact,
      f"OCR CER = 0 on >= {min_exact:.0%} of {hi.height} 200-DPI renders (got {exact:.1%})")

mcq_text = solve.filter((pl.col("modality") == "text") & (pl.col("task") == "mcq") & pl.col("correct").is_not_null())
acc = mcq_text["correct"].mean() if mcq_text.height else 0.0
check(mcq_text.height > 0 and acc > 0.25, f"text accuracy on 4-option mcq above chance 0.25 (got {acc:.2f}, "
      f"n={mcq_text.height})")

tokens = pix.group_by("dpi").agg(pl.col("vision_tokens").mean())
by_dpi = dict(tokens.iter_rows())
check(by_dpi.get("200", 0) > by_dpi.get("50", 0),
      f"200-DPI renders -> more vision tokens than 50-DPI ({by_dpi.get('200')} vs {by_dpi.get('50')})")

print(f"\naccuracy by modality:\n{solve.group_by('modality').agg(pl.col('correct').mean()).sort('modality')}")
sys.exit(1 if failures else 0)
PY
if [[ "$ANALYSE_FAILED" != 0 ]]; then
    echo "FAIL  restplus analyse could not estimate the effects (see above)" >&2
    exit 1
fi
echo "gpu_smoke: all checks passed ($RUN)"
