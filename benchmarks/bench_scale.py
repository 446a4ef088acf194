"""Logs larger than memory: peak RSS and rows/s of ``rlopt validate`` and ``rlopt reward train`` by log size.

Run: ``nice -n 10 python -m benchmarks.bench_scale [--sizes 1000000,5000000,20000000] [--train-sizes 1000000]``.
Writes ``benchmarks/results/scale.json``.

For each size it writes N valid synthetic impressions (``benchmarks.bench_validate.make_logs``, seeded per
shard) as a folder of 1M-row Parquet shards -- generated shard by shard, so the generator's memory does
not grow with N -- and runs, each in a fresh process under ``/usr/bin/time -v`` (its "Maximum resident
set size" is the peak RSS):

- ``rlopt validate --logs <folder>`` (record batches, DuckDB whole-table checks);
- at ``--baseline-rows`` (default 1M): the same rows as ONE Parquet file, validated by the in-memory path
  and by the batches (``RLOPT_STREAM=memory|batches`` picks the path for this benchmark), in the same run,
  so the two paths are compared on the same machine and load;
- ``rlopt reward train`` at each ``--train-sizes`` (bounded input: validated in batches, a seeded uniform
  sample of rows trains; what was done is in its JSON).

The load average (``os.getloadavg``) before and after each command is recorded: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.bench_validate import PLACEMENTS, make_catalog, make_logs
from rlopt.data import write_placements, write_table
from rlopt.io_utils import write_json_atomic
from rlopt.machine import cpu_label

RESULTS = Path(__file__).resolve().parent / "results" / "scale.json"
SHARD_ROWS = 1_000_000
DAY_MS = 86_400_000
TRAIN_ARGS = ("--max-epochs", "3")  # peak memory does not grow with epochs; keeps the run short on 2 cores
_DRIVER = """
import os, sys
import rlopt.data.stream as stream
mode = os.environ.get("RLOPT_STREAM")
if mode == "memory":
    stream.should_stream = lambda path: False
elif mode == "batches":
    stream.should_stream = lambda path: True
