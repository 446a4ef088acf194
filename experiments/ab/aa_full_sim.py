"""End-to-end A/A check: ``simulate_ab`` itself, logging vs logging, over many seeds.

Run:  python -m experiments.ab.aa_full_sim [--runs 300] [--impressions 10000]
Writes experiments/results/ab/aa_full_sim.json and prints a table (``--help``: every field of ``Args``).

Unlike :mod:`experiments.ab.aa_fpr` (2,000 fast replicates on fixed traffic), every run here is a
complete simulated A/B test: fresh traffic, the user hash split, the pre-period, copy chosen by the
logging policy in both arms, oracle responses, all tests, SRM and the mSPRT. It checks that the
whole machinery, not only the statistics, keeps false positives at the nominal rate.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import tyro
from scipy import stats

from experiments.ab.aa_fpr import config_record, seeded_market
from experiments.cli import run
from experiments.results_io import result_path, write_result
from rlopt.ab.simulate import simulate_ab


@dataclass
class Args:
    runs: int = 300
    """Complete simulated A/A tests (run ``k`` uses seed ``seed + k``)."""
    impressions: int = 10_000
    """Impressions per test."""
    alpha: float = 0.05
    """Significance level of every test."""
    seed: int = 1000
    """Seed of the market and of the first run."""
    out: Path = result_path("ab", "aa_full_sim")
    """Results JSON."""


def main(argv: list[str] | None = None) -> dict:
    """Parse ``Args`` from ``argv`` (default: the command line), run, write the JSON, print a table."""
    args = tyro.cli(Args, args=argv, description=__doc__)

    market, oracle = seeded_market(args.seed)
    t0 = time.perf_counter()
    rejections: dict[str, int] = {}
    srm_flags = seq_stops = 0
    for k in range(args.runs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # small runs warn about their MDE; that is expected here
            res = simulate_ab(market, ["logging", "logging"], args.impressions, seed=args.seed + k, oracle=oracle,
                              alpha=args.alpha)
        comp = res.comparisons[0]
        for metric, test in comp.primary.items():
            rejections[metric] = rejections.get(metric, 0) + int(test.pvalue < args.alpha)
        for key, test in comp.secondary.items():
            rejections[key] = rejections.get(key, 0) + int(test.pvalue < args.alpha)
        srm_flags += int(res.srm.mismatch)
        seq_stops += int(comp.sequential is not None and comp.sequential.stopped)
    rows = []
    for name, k in [*rejections.items(), ("srm_mismatch (p < 0.001)", srm_flags), ("msprt_ctr_20_looks", seq_stops)]:
        ci = stats.binomtest(k, args.runs).proportion_ci(0.95, method="exact")
        rows.append({"test": name, "rejections": k, "fpr": k / args.runs, "ci95": [ci.low, ci.high]})
    result = {"config": config_record(args),
              "seconds": time.perf_counter() - t0, "rows": rows}
    write_result(args.out, result)
    print(f"End-to-end A/A: {args.runs} simulate_ab runs (logging vs logging), {args.impressions} impressions, "
          f"alpha={args.alpha}, {result['seconds']:.0f}s")
    print(f"{'test':28s} {'FPR':>7s} {'95% CI':>18s}")
    for r in rows:
        print(f"{r['test']:28s} {r['fpr']:7.2%} [{r['ci95'][0]:6.2%}, {r['ci95'][1]:6.2%}]")
    return result


if __name__ == "__main__":
    run(main)
