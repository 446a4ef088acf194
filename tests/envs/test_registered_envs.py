"""Every registered id on the real (default) marketplace: check_env, seeding, info contents."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs
from envs.runner import run_policy
from rlopt.errors import InputError

SMALL = {"n_shoppers": 2000}


@pytest.mark.parametrize("env_id", envs.ENV_IDS)
def test_check_env_every_registered_id(env_id):
    env = gym.make(env_id, **SMALL)
    assert env.spec.max_episode_steps == 1000
    check_env(env.unwrapped, skip_render_check=True)


@pytest.mark.parametrize("env_id", envs.ENV_IDS)
def test_same_seed_same_rollout(env_id):
    def rollout(seed):
        env = gym.make(env_id, **SMALL)
        env.action_space.seed(seed)
        obs, _ = env.reset(seed=seed)
        out = [obs]
        for _ in range(100):
            obs, r, term, trunc, info = env.step(env.action_space.sample())
            out += [obs, np.float64(r), np.float64(info["regret"])]
        return out

    a, b, c = rollout(3), rollout(3), rollout(4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_market_bandit_observation_and_logging_info():
    env = gym.make("rlopt/PlacementBandit-v0", logging_policy=True, **SMALL).unwrapped
    k = env.action_space.n
    names = env.feature_names
    assert names[0].startswith("segment=") and names[-1] == f"kind[{k - 1}]"
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    kinds = obs[-k:]
    assert set(kinds.astype(int)) <= set(range(env.n_types))
    assert info["expected_rewards"].shape == (k,)
    assert info["optimal_action"] == int(np.argmax(info["expected_rewards"]))
    assert info["pscore"] == pytest.approx(info["logging_probs"][info["logging_action"]])
    # The logging propensities come from the market's own logging policy.
    table = env.table
    row = table.meta.iloc[[0]]
    from rlopt.market import DEFAULT_MARKET, Marketplace

    market = Marketplace.from_toml(DEFAULT_MARKET)
    np.testing.assert_allclose(table.logging_probs[0], market.logging_policy.action_probs(row)[0])
    with pytest.raises(InputError, match=rf"action {k} is outside the action space Discrete\({k}\)"):
        env.step(k)


def test_bad_env_arguments():
    with pytest.raises(InputError, match="unknown reward 'likes'"):
        gym.make("rlopt/PlacementBandit-v0", reward="likes", **SMALL)
    with pytest.raises(InputError, match="unknown placement 'billboard'"):
        gym.make("rlopt/PlacementSlate-v0", placement="billboard", **SMALL)
    with pytest.raises(InputError, match="reward_source must be 'truth' or a reward model directory"):
        gym.make("rlopt/PlacementBandit-v0", reward_source="/nonexistent/model", n_shoppers=50)
    with pytest.raises(InputError, match="unknown env"):
        run_policy("rlopt/Nope-v0", "uniform", 10)


def test_linucb_beats_epsilon_greedy_on_the_market():
    """A short run already separates a contextual learner from a context-free one."""
    eps = run_policy("bandit", "epsilon-greedy", 5000, seed=0, batch_size=50, **SMALL)
    lin = run_policy("bandit", "linucb", 5000, seed=0, batch_size=50, **SMALL)
    assert lin.cumulative_regret < 0.8 * eps.cumulative_regret
    assert lin.curve_regret[-1] == pytest.approx(lin.cumulative_regret)
    assert lin.oracle_reward > lin.cumulative_reward * 0.5


def test_slate_runs_and_records_regret():
    run = run_policy("slate", "linucb", 300, seed=0, batch_size=50, **SMALL)
    assert run.steps == 300 and run.cumulative_regret > 0
    assert np.all(np.diff(run.curve_regret) >= -1e-12)


def test_make_vec_uses_the_native_vector_env():
    from envs.vector import PlacementBanditVector

    venv = gym.make_vec("rlopt/PlacementBandit-v0", num_envs=16, vectorization_mode="vector_entry_point", **SMALL)
    assert isinstance(venv, PlacementBanditVector)
    obs, info = venv.reset(seed=0)
    assert obs.shape == (16, venv.single_observation_space.shape[0])
    _, rewards, term, trunc, info = venv.step(info["optimal_action"])
    assert rewards.shape == (16,) and not term.any() and not trunc.any()
    np.testing.assert_array_equal(info["regret"], 0.0)
