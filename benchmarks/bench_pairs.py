"""DPO pair mining per context and pooled per item: how many pairs, and how many right (issue 19).

For each market, the training logs are mined with :func:`rlopt.tuning.pairs.mine_pairs` at
``min_confidence`` 0.9 / 0.8 / 0.7 in both ``pair_scope`` values ("context": item x segment x
placement; "item": an item's impressions pooled, counted by expected clicks, COEC), with the DPO
config's other defaults (value ``combined`` = ctr + 5 x purchases per impression, 3 impressions at
least, prior strength 20, at most 20 pairs per group). Each pair set is graded by the market's truth
(first slot, a fresh shopper, the pair's own item x segment x placement):

- ``accuracy``: share of pairs whose chosen copy has the higher true value (``p_click + 5 p_purchase``),
  ``weighted_accuracy`` the same weighted by the pair weights DPO samples with;
- ``click_accuracy``: the same on the true click rate;
- ``ties``: share of pairs whose two copies have the same true value (counted as not right);
- ``item_pairs``, ``item_pair_accuracy``: distinct (item, chosen, rejected) pairs (an item-scope
  pair has a row per context of its chosen copy), each right when right in most of its rows;
- ``guarded``: pairs left after the DPO guard (misleading discount, over the limit, copy defects).

Markets: ``experiments.markets.small_shop`` (3,000 training impressions, seeds 0, 1, 2) and
``experiments.markets.bazaar`` (60,000 impressions, the latest 20% held out), loaded as
``benchmarks/bench_markets.py`` loads them (the same truth).

Run: ``python -m benchmarks.bench_pairs [--seeds 0 1 2] [--impressions 60000]``; writes
``benchmarks/results/pairs.json``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rlopt.machine import cpu_label

RESULTS = Path(__file__).parent / "results" / "pairs.json"
CONFIDENCES = (0.9, 0.8, 0.7)
SCOPES = ("context", "item")
PURCHASE_WEIGHT = 5.0


def grade(pairs: pd.DataFrame, truth) -> dict[str, Any]:
    """Accuracy of ``pairs`` against ``truth`` (rows -> + ``p_click, p_purchase``) in each pair's context."""
    if pairs.empty:
        return {"pairs": 0, "accuracy": None, "weighted_accuracy": None, "click_accuracy": None, "ties": None,
                "item_pairs": 0, "item_pair_accuracy": None}
    rows = pairs[["item_id", "segment", "placement"]].reset_index(drop=True)
    graded = {}
    for side in ("chosen", "rejected"):
        frame = rows.assign(copy_text=pairs[side].to_numpy(), position=0)
        out = truth(frame)
        graded[side] = (out["p_click"].to_numpy(float), out["p_purchase"].to_numpy(float))
    value = {s: c + PURCHASE_WEIGHT * p for s, (c, p) in graded.items()}
    right = value["chosen"] > value["rejected"] + 1e-12
    tie = np.isclose(value["chosen"], value["rejected"], rtol=0, atol=1e-12)
    w = pairs["weight"].to_numpy(float)
    # each distinct (item, chosen, rejected) once: right when right in most of its rows (contexts)
    distinct = pd.Series(right, index=pd.MultiIndex.from_frame(pairs[["item_id", "chosen", "rejected"]]))
    distinct = distinct.groupby(level=[0, 1, 2], sort=False).mean() > 0.5
    return {"pairs": len(pairs), "accuracy": round(float(right.mean()), 4),
            "weighted_accuracy": round(float((w * right).sum() / w.sum()), 4),
            "click_accuracy": round(float((graded["chosen"][0] > graded["rejected"][0] + 1e-12).mean()), 4),
            "ties": round(float(tie.mean()), 4),
            "item_pairs": len(distinct), "item_pair_accuracy": round(float(distinct.mean()), 4)}


def measure(market) -> dict[str, Any]:
    """Pair counts and accuracies for one market, each scope x threshold."""
    from rlopt.tuning.dpo import guard_pairs
    from rlopt.tuning.pairs import group_counts, mine_pairs

    start, load = time.perf_counter(), round(os.getloadavg()[0], 2)
    train = market.train
    case: dict[str, Any] = {"impressions": len(train), "scopes": {}}
    for scope in SCOPES:
        groups, comparable, what = group_counts(train, 3, scope)
        per_scope: dict[str, Any] = {"groups": groups, "comparable_groups": comparable, "group": what}
        for conf in CONFIDENCES:
            pairs = mine_pairs(train, market.placements, min_confidence=conf, pair_scope=scope)
            row = grade(pairs, market.truth)
            row["guarded"] = len(guard_pairs(pairs, market.catalog, market.placements))
            per_scope[str(conf)] = row
            print(f"[{market.name}] {scope} {conf}: {row}", flush=True)
        case["scopes"][scope] = per_scope
    case["wall_s"] = round(time.perf_counter() - start, 1)
    case["load_avg_1m"] = [load, round(os.getloadavg()[0], 2)]
    return case


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from benchmarks.bench_markets import Args, load_bazaar, load_small_shop
    from rlopt.io_utils import write_json_atomic

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="small-shop seeds")
    parser.add_argument("--impressions", type=int, default=60_000, help="bazaar's impressions (20%% held out)")
    parser.add_argument("--no-bazaar", action="store_true", help="only the small shop")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    result: dict[str, Any] = {
        "benchmark": "pairs",
        "machine": {"cpu": cpu_label(), "cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2)},
        "settings": {"confidences": list(CONFIDENCES), "value_metric": "combined", "purchase_weight": PURCHASE_WEIGHT,
                     "min_impressions": 3, "prior_strength": 20.0, "max_pairs_per_group": 20,
                     "graded": "market truth, first slot, each pair's own item x segment x placement"},
        "markets": {}}
    with tempfile.TemporaryDirectory(prefix="bench_pairs_") as tmp:
        for seed in args.seeds:
            market = load_small_shop(Args(seed=seed), Path(tmp) / f"s{seed}")
            result["markets"][f"small_shop_seed{seed}"] = measure(market)
        if not args.no_bazaar:
            market = load_bazaar(Args(impressions=args.impressions, seed=0), Path(tmp) / "bz")
            result["markets"]["bazaar"] = {**measure(market), "total_impressions": args.impressions}
    write_json_atomic(args.out, result)
    print(f"-> {args.out}", flush=True)
    return result


if __name__ == "__main__":
    main()
