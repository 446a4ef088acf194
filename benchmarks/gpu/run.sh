#!/usr/bin/env bash
# The GPU benchmark on a machine with one CUDA GPU and no package index (see benchmarks/gpu/README.md).
#
# From a checkout carrying .whl/ (scripts/fetch_gpu_wheels.sh):
#   bash benchmarks/gpu/run.sh [bench_gpu.py options]   -> $OUT/gpu.json, $OUT/gpu.log
#   bash benchmarks/gpu/run.sh --pytest                 -> pytest -m gpu tests/gpu, $OUT/pytest-gpu.log
# $OUT defaults to benchmarks/results. Installs only the carried wheels this machine lacks
# (benchmarks/gpu/pick_wheels.py), into a folder of its own put first on PYTHONPATH; downloads nothing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
PY="${PYTHON:-python3}"
OUT_DIR="${OUT:-benchmarks/results}"
SITE="${RLOPT_GPU_SITE:-/tmp/rlopt-gpu-site}"
mkdir -p "$OUT_DIR"

# A folder this script made earlier (it holds the marker) is emptied, so no stale wheel shadows a choice.
if [ -f "$SITE/.rlopt-gpu-site" ]; then rm -rf "$SITE"; fi
mkdir -p "$SITE" && touch "$SITE/.rlopt-gpu-site"
wheels=$("$PY" benchmarks/gpu/pick_wheels.py benchmarks/gpu/wheels.txt .whl)
if [ -n "$wheels" ]; then
    # shellcheck disable=SC2086  # one wheel path per word
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" $wheels
fi
export PYTHONPATH="$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export RLOPT_CACHE="${RLOPT_CACHE:-/tmp/rlopt-cache}"

set +e
if [ "${1:-}" = "--pytest" ]; then
    timeout -k 10 480 "$PY" -m pytest -q -p no:cacheprovider -m gpu tests/gpu 2>&1 | tee "$OUT_DIR/pytest-gpu.log"
else
    # bench_gpu.py stops starting measurements at 390 s and cuts one at 450 s; this is the last resort
    timeout -k 10 480 "$PY" benchmarks/gpu/bench_gpu.py --out "$OUT_DIR/gpu.json" "$@" 2>&1 | tee "$OUT_DIR/gpu.log"
fi
exit "${PIPESTATUS[0]}"
