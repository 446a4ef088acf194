"""Run a policy against a placement env for N steps and record reward and regret curves.

Pseudo-regret is used: at step ``t`` the regret is ``max_a μ(x_t, a) - μ(x_t, a_t)`` with the
env's expected rewards ``μ``, so the curve is free of reward sampling noise.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import envs  # noqa: F401  (registers the ids)
from envs.slate import PlacementSlate
from envs.vector import PlacementBanditVector
from rlopt.errors import InputError
from rlopt.policies import POLICIES, Policy, parse_policy_spec
from rlopt.seeding import as_rng

ENV_ALIASES = {"bandit": "rlopt/PlacementBandit-v0", "slate": "rlopt/PlacementSlate-v0"}


@dataclass
class BanditRun:
    """Result of :func:`run_policy`.

    Attributes
    ----------
    steps : int
        Shoppers served (slates count one step each).
    cumulative_reward, cumulative_regret, oracle_reward : float
        Sampled reward, summed pseudo-regret and the oracle's summed expected reward.
    curve_steps, curve_reward, curve_regret : ndarray, shape (n_points,)
        Cumulative reward and regret at ``curve_steps`` (after each batch, thinned to
        at most ``max_points``).
    seconds : float
        Wall time of the loop (env + policy).
    """

    env_id: str
    policy: str
    policy_params: dict[str, Any]
    steps: int
    seed: int
    batch_size: int
    cumulative_reward: float
    cumulative_regret: float
    oracle_reward: float
    seconds: float
    curve_steps: np.ndarray = field(repr=False)
    curve_reward: np.ndarray = field(repr=False)
    curve_regret: np.ndarray = field(repr=False)

    def summary(self) -> dict[str, Any]:
        return {
            "env": self.env_id, "policy": self.policy, "policy_params": self.policy_params,
            "steps": self.steps, "seed": self.seed, "batch_size": self.batch_size,
            "cumulative_reward": self.cumulative_reward, "cumulative_regret": self.cumulative_regret,
            "oracle_expected_reward": self.oracle_reward,
            "mean_reward": self.cumulative_reward / max(self.steps, 1),
            "regret_per_step": self.cumulative_regret / max(self.steps, 1),
            "steps_per_second": self.steps / max(self.seconds, 1e-9),
        }


def run_policy(env_id: str, policy_spec: str, steps: int, seed: int = 0, batch_size: int = 100,
               max_points: int = 500, progress: Callable[[int], None] | None = None,
               **env_kwargs: Any) -> BanditRun:
    """Play ``policy_spec`` on ``env_id`` for ``steps`` shoppers.

    ``batch_size`` shoppers are served per policy call (the policy learns after each batch;
    ``1`` is fully online). ``progress(n)`` is called with the steps done after each batch.
    ``env_kwargs`` go to the env (``market, reward, reward_source, n_shoppers ...``).
    The env and the policy get independent streams spawned from ``seed``.
    """
    env_id = ENV_ALIASES.get(env_id, env_id)
    if env_id not in ENV_ALIASES.values():
        raise InputError(f"unknown env '{env_id}'; valid: {', '.join(ENV_ALIASES.values())} "
                         f"(or the short names {', '.join(ENV_ALIASES)})", column="env", rule="registered env id",
                         value=env_id)
    if steps < 1 or batch_size < 1:
        raise InputError(f"steps and batch size must be >= 1 (got {steps}, {batch_size})", rule="steps >= 1")
    seeds = np.random.SeedSequence(seed).spawn(2)
    if env_id == ENV_ALIASES["bandit"]:
        return _run_bandit(env_id, policy_spec, steps, seed, batch_size, max_points, seeds, progress, env_kwargs)
    return _run_slate(env_id, policy_spec, steps, seed, batch_size, max_points, seeds, progress, env_kwargs)


def build_policy(spec: str, n_actions: int, dim: int, n_types: int, rng) -> Policy:
    """:func:`rlopt.policies.make_policy`, adding ``n_types`` for linear policies on a typed env."""
    name, kwargs = parse_policy_spec(spec)
    if n_types and "n_types" in POLICIES[name].__init__.__code__.co_varnames:
        kwargs.setdefault("n_types", n_types)
    return POLICIES[name](n_actions, dim, rng, **kwargs)


def _thin(points: list[tuple[int, float, float]], max_points: int) -> tuple[np.ndarray, ...]:
    arr = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if len(arr) > max_points:
        arr = arr[np.unique(np.linspace(0, len(arr) - 1, max_points).round().astype(int))]
    return arr[:, 0].astype(np.int64), arr[:, 1], arr[:, 2]


def _run_bandit(env_id, spec, steps, seed, batch_size, max_points, seeds, progress, env_kwargs) -> BanditRun:
    venv = PlacementBanditVector(num_envs=min(batch_size, steps), **env_kwargs)
    policy = build_policy(spec, venv.single_action_space.n, venv.single_observation_space.shape[0],
                          venv.single.n_types, rng=as_rng(seeds[0]))
    obs, info = venv.reset(seed=int(seeds[1].generate_state(1)[0]))
    done, reward, regret, oracle, points = 0, 0.0, 0.0, 0.0, []
    start = time.perf_counter()
    while done < steps:
        n = min(venv.num_envs, steps - done)
        actions = policy.select_batch(obs)
        best = info["expected_rewards"].max(axis=1)
        nxt, rewards, _, _, info = venv.step(actions)
        # A last partial batch: only the first n shoppers count (the rest were served for shape).
        policy.update_batch(obs[:n], actions[:n], rewards[:n])
        reward += float(rewards[:n].sum())
        regret += float(info["regret"][:n].sum())
        oracle += float(best[:n].sum())
        done += n
        obs = nxt
        points.append((done, reward, regret))
        if progress is not None:
            progress(done)
    seconds = time.perf_counter() - start
    return BanditRun(env_id, policy.name, policy.params(), steps, seed, venv.num_envs, reward, regret, oracle,
                     seconds, *_thin(points, max_points))


def _run_slate(env_id, spec, steps, seed, batch_size, max_points, seeds, progress, env_kwargs) -> BanditRun:
    """Slate: rank variants with the policy's ``rank_batch``, fill the slots best-first.

    The policy learns from every shown slot as one (context, variant, click) observation.
    """
    env: PlacementSlate = gym.make(env_id, max_episode_steps=None, **env_kwargs).unwrapped
    n_slots, k = env.action_space.shape[0], env.table.n_actions
    slot_order = np.argsort(-env.examination, kind="stable")
    policy = build_policy(spec, k, env.observation_space.shape[0], env.n_types, rng=as_rng(seeds[0]))
    obs, info = env.reset(seed=int(seeds[1].generate_state(1)[0]))
    done, reward, regret, oracle, points = 0, 0.0, 0.0, 0.0, []
    buf_x, buf_a, buf_r = [], [], []
    start = time.perf_counter()
    while done < steps:
        order = np.empty(n_slots, dtype=np.int64)
        order[slot_order] = policy.rank_batch(obs[None])[0, :n_slots]  # best variant, most examined slot
        oracle += info["optimal_value"]
        obs_next, r, _, _, info = env.step(order)
        reward += r
        regret += info["regret"]
        buf_x.extend([obs] * n_slots)
        buf_a.extend(order.tolist())
        buf_r.extend(info["clicks"].astype(float).tolist())
        obs = obs_next
        done += 1
        if done % batch_size == 0 or done == steps:
            policy.update_batch(np.asarray(buf_x), np.asarray(buf_a), np.asarray(buf_r))
            buf_x, buf_a, buf_r = [], [], []
            points.append((done, reward, regret))
            if progress is not None:
                progress(done)
    seconds = time.perf_counter() - start
    return BanditRun(env_id, policy.name, policy.params(), steps, seed, batch_size, reward, regret, oracle,
                     seconds, *_thin(points, max_points))


def save_regret_plot(runs: Sequence[BanditRun], path: str | Path, title: str = "") -> Path:
    """Cumulative (pseudo-)regret against steps, one line per run; written atomically as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rlopt.io_utils import atomic_path

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for run in runs:
        ax.plot(run.curve_steps, run.curve_regret, label=f"{run.policy} (seed {run.seed})")
    ax.set_xlabel("steps (shoppers served)")
    ax.set_ylabel("cumulative regret vs the oracle")
    ax.set_title(title or (runs[0].env_id if runs else ""))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return Path(path)


def curves_dict(run: BanditRun) -> dict[str, Any]:
    """A run's summary plus its curves (lists), for JSON."""
    return {**run.summary(), "curve_steps": run.curve_steps.tolist(),
            "curve_reward": run.curve_reward.tolist(), "curve_regret": run.curve_regret.tolist()}
