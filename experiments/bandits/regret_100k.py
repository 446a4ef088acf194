"""Target experiment: cumulative regret at 100k steps on ``rlopt/PlacementBandit-v0`` (default market).

Run: ``python experiments/bandits/regret_100k.py [--steps 100000] [--seeds 5] [--reward click]
[--policies SPEC ...] [--name regret_100k]``.
Writes ``experiments/bandits/results/<name>.json`` and ``<name>.png``, prints a table.
``epsilon-greedy`` is always run (it is the reference of the ratio column).

Every policy runs with its library defaults (LinUCB alpha=0.25, linear TS v=0.1, ε=0.1) on the
same seeds; linear policies use typed arms (one ridge model per copy kind, see
:mod:`rlopt.policies.linear`), the context-free ones keep per-index statistics. Batch 100:
the policy picks for 100 shoppers, then learns from them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from envs.runner import run_policy, save_regret_plot
from rlopt.io_utils import write_json_atomic

OUT = Path(__file__).resolve().parent / "results"
POLICIES = ("uniform", "epsilon-greedy", "ucb1", "bernoulli-ts", "linear-epsilon-greedy", "linucb", "linear-ts",
            "logistic-ts")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--reward", default="click")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--policies", nargs="+", default=list(POLICIES), help="policy specs to compare")
    parser.add_argument("--name", default="regret_100k", help="output file stem under results/")
    args = parser.parse_args()

    specs = list(dict.fromkeys(["epsilon-greedy", *args.policies]))
    runs = {p: [run_policy("bandit", p, args.steps, seed=s, batch_size=args.batch_size, reward=args.reward)
                for s in range(args.seeds)] for p in specs}
    eps = np.array([r.cumulative_regret for r in runs["epsilon-greedy"]])
    table = {}
    for p, rs in runs.items():
        reg = np.array([r.cumulative_regret for r in rs])
        table[p] = {
            "regret_mean": float(reg.mean()), "regret_sd": float(reg.std(ddof=1)) if reg.size > 1 else 0.0,
            "ratio_to_epsilon_greedy": float(reg.mean() / eps.mean()),
            "reward_mean": float(np.mean([r.cumulative_reward for r in rs])),
            "oracle_reward_mean": float(np.mean([r.oracle_reward for r in rs])),
            "steps_per_second": float(np.mean([r.steps / r.seconds for r in rs])),
            "params": rs[0].policy_params,
        }
    print(f"\n{args.steps} steps, {args.seeds} seeds, reward={args.reward}, batch {args.batch_size}")
    print(f"{'policy':<36}{'regret (mean ± sd)':>22}{'x eps-greedy':>14}{'reward':>10}{'oracle':>10}{'steps/s':>10}")
    for p, row in table.items():
        print(f"{p:<36}{row['regret_mean']:>13.0f} ± {row['regret_sd']:<6.0f}{row['ratio_to_epsilon_greedy']:>14.2f}"
              f"{row['reward_mean']:>10.0f}{row['oracle_reward_mean']:>10.0f}{row['steps_per_second']:>10,.0f}")
    OUT.mkdir(parents=True, exist_ok=True)
    save_regret_plot([rs[0] for rs in runs.values()], OUT / f"{args.name}.png",
                     title=f"PlacementBandit-v0, reward={args.reward}, seed 0")
    write_json_atomic(OUT / f"{args.name}.json", {
        "args": vars(args), "summary": table,
        "runs": {p: [r.summary() for r in rs] for p, rs in runs.items()},
        "curves_seed0": {p: {"steps": rs[0].curve_steps.tolist(), "regret": rs[0].curve_regret.tolist()}
                         for p, rs in runs.items()},
    })
    print(f"wrote {OUT / (args.name + '.json')}")


if __name__ == "__main__":
    main()
