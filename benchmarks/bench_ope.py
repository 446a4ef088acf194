"""Speed and memory of rlopt.ope, each against a baseline measured in the same run.

Run: ``python -m benchmarks.bench_ope [--sizes 10000,100000] [--n-bootstrap 1000] [--repeats 3]``.
Writes ``benchmarks/results/ope.json`` and prints a table.

1. Bootstrap interval of a self-normalized estimator (ratio of means, numerator and denominator
   resampled together): the vectorized ``(B, n)`` index matrix in chunks
   (:func:`rlopt.ope.bootstrap.bootstrap_statistics`) against a Python loop over ``B`` resamples
   with the same random draws. Peak traced memory of each (``tracemalloc``).
2. All seven estimators' point estimates on an OBD-shaped problem (80 actions, 3 slots) through
   ``OffPolicyEvaluation`` (inputs validated once), against the time to read the action
   distribution once (``action_dist.sum()``, a memory-bandwidth floor); the time with each
   estimator validating on its own is recorded too.
3. The cross-fitted regression model on the real OBD Random log (10,000 rows, 5 folds), against a
   single in-sample fit + predict (``n_folds=1``): the price of cross-fitting.
"""

from __future__ import annotations

import argparse
import platform
import time
import tracemalloc
from functools import partial
from pathlib import Path

import numpy as np

from rlopt.io_utils import write_json_atomic
from rlopt.ope import OffPolicyEvaluation
from rlopt.ope.bootstrap import bootstrap_statistics
from rlopt.ope.evaluate import make_estimators

RESULTS = Path(__file__).resolve().parent / "results" / "ope.json"
OBD = Path("/work/shared/data/obd/random")


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def peak_mib(fn) -> float:
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def loop_bootstrap(num: np.ndarray, den: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = num.shape[0]
    out = np.empty(n_boot)
    for b in range(n_boot):
        idx = rng.integers(0, n, size=n)
        out[b] = num[idx].mean() / den[idx].mean()
    return out


def bench_bootstrap(sizes: list[int], n_boot: int, repeats: int) -> list[dict]:
    rows = []
    for n in sizes:
        rng = np.random.default_rng(0)
        w = rng.exponential(size=n)
        num, den = w * (rng.random(n) < 0.05), w
        zeros = np.zeros(n)
        vec = partial(bootstrap_statistics, zeros, num, den, n_bootstrap_samples=n_boot, rng=1)
        loop = partial(loop_bootstrap, num, den, n_boot, 1)
        t_vec, t_loop = best_of(vec, repeats), best_of(loop, repeats)
        rows.append({"task": "bootstrap SN interval", "n": n, "B": n_boot, "rlopt_s": t_vec, "baseline_s": t_loop,
                     "baseline": "python loop over resamples", "speedup": t_loop / t_vec,
                     "rlopt_peak_mib": peak_mib(vec), "baseline_peak_mib": peak_mib(loop),
                     "check_max_abs_diff": float(np.abs(np.sort(vec()) - np.sort(loop())).max())})
    return rows


def _all_estimates(ests, kw) -> list[float]:
    return [e.estimate_policy_value(**kw) for e in ests]


def bench_estimators(sizes: list[int], repeats: int) -> list[dict]:
    rows = []
    for n in sizes:
        rng = np.random.default_rng(0)
        k, slots = 80, 3
        logits = rng.normal(size=(n, k, slots))
        dist = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        q = rng.random((n, k, slots)) * 0.01
        kw = dict(reward=(rng.random(n) < 0.005).astype(float), action=rng.integers(0, k, n),
                  position=rng.integers(0, slots, n), pscore=np.full(n, 1 / k), action_dist=dist,
                  estimated_rewards_by_reg_model=q)
        ests = make_estimators()
        t_each = best_of(partial(_all_estimates, ests, kw), repeats)
        ope = OffPolicyEvaluation({k_: kw[k_] for k_ in ("reward", "action", "position", "pscore")}, ests)
        t_all = best_of(partial(ope.estimate_policy_values, dist, q), repeats)
        t_floor = best_of(dist.sum, repeats)
        rows.append({"task": "7 estimators via OffPolicyEvaluation (validated once)", "n": n, "n_actions": k,
                     "len_list": slots, "rlopt_s": t_all, "baseline_s": t_floor,
                     "baseline": "one pass over action_dist (sum)", "ratio": t_all / t_floor,
                     "each_estimator_validating_s": t_each})
    return rows


def bench_regression(repeats: int) -> list[dict]:
    if not OBD.exists():
        return []
    from rlopt.data.obd import load_obd
    from rlopt.ope.regression import RegressionModel

    fb = load_obd(OBD)
    args = (fb.context, fb.action, fb.reward, fb.position)

    def fit(folds):
        return RegressionModel(n_actions=fb.n_actions, len_list=fb.len_list).fit_predict(*args, n_folds=folds, rng=0)

    t_cf, t_one = best_of(lambda: fit(5), repeats), best_of(lambda: fit(1), repeats)
    return [{"task": "regression fit_predict on OBD random (LogisticRegression)", "n": fb.n_rounds,
             "n_actions": fb.n_actions, "len_list": fb.len_list, "rlopt_s": t_cf, "baseline_s": t_one,
             "baseline": "single in-sample fit (n_folds=1)", "ratio": t_cf / t_one,
             "rlopt_peak_mib": peak_mib(lambda: fit(5))}]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="10000,100000")
    p.add_argument("--n-bootstrap", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = bench_bootstrap(sizes, args.n_bootstrap, args.repeats)
    rows += bench_estimators([s for s in sizes if s <= 20000] or sizes[:1], args.repeats)
    rows += bench_regression(max(1, args.repeats - 2))
    write_json_atomic(RESULTS, {"machine": {"python": platform.python_version(), "cpu": platform.processor(),
                                            "numpy": np.__version__}, "args": vars(args), "results": rows})
    print(f"{'task':<58} {'n':>7} {'rlopt s':>9} {'baseline s':>11} {'ratio':>8}  baseline")
    for r in rows:
        ratio = r.get("speedup", r.get("ratio"))
        label = "x faster" if "speedup" in r else "x"
        print(f"{r['task']:<58} {r['n']:>7} {r['rlopt_s']:>9.3f} {r['baseline_s']:>11.3f} {ratio:>7.1f}{label}"
              f"  {r['baseline']}")
        if "rlopt_peak_mib" in r:
            print(f"{'':<58} {'':>7} peak {r['rlopt_peak_mib']:.1f} MiB"
                  + (f" (baseline {r['baseline_peak_mib']:.1f} MiB)" if "baseline_peak_mib" in r else ""))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
