"""Target experiment: cumulative regret at 100k steps on ``rlopt/PlacementBandit-v0`` (default market).

Run: ``python -m experiments.bandits.regret_100k [--steps 100000] [--seeds 5] [--reward click]
[--policies SPEC ...] [--name regret_100k]`` (``--help``: every field of ``Args``).
Writes ``experiments/results/bandits/<name>.json`` and ``<name>.png``, prints a table.
``epsilon-greedy`` is always run (it is the reference of the ratio column).

Every policy runs with its library defaults (LinUCB alpha=0.25, linear TS v=0.1, ε=0.1) on the
same seeds; linear policies use typed arms (one ridge model per copy kind, see
:mod:`rlopt.policies.linear`), the context-free ones keep per-index statistics. Batch 100:
the policy picks for 100 shoppers, then learns from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tyro

from envs.runner import run_policy, save_regret_plot
from experiments.cli import run
from experiments.results_io import RESULTS, args_record, write_result

POLICIES = ("uniform", "epsilon-greedy", "ucb1", "bernoulli-ts", "linear-epsilon-greedy", "linucb", "linear-ts",
            "logistic-ts")


@dataclass
class Args:
    steps: int = 100_000
    """Shoppers served per run."""
    seeds: int = 5
    """Runs per policy, with seeds 0 .. seeds - 1."""
    reward: str = "click"
    """What the env rewards: click, purchase or revenue."""
    batch_size: int = 100
    """Shoppers served per policy call (the policy learns after each batch)."""
    policies: list[str] = field(default_factory=lambda: list(POLICIES))
    """Policy specs to compare (``rlopt bandit --help`` lists them)."""
    name: str = "regret_100k"
    """Output file stem: OUT_DIR/NAME.json and OUT_DIR/NAME.png."""
    out_dir: Path = RESULTS / "bandits"
    """Folder of the results JSON and plot."""


def main(argv: list[str] | None = None) -> dict:
    """Parse ``Args`` from ``argv`` (default: the command line), run, write the JSON and plot, print a table."""
    args = tyro.cli(Args, args=argv, description=__doc__)
    specs = list(dict.fromkeys(["epsilon-greedy", *args.policies]))
    runs = {p: [run_policy("bandit", p, args.steps, seed=s, batch_size=args.batch_size, reward=args.reward)
                for s in range(args.seeds)] for p in specs}

    # summary: mean and spread over seeds, and the ratio to epsilon-greedy's mean regret
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

    args.out_dir.mkdir(parents=True, exist_ok=True)
    save_regret_plot([rs[0] for rs in runs.values()], args.out_dir / f"{args.name}.png",
                     title=f"PlacementBandit-v0, reward={args.reward}, seed 0")
    record = {
        "args": args_record(args),
        "summary": table,
        "runs": {p: [r.summary() for r in rs] for p, rs in runs.items()},
        "curves_seed0": {p: {"steps": rs[0].curve_steps.tolist(), "regret": rs[0].curve_regret.tolist()}
                         for p, rs in runs.items()},
    }
    path = write_result(args.out_dir / f"{args.name}.json", record)
    print(f"wrote {path}")
    return record


if __name__ == "__main__":
    run(main)
