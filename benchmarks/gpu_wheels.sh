#!/usr/bin/env bash
# The wheels benchmarks/gpu_check.sh needs on the GPU machine, downloaded here: every package in
# benchmarks/gpu_machine/wheels.txt at its pinned version, for that machine's Python (3.12) on
# manylinux x86_64, without dependencies (the list holds them all), into .whl/ (git-ignored),
# which the device call carries (carry: [".whl"]) and gpu_check.sh installs with --no-deps
# --target beside the machine's own torch. A package published only as source is built into a
# wheel here (pure Python). The carried wheels and the working tree must stay under 64 MiB.
#
#   benchmarks/gpu_wheels.sh [DEST]      # DEST defaults to .whl
#   benchmarks/gpu_wheels.sh --list      # what it would fetch, nothing downloaded
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-$ROOT/.venv/bin/python}
[[ -x "$PY" ]] || PY=python3
mapfile -t PINS < <(sed 's/#.*//; s/[[:space:]]//g; /^$/d' "$ROOT/benchmarks/gpu_machine/wheels.txt")
if [[ "${1:-}" == "--list" ]]; then
    printf '%s\n' "${PINS[@]}"
    exit 0
fi
DEST=${1:-$ROOT/.whl}
mkdir -p "$DEST"
PLATFORMS=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_24_x86_64 manylinux_2_17_x86_64 \
    manylinux2014_x86_64 manylinux1_x86_64; do PLATFORMS+=(--platform "$p"); done
for pin in "${PINS[@]}"; do
    if ! "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        "${PLATFORMS[@]}" -d "$DEST" "$pin" 2>"$DEST/.download.err"; then
        # no wheel on the index: a source distribution, built here, which only does for pure Python
        echo "gpu_wheels: no wheel for $pin on the index ($(tail -n 1 "$DEST/.download.err")): building one" >&2
        "$PY" -m pip wheel -q --no-deps -w "$DEST" "$pin"
    fi
done
rm -f "$DEST/.download.err"
# every wheel must install on the GPU machine's CPython 3.12: pure Python, or built for cp312
bad=$(ls "$DEST"/*.whl | grep -Ev -- '-(py3|py2\.py3)-none-any\.whl$|-cp312-(cp312|abi3)-manylinux[^/]*x86_64\.whl$|-cp3[0-9]*-abi3-manylinux[^/]*x86_64\.whl$' || true)
if [[ -n "$bad" ]]; then
    echo "gpu_wheels: these would not install on the GPU machine's CPython 3.12 (x86_64):" >&2
    echo "$bad" >&2
    exit 1
fi
n=$(ls "$DEST"/*.whl | wc -l)
size=$(du -sm "$DEST" | cut -f1)
tree=$(cd "$ROOT" && git ls-files -z | du -cm --files0-from=- | tail -1 | cut -f1)
echo "$n wheels, $size MiB in $DEST; the tracked tree is $tree MiB: $((size + tree)) of the 64 MiB a call carries"
if ((size + tree >= 64)); then
    echo "gpu_wheels: over the 64 MiB a device call carries" >&2
    exit 1
fi
