"""Do the OPE intervals cover the true value at their nominal 95%? 100 seeded repetitions each.

Two simulations:

- ``synthetic``: :class:`rlopt.ope.synthetic.SyntheticBandit` (10 items, 3 slots, 5-dim context,
  logging softmax beta=1, evaluation softmax beta=3); truth from 200k fresh contexts. The reward
  model has no context-action interactions, so DM is misspecified, as on real data.
- ``market``: the built-in marketplace (``rlopt.market``): each repetition simulates a fresh log
  with ``Marketplace.simulate(n, seed=rep)`` and evaluates ``uniform`` and
  ``logged-best:epsilon=0.1`` over each (item, placement)'s logged copy pool; the truth is the
  oracle's expected CTR of that policy on the logged impressions (``Oracle.click_prob``, which only
  evaluators may use).

    python -m experiments.ope.coverage [--reps 100] [--which synthetic market]

Writes ``experiments/results/ope/coverage.json`` and prints a table per study (``--help``: every
field of ``Args``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import tyro

from experiments.cli import run
from experiments.results_io import args_record, result_path, write_result
from rlopt.ope import OffPolicyEvaluation
from rlopt.ope.coverage import coverage_study, summarize_runs
from rlopt.ope.evaluate import contract_inputs, make_estimators
from rlopt.ope.synthetic import SyntheticBandit
from rlopt.seeding import seed_everything

METHODS = ("percentile", "bca")  # both intervals from the same bootstrap replicates


@dataclass
class Args:
    reps: int = 100
    """Seeded repetitions of each study."""
    seed: int = 0
    """Seed of every repetition's log, reward model and bootstrap."""
    which: list[Literal["synthetic", "market"]] = field(default_factory=lambda: ["synthetic", "market"])
    """Studies to run."""
    n_rounds: int = 2000
    """Synthetic log size (rows per repetition)."""
    n_impressions: int = 5000
    """Market log size (impressions per repetition)."""
    n_bootstrap: int = 500
    """Bootstrap replicates per interval."""
    switch_lambda: float = 20.0
    """``lambda_`` of switch-dr and dr-os."""
    logged_pools: bool = False
    """Candidates = logged copies only (as ``rlopt ope`` on a bare log) instead of the market's pools."""
    out: Path = result_path("ope", "coverage")
    """Results JSON."""


def synthetic_study(args) -> dict:
    bandit = SyntheticBandit(n_actions=10, dim_context=5, len_list=3, beta=1.0, seed=args.seed)
    beta_e = 3.0
    truth = bandit.true_value(beta_e)
    result = coverage_study(
        lambda rng: bandit.obtain_batch_bandit_feedback(args.n_rounds, rng),
        lambda fb: bandit.softmax_policy(fb["context"], beta_e),
        truth, n_actions=10, len_list=3, estimators=make_estimators(lambda_=args.switch_lambda),
        n_repetitions=args.reps, n_bootstrap_samples=args.n_bootstrap, seed=args.seed, methods=METHODS,
    )
    return {"setup": {"n_rounds": args.n_rounds, "n_actions": 10, "len_list": 3, "dim_context": 5,
                      "logging_beta": 1.0, "evaluation_beta": beta_e, "truth": truth,
                      "logged_value": bandit.true_value(1.0)},
            "summary": result.summary}


def market_study(args) -> dict:
    from rlopt.market import Marketplace
    from rlopt.market.oracle import Oracle
    from rlopt.ope.contract import contract_feedback

    market = Marketplace.from_toml()
    oracle = Oracle(market)
    policies = ("uniform", "logged-best:epsilon=0.1")
    pools = {key: market.copy_pool(*key) for key in market.pools}
    rows = []
    for rep, child in enumerate(np.random.default_rng(args.seed).spawn(args.reps)):
        sim = market.simulate(args.n_impressions, seed=args.seed * 100_003 + rep)
        fb = contract_feedback(sim.logs, pools=None if args.logged_pools else pools)
        p_click = oracle.candidate_click_probs(fb)  # (n_rounds, n_actions), shared by both policies
        feedback = {"reward": fb.reward, "action": fb.action, "position": fb.position, "pscore": fb.pscore}
        for policy, prng in zip(policies, child.spawn(len(policies)), strict=True):
            model_rng, boot_rng = prng.spawn(2)
            dist, q = contract_inputs(fb, policy, n_folds=3, rng=model_rng)
            truth = oracle.policy_value(fb, dist, p_click)
            ope = OffPolicyEvaluation(feedback, make_estimators(lambda_=args.switch_lambda))
            boot_seed = int(boot_rng.integers(0, 2**63 - 1))
            for method in METHODS:
                for name, ci in ope.estimate_intervals(dist, q, n_bootstrap_samples=args.n_bootstrap,
                                                       rng=boot_seed, method=method).items():
                    rows.append({"policy": policy, "rep": rep, "method": method, "estimator": name,
                                 "estimate": ci.estimate, "low": ci.low, "high": ci.high, "truth": truth,
                                 "covers": ci.covers(truth), "logged_value": fb.on_policy_value()})
        if (rep + 1) % 10 == 0:
            print(f"  market rep {rep + 1}/{args.reps}", flush=True)
    runs = pd.DataFrame(rows)
    return {"setup": {"n_impressions": args.n_impressions, "market": "default", "policies": list(policies),
                      "candidates": "logged copies" if args.logged_pools else "market copy pools",
                      "reward_model": "cross-fitted logistic on context + hashed copy words (3 folds)"},
            "summary": {p: summarize_runs(runs[runs["policy"] == p]) for p in policies}}


def _table(summary: pd.DataFrame) -> str:
    return summary[["coverage", "mean_width", "bias", "rmse", "relative_rmse"]].to_string(float_format="{:.4f}".format)


def _records(summary: pd.DataFrame) -> dict:
    """``{method: {estimator: {stat: value}}}`` for JSON."""
    return {m: summary.loc[m].to_dict(orient="index") for m in summary.index.get_level_values(0).unique()}


def main(argv: list[str] | None = None) -> dict:
    """Parse ``Args`` from ``argv`` (default: the command line), run the studies, write the JSON, print tables."""
    args = tyro.cli(Args, args=argv, description=__doc__)
    seed_everything(args.seed)
    out = {"config": args_record(args)}
    if "synthetic" in args.which:
        start = time.perf_counter()
        res = synthetic_study(args)
        res["seconds"] = time.perf_counter() - start
        print(f"\nsynthetic ({args.reps} reps, truth {res['setup']['truth']:.4f}):\n{_table(res['summary'])}")
        out["synthetic"] = {**res, "summary": _records(res["summary"])}
    if "market" in args.which:
        start = time.perf_counter()
        res = market_study(args)
        res["seconds"] = time.perf_counter() - start
        for policy, summary in res["summary"].items():
            print(f"\nmarket, {policy} ({args.reps} reps):\n{_table(summary)}")
        out["market"] = {**res, "summary": {p: _records(s) for p, s in res["summary"].items()}}
    write_result(args.out, out)
    print(f"\nwrote {args.out}")
    return out


if __name__ == "__main__":
    run(main)
