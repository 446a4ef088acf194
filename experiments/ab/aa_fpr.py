"""A/A false-positive rates of rlopt.ab's tests on the built-in market (default: 2,000 comparisons).

Run:  python -m experiments.ab.aa_fpr [--reps 2000] [--impressions 40000] [--looks 50] [--seed 0]
Writes experiments/results/ab/aa_fpr.json and prints a table (``--help``: every field of ``Args``).

Setup. Traffic comes from the real simulator: ``market.sample_impressions`` draws shoppers (5,000
users who come back, so impressions of one user are correlated), the logging policy picks the copy
and the oracle gives each impression its true P(click) and P(purchase | click). Each replicate then
re-randomizes users 50/50 (a fresh random split) and redraws every click and purchase from those
true probabilities, for both the pre-period and the experiment. Both arms show the same policy, so
every rejection is a false positive. Each replicate runs the library's own test functions on
per-user aggregates, exactly as :func:`rlopt.ab.simulate.simulate_ab` does, plus:

- the mSPRT on CTR (delta method), monitored after every one of ``looks`` batches, stopping at the
  first always-valid ``p <= alpha``;
- naive peeking: the fixed-horizon delta-method z-test checked after every batch, stopping at the
  first ``p < alpha`` (the practice the mSPRT exists to replace);
- the two-proportion z-test once more with *impressions* randomized (its own assumption), to
  separate the test's calibration from the cost of ignoring user clustering.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import tyro
from scipy import stats

from experiments.cli import run
from experiments.results_io import args_record, result_path, write_result
from rlopt.ab.arms import Arm, make_chooser
from rlopt.ab.sequential import msprt_pvalues, ratio_looks
from rlopt.ab.stat_tests import cuped, ratio_delta_method, srm_check, two_proportion_ztest, welch_ttest
from rlopt.seeding import seed_everything

FIXED_TESTS = ("ctr_ztest_impression_randomized", "ctr_ztest", "purchase_rate_ztest", "ctr_delta", "purchase_rate_delta", "revenue_per_impression_delta",
               "clicks_per_user_welch", "revenue_per_user_welch", "clicks_per_user_cuped", "revenue_per_user_cuped",
               "srm_at_alpha")


@dataclass
class Args:
    reps: int = 2000
    """A/A comparisons (each one a fresh user split and fresh clicks and purchases)."""
    impressions: int = 40_000
    """Impressions in the experiment period."""
    pre_impressions: int = 40_000
    """Impressions in the pre-period (CUPED's covariate)."""
    looks: int = 50
    """Batches after which the mSPRT and naive peeking look at the data."""
    alpha: float = 0.05
    """Significance level of every test."""
    tau_relative: float = 0.1
    """mSPRT mixing scale, as a share of the pre-period CTR."""
    seed: int = 0
    """Seed of the traffic and of every draw."""
    out: Path = result_path("ab", "aa_fpr")
    """Results JSON."""


def seeded_market(seed: int):
    """Seed every global RNG with ``seed``; return the built-in market and its oracle."""
    from rlopt.market import DEFAULT_MARKET, Marketplace
    from rlopt.market.oracle import Oracle

    seed_everything(seed)
    market = Marketplace.from_toml(DEFAULT_MARKET)
    return market, Oracle(market)


def config_record(args) -> dict:
    """A script's ``Args`` as JSON-ready values (repository paths relative to it), for a results file."""
    return args_record(args)


def build_traffic(market, oracle, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Impressions under the logging policy with their true probabilities, in time order."""
    imps = market.sample_impressions(n, rng)
    imps["copy_text"] = make_chooser(Arm.parse("logging"), market, oracle)(imps, rng)
    scored = oracle.evaluate(imps).sort_values("timestamp", kind="stable").reset_index(drop=True)
    scored["net_price"] = np.where(scored["p_purchase"] > 0, scored["expected_revenue"] / scored["p_purchase"], 0.0)
    return scored[["user_id", "p_click", "p_purchase_given_click", "net_price"]]


def _draw(traffic: pd.DataFrame, rng: np.random.Generator, click_scale: np.ndarray | float = 1.0
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    clicked = rng.random(len(traffic)) < np.clip(traffic["p_click"].to_numpy() * click_scale, 0.0, 1.0)
    converted = clicked & (rng.random(len(traffic)) < traffic["p_purchase_given_click"].to_numpy())
    return clicked.astype(float), converted.astype(float), converted * traffic["net_price"].to_numpy()


def build_experiment(market, oracle, n_pre: int, n_exp: int, rng: np.random.Generator):
    """Pre-period and experiment traffic plus user codes shared by both periods.

    Returns
    -------
    pre, exp : pandas.DataFrame
        Traffic from :func:`build_traffic` (pre-period first, so draws match earlier runs).
    codes, pre_codes : ndarray of int, shapes (len(exp),) and (len(pre),)
        Index of each impression's user in one user vocabulary covering both periods.
    n_users : int
        Size of that vocabulary.
    """
    pre = build_traffic(market, oracle, n_pre, rng)
    exp = build_traffic(market, oracle, n_exp, rng)
    users, codes_all = np.unique(np.r_[exp["user_id"].to_numpy(str), pre["user_id"].to_numpy(str)],
                                 return_inverse=True)
    return pre, exp, codes_all[: len(exp)], codes_all[len(exp):], users.size


def one_replicate(exp, pre, codes, pre_codes, n_users, looks, alpha, tau_relative, rng,
                  lift: float = 0.0) -> dict[str, float | bool]:
    """p-values of every fixed-horizon test and the sequential / peeking decisions for one run.

    ``lift`` = 0 is an A/A test; otherwise arm B's true CTR is multiplied by ``1 + lift``.
    """
    arm = (rng.random(n_users) < 0.5).astype(int)
    clicked, converted, revenue = _draw(exp, rng, 1.0 + lift * arm[codes])
    pre_clicked, _, pre_revenue = _draw(pre, rng)

    def per_user(values, index):
        return np.bincount(index, weights=values, minlength=n_users)

    imps, clicks = per_user(np.ones(len(exp)), codes), per_user(clicked, codes)
    convs, revs = per_user(converted, codes), per_user(revenue, codes)
    pre_c, pre_r = per_user(pre_clicked, pre_codes), per_user(pre_revenue, pre_codes)
    a, b = (imps > 0) & (arm == 0), (imps > 0) & (arm == 1)
    # The z-test's own assumption (independent trials): randomize impressions instead of users.
    imp_arm = rng.random(len(exp)) < 0.5
    out = {
        "ctr_ztest_impression_randomized": two_proportion_ztest(
            int(clicked[~imp_arm].sum()), int((~imp_arm).sum()), int(clicked[imp_arm].sum()),
            int(imp_arm.sum())).pvalue,
        "ctr_ztest": two_proportion_ztest(int(clicks[a].sum()), int(imps[a].sum()), int(clicks[b].sum()),
                                          int(imps[b].sum())).pvalue,
        "purchase_rate_ztest": two_proportion_ztest(int(convs[a].sum()), int(imps[a].sum()), int(convs[b].sum()),
                                                    int(imps[b].sum())).pvalue,
        "ctr_delta": ratio_delta_method(clicks[a], imps[a], clicks[b], imps[b]).pvalue,
        "purchase_rate_delta": ratio_delta_method(convs[a], imps[a], convs[b], imps[b]).pvalue,
        "revenue_per_impression_delta": ratio_delta_method(revs[a], imps[a], revs[b], imps[b]).pvalue,
        "clicks_per_user_welch": welch_ttest(clicks[a], clicks[b]).pvalue,
        "revenue_per_user_welch": welch_ttest(revs[a], revs[b]).pvalue,
        "clicks_per_user_cuped": cuped(clicks[a], pre_c[a], clicks[b], pre_c[b]).pvalue,
        "revenue_per_user_cuped": cuped(revs[a], pre_r[a], revs[b], pre_r[b]).pvalue,
        "srm_at_alpha": srm_check([int(a.sum()), int(b.sum())]).pvalue,
    }
    # Sequential: CTR by delta method at every batch (impressions are in time order).
    look = (np.arange(len(exp)) * looks) // len(exp)
    user_arm = arm[codes]
    paths = [ratio_looks(codes[user_arm == k], look[user_arm == k], clicked[user_arm == k],
                         np.ones(int((user_arm == k).sum())), n_users, looks) for k in (0, 1)]
    (r_a, v_a, n_a), (r_b, v_b, n_b) = paths
    var = np.where((n_a >= 50) & (n_b >= 50), v_a + v_b, np.nan)
    diff = np.nan_to_num(r_b - r_a)
    tau = tau_relative * pre_clicked.mean()
    p_seq = msprt_pvalues(diff, var, tau)
    with np.errstate(invalid="ignore", divide="ignore"):
        p_naive = 2 * stats.norm.sf(np.abs(diff) / np.sqrt(var))
    out["msprt_reject"] = bool(np.nanmin(p_seq) <= alpha)
    hits = np.flatnonzero(p_seq <= alpha)
    out["msprt_stop_fraction"] = float((hits[0] + 1) / looks) if hits.size else 1.0
    out["msprt_sign"] = float(np.sign(diff[hits[0]])) if hits.size else 0.0
    out["msprt_final_p"] = float(p_seq[-1])
    out["peeking_reject"] = bool(np.nanmin(np.where(np.isfinite(p_naive), p_naive, 1.0)) < alpha)
    out["last_look_reject"] = bool(p_naive[-1] < alpha)
    return out


def summarize(records: list[dict], alpha: float) -> list[dict]:
    reps = len(records)
    rows = []
    for name in (*FIXED_TESTS, "msprt_reject", "peeking_reject", "last_look_reject"):
        if name in FIXED_TESTS:
            p = np.array([r[name] for r in records])
            k = int((p < alpha).sum())
            ks = float(stats.kstest(p, "uniform").pvalue)
        else:
            k, ks = int(sum(r[name] for r in records)), float("nan")
        ci = stats.binomtest(k, reps).proportion_ci(0.95, method="exact")
        kind = ("sequential (every batch)" if name == "msprt_reject" else
                "naive peeking (every batch)" if name == "peeking_reject" else "fixed horizon")
        target = "<= 5%" if kind != "fixed horizon" else "[4%, 6%]"
        fpr = k / reps
        ok = fpr <= alpha if name == "msprt_reject" else (0.04 <= fpr <= 0.06 if kind == "fixed horizon" else None)
        rows.append({"test": name, "kind": kind, "rejections": k, "fpr": fpr, "ci95": [ci.low, ci.high],
                     "target": target if name != "peeking_reject" else "(shows inflation)",
                     "meets_target": ok, "ks_uniform_pvalue": ks})
    return rows


def main(argv: list[str] | None = None) -> dict:
    """Parse ``Args`` from ``argv`` (default: the command line), run, write the JSON, print a table."""
    args = tyro.cli(Args, args=argv, description=__doc__)
    from rlopt.market import DEFAULT_MARKET

    market, oracle = seeded_market(args.seed)
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    pre, exp, codes, pre_codes, n_users = build_experiment(market, oracle, args.pre_impressions,
                                                          args.impressions, rng)
    records = [one_replicate(exp, pre, codes, pre_codes, n_users, args.looks, args.alpha, args.tau_relative, rng)
               for _ in range(args.reps)]
    rows = summarize(records, args.alpha)
    per_user = np.bincount(codes, minlength=n_users)
    result = {
        "config": config_record(args),
        "market": str(DEFAULT_MARKET), "users_in_experiment": int((per_user > 0).sum()),
        "impressions_per_user_mean": float(per_user[per_user > 0].mean()),
        "true_ctr": float(exp["p_click"].mean()), "seconds": time.perf_counter() - t0, "rows": rows,
    }
    write_result(args.out, result)
    print(f"A/A: {args.reps} comparisons, {args.impressions} impressions "
          f"({result['users_in_experiment']} users, {result['impressions_per_user_mean']:.1f} impressions/user), "
          f"{args.looks} looks, alpha={args.alpha}, {result['seconds']:.0f}s")
    print(f"{'test':32s} {'kind':28s} {'FPR':>7s} {'95% CI':>17s} {'target':>18s} {'KS p':>7s}")
    for r in rows:
        ok = "" if r["meets_target"] is None else ("ok" if r["meets_target"] else "MISS")
        print(f"{r['test']:32s} {r['kind']:28s} {r['fpr']:7.2%} [{r['ci95'][0]:6.2%}, {r['ci95'][1]:6.2%}] "
              f"{r['target']:>13s} {ok:>4s} {r['ks_uniform_pvalue']:7.3f}")
    return result


if __name__ == "__main__":
    run(main)
