#!/usr/bin/env bash
# The one-shot GPU check: what only a GPU can tell, in at most 8 minutes by construction. Every
# step runs under its own timeout (450 s in all; 470 s with the 2 s before each KILL), and
# gpu_check.json / gpu_check.md are rewritten after every step and on exit, however it comes (a
# trap), so a kill keeps what was measured.
#
#   benchmarks/gpu_check.sh OUTDIR            # on a machine with a CUDA GPU
#   benchmarks/gpu_check.sh --smoke OUTDIR    # the same steps on the CPU at tiny sizes (the test
#                                             # suite runs this, so the script is known to run)
#
# The steps (benchmarks/gpu_check.py STEP), in order, with their timeouts in seconds:
#   versions      20  imports and versions
#   gan_step      70  the GAN step in TF32 and bf16 against the previous step, achieved TFLOP/s
#   gan_compiled  70  the same with torch.compile of the generator (TF32)
#   precision     45  200 iterations from one initialisation: fp32 against TF32 and bf16
#   resume        45  SIGTERM -> resume on CUDA against an uninterrupted run (deterministic: true)
#   diffaugment   15  one DiffAugment step
#   fit           90  the real fit() on 2,000 cached images, TF32 against bf16, peak memory, two at once
#   decode        30  decoding by a fit against the decode_split arrays
#   lpips         45  curate_lpips' features and distances at 1,264 x 210, on the device
#   projection    20  benchmarks/study_cost.py with the measured rates
# A step that fails or times out is recorded so, and the others still run; the exit status is 1 if
# any did not pass.
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

if [[ $SMOKE -eq 0 ]] && ! timeout 30 "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu_check: torch sees no CUDA device (use --smoke for the CPU run)" >&2
    exit 2
fi
FLAG=()
[[ $SMOKE -eq 1 ]] && FLAG=(--smoke)

STEPS=(versions gan_step gan_compiled precision resume diffaugment fit decode lpips projection)
declare -A LIMIT=([versions]=20 [gan_step]=70 [gan_compiled]=70 [precision]=45 [resume]=45
    [diffaugment]=15 [fit]=90 [decode]=30 [lpips]=45 [projection]=20)
# The smoke run only shows that every step runs; on a slow or loaded CPU its tiny steps can take
# longer than a GPU's real ones (the projection's FLOP count once took over 20 s beside the
# suite), so its limits are wide, not the GPU budget: no test may hang on the machine's speed.
if [[ $SMOKE -eq 1 ]]; then
    for s in "${STEPS[@]}"; do LIMIT[$s]=$((LIMIT[$s] * 6)); done
fi
declare -A STATUS SECONDS_TAKEN
for s in "${STEPS[@]}"; do STATUS[$s]=not_run; SECONDS_TAKEN[$s]=""; done

summarise() {
    local args=()
    for s in "${STEPS[@]}"; do args+=("$s=${STATUS[$s]}:${SECONDS_TAKEN[$s]}:${LIMIT[$s]}"); done
    "$PY" benchmarks/gpu_check_summary.py "$OUT" "$SMOKE" "${args[@]}" >/dev/null 2>"$OUT/summary.err" || true
}
CURRENT="" PID=""
interrupted() { # a kill of the check stops the running step too, and says so
    if [[ -n "$PID" ]]; then
        kill -TERM "$PID" 2>/dev/null
        wait "$PID" 2>/dev/null
    fi
    [[ -n "$CURRENT" ]] && STATUS[$CURRENT]=interrupted
    exit 143
}
trap summarise EXIT
trap interrupted TERM INT
rm -f "$OUT"/*.json "$OUT"/*.md # an earlier run's figures are never shown as this run's

for s in "${STEPS[@]}"; do
    t0=$SECONDS
    echo "== $s (at most ${LIMIT[$s]} s)" >&2
    CURRENT=$s
    # in the background, so a TERM to this script is handled at once (bash runs a trap only
    # between commands), and the step's own timeout still holds
    timeout --kill-after=2 "${LIMIT[$s]}" "$PY" benchmarks/gpu_check.py "$s" "$OUT" "${FLAG[@]}" >"$OUT/$s.log" 2>&1 &
    PID=$!
    wait "$PID"
    rc=$?
    PID=""
    case $rc in
        0) STATUS[$s]=passed ;;
        124 | 137) STATUS[$s]=timeout ;;
        *) STATUS[$s]=failed ;;
    esac
    SECONDS_TAKEN[$s]=$((SECONDS - t0))
    echo "== $s ${STATUS[$s]} in ${SECONDS_TAKEN[$s]} s" >&2
    summarise
done
cat "$OUT/gpu_check.md"
for s in "${STEPS[@]}"; do
    [[ "${STATUS[$s]}" == passed ]] || exit 1
done
