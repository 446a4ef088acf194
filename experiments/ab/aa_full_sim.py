"""End-to-end A/A check: ``simulate_ab`` itself, logging vs logging, over many seeds.

Run:  python -m experiments.ab.aa_full_sim [--runs 300] [--impressions 10000]
Writes experiments/ab/results/aa_full_sim.json and prints a table.

Unlike :mod:`experiments.ab.aa_fpr` (2,000 fast replicates on fixed traffic), every run here is a
complete simulated A/B test: fresh traffic, the user hash split, the pre-period, copy chosen by the
logging policy in both arms, oracle responses, all tests, SRM and the mSPRT. It checks that the
whole machinery, not only the statistics, keeps false positives at the nominal rate.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

from scipy import stats

from experiments.ab.aa_fpr import config_record, seeded_market
from rlopt.ab.simulate import simulate_ab
from rlopt.io_utils import write_json_atomic

OUT = Path(__file__).resolve().parent / "results" / "aa_full_sim.json"


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--impressions", type=int, default=10_000)
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)

    market, oracle = seeded_market(args.seed)
    t0 = time.perf_counter()
    rejections: dict[str, int] = {}
    srm_flags = seq_stops = 0
    for run in range(args.runs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # small runs warn about their MDE; that is expected here
            res = simulate_ab(market, ["logging", "logging"], args.impressions, seed=args.seed + run, oracle=oracle,
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
    write_json_atomic(args.out, result)
    print(f"End-to-end A/A: {args.runs} simulate_ab runs (logging vs logging), {args.impressions} impressions, "
          f"alpha={args.alpha}, {result['seconds']:.0f}s")
    print(f"{'test':28s} {'FPR':>7s} {'95% CI':>18s}")
    for r in rows:
        print(f"{r['test']:28s} {r['fpr']:7.2%} [{r['ci95'][0]:6.2%}, {r['ci95'][1]:6.2%}]")
    return result


if __name__ == "__main__":
    main()
