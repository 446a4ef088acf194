"""Run every benchmark (``python -m benchmarks.run_all [NAME ...]``) and list where results went.

Each ``benchmarks/bench_<area>.py`` measures its area against a baseline taken in the same run,
prints its own table and writes ``benchmarks/results/<area>.json``. This runner only sequences
them (one process each, so memory peaks are per benchmark) and stops at the first failure.
Some take minutes on 2 cores (reward: ~5 min, tuning: the real generator); name a subset to
run fewer, e.g. ``python -m benchmarks.run_all validate simulate``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def available() -> list[str]:
    """Names of the benchmark modules (``bench_<name>.py``)."""
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def main(argv: list[str]) -> int:
    names = argv or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available())}")
        return 2
    for name in names:
        print(f"== benchmarks.bench_{name}", flush=True)
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", f"benchmarks.bench_{name}"], cwd=HERE.parent)
        print(f"== bench_{name}: exit {done.returncode} in {time.perf_counter() - start:.0f} s", flush=True)
        if done.returncode != 0:
            return done.returncode
    for path in sorted((HERE / "results").glob("*.json")):
        print(f"results: {path.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
