"""Speed of ``rlopt simulate``: one million impressions, against floors measured in the same run.

Run: ``python -m benchmarks.bench_simulate [--impressions 1000000] [--repeats 1]``.
Writes ``benchmarks/results/market.json`` and prints a table.

Measurements (best of ``--repeats``; wall-clock seconds):

1. ``simulate``: ``Marketplace.from_toml`` + ``simulate(N)`` (shoppers, logging policy, ground truth,
   responses, contexts, the oracle summary with the logging policy's exact value on the holdout) and
   ``Simulation.write`` (catalog, logs, train, holdout, contexts, oracle.json, market.toml), by stage.
2. ``floor``: what any simulator of this size pays: NumPy drawing N Bernoulli clicks and N purchases
   and writing N rows with the same columns (strings included) to Parquet twice (logs, then
   train + holdout), with pyarrow directly. ``ratio = simulate / floor``.
3. ``truth per row``: the ground truth's text features computed per row (no distinct-text cache),
   timed on a sample and extrapolated to N, against the cached, vectorized truth on all N rows.
"""

from __future__ import annotations

import argparse
import platform
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from rlopt.io_utils import write_json_atomic
from rlopt.market import DEFAULT_MARKET, Marketplace
from rlopt.market.text_features import item_features, text_features

RESULTS = Path(__file__).resolve().parent / "results" / "market.json"


def run_simulate(n: int, seed: int, out: Path) -> dict[str, float]:
    """Seconds per stage (each runs until the next one starts) and the total."""
    marks: list[tuple[str, float]] = [("build market (config, catalog, pools, truth)", time.perf_counter())]
    market = Marketplace.from_toml(DEFAULT_MARKET)
    market.truth  # noqa: B018 - building the world is part of the cost
    sim = market.simulate(n, seed=seed, progress=lambda s: marks.append((s, time.perf_counter())))
    marks.append(("write files", time.perf_counter()))
    sim.write(out)
    end = time.perf_counter()
    times = {name: t_next - t for (name, t), (_, t_next) in zip(marks, [*marks[1:], ("end", end)], strict=True)}
    times["total"] = end - marks[0][1]
    return times


def run_floor(n: int, seed: int, out: Path) -> float:
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    clicked = rng.random(n) < 0.06
    converted = clicked & (rng.random(n) < 0.11)
    texts = np.array([f"copy text number {i}, about forty characters" for i in range(2000)], dtype=object)
    users = np.array([f'{{"price_sensitivity": {i / 5000:.4f}}}' for i in range(5000)], dtype=object)
    user = rng.integers(0, 5000, n)
    table = pa.table({
        "event_id": pa.array(np.char.add("ev", np.arange(n).astype(str)).astype(object)),
        "timestamp": np.arange(n, dtype=np.int64),
        "user_id": pa.array(np.char.add("u", user.astype(str)).astype(object)),
        "user_features": pa.array(users[user]),
        "copy_text": pa.array(texts[rng.integers(0, 2000, n)]),
        "position": rng.integers(0, 3, n),
        "propensity": rng.random(n),
        "clicked": clicked.astype(np.int64),
        "converted": converted.astype(np.int64),
    })
    pq.write_table(table, out / "floor_logs.parquet")
    cut = int(n * 0.8)
    pq.write_table(table.slice(0, cut), out / "floor_train.parquet")
    pq.write_table(table.slice(cut), out / "floor_holdout.parquet")
    return time.perf_counter() - t0


def truth_per_row(market: Marketplace, n: int, sample: int, seed: int) -> tuple[float, float]:
    """Seconds for the uncached per-row text features (extrapolated to n) and the cached truth on n rows."""
    sim = market.simulate(max(sample, 1000), seed=seed)
    rows = sim.logs.head(sample)
    truth = market.truth
    sets = {item: truth._item_sets[truth.item_index[item]] for item in rows["item_id"].unique()}
    t0 = time.perf_counter()
    for text, item in zip(rows["copy_text"], rows["item_id"], strict=True):
        text_features(text, truth.vocab)
        item_features(text, sets[item])
    per_row = (time.perf_counter() - t0) / sample * n
    codes = market.sample_codes(n, np.random.default_rng(seed))
    policy = market.logging_policy
    rows_idx = policy.rows_from_index(codes["item"], codes["placement"])
    pool_index, _ = policy.choose_rows(rows_idx, np.random.default_rng(seed))
    truth._text_cache.clear()
    truth._item_cache.clear()
    t0 = time.perf_counter()
    truth.logits_coded(rows_idx * market.pool_size + pool_index, market.pool_text_array.reshape(-1),
                       codes["item"], codes["segment"], codes["placement"],
                       market.user_feature_matrix[codes["user"]], codes["position"])
    return per_row, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impressions", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    n = args.impressions
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        sims = [run_simulate(n, args.seed, out / f"sim{r}") for r in range(args.repeats)]
        floors = [run_floor(n, args.seed, out) for _ in range(args.repeats)]
    sim = min(sims, key=lambda t: t["total"])
    floor = min(floors)
    per_row, cached = truth_per_row(Marketplace.from_toml(DEFAULT_MARKET), n, 20_000, args.seed)
    result = {
        "impressions": n,
        "repeats": args.repeats,
        "simulate_seconds": sim["total"],
        "simulate_stages_seconds": {k: v for k, v in sim.items() if k != "total"},
        "floor_seconds": floor,
        "ratio_simulate_over_floor": sim["total"] / floor,
        "truth_per_row_uncached_seconds_extrapolated": per_row,
        "truth_cached_vectorized_seconds": cached,
        "speedup_cached_truth": per_row / cached,
        "impressions_per_second": n / sim["total"],
        "target_seconds": 60.0,
        "meets_target": sim["total"] < 60.0,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "machine": {"python": platform.python_version(), "processor": platform.processor() or platform.machine(),
                    "cpus": __import__("os").cpu_count()},
    }
    write_json_atomic(RESULTS, result)
    width = max(len(k) for k in sim) + 4
    print(f"rlopt simulate benchmark: {n:,} impressions (best of {args.repeats})")
    print(f"{'measurement':<{width}} {'seconds':>9}")
    for key, value in sim.items():
        if key != "total":
            print(f"  {key:<{width - 2}} {value:9.2f}")
    print(f"{'simulate + write (total)':<{width}} {sim['total']:9.2f}")
    print(f"{'floor (numpy + parquet)':<{width}} {floor:9.2f}")
    print(f"{'ratio simulate / floor':<{width}} {sim['total'] / floor:9.2f}")
    print(f"{'truth, per-row features':<{width}} {per_row:9.2f}  (extrapolated)")
    print(f"{'truth, cached + vectorized':<{width}} {cached:9.2f}  ({per_row / cached:.0f}x faster)")
    print(f"{'peak RSS (MiB)':<{width}} {result['peak_rss_mib']:9.0f}")
    print(f"target < 60 s: {'met' if result['meets_target'] else 'MISSED'}; wrote {RESULTS}")


if __name__ == "__main__":
    main()
