"""Speed of reading + validating impression logs (the data contract), against plain pandas reads.

Run: ``python -m benchmarks.bench_validate [--rows 1000000] [--formats parquet,csv,jsonl]``.
Writes ``benchmarks/results/data.json`` and prints a table.

For each format it generates the same ``--rows`` valid synthetic rows (NumPy, seeded), writes
them with ``rlopt.data.write_table`` and times, in this process:

- baseline: the plain pandas reader of that file (``pd.read_parquet`` / ``pd.read_csv`` /
  ``pd.read_json(lines=True)``), no checks;
- ``read_logs``: rlopt's reader + every contract rule + normalization (what ``rlopt validate`` does);
- ``validate_table`` alone on the already-read frame (the rule engine's own cost);
- ``read_logs(on_error="quarantine")`` on a copy with 1% of rows broken (writes the quarantine file);
- ``rlopt validate --json`` end to end in a fresh process (its wall time and peak RSS).

Each timing is the best wall-clock time of ``--repeats`` runs (``*_cpu_s``: the CPU time of that
run, less sensitive to other load on a shared machine). ``ratio`` = rlopt time / baseline time.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from rlopt.data import Placement, read_catalog, read_logs, validate_table, write_placements, write_table
from rlopt.data.io import read_table
from rlopt.io_utils import write_json_atomic

RESULTS = Path(__file__).resolve().parent / "results" / "data.json"
PLACEMENTS = {
    "push": Placement("push", 60, 1, (1.0,)),
    "home_banner": Placement("home_banner", 90, 3, (1.0, 0.7, 0.5)),
    "email_subject": Placement("email_subject", 50, 1, (0.9,)),
    "product_page": Placement("product_page", 200, 4, (1.0, 0.8, 0.6, 0.4)),
}


def make_catalog(n_items: int, rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame({
        "item_id": [f"sku-{i:06d}" for i in range(n_items)],
        "title": [f"Item {i}" for i in range(n_items)],
        "category": rng.choice(["shoes", "outerwear", "gear", "home", "beauty"], n_items),
        "brand": rng.choice(["Acme", "Nimbus", "Orbit", "Zephyr"], n_items),
        "price": rng.uniform(5, 300, n_items).round(2),
        "discount_pct": rng.choice([0.0, 10.0, 20.0, 50.0], n_items),
        "attributes": [{"color": c} for c in rng.choice(["red", "blue", "green"], n_items)],
    })


def make_logs(n: int, catalog: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """``n`` valid impressions: 50k users (features per user), 5 segments, 20k copy texts, ~5% CTR."""
    names = np.array(list(PLACEMENTS))
    placement = rng.choice(names, n)
    slots = pd.Series(placement).map({k: v.slots for k, v in PLACEMENTS.items()}).to_numpy()
    position = np.floor(rng.random(n) * slots).astype(np.int64)
    clicked = (rng.random(n) < 0.05).astype(np.int64)
    converted = clicked * (rng.random(n) < 0.2).astype(np.int64)
    price = catalog["price"].to_numpy()
    item_idx = rng.integers(0, len(catalog), n)
    n_users = 50_000
    users = rng.integers(0, n_users, n)
    features = np.empty(n_users, dtype=object)  # user-level features, repeated on each impression
    features[:] = [{"age": int(a), "loyalty": float(lo), "tier": t} for a, lo, t in zip(
        rng.integers(18, 80, n_users), rng.random(n_users).round(3), rng.choice(["gold", "std"], n_users),
        strict=True)]
    texts = np.array([f"Copy variant {k}: save big on your next order" for k in range(20_000)], dtype=object)
    return pd.DataFrame({
        "event_id": np.char.add("ev-", np.arange(n).astype(str)),
        "timestamp": 1_735_689_600_000 + np.sort(rng.integers(0, 30 * 86_400_000, n)),
        "user_id": np.char.add("u-", users.astype(str)),
        "segment": rng.choice(["bargain_hunters", "brand_loyalists", "new", "window", "vip"], n),
        "user_features": features[users],
        "item_id": catalog["item_id"].to_numpy()[item_idx],
        "placement": placement,
        "position": position,
        "copy_text": texts[rng.integers(0, len(texts), n)],
        "propensity": rng.uniform(0.01, 1.0, n),
        "clicked": clicked,
        "converted": converted,
        "revenue": np.where(converted == 1, price[item_idx], 0.0),
    })


def break_rows(df: pd.DataFrame, fraction: float, rng: np.random.Generator) -> tuple[pd.DataFrame, int]:
    """Copy of ``df`` with ``fraction`` of rows given an out-of-range propensity or clicked value."""
    bad = df.copy()
    idx = rng.choice(len(df), int(len(df) * fraction), replace=False)
    half = len(idx) // 2
    bad.loc[idx[:half], "propensity"] = 1.5
    bad.loc[idx[half:], "clicked"] = 2
    return bad, len(idx)


def baseline_reader(fmt: str, path: Path) -> pd.DataFrame:
    if fmt == "parquet":
        return pd.read_parquet(path)
    if fmt == "csv":
        return pd.read_csv(path)
    return pd.read_json(path, lines=True)


_CLI = """
import resource, sys, time
from rlopt.cli import main
sys.argv = ["rlopt", "validate", *sys.argv[1:]]
t0, code = time.perf_counter(), 0
try:
    main()
