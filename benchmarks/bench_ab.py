"""Speed of rlopt.ab: the simulated A/B test end to end, and the sequential test's per-look statistics.

Run: ``python -m benchmarks.bench_ab [--impressions 20000,100000] [--looks 50] [--repeats 3]``.
Writes ``benchmarks/results/ab.json`` and prints a table.

Two measurements, each against a baseline measured in the same run (best of ``--repeats``):

1. ``simulate_ab`` (logging vs pool-random, pre-period = half the impressions) against the market's
   own floor for the same traffic: ``sample_impressions`` + logging-policy copy + ``oracle.respond``
   for the pre-period and experiment impressions (what any A/B simulation must pay). ``ratio`` =
   simulate_ab / floor; the rest is counterfactual truth per arm, per-user tests and the mSPRT.
2. Per-look delta-method statistics for the mSPRT (``ratio_looks``, one ``bincount`` for all looks)
   against the straightforward pandas way (``groupby(user)`` on each look's prefix).
"""

from __future__ import annotations

import argparse
import platform
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

from rlopt.ab.arms import Arm, make_chooser
from rlopt.ab.sequential import ratio_looks
from rlopt.ab.simulate import simulate_ab
from rlopt.ab.stat_tests import _ratio_and_var
from rlopt.io_utils import write_json_atomic

RESULTS = Path(__file__).resolve().parent / "results" / "ab.json"


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def market_floor(market, oracle, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for size in (n // 2, n):
        imps = market.sample_impressions(size, rng)
        imps["copy_text"] = make_chooser(Arm.parse("logging"), market, oracle)(imps, rng)
        oracle.respond(imps, rng)


def groupby_looks(df: pd.DataFrame, looks: int) -> np.ndarray:
    """Baseline: per-look CTR ratio/variance by a pandas groupby on every prefix."""
    cuts = (np.arange(1, looks + 1) * len(df) + looks - 1) // looks  # integer ceil(k n / looks)
    out = np.empty((looks, 2))
    for k, cut in enumerate(cuts):
        g = df.iloc[:cut].groupby("user_id", sort=False)["clicked"].agg(["size", "sum"])
        out[k] = _ratio_and_var(g["sum"].to_numpy(float), g["size"].to_numpy(float))
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--impressions", default="20000,100000")
    ap.add_argument("--looks", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)

    from rlopt.market import DEFAULT_MARKET, Marketplace
    from rlopt.market.oracle import Oracle

    market = Marketplace.from_toml(DEFAULT_MARKET)
    oracle = Oracle(market)
    rows = []
    for n in (int(x) for x in args.impressions.split(",")):
        base = best_of(lambda n=n: market_floor(market, oracle, n, 0), args.repeats)
        ours = best_of(lambda n=n: simulate_ab(market, ["logging", "pool-random"], n, seed=0, oracle=oracle,
                                               mde_warn_relative=np.inf), args.repeats)
        rows.append({"measure": "simulate_ab (2 arms)", "impressions": n, "baseline": "market floor",
                     "baseline_s": base, "rlopt_s": ours, "ratio": ours / base,
                     "impressions_per_s": n / ours})

        rng = np.random.default_rng(0)
        users = rng.integers(0, max(n // 8, 2), n)
        df = pd.DataFrame({"user_id": users, "clicked": rng.binomial(1, 0.06, n)})
        look = (np.arange(n) * args.looks) // n
        base = best_of(lambda df=df: groupby_looks(df, args.looks), args.repeats)
        ours = best_of(lambda users=users, look=look, df=df: ratio_looks(
            users, look, df["clicked"].to_numpy(float), np.ones(len(df)), int(users.max()) + 1, args.looks),
            args.repeats)
        fast = ratio_looks(users, look, df["clicked"].to_numpy(float), np.ones(n), int(users.max()) + 1, args.looks)
        slow = groupby_looks(df, args.looks)
        assert np.allclose(fast[0], slow[:, 0]) and np.allclose(fast[1], slow[:, 1])  # same numbers
        rows.append({"measure": f"per-look delta stats ({args.looks} looks)", "impressions": n,
                     "baseline": "pandas groupby per look", "baseline_s": base, "rlopt_s": ours,
                     "ratio": ours / base, "impressions_per_s": n / ours})
    result = {"python": platform.python_version(), "machine": platform.machine(),
              "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
              "repeats": args.repeats, "rows": rows}
    write_json_atomic(args.out, result)
    print(f"{'measure':34s} {'impressions':>11s} {'baseline':>24s} {'base s':>8s} {'rlopt s':>8s} {'ratio':>6s} "
          f"{'imps/s':>10s}")
    for r in rows:
        print(f"{r['measure']:34s} {r['impressions']:11d} {r['baseline']:>24s} {r['baseline_s']:8.3f} "
              f"{r['rlopt_s']:8.3f} {r['ratio']:6.2f} {r['impressions_per_s']:10.0f}")
    print(f"peak RSS {result['peak_rss_mb']:.0f} MB")
    return result


if __name__ == "__main__":
    main()
