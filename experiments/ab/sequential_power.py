"""Power and stopping time of the mSPRT vs the fixed-horizon test, for known CTR lifts.

Run:  python -m experiments.ab.sequential_power [--reps 300] [--lifts 0.05 0.1 0.2]
Writes experiments/results/ab/sequential_power.json and prints a table (``--help``: every field of ``Args``).

Same traffic and machinery as :mod:`experiments.ab.aa_fpr`, but arm B's true click probability is
multiplied by ``1 + lift`` (purchases follow clicks). For each lift: the power of the fixed-horizon
delta-method test at the full sample, the power of the mSPRT monitored after every batch, and how
much of the sample the mSPRT used before stopping (1.0 when it never stopped).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tyro

from experiments.ab.aa_fpr import build_experiment, config_record, one_replicate, seeded_market
from experiments.cli import run
from experiments.results_io import result_path, write_result
from rlopt.ab.power import power_proportions


@dataclass
class Args:
    reps: int = 300
    """Simulated tests per lift."""
    lifts: list[float] = field(default_factory=lambda: [0.05, 0.1, 0.2])
    """True CTR lifts of arm B (0.1 = +10%)."""
    impressions: int = 40_000
    """Impressions per test (the pre-period has as many)."""
    looks: int = 50
    """Batches after which the mSPRT looks at the data."""
    alpha: float = 0.05
    """Significance level."""
    tau_relative: float = 0.1
    """mSPRT mixing scale, as a share of the pre-period CTR."""
    seed: int = 1
    """Seed of the traffic and of every draw."""
    out: Path = result_path("ab", "sequential_power")
    """Results JSON."""


def main(argv: list[str] | None = None) -> dict:
    """Parse ``Args`` from ``argv`` (default: the command line), run, write the JSON, print a table."""
    args = tyro.cli(Args, args=argv, description=__doc__)

    market, oracle = seeded_market(args.seed)
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    pre, exp, codes, pre_codes, n_users = build_experiment(market, oracle, args.impressions, args.impressions, rng)
    ctr = float(exp["p_click"].mean())
    rows = []
    for lift in args.lifts:
        recs = [one_replicate(exp, pre, codes, pre_codes, n_users, args.looks, args.alpha, args.tau_relative,
                              rng, lift=lift) for _ in range(args.reps)]
        fixed = float(np.mean([r["ctr_delta"] < args.alpha for r in recs]))
        seq = float(np.mean([r["msprt_reject"] for r in recs]))
        stops = np.array([r["msprt_stop_fraction"] for r in recs])
        rejected = np.array([r["msprt_reject"] for r in recs])
        wrong_sign = float(np.mean([r["msprt_reject"] and r["msprt_sign"] < 0 for r in recs]))
        rows.append({
            "lift": lift, "fixed_power": fixed, "msprt_power": seq,
            "planned_power_normal_approx": power_proportions(ctr, ctr * (1 + lift), args.impressions / 2,
                                                             alpha=args.alpha),
            "msprt_mean_sample_fraction": float(stops.mean()),
            "msprt_median_stop_fraction_when_rejecting": float(np.median(stops[rejected])) if rejected.any()
            else float("nan"),
            "msprt_wrong_sign_rate": wrong_sign,
        })
    result = {"config": config_record(args),
              "baseline_true_ctr": ctr, "seconds": time.perf_counter() - t0, "rows": rows}
    write_result(args.out, result)
    print(f"Known CTR lift: {args.reps} runs per lift, {args.impressions} impressions, {args.looks} looks, "
          f"baseline CTR {ctr:.4f}, {result['seconds']:.0f}s")
    print(f"{'lift':>6s} {'fixed power':>12s} {'(planned)':>10s} {'mSPRT power':>12s} {'mean sample used':>17s} "
          f"{'median stop | reject':>21s}")
    for r in rows:
        print(f"{r['lift']:6.0%} {r['fixed_power']:12.1%} {r['planned_power_normal_approx']:10.1%} "
              f"{r['msprt_power']:12.1%} {r['msprt_mean_sample_fraction']:17.1%} "
              f"{r['msprt_median_stop_fraction_when_rejecting']:21.1%}")
    return result


if __name__ == "__main__":
    run(main)
