"""Reward model chosen on the user's data, and its health check: the small shop and the default market.

For each case the reward model is trained as ``rlopt reward train`` does (frozen packaged MiniLM,
the hashed n-gram baseline beside it, the scorer chosen on the latest training slice) and the
holdout gives, per scorer, click AUC and log-loss: the encoder model alone, the baseline alone,
the blend (when fitted) and the saved (chosen) one, next to the truth's AUC on the same rows. The
health block (status, AUC interval, score spread, calibration slope, minimum detectable lift) is
recorded as training saved it.

Cases: ``experiments.markets.small_shop`` (3,000 training / 1,500 holdout impressions, seeds
0, 1, 2: shop and training seed alike) and the packaged default market simulated with ``N``
impressions (``rlopt.market.simulate``'s train / holdout split, seed 0), and bazaar
(``experiments.markets.bazaar``, an independently written shop) with ``N`` impressions, the latest
20% held out.

``--before-after`` trains every selected case twice on the same data and seed, with the settings
before issue 19's exposure / baseline-block / one-SE changes (``BEFORE``: no exposure inputs, the
plain baseline, the lowest CV loss wins) and with the current defaults; the case then holds
``{"before": ..., "after": ..., "before_settings": BEFORE}`` and the load average around each run.

Run: ``python -m benchmarks.bench_reward_health [--market-impressions 60000] [--cases bazaar]``;
writes ``benchmarks/results/reward_health.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reward_models import train_reward_model
from reward_models.evaluate import prediction_metrics
from rlopt.io_utils import write_json_atomic
from rlopt.machine import cpu_label

RESULTS = Path(__file__).parent / "results" / "reward_health.json"
KEYS = ("click_auc", "click_logloss", "purchase_auc", "purchase_logloss")
BEFORE = {"exposure_window": 0, "baseline_blocks": "", "selection_se": 0.0}  # the trainer before issue 19's changes
OVERRIDES: dict[str, Any] = {}  # --before-after sets BEFORE here for the "before" runs


def _case(train: pd.DataFrame, holdout: pd.DataFrame, catalog: pd.DataFrame, truth: tuple[np.ndarray, np.ndarray],
          seed: int) -> dict[str, Any]:
    start, load = time.perf_counter(), round(os.getloadavg()[0], 2)
    model = train_reward_model(train, catalog, holdout=holdout, seed=seed, progress=False, **OVERRIDES)
    metrics = model.config["metrics"]
    truth_m = prediction_metrics(holdout["clicked"].to_numpy(), holdout["converted"].to_numpy(), *truth)
    scorers = {name: {k: metrics[f"holdout_{name}"][k] for k in KEYS}
               for name in ("encoder", "baseline", "blend") if f"holdout_{name}" in metrics}
    saved = {k: metrics["holdout"][k] for k in KEYS}
    return {
        "n_train": len(train), "n_holdout": len(holdout), "seed": seed,
        "train_wall_s": round(time.perf_counter() - start, 1), "load_avg_1m": [load, round(os.getloadavg()[0], 2)],
        "scorer": metrics["scorer"], "scorer_cv_logloss": metrics["scorer_selection"]["cv_logloss"],
        "calibration_method": metrics["calibration_method"], "calibration_rejected": metrics["calibration_rejected"],
        "saved": saved, **scorers, "truth": {k: truth_m[k] for k in KEYS},
        "saved_click_logloss_minus_baseline": saved["click_logloss"] - scorers["baseline"]["click_logloss"],
        "saved_click_auc_over_truth": saved["click_auc"] / truth_m["click_auc"],
        "health": model.config["health"],
    }


def small_shop(seed: int) -> dict[str, Any]:
    from experiments.markets.small_shop import make_small_shop

    shop = make_small_shop(3000, 1500, seed=seed)
    truth = (shop.truth_holdout["p_click"].to_numpy(), shop.truth_holdout["p_purchase"].to_numpy())
    return _case(shop.train, shop.holdout, shop.catalog, truth, seed)


def default_market(n: int, seed: int) -> dict[str, Any]:
    from reward_models.oracle_compare import oracle_probabilities
    from rlopt.market import DEFAULT_MARKET, Marketplace, simulate

    sim = simulate(Marketplace.from_toml(DEFAULT_MARKET), n, seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        sim.write(Path(tmp) / "sim")
        truth = oracle_probabilities(Path(tmp) / "sim", sim.holdout)
    return _case(sim.train, sim.holdout, sim.catalog, truth, seed)


def bazaar(n: int, seed: int) -> dict[str, Any]:
    """``experiments.markets.bazaar`` (written independently of rlopt.market): the latest 20% held out."""
    from experiments.markets.bazaar import Truth, simulate
    from reward_models.train import time_split

    with tempfile.TemporaryDirectory() as tmp:
        from rlopt.data import read_catalog, read_logs

        out = simulate(Path(tmp) / "bazaar", n, seed=seed)
        catalog = read_catalog(out / "catalog.parquet")
        logs, truth = read_logs(out / "train.parquet", catalog), Truth.from_dir(out)
    train, holdout = time_split(logs, 0.2)
    graded = truth.evaluate(holdout)
    return _case(train, holdout, catalog, (graded["p_click"].to_numpy(), graded["p_purchase"].to_numpy()), seed)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--market-impressions", type=int, default=60_000)
    parser.add_argument("--cases", default="small_shop,default_market,bazaar",
                        help="comma-separated; other cases already in --out are kept")
    parser.add_argument("--before-after", action="store_true",
                        help="train each case with the pre-issue-19 settings (BEFORE) and the defaults, same data")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    cases = set(args.cases.split(","))
    result: dict[str, Any] = json.loads(args.out.read_text()) if args.out.is_file() else {}
    result["machine"] = cpu_label()
    runs = {"small_shop": lambda: {f"seed{seed}": small_shop(seed) for seed in (0, 1, 2)},
            "default_market": lambda: default_market(args.market_impressions, 0),
            "bazaar": lambda: bazaar(args.market_impressions, 0)}
    for name, run in runs.items():
        if name not in cases:
            continue
        if not args.before_after:
            result[name] = run()
            continue
        OVERRIDES.update(BEFORE)
        try:
            before = run()
        finally:
            OVERRIDES.clear()
        result[name] = {"before": before, "after": run(), "before_settings": dict(BEFORE)}
    write_json_atomic(args.out, result)
    print(args.out)
    return result


if __name__ == "__main__":
    main()
