#!/usr/bin/env bash
# Download the wheels of benchmarks/gpu/wheels.txt into .whl/ for a GPU machine with no package index
# (CPython 3.12, manylinux x86_64; benchmarks/gpu/run.sh installs the ones that machine lacks).
# .whl/ is kept out of git through .git/info/exclude. Prints what must travel with the working tree.
#
# Usage: scripts/fetch_gpu_wheels.sh            (from anywhere in the checkout; PYTHON=... to pick pip's interpreter)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY="${PYTHON:-.venv/bin/python}"
exclude="$(git rev-parse --git-path info/exclude)"
mkdir -p "$(dirname "$exclude")"
grep -qxF '/.whl/' "$exclude" 2>/dev/null || echo '/.whl/' >> "$exclude"
specs=$(sed -e 's/#.*//' benchmarks/gpu/wheels.txt | awk 'NF { print $1 }')
"$PY" -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl $specs
# the same check run.sh makes on the GPU machine, with every wheel required: nothing may be missing
"$PY" - <<'EOF'
import sys
from pathlib import Path

sys.path.insert(0, "benchmarks/gpu")
from pick_wheels import normalize, read_manifest, wheel_file

missing = [f"{normalize(w.name)}-{w.version}" for w in read_manifest(Path("benchmarks/gpu/wheels.txt"))
           if wheel_file(Path(".whl"), w) is None]
if missing:
    sys.exit(f"fetch_gpu_wheels: not downloaded: {', '.join(missing)}")
EOF
du -shc .whl benchmarks/gpu