from rlopt.cli import main
sys.argv = ["rlopt", *sys.argv[1:]]
main()
"""


def write_shards(n: int, folder: Path, catalog, seed: int) -> Path:
    """``n`` impressions as ``part-00000.parquet`` ... (``SHARD_ROWS`` each); shard k covers day k*30 ..."""
    manifest = folder.parent / f"{folder.name}.json"  # lets --work reuse shards with the same recipe
    recipe = {"rows": n, "seed": seed, "shard_rows": SHARD_ROWS}
    if manifest.is_file() and json.loads(manifest.read_text()) == recipe:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for k, start in enumerate(range(0, n, SHARD_ROWS)):
        rows = min(SHARD_ROWS, n - start)
        df = make_logs(rows, catalog, np.random.default_rng([seed, k]))
        df["event_id"] = np.char.add("ev-", np.arange(start, start + rows).astype(str))
        df["timestamp"] = df["timestamp"] + k * 30 * DAY_MS  # shards follow each other in time
        write_table(df, folder / f"part-{k:05d}.parquet")
        del df
    write_json_atomic(manifest, recipe)
    return folder


def timed(args: list[str], env: dict[str, str] | None = None) -> dict:
    """Run ``python -c DRIVER args`` under ``/usr/bin/time -v``: wall s, peak RSS MB, exit code, stdout JSON."""
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-c", _DRIVER, *args], capture_output=True,
                          text=True, check=False, env={**os.environ, **(env or {})})
    wall = time.perf_counter() - t0
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    cpu = [float(x) for x in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", proc.stderr)]
    out = {"wall_s": round(wall, 2), "cpu_s": round(sum(cpu), 2),
           "peak_rss_mb": round(int(rss.group(1)) / 1024, 1) if rss else None, "exit_code": proc.returncode,
           "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2)}
    if proc.returncode != 0:
        out["stderr_tail"] = proc.stderr[-2000:]
    try:
        out["result"] = json.loads(proc.stdout)
    except json.JSONDecodeError:
        out["result"] = None
        out["stdout_tail"] = proc.stdout[-2000:]
    return out


def validate_args(logs: Path, catalog: Path, placements: Path) -> list[str]:
    return ["validate", "--logs", str(logs), "--catalog", str(catalog), "--placements", str(placements), "--json"]


def run(sizes: list[int], train_sizes: list[int], baseline_rows: int, seed: int, workdir: Path,
        keep: bool = False) -> dict:
    rng = np.random.default_rng(seed)
    catalog = make_catalog(2_000, rng)
    cat_path = write_table(catalog, workdir / "catalog.parquet")
    place_path = write_placements(PLACEMENTS, workdir / "placements.toml")
    runs: list[dict] = []
    if baseline_rows:
        single = workdir / "single.parquet"
        write_table(make_logs(baseline_rows, catalog, np.random.default_rng([seed, 0])), single)
        for mode in ("memory", "batches"):
            r = timed(validate_args(single, cat_path, place_path), {"RLOPT_STREAM": mode})
            runs.append({"command": "validate", "input": "one file", "path": mode, "rows": baseline_rows, **r,
                         "rows_per_s": int(baseline_rows / r["wall_s"])})
            print(json.dumps({k: v for k, v in runs[-1].items() if k != "result"}), flush=True)
        single.unlink()
    for n in sorted(set(sizes) | set(train_sizes)):
        folder = write_shards(n, workdir / f"logs-{n}", catalog, seed)
        shards = sorted(folder.glob("part-*.parquet"))
        mb = sum(f.stat().st_size for f in shards) / 2**20
        if n in sizes:
            r = timed(validate_args(folder, cat_path, place_path))
            if r["exit_code"] != 0 or not r["result"] or r["result"]["rows_valid"] != n:
                raise SystemExit(f"rlopt validate failed on {n:,} rows: {r}")
            runs.append({"command": "validate", "input": f"{len(shards)} Parquet shards",
                         "path": "batches", "rows": n, "input_mb": round(mb, 1), **r,
                         "rows_per_s": int(n / r["wall_s"])})
            runs[-1]["result"] = {k: runs[-1]["result"][k] for k in ("rows_read", "rows_valid", "read")}
            print(json.dumps(runs[-1]), flush=True)
        if n in train_sizes:
            out_dir = workdir / f"model-{n}"
            r = timed(["reward", "train", "--logs", str(folder), "--catalog", str(cat_path), "--out", str(out_dir),
                       "--json", "--seed", str(seed), *TRAIN_ARGS])
            res = r.pop("result") or {}
            runs.append({"command": "reward train", "input": "Parquet shards", "rows": n, "input_mb": round(mb, 1),
                         **r, "rows_per_s": int(n / r["wall_s"]),
                         "input_reading": res.get("input"), "n_train": res.get("n_train"),
                         "valid_click_auc": res.get("valid_click_auc"), "health": (res.get("health") or {}).get("status")})
            print(json.dumps(runs[-1]), flush=True)
            shutil.rmtree(out_dir, ignore_errors=True)
        if not keep:
            shutil.rmtree(folder)
    return {
        "benchmark": "bench_scale", "seed": seed, "shard_rows": SHARD_ROWS, "train_args": list(TRAIN_ARGS),
        "targets": {"validate_20M_peak_rss_mb": 2048, "validate_rows_per_s": 300_000,
                    "reward_train_20M_peak_rss_mb": 4096},
        "machine": {"cpu": cpu_label(), "cpus": os.cpu_count(), "python": sys.version.split()[0],
                    "mem_total_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)},
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,5000000,20000000")
    parser.add_argument("--train-sizes", default="")
    parser.add_argument("--baseline-rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--append", action="store_true", help="Add these runs to the runs already in --out.")
    parser.add_argument("--work", type=Path, default=None,
                        help="Keep the generated shards here and reuse them on the next run (default: a "
                             "temporary folder, removed afterwards)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    train = [int(s) for s in args.train_sizes.split(",") if s]
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)
        report = run(sizes, train, args.baseline_rows, args.seed, args.work, keep=True)
    else:
        with tempfile.TemporaryDirectory(prefix="rlopt-bench-scale-") as tmp:
            report = run(sizes, train, args.baseline_rows, args.seed, Path(tmp))
    if args.append and args.out.is_file():
        earlier = json.loads(args.out.read_text())
        if earlier.get("machine") != report["machine"]:
            raise SystemExit(f"{args.out} was measured on another machine; write to another --out")
        report["runs"] = earlier["runs"] + report["runs"]
    write_json_atomic(args.out, report)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
