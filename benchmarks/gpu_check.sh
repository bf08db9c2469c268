#!/usr/bin/env bash
# The one-shot GPU check: everything that only a GPU can tell, in one script of under 8 minutes
# on one H100. Writes gpu_check.json (every figure) and gpu_check.md (a short summary) to OUTDIR.
#
#   benchmarks/gpu_check.sh OUTDIR            # on a machine with one CUDA GPU
#   benchmarks/gpu_check.sh --smoke OUTDIR    # the same steps on the CPU at tiny sizes (the test
#                                             # suite runs this, so the script is known to run)
#
# It measures, each step's JSON kept beside the summary:
#   1. GAN iterations per second at 256 px, batch 16: fp32, TF32 and bf16, each with and without
#      torch.compile of the generator, and this code's step against the previous one and the
#      study's loop (benchmarks/bench_gan_step.py);
#   2. classifier training images per second for each architecture at 256 px, fp32 against
#      bf16 autocast + channels_last (benchmarks/bench_classifier.py);
#   3. the gan_metrics stage at the study's size (benchmarks/bench_gan_metrics.py);
#   4. the demo workflow end to end with device: cuda, its outputs checked by the workflow tests
#      (tests/workflow/test_demo.py with GANAUG_TEST_DEVICE=cuda). In --smoke mode this step is
#      a dry run (the suite runs the demo tests on the CPU itself).
# A step that fails is recorded as failed, with its log, and the others still run; the exit
# status is 1 if any failed.
set -uo pipefail

SMOKE=0
if [[ "${1:-}" == "--smoke" ]]; then
    SMOKE=1
    shift
fi
if [[ $# -ne 1 ]]; then
    echo "usage: $0 [--smoke] OUTDIR" >&2
    exit 2
fi
OUT=$1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-$ROOT/.venv/bin/python}
[[ -x "$PY" ]] || PY=python3
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
cd "$ROOT"

if [[ $SMOKE -eq 1 ]]; then
    DEVICE=cpu
    GAN=(--configs demo --precisions fp32 --compile off --iterations 2 --rounds 2 --warmup 1 --no-whole-loop)
    CLS=(--sizes 32 --images 8 --epochs 1 --batch 4 --archs resnet50,timm/tf_efficientnet_lite0)
    MET=(--smoke)
else
    DEVICE=cuda
    if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
        echo "gpu_check: torch sees no CUDA device (use --smoke for the CPU run)" >&2
        exit 2
    fi
    GAN=(--configs full --precisions fp32,tf32,bf16 --compile both --iterations 30 --warmup 5 --no-whole-loop)
    CLS=(--sizes 256 --images 384 --epochs 2 --gpu
        --archs resnet50,densenet121,efficientnet_b0,timm/tf_efficientnet_lite0)
    MET=()
fi

declare -A STATUS SECONDS_TAKEN
step() { # step NAME COMMAND...: run it, log it, time it, record pass/fail
    local name=$1
    shift
    local t0=$SECONDS
    echo "== $name: $*" >&2
    if "$@" >"$OUT/$name.log" 2>&1; then STATUS[$name]=passed; else STATUS[$name]=failed; fi
    SECONDS_TAKEN[$name]=$((SECONDS - t0))
    echo "== $name ${STATUS[$name]} in ${SECONDS_TAKEN[$name]} s" >&2
}

step gan_step "$PY" benchmarks/bench_gan_step.py --device "$DEVICE" "${GAN[@]}" --json "$OUT/gan_step.json"
step classifier "$PY" benchmarks/bench_classifier.py --device "$DEVICE" "${CLS[@]}" --json "$OUT/classifier.json"
step gan_metrics "$PY" benchmarks/bench_gan_metrics.py --device "$DEVICE" "${MET[@]}" --json "$OUT/gan_metrics.json"
if [[ $SMOKE -eq 1 ]]; then
    WD=$(mktemp -d)
    step demo "$PY" -m snakemake -s workflow/Snakefile -d "$WD" --configfile config/demo.yaml \
        --config device=cuda -n --quiet rules
    rm -rf "$WD"
else
    step demo env GANAUG_TEST_DEVICE=cuda "$PY" -m pytest -q -p no:cacheprovider tests/workflow/test_demo.py \
        --junitxml "$OUT/demo_junit.xml"
fi

STEPS="gan_step classifier gan_metrics demo"
STATUS_JSON=$(for s in $STEPS; do echo "$s=${STATUS[$s]}:${SECONDS_TAKEN[$s]}"; done)
"$PY" benchmarks/gpu_check_summary.py "$OUT" "$SMOKE" $STATUS_JSON
for s in $STEPS; do
    [[ "${STATUS[$s]}" == passed ]] || exit 1
done
