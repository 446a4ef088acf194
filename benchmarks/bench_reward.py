"""Reward-model benchmark: quality against the oracle and a baseline, training time, scoring speed.

Run ``python -m benchmarks.bench_reward`` (``--impressions``, ``--foreign-impressions``, ``--quick``).
Writes ``benchmarks/results/reward.json`` and prints a table. Cases:

1. ``simulated``: ``rlopt.market`` logs (default market, time-split holdout). Frozen-mode reward model
   (default MiniLM) vs the oracle's AUC on the same holdout rows (ratio) and vs a logistic regression
   on hashed word 1-2 grams + context (same split, same run).
2. ``foreign``: contract logs rlopt's simulator did not make (:mod:`reward_models.synthetic`: other
   segments, placements, copy and response model); the truth's AUC comes from the generator.
   200k impressions (160k train / 40k holdout), so the ECE of the true probabilities themselves
   (label noise: the floor any model shares) sits well below the 0.01 target.
3. ``scoring``: distinct copies per second through ``RewardModel.score`` (batched, sorted by token
   length, inference mode) with the default precision (``auto``) and with fp32 in the same run, vs
   the same model scoring one copy per call (the unbatched baseline).

``--scoring-only`` re-measures scoring alone: fp32, and bf16 where the CPU has it natively, at 1
and 2 torch threads (median of ``--repeats`` runs each, bf16 / fp32 ratio per thread count from the
same run) and a batch-size sweep, and writes them under ``scoring_by_cpu[<model name, ISA>]`` in
the results file (speed depends on the vector instructions: AVX2, AVX-512, AVX512-BF16).

Click predictions on logged rows include the slot term (see ``reward_models.evaluate``). Besides
ECE against the labels, each case reports the ECE against the true probabilities
(``click_ece_vs_true_p``: same equal-mass bins, |mean true p - mean prediction|), which is free of
label noise.
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
from reward_models.calibration import expected_calibration_error
from reward_models.encoder import bf16_native
from reward_models.evaluate import prediction_metrics
from reward_models.synthetic import make_synthetic_logs
from reward_models.train import time_split
from rlopt.io_utils import write_json_atomic
from rlopt.machine import cpu_label

RESULTS = Path(__file__).parent / "results" / "reward.json"
KEYS = ("click_auc", "click_logloss", "click_ece", "purchase_auc", "purchase_logloss", "purchase_ece")


def ece_vs_true_p(p_true: np.ndarray, p: np.ndarray, n_bins: int = 15) -> float:
    """Equal-mass-bin ECE of ``p`` against the true probabilities instead of 0/1 labels.

    >>> ece_vs_true_p(np.array([0.1, 0.2, 0.3]), np.array([0.1, 0.2, 0.3]), 3)
    0.0
    """
    return expected_calibration_error(p_true, p, n_bins)  # observed = mean true p per bin


def _quality(model: RewardModel, train: pd.DataFrame, holdout: pd.DataFrame, catalog: pd.DataFrame,
             truth: tuple[np.ndarray, np.ndarray], train_s: float) -> dict[str, Any]:
    model_m, preds = evaluate_reward_model(model, holdout, catalog)
    truth_m = prediction_metrics(holdout["clicked"].to_numpy(), holdout["converted"].to_numpy(), *truth)
    model_m["click_ece_vs_true_p"] = ece_vs_true_p(truth[0], preds["p_click"].to_numpy())
    model_m["purchase_ece_vs_true_p"] = ece_vs_true_p(truth[1], preds["p_purchase"].to_numpy())
    metrics = model.config["metrics"]
    start = time.perf_counter()
    base = HashedNgramBaseline().fit(train, catalog)
    base_s = time.perf_counter() - start
    base_m = prediction_metrics(holdout["clicked"].to_numpy(), holdout["converted"].to_numpy(),
                                *base.predict(holdout, catalog))
    return {
        "n_train": len(train), "n_holdout": len(holdout), "distinct_train_copies": int(train["copy_text"].nunique()),
        "train_wall_s": round(train_s, 1), "best_epoch": metrics["best_epoch"],
        "n_fit": metrics["n_train"], "n_valid": metrics["n_valid"], "n_calib": metrics["n_calib"],
        "calibration_method": metrics["calibration_method"],
        "calibration_selection": metrics.get("calibration_selection"),
        "encoder_precision": model.encoder.compute_precision,
        "model": {k: model_m[k] for k in (*KEYS, "click_ece_vs_true_p", "purchase_ece_vs_true_p")},
        "truth": {k: truth_m[k] for k in KEYS},
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


def fresh_copies(catalog: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """``n`` distinct copy texts no encoder cache has seen (so the cache does not help; also ``bench_onnx``'s)."""
    rng = np.random.default_rng(seed)
    words = ("save", "today", "new", "premium", "free shipping", "limited", "shop now", "eco", "deal", "gift",
             "best seller", "bright", "durable", "fresh look", "comfort", "order now", "30% off", "classic")
    items = catalog.sample(n, replace=True, random_state=seed).reset_index(drop=True)
    texts = [f"{t} - {' '.join(rng.choice(words, size=rng.integers(2, 7)))} #{i}"
             for i, t in enumerate(items["title"])]
    return pd.DataFrame({"copy_text": texts, "item_id": items["item_id"], "segment": "bargain_hunters",
                         "placement": "home_banner"})


def bench_scoring(model: RewardModel, catalog: pd.DataFrame, n: int, n_unbatched: int, *,
                  precision: str | None = None, repeats: int = 1) -> dict[str, Any]:
    """Distinct copies/s through ``model.score`` (median of ``repeats``) and one-copy-per-call.

    ``precision`` switches the encoder's precision for the measurement (restored after); the
    embedding cache is emptied before every timed call, so every copy (and item) is encoded.
    """
    before = model.encoder.precision
    if precision is not None:
        model.encoder.precision = precision
    try:
        frame = fresh_copies(catalog, n, seed=1)
        model.encoder.clear_cache()
        model.score(frame.iloc[:64], catalog)  # warm-up (threads, allocator, oneDNN kernels)
        rates = []
        for _ in range(repeats):
            model.encoder.clear_cache()
            start = time.perf_counter()
            model.score(frame, catalog)
            rates.append(n / (time.perf_counter() - start))
        single = fresh_copies(catalog, n_unbatched, seed=2)
        start = time.perf_counter()
        for i in range(n_unbatched):
            model.score(single.iloc[i:i + 1], catalog)
        unbatched = n_unbatched / (time.perf_counter() - start)
        batched = float(np.median(rates))
        return {"distinct_copies": n, "copies_per_s": batched, "runs_copies_per_s": rates,
                "unbatched_copies_per_s": unbatched, "speedup_vs_unbatched": batched / unbatched,
                "precision": model.encoder.precision, "compute_precision": model.encoder.compute_precision,
                "max_length": model.encoder.max_length, "batch_size": model.encoder.batch_size,
                "torch_threads": torch.get_num_threads(), "load_avg_1m": os.getloadavg()[0]}
    finally:
        model.encoder.precision = before
        model.encoder.clear_cache()


def _batch_sweep(model: RewardModel, catalog: pd.DataFrame, n: int, repeats: int, precision: str,
                 sizes: tuple[int, ...] = (32, 64, 128)) -> dict[str, float]:
    """Median distinct copies/s per encoder batch size (batched scoring only)."""
    before_bs, before_p = model.encoder.batch_size, model.encoder.precision
    frame = fresh_copies(catalog, n, seed=3)
    out = {}
    try:
        model.encoder.precision = precision
        for bs in sizes:
            model.encoder.batch_size = bs
            rates = []
            for _ in range(repeats):
                model.encoder.clear_cache()
                start = time.perf_counter()
                model.score(frame, catalog)
                rates.append(n / (time.perf_counter() - start))
            out[str(bs)] = float(np.median(rates))
    finally:
        model.encoder.batch_size, model.encoder.precision = before_bs, before_p
        model.encoder.clear_cache()
    return out


def scoring_only(args: argparse.Namespace) -> dict[str, Any]:
    """fp32 (and bf16 where the CPU has it natively) at 1 and 2 threads, plus a batch-size sweep.

    Kept per CPU kind under ``scoring_by_cpu`` (a run on another machine adds its own entry); the
    headline ``scoring`` rows are this run's 2-thread measurements.
    """
    from rlopt.market import DEFAULT_MARKET, Marketplace, simulate

    sim = simulate(Marketplace.from_toml(DEFAULT_MARKET), 20_000, seed=args.seed)
    model = train_reward_model(sim.train, sim.catalog, seed=args.seed, progress=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    # emulated bf16 is slower than fp32 and never chosen by "auto": not worth timing
    precisions = ("fp32", "bf16") if bf16_native("cpu") else ("fp32",)
    before = torch.get_num_threads()
    load_start = os.getloadavg()
    n_unbatched = max(args.score_copies // 10, 20)
    table: dict[str, Any] = {p: {} for p in precisions}
    sweep: dict[str, Any] = {}
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            for precision in precisions:
                table[precision][str(threads)] = bench_scoring(model, sim.catalog, args.score_copies, n_unbatched,
                                                               precision=precision, repeats=args.repeats)
            sweep[str(threads)] = {p: _batch_sweep(model, sim.catalog, args.score_copies, args.repeats, p)
                                   for p in precisions}
    finally:
        torch.set_num_threads(before)
    entry = {**table, "batch_size_sweep": sweep, "auto_resolves_to": model.encoder.compute_precision,
             "cpu_bf16_native": bf16_native("cpu"), "cpus": os.cpu_count(), "repeats": args.repeats,
             "load_avg_at_start": list(load_start), "load_avg_at_end": list(os.getloadavg())}
    if "bf16" in table:
        entry["bf16_over_fp32"] = {t: table["bf16"][t]["copies_per_s"] / table["fp32"][t]["copies_per_s"]
                                   for t in ("1", "2")}
    cpu = cpu_label()
    by_cpu = results.setdefault("scoring_by_cpu", {})
    if "scoring_by_precision" in results:  # the layout before per-CPU entries: measured on AVX512-BF16
        by_cpu.setdefault("model name not recorded, AVX512-BF16", results.pop("scoring_by_precision"))
    by_cpu[cpu] = entry
    results["scoring"] = table[model.encoder.compute_precision]["2"]
    results["scoring_fp32"] = table["fp32"]["2"]
    results["scoring_ratio_vs_fp32"] = entry.get("bf16_over_fp32", {}).get("2", 1.0)
    results["scoring_cpu"] = cpu
    results.pop("scoring_by_threads", None)  # superseded (fp32 only, measured before the precision option)
    write_json_atomic(RESULTS, results)
    print(f"{cpu}: load average at start {load_start}, at end {os.getloadavg()}")
    for threads in ("1", "2"):
        for precision in precisions:
            r = table[precision][threads]
            print(f"threads={threads} {precision}: {r['copies_per_s']:7.1f} distinct copies/s batched "
                  f"(runs {', '.join(f'{x:.0f}' for x in r['runs_copies_per_s'])}), "
                  f"{r['unbatched_copies_per_s']:.1f}/s unbatched (x{r['speedup_vs_unbatched']:.1f})")
        print(f"threads={threads} batch sweep {sweep[threads]}")
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
        for k in ("click_ece_vs_true_p", "purchase_ece_vs_true_p"):
            lines.append(f"{case:<10} {k:<26} {r['model'][k]:>9.4f}")
        lines.append(f"{case:<10} {'calibration':<26} {r['calibration_method']:>9}   "
                     f"(n_fit={r['n_fit']}, n_valid={r['n_valid']}, n_calib={r['n_calib']})")
        lines.append(f"{case:<10} {'train wall s (frozen)':<26} {r['train_wall_s']:>9.1f}   "
                     f"(n_train={r['n_train']}, distinct copies={r['distinct_train_copies']})")
    for key in ("scoring", "scoring_fp32"):
        s = results.get(key)
        if s:
            label = f"copies/s ({s['compute_precision']})"
            lines.append(f"{'scoring':<10} {label:<26} {s['copies_per_s']:>9.1f}   unbatched "
                         f"{s['unbatched_copies_per_s']:.1f}/s, speed-up x{s['speedup_vs_unbatched']:.1f}, "
                         f"{s['torch_threads']} threads, batch {s['batch_size']}")
    lines.append("AUC ratio = model / truth on the same rows; log-loss ratio = model / LR baseline (< 1 is better)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impressions", type=int, default=200_000)
    parser.add_argument("--foreign-impressions", type=int, default=200_000)
    parser.add_argument("--score-copies", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3, help="timed scoring runs per setting (median)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--scoring-only", action="store_true",
                        help="re-measure only scoring (fp32 and bf16, 1 and 2 torch threads, batch sizes "
                             "32/64/128; heads trained on 20k impressions) and update that section of the "
                             "results file")
    args = parser.parse_args(argv)
    if args.scoring_only:
        return scoring_only(args)
    if args.quick:
        args.impressions, args.foreign_impressions, args.score_copies, args.repeats = 20_000, 10_000, 200, 1
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "platform": platform.platform(), "load_avg_1m_at_start": os.getloadavg()[0]},
        "encoder": "default (all-MiniLM-L6-v2)", "mode": "frozen", "args": vars(args),
    }
    if RESULTS.is_file() and not args.quick:  # keep the last --scoring-only measurements
        previous = json.loads(RESULTS.read_text())
        for key in ("scoring_by_cpu", "scoring_by_precision"):
            if key in previous:
                results[key] = previous[key]
    with tempfile.TemporaryDirectory() as tmp:
        results["simulated"], model, catalog = bench_simulated(args.impressions, args.seed, Path(tmp))
        n_unbatched = max(args.score_copies // 10, 20)
        results["scoring"] = bench_scoring(model, catalog, args.score_copies, n_unbatched, repeats=args.repeats)
        results["scoring_fp32"] = bench_scoring(model, catalog, args.score_copies, n_unbatched, precision="fp32",
                                                repeats=args.repeats)
        results["scoring_ratio_vs_fp32"] = results["scoring"]["copies_per_s"] / results["scoring_fp32"]["copies_per_s"]
    results["foreign"] = bench_foreign(args.foreign_impressions, args.seed)
    results["machine"]["load_avg_1m_at_end"] = os.getloadavg()[0]
    if not args.quick:
        write_json_atomic(RESULTS, results)
    print(_table(results))
    print(json.dumps(results["machine"]))
    if "scoring_ratio_vs_fp32" in results:
        print(f"scoring: default precision / fp32 = {results['scoring_ratio_vs_fp32']:.2f} (same run)")
    return results


if __name__ == "__main__":
    main()