except SystemExit as exc:
    code = exc.code
try:  # VmHWM is this exec'd image's own peak; ru_maxrss would also count the forking parent
    with open("/proc/self/status") as fh:
        peak_kb = int(next(s for s in fh if s.startswith("VmHWM:")).split()[1])
except (OSError, StopIteration):
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(f"BENCH {time.perf_counter() - t0} {peak_kb} {code}", file=sys.stderr)
"""


def run_cli(logs: Path, catalog: Path, placements: Path) -> tuple[float, float]:
    """``rlopt validate`` in a fresh process: (wall seconds inside it, its peak RSS in MB)."""
    proc = subprocess.run([sys.executable, "-c", _CLI, "--logs", str(logs), "--catalog", str(catalog),
                           "--placements", str(placements), "--json"], capture_output=True, text=True,
                          check=False)
    line = [s for s in proc.stderr.splitlines() if s.startswith("BENCH ")][-1].split()
    assert line[3] in ("0", "None"), proc.stderr
    return float(line[1]), int(line[2]) / 1024


def best_of(repeats: int, fn) -> tuple[float, object]:
    """Best wall-clock seconds of ``repeats`` calls (CPU seconds of that call in ``LAST_CPU``)."""
    best, out = float("inf"), None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall = time.perf_counter() - t0
        if wall < best:
            best = wall
            LAST_CPU[0] = time.process_time() - c0
    return best, out


LAST_CPU = [0.0]


def run(rows: int, formats: list[str], repeats: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    catalog = make_catalog(2_000, rng)
    logs = make_logs(rows, catalog, rng)
    broken, n_broken = break_rows(logs, 0.01, rng)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        cat_path = write_table(catalog, d / "catalog.parquet")
        cat = read_catalog(cat_path)
        place_path = write_placements(PLACEMENTS, d / "placements.toml")
        for fmt in formats:
            path = d / f"logs.{fmt}"
            t_write, _ = best_of(1, lambda p=path: write_table(logs, p))
            bad_path = write_table(broken, d / f"broken.{fmt}")
            t_base, _ = best_of(repeats, lambda f=fmt, p=path: baseline_reader(f, p))
            cpu_base = LAST_CPU[0]
            t_read_table, raw = best_of(repeats, lambda p=path: read_table(p, decode_json=False))
            t_rules, _ = best_of(repeats, lambda r=raw: validate_table(r, "logs", catalog_ids=cat["item_id"],
                                                                        placements=PLACEMENTS))
            t_logs, clean = best_of(repeats, lambda p=path: read_logs(p, cat, PLACEMENTS))
            cpu_logs = LAST_CPU[0]
            assert len(clean) == rows
            t_quar, qclean = best_of(1, lambda p=bad_path: read_logs(p, cat, PLACEMENTS, on_error="quarantine",
                                                                    quarantine_path=d / "q.jsonl"))
            assert qclean.attrs["validation"]["rows_quarantined"] == n_broken
            cli_s, cli_rss = run_cli(path, cat_path, place_path)
            results.append({
                "format": fmt, "rows": rows, "file_mb": round(path.stat().st_size / 2**20, 1),
                "write_s": round(t_write, 3), "baseline_read_s": round(t_base, 3),
                "read_table_s": round(t_read_table, 3), "rules_only_s": round(t_rules, 3),
                "read_logs_s": round(t_logs, 3), "ratio_vs_baseline": round(t_logs / t_base, 2),
                "baseline_cpu_s": round(cpu_base, 3), "read_logs_cpu_s": round(cpu_logs, 3),
                "rows_per_s": int(rows / t_logs), "quarantine_1pct_s": round(t_quar, 3),
                "rows_quarantined": n_broken, "cli_validate_s": round(cli_s, 3),
                "cli_peak_rss_mb": round(cli_rss, 1),
            })
            del raw, clean, qclean
    return {
        "benchmark": "bench_validate", "rows": rows, "repeats": repeats, "seed": seed,
        "target": "read_logs (+validation) of 1,000,000 rows < 20 s on 2 cores",
        "machine": {"python": platform.python_version(), "pandas": pd.__version__, "cpus": os.cpu_count(),
                    "platform": platform.platform()},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "results": results,
    }


def print_table(report: dict) -> None:
    cols = ["format", "rows", "file_mb", "baseline_read_s", "read_table_s", "rules_only_s", "read_logs_s",
            "ratio_vs_baseline", "read_logs_cpu_s", "rows_per_s", "quarantine_1pct_s", "cli_validate_s",
            "cli_peak_rss_mb"]
    print(" | ".join(cols))
    print(" | ".join("---" for _ in cols))
    for r in report["results"]:
        print(" | ".join(str(r[c]) for c in cols))
    print(f"peak RSS of this process: {report['peak_rss_mb']} MB (includes the pandas baselines)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--formats", default="parquet,csv,jsonl")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    report = run(args.rows, args.formats.split(","), args.repeats)
    write_json_atomic(args.out, report)
    print_table(report)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
