"""Reward-model benchmark: quality against the oracle and a baseline, training time, scoring speed.

Run ``python -m benchmarks.bench_reward`` (``--impressions``, ``--foreign-impressions``, ``--quick``).
Writes ``benchmarks/results/reward.json`` and prints a table. Cases:

1. ``simulated``: ``rlopt.market`` logs (default market, time-split holdout). Frozen-mode reward model
   (default MiniLM) vs the oracle's AUC on the same holdout rows (ratio) and vs a logistic regression
   on hashed word 1-2 grams + context (same split, same run).
2. ``foreign``: contract logs rlopt's simulator did not make (:mod:`reward_models.synthetic`: other
   segments, placements, copy and response model); the truth's AUC comes from the generator.
3. ``scoring``: distinct copies per second through ``RewardModel.score`` (batched, sorted by length,
   inference mode) vs the same model scoring one copy per call (the unbatched baseline).

Click predictions on logged rows include the slot term (see ``reward_models.evaluate``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from reward_models import RewardModel, evaluate_reward_model, train_reward_model
from reward_models.baseline import HashedNgramBaseline
from reward_models.evaluate import prediction_metrics
from reward_models.synthetic import make_synthetic_logs
from reward_models.train import time_split
from rlopt.io_utils import write_json_atomic

RESULTS = Path(__file__).parent / "results" / "reward.json"
KEYS = ("click_auc", "click_logloss", "click_ece", "purchase_auc", "purchase_logloss", "purchase_ece")


def _quality(model: RewardModel, train: pd.DataFrame, holdout: pd.DataFrame, catalog: pd.DataFrame,
             truth: tuple[np.ndarray, np.ndarray], train_s: float) -> dict[str, Any]:
    model_m, _ = evaluate_reward_model(model, holdout, catalog)
    truth_m = prediction_metrics(holdout["clicked"].to_numpy(), holdout["converted"].to_numpy(), *truth)
    start = time.perf_counter()
    base = HashedNgramBaseline().fit(train, catalog)
    base_s = time.perf_counter() - start
    base_m = prediction_metrics(holdout["clicked"].to_numpy(), holdout["converted"].to_numpy(),
                                *base.predict(holdout, catalog))
    return {
        "n_train": len(train), "n_holdout": len(holdout), "distinct_train_copies": int(train["copy_text"].nunique()),
        "train_wall_s": round(train_s, 1), "best_epoch": model.config["metrics"]["best_epoch"],
        "model": {k: model_m[k] for k in KEYS}, "truth": {k: truth_m[k] for k in KEYS},
        "baseline_lr_hashed_ngrams": {**{k: base_m[k] for k in KEYS}, "fit_wall_s": round(base_s, 1)},
        "click_auc_ratio_vs_truth": model_m["click_auc"] / truth_m["click_auc"],
        "purchase_auc_ratio_vs_truth": model_m["purchase_auc"] / truth_m["purchase_auc"],
        "click_logloss_ratio_vs_baseline": model_m["click_logloss"] / base_m["click_logloss"],
        "purchase_logloss_ratio_vs_baseline": model_m["purchase_logloss"] / base_m["purchase_logloss"],
    }


def bench_simulated(n: int, seed: int, workdir: Path) -> tuple[dict[str, Any], RewardModel, pd.DataFrame]:
    from reward_models.oracle_compare import oracle_probabilities
    from rlopt.market import DEFAULT_MARKET, Marketplace, simulate

    sim = simulate(Marketplace.from_toml(DEFAULT_MARKET), n, seed=seed)
    sim.write(workdir / "sim")
    start = time.perf_counter()
    model = train_reward_model(sim.train, sim.catalog, seed=seed, progress=True)
    train_s = time.perf_counter() - start
    truth = oracle_probabilities(workdir / "sim", sim.holdout)
    return _quality(model, sim.train, sim.holdout, sim.catalog, truth, train_s), model, sim.catalog


def bench_foreign(n: int, seed: int) -> dict[str, Any]:
    data = make_synthetic_logs(n, n_items=40, rng=seed)
    train, holdout = time_split(data.logs, 0.2)
    start = time.perf_counter()
    model = train_reward_model(train, data.catalog, seed=seed, progress=True)
    train_s = time.perf_counter() - start
    truth = data.truth.loc[holdout.index]
    return _quality(model, train, holdout, data.catalog, (truth["p_click"].to_numpy(), truth["p_purchase"].to_numpy()),
                    train_s)


def _fresh_copies(catalog: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """``n`` distinct copy texts the encoder has not seen (so the cache does not help)."""
    rng = np.random.default_rng(seed)
    words = ("save", "today", "new", "premium", "free shipping", "limited", "shop now", "eco", "deal", "gift",
             "best seller", "bright", "durable", "fresh look", "comfort", "order now", "30% off", "classic")
    items = catalog.sample(n, replace=True, random_state=seed).reset_index(drop=True)
    texts = [f"{t} - {' '.join(rng.choice(words, size=rng.integers(2, 7)))} #{i}"
             for i, t in enumerate(items["title"])]
    return pd.DataFrame({"copy_text": texts, "item_id": items["item_id"], "segment": "bargain_hunters",
                         "placement": "home_banner"})


def bench_scoring(model: RewardModel, catalog: pd.DataFrame, n: int, n_unbatched: int) -> dict[str, Any]:
    frame = _fresh_copies(catalog, n, seed=1)
    model.encoder.clear_cache()
    model.score(frame.iloc[:64], catalog)  # warm-up (threads, allocator)
    model.encoder.clear_cache()
    start = time.perf_counter()
    model.score(frame, catalog)
    batched = n / (time.perf_counter() - start)
    single = _fresh_copies(catalog, n_unbatched, seed=2)
    start = time.perf_counter()
    for i in range(n_unbatched):
        model.score(single.iloc[i:i + 1], catalog)
    unbatched = n_unbatched / (time.perf_counter() - start)
    return {"distinct_copies": n, "copies_per_s": batched, "unbatched_copies_per_s": unbatched,
            "speedup_vs_unbatched": batched / unbatched, "max_length": model.encoder.max_length,
            "batch_size": model.encoder.batch_size, "torch_threads": torch.get_num_threads()}


def scoring_only(args: argparse.Namespace) -> dict[str, Any]:
    from rlopt.market import DEFAULT_MARKET, Marketplace, simulate

    sim = simulate(Marketplace.from_toml(DEFAULT_MARKET), 20_000, seed=args.seed)
    model = train_reward_model(sim.train, sim.catalog, seed=args.seed, progress=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    before = torch.get_num_threads()
    by_threads = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        by_threads[str(threads)] = bench_scoring(model, sim.catalog, args.score_copies, max(args.score_copies // 10, 20))
    torch.set_num_threads(before)
    results["scoring_by_threads"] = {**by_threads, "load_avg_1m": os.getloadavg()[0]}
    write_json_atomic(RESULTS, results)
    for t, r in by_threads.items():
        print(f"threads={t}: {r['copies_per_s']:.1f} distinct copies/s batched, {r['unbatched_copies_per_s']:.1f}/s "
              f"unbatched (x{r['speedup_vs_unbatched']:.1f})")
    return results


def _table(results: dict[str, Any]) -> str:
    lines = [f"{'case':<10} {'metric':<26} {'model':>9} {'truth':>9} {'LR base':>9} {'ratio':>8}"]
    for case in ("simulated", "foreign"):
        r = results.get(case)
        if not r:
            continue
        for k in KEYS:
            ratio = ""
            if k.endswith("auc"):
                ratio = f"{r['model'][k] / r['truth'][k]:.3f}"
            elif k.endswith("logloss"):
                ratio = f"{r['model'][k] / r['baseline_lr_hashed_ngrams'][k]:.3f}"
            lines.append(f"{case:<10} {k:<26} {r['model'][k]:>9.4f} {r['truth'][k]:>9.4f} "
                         f"{r['baseline_lr_hashed_ngrams'][k]:>9.4f} {ratio:>8}")
        lines.append(f"{case:<10} {'train wall s (frozen)':<26} {r['train_wall_s']:>9.1f}   "
                     f"(n_train={r['n_train']}, distinct copies={r['distinct_train_copies']})")
    s = results.get("scoring")
    if s:
        lines.append(f"{'scoring':<10} {'distinct copies/s':<26} {s['copies_per_s']:>9.1f}   unbatched "
                     f"{s['unbatched_copies_per_s']:.1f}/s, speed-up x{s['speedup_vs_unbatched']:.1f}")
    lines.append("AUC ratio = model / truth on the same rows; log-loss ratio = model / LR baseline (< 1 is better)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impressions", type=int, default=200_000)
    parser.add_argument("--foreign-impressions", type=int, default=60_000)
    parser.add_argument("--score-copies", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--scoring-only", action="store_true",
                        help="re-measure only scoring (1 and 2 torch threads; heads trained on 20k impressions) "
                             "and update that section of the results file")
    args = parser.parse_args(argv)
    if args.scoring_only:
        return scoring_only(args)
    if args.quick:
        args.impressions, args.foreign_impressions, args.score_copies = 20_000, 10_000, 200
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "platform": platform.platform(), "load_avg_1m_at_start": os.getloadavg()[0]},
        "encoder": "default (all-MiniLM-L6-v2)", "mode": "frozen", "args": vars(args),
    }
    with tempfile.TemporaryDirectory() as tmp:
        results["simulated"], model, catalog = bench_simulated(args.impressions, args.seed, Path(tmp))
        results["scoring"] = bench_scoring(model, catalog, args.score_copies, max(args.score_copies // 10, 20))
    results["foreign"] = bench_foreign(args.foreign_impressions, args.seed)
    results["machine"]["load_avg_1m_at_end"] = os.getloadavg()[0]
    if not args.quick:
        write_json_atomic(RESULTS, results)
    print(_table(results))
    print(json.dumps(results["machine"]))
    return results


if __name__ == "__main__":
    main()
