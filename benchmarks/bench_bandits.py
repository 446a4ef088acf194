"""Speed of the placement bandit envs and policies, and LinUCB against MABWiser's on the same env.

Run: ``python -m benchmarks.bench_bandits [--steps 20000] [--seconds 2]``.
Writes ``benchmarks/results/bandits.json`` and prints tables.

Measurements (wall clock, same process, same market):

1. ``env stepping``: ``PlacementBanditVector`` with B shoppers per call (random actions drawn
   up front) against the single ``gym.make`` env stepped one shopper at a time (the baseline).
   Target: >= 200k steps/s for the vectorized path.
2. ``policies``: select_batch + env step + update_batch per policy (batch 100) in steps/s.
3. ``LinUCB vs MABWiser``: rlopt's disjoint LinUCB, rlopt's typed LinUCB (one model per copy
   kind) and MABWiser's ``LearningPolicy.LinUCB`` (same alpha and ridge penalty) on the same
   env, same seed, same batch protocol (predict a batch, then learn from it): cumulative
   regret and wall time. Disjoint rlopt and MABWiser see the identical features, so their
   regret should match; the speed ratio is MABWiser time / rlopt time.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

import envs  # noqa: F401
from envs.runner import run_policy
from envs.vector import PlacementBanditVector
from rlopt.io_utils import write_json_atomic
from rlopt.policies import LinUCB

RESULTS = Path(__file__).resolve().parent / "results" / "bandits.json"
ALPHA, LAMBDA = 0.25, 1.0


def bench_single(seconds: float) -> float:
    env = gym.make("rlopt/PlacementBandit-v0", max_episode_steps=None).unwrapped
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.integers(0, env.action_space.n, size=1_000_000)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for a in actions[n % 900_000: n % 900_000 + 1000]:
            env.step(int(a))
        n += 1000
    return n / (time.perf_counter() - start)


def bench_vector(batch: int, seconds: float) -> float:
    venv = PlacementBanditVector(num_envs=batch)
    venv.reset(seed=0)
    acts = np.random.default_rng(0).integers(0, venv.single_action_space.n, size=(64, batch))
    n, i, start = 0, 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        venv.step(acts[i % 64])
        n += batch
        i += 1
    return n / (time.perf_counter() - start)


def mabwiser_linucb(steps: int, seed: int, batch: int) -> dict[str, float]:
    """MABWiser LinUCB driven exactly like rlopt's runner (predict a batch, learn from it)."""
    from mabwiser.mab import MAB, LearningPolicy

    venv = PlacementBanditVector(num_envs=batch)
    k = venv.single_action_space.n
    mab = MAB(arms=list(range(k)), learning_policy=LearningPolicy.LinUCB(alpha=ALPHA, l2_lambda=LAMBDA),
              seed=seed)
    obs, _ = venv.reset(seed=seed)
    regret, fitted, start = 0.0, False, time.perf_counter()
    for _ in range(steps // batch):
        if fitted:
            actions = np.asarray(mab.predict(obs), dtype=np.int64)
        else:  # MABWiser cannot predict before its first fit: play uniformly once
            actions = np.random.default_rng(seed).integers(0, k, size=batch)
        nxt, rewards, _, _, info = venv.step(actions)
        (mab.partial_fit if fitted else mab.fit)(actions, rewards, obs)
        fitted = True
        regret += float(info["regret"].sum())
        obs = nxt
    return {"cumulative_regret": regret, "seconds": time.perf_counter() - start}


def rlopt_linucb(steps: int, seed: int, batch: int, typed: bool) -> dict[str, float]:
    """rlopt LinUCB with the same protocol (uniform first batch, like the MABWiser run)."""
    venv = PlacementBanditVector(num_envs=batch)
    k, d = venv.single_action_space.n, venv.single_observation_space.shape[0]
    policy = LinUCB(k, d, rng=seed, alpha=ALPHA, lambda_=LAMBDA, n_types=venv.single.n_types if typed else 0)
    obs, _ = venv.reset(seed=seed)
    regret, start = 0.0, time.perf_counter()
    for step in range(steps // batch):
        actions = policy.select_batch(obs) if step else np.random.default_rng(seed).integers(0, k, size=batch)
        nxt, rewards, _, _, info = venv.step(actions)
        policy.update_batch(obs, actions, rewards)
        regret += float(info["regret"].sum())
        obs = nxt
    return {"cumulative_regret": regret, "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000, help="steps per quality run")
    parser.add_argument("--seconds", type=float, default=2.0, help="time per speed measurement")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()

    gym.make("rlopt/PlacementBandit-v0")  # build the shopper table once (cached) before timing
    single = bench_single(args.seconds)
    vector = {b: bench_vector(b, args.seconds) for b in (1, 64, 1024, 8192)}
    print("\nenv stepping (steps/s)")
    print(f"{'path':<28}{'steps/s':>14}{'x single':>10}")
    print(f"{'single env (gym.make)':<28}{single:>14,.0f}{1.0:>10.1f}")
    for b, v in vector.items():
        print(f"{'vector B=' + str(b):<28}{v:>14,.0f}{v / single:>10.1f}")

    policies = {}
    for spec in ("uniform", "epsilon-greedy", "ucb1", "bernoulli-ts", "linear-epsilon-greedy", "linucb",
                 "linear-ts", "logistic-ts"):
        run = run_policy("bandit", spec, args.steps, seed=0, batch_size=100)
        policies[spec] = {"steps_per_second": run.steps / run.seconds, "cumulative_regret": run.cumulative_regret}
    print(f"\npolicy loop, batch 100, {args.steps} steps")
    print(f"{'policy':<26}{'steps/s':>12}{'regret':>10}")
    for spec, row in policies.items():
        print(f"{spec:<26}{row['steps_per_second']:>12,.0f}{row['cumulative_regret']:>10.1f}")

    versus = {"mabwiser_linucb": [], "rlopt_linucb_disjoint": [], "rlopt_linucb_typed": []}
    for seed in range(args.seeds):
        versus["mabwiser_linucb"].append(mabwiser_linucb(args.steps, seed, 100))
        versus["rlopt_linucb_disjoint"].append(rlopt_linucb(args.steps, seed, 100, typed=False))
        versus["rlopt_linucb_typed"].append(rlopt_linucb(args.steps, seed, 100, typed=True))
    summary = {name: {"regret_mean": float(np.mean([r["cumulative_regret"] for r in runs])),
                      "regret_sd": float(np.std([r["cumulative_regret"] for r in runs], ddof=1))
                      if len(runs) > 1 else 0.0,
                      "seconds_mean": float(np.mean([r["seconds"] for r in runs]))}
               for name, runs in versus.items()}
    base = summary["mabwiser_linucb"]
    print(f"\nLinUCB (alpha={ALPHA}, lambda={LAMBDA}), {args.steps} steps, {args.seeds} seeds, batch 100")
    print(f"{'implementation':<26}{'regret':>16}{'seconds':>10}{'speed x MABWiser':>18}")
    for name, row in summary.items():
        print(f"{name:<26}{row['regret_mean']:>9.1f} ± {row['regret_sd']:<5.1f}{row['seconds_mean']:>10.2f}"
              f"{base['seconds_mean'] / row['seconds_mean']:>18.1f}")

    write_json_atomic(RESULTS, {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "load_avg_1m": os.getloadavg()[0]},
        "args": vars(args),
        "env_steps_per_second": {"single": single, **{f"vector_B{b}": v for b, v in vector.items()}},
        "policies_batch100": policies,
        "linucb_vs_mabwiser": {"runs": versus, "summary": summary, "alpha": ALPHA, "lambda": LAMBDA},
    })
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
