#!/usr/bin/env bash
# The one-shot GPU check: what only a GPU can tell, in at most 8 minutes by construction, on the
# GPU machine as it is. That machine's Python has its own torch but not everything the check
# imports: benchmarks/gpu_wheels.sh downloads the rest here, as wheels, into .whl/, which travels
# with the check and is installed (--no-deps --target) into a folder of this run's. The whole check
# has 470 s (GANAUG_GPU_CHECK_SECONDS), the wheels' installation included: every step runs under
# its own timeout, cut to what is left of that budget (with the 2 s before each KILL), and a step
# the budget no longer reaches is recorded as no_time; every step writes its figures as it
# measures them; gpu_check.json and gpu_check.md are rewritten after every step and on exit
# (a trap), so a kill keeps what was measured. OUTDIR gets those two files and nothing else (a
# device call brings back 8): the steps' records and logs stay in a work folder, gathered into the
# JSON with each step's status and the last lines of its log.
#
#   benchmarks/gpu_check.sh OUTDIR            # on a machine with a CUDA GPU
#   benchmarks/gpu_check.sh --smoke OUTDIR    # the same steps on the CPU at tiny sizes (the test
#                                             # suite runs this with only the GPU machine's
#                                             # packages importable)
#
# The steps (benchmarks/gpu_check.py STEP; the measuring ones in gpu_check_steps.py), in order,
# with their timeouts in seconds:
#   preflight   25  versions, the device, every import the check needs, torch >= pyproject's lowest
#   gan_step    60  GAN iterations/s at 256 px: TF32, bf16, the CUDA-graph critic step; graph vs eager
#   precision   40  100 iterations from one initialisation: fp32 against TF32 and bf16
#   resume      40  SIGTERM -> resume on CUDA against an uninterrupted run (deterministic: true)
#   agreement   45  CPU against GPU: classifier probabilities, generator pixels, LPIPS, Inception pool
#   fit         70  ResNet-50, DenseNet-121, EfficientNet-B0 training steps (bf16), TF32, two at once,
#                   the host's cost an op
#   generators  50  the DDPM's UNet training step (TF32, bf16) and DDIM, StyleGAN2-ADA's minibatch at
#                   paper256 (TF32, bf16, ADA's p): neither has run on a GPU before
#   checkpoint  20  a GPU-written checkpoint and generator.pt loaded and sampled on the CPU
#   lpips       20  curate_lpips' features and distances at 632 x 210, 256 px
#   snakemake   50  train_gan through Snakemake on CUDA on a tiny phantom set (slot claim, rule path)
#   projection  35  benchmarks/study_cost.py anchored and with the measured step times (the count
#                   of every step on the meta device is most of it: about 25 s on this project's CPU)
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
BUDGET=${GANAUG_GPU_CHECK_SECONDS:-470}
DEADLINE=$((SECONDS + BUDGET))
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")

# the carried wheels: installed beside the machine's own packages, never over them
WHEELS=${GANAUG_WHEELS:-$ROOT/.whl}
install() { timeout 60 "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$WORK/site" "$@" >>"$WORK/wheels.log" 2>&1; }
if compgen -G "$WHEELS/*.whl" >/dev/null; then
    if install "$WHEELS"/*.whl; then
        echo "installed $(ls "$WHEELS"/*.whl | wc -l) wheels from $WHEELS" >>"$WORK/wheels.log"
    else # one bad wheel must not keep the others out: one at a time, each failure named
        for w in "$WHEELS"/*.whl; do install "$w" || echo "FAILED: $(basename "$w")" >>"$WORK/wheels.log"; done
        echo "installed the wheels in $WHEELS one at a time: $(grep -c '^FAILED' "$WORK/wheels.log") failed" \
            >>"$WORK/wheels.log"
    fi
    export PYTHONPATH="$WORK/site${PYTHONPATH:+:$PYTHONPATH}"
else
    echo "no wheels in $WHEELS (benchmarks/gpu_wheels.sh downloads them)" >"$WORK/wheels.log"
fi

if [[ $SMOKE -eq 0 ]] && ! timeout 30 "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu_check: torch sees no CUDA device (use --smoke for the CPU run)" >&2
    exit 2
fi
FLAG=()
[[ $SMOKE -eq 1 ]] && FLAG=(--smoke)

STEPS=(preflight gan_step precision resume agreement fit generators checkpoint lpips snakemake projection)
declare -A LIMIT=([preflight]=25 [gan_step]=60 [precision]=40 [resume]=40 [agreement]=45 [fit]=70
    [generators]=50 [checkpoint]=20 [lpips]=20 [snakemake]=50 [projection]=35)
# The smoke run only shows that every step runs; on a slow or loaded CPU its tiny steps can take
# longer than a GPU's real ones (the projection's count once took over 20 s beside the suite), so
# its limits are wide, not the GPU budget (unless GANAUG_GPU_CHECK_SECONDS sets one): no test may
# hang on the machine's speed.
if [[ $SMOKE -eq 1 ]]; then
    for s in "${STEPS[@]}"; do LIMIT[$s]=$((LIMIT[$s] * 6)); done
    [[ -n "${GANAUG_GPU_CHECK_SECONDS:-}" ]] || DEADLINE=$((SECONDS + 100000))
fi
declare -A STATUS SECONDS_TAKEN
for s in "${STEPS[@]}"; do STATUS[$s]=not_run; SECONDS_TAKEN[$s]=""; done

summarise() {
    local args=()
    for s in "${STEPS[@]}"; do args+=("$s=${STATUS[$s]}:${SECONDS_TAKEN[$s]}:${LIMIT[$s]}"); done
    "$PY" benchmarks/gpu_check_summary.py "$OUT" "$WORK" "$SMOKE" "${args[@]}" >/dev/null 2>>"$WORK/summary.log" ||
        echo "gpu_check: the summary failed: $(tail -n 3 "$WORK/summary.log")" >&2
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
rm -f "$OUT"/gpu_check.json "$OUT"/gpu_check.md # an earlier run's figures are never shown as this run's

for s in "${STEPS[@]}"; do
    t0=$SECONDS
    left=$((DEADLINE - SECONDS - 2)) # the 2 s before a KILL
    if ((left < 1)); then
        STATUS[$s]=no_time
        echo "== $s: no time left of the ${BUDGET} s" >&2
        continue
    fi
    ((left < LIMIT[$s])) && LIMIT[$s]=$left
    echo "== $s (at most ${LIMIT[$s]} s)" >&2
    CURRENT=$s
    # in the background, so a TERM to this script is handled at once (bash runs a trap only
    # between commands), and the step's own timeout still holds
    PYTHONUNBUFFERED=1 timeout --kill-after=2 "${LIMIT[$s]}" "$PY" benchmarks/gpu_check.py "$s" "$WORK" "${FLAG[@]}" \
        >"$WORK/$s.log" 2>&1 &
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
