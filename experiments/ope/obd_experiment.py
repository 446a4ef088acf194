"""OPE on the Open Bandit Dataset sample: Bernoulli-TS from Random's log, and Random from BTS's log.

Both policies ran live side by side, so each log's mean click is the other direction's ground
truth. For every estimator we report the estimate, its 95% bootstrap interval, the relative
error ``|estimate - truth| / truth`` and whether the interval covers the truth.

    python -m experiments.ope.obd_experiment [--data /work/shared/data/obd] [--seed 0]

Writes ``experiments/results/ope/obd.json`` and prints a table (``--help``: every field of ``Args``).
``tests/data/obd`` holds a smaller sample in the same layout.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tyro

from experiments.cli import run
from experiments.results_io import args_record, result_path, write_result
from rlopt.data.obd import load_obd
from rlopt.ope import OffPolicyEvaluation, RegressionModel
from rlopt.ope.evaluate import make_estimators
from rlopt.ope.obd_policies import bts_action_dist, uniform_action_dist
from rlopt.seeding import seed_everything


@dataclass
class Args:
    data: Path = Path("/work/shared/data/obd")
    """OBD root, with ``random/`` and ``bts/`` (each ``<campaign>.csv`` + ``item_context.csv``)."""
    seed: int = 0
    """Seed of the reward-model folds, the BTS simulation and the bootstrap."""
    n_bootstrap: int = 1000
    """Bootstrap replicates per interval."""
    n_folds: int = 5
    """Cross-fitting folds of the reward model (DM, DR, ...)."""
    n_sim: int = 100_000
    """Monte-Carlo rankings for the BTS posterior."""
    switch_lambda: float = 100.0
    """``lambda_`` of switch-dr and dr-os."""
    out: Path = result_path("ope", "obd")
    """Results JSON."""


def evaluate(log, dist, truth, args, rng) -> dict:
    fold_rng, boot_rng = rng.spawn(2)
    q = RegressionModel(n_actions=log.n_actions, len_list=log.len_list).fit_predict(
        log.context, log.action, log.reward, log.position, n_folds=args.n_folds, rng=fold_rng)
    ope = OffPolicyEvaluation(log, make_estimators(lambda_=args.switch_lambda))
    table = ope.summarize_off_policy_estimates(dist, q, ground_truth=truth, n_bootstrap_samples=args.n_bootstrap,
                                               rng=boot_rng)
    return {name: {k: (bool(v) if k == "covers" else float(v)) for k, v in row.items()}
            for name, row in table.to_dict(orient="index").items()}


def main(argv: list[str] | None = None) -> dict:
    """Parse ``Args`` from ``argv`` (default: the command line), run the three cases, write the JSON, print tables."""
    args = tyro.cli(Args, args=argv, description=__doc__)
    seed_everything(args.seed)
    rng = np.random.default_rng(args.seed)
    rnd = load_obd(args.data / "random")
    bts = load_obd(args.data / "bts", user_categories=rnd.user_categories)
    rnd = load_obd(args.data / "random", user_categories=bts.user_categories)  # union of both logs' categories
    runs = []
    cases = [
        ("bts <- random log (posterior MC)", rnd, bts, "posterior"),
        ("bts <- random log (logged frequency)", rnd, bts, "frequency"),
        ("random <- bts log", bts, rnd, None),
    ]
    for (label, log, target, method), child in zip(cases, rng.spawn(len(cases)), strict=True):
        start = time.perf_counter()
        policy_rng, eval_rng = child.spawn(2)
        if method is None:
            dist = uniform_action_dist(log.n_rounds, log.n_actions, log.len_list)
        else:
            dist = bts_action_dist(target, log.n_rounds, method=method, n_sim=args.n_sim, rng=policy_rng)
        truth = target.on_policy_value()
        results = evaluate(log, dist, truth, args, eval_rng)
        runs.append({"case": label, "evaluation_policy": target.policy_name, "logging_policy": log.policy_name,
                     "action_dist": method or "uniform", "n_rounds": log.n_rounds, "ground_truth": truth,
                     "logged_value": log.on_policy_value(), "seconds": time.perf_counter() - start,
                     "estimators": results})
        print(f"\n{label}: truth (other log's CTR) = {truth:.5f}, logged CTR = {log.on_policy_value():.5f}")
        print(f"{'estimator':<10} {'estimate':>9} {'95% low':>9} {'95% high':>9} {'rel.err':>8} covers")
        for name, r in results.items():
            print(f"{name:<10} {r['estimate']:9.5f} {r['low']:9.5f} {r['high']:9.5f} {r['relative_error']:8.3f} "
                  f"{'yes' if r['covers'] else 'no'}")
    record = {"config": args_record(args),
              "runs": runs}
    write_result(args.out, record)
    print(f"\nwrote {args.out}")
    return record


if __name__ == "__main__":
    run(main)
