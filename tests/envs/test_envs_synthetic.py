"""Env mechanics on a synthetic table (no marketplace needed): spaces, seeding, rewards, errors."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from envs.placement_bandit import PlacementBandit
from envs.slate import PlacementSlate
from envs.tables import synthetic_table
from envs.vector import PlacementBanditVector
from rlopt.errors import InputError

EXAM = (1.0, 0.6, 0.3)


@pytest.fixture(scope="module")
def table():
    return synthetic_table(n_shoppers=2000, n_actions=6, dim=8, seed=3)


def _rollout(env, steps, seed, action_fn):
    obs, info = env.reset(seed=seed)
    out = [obs]
    for _ in range(steps):
        obs, reward, term, trunc, info = env.step(action_fn(info))
        out += [obs, reward, info["regret"]]
    return out


@pytest.mark.parametrize("reward", ["click", "purchase", "value"])
def test_check_env(table, reward):
    check_env(PlacementBandit(table=table, reward=reward, logging_policy=True), skip_render_check=True)
    check_env(PlacementSlate(table=table, reward=reward, examination=EXAM), skip_render_check=True)


def test_same_seed_same_rollout(table):
    a = _rollout(PlacementBandit(table=table), 200, 7, lambda info: 1)
    b = _rollout(PlacementBandit(table=table), 200, 7, lambda info: 1)
    c = _rollout(PlacementBandit(table=table), 200, 8, lambda info: 1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_rewards_match_expected_and_regret_zero_for_oracle(table):
    env = PlacementBandit(table=table, reward="click")
    obs, info = env.reset(seed=0)
    rewards, expected, regret = [], [], []
    for _ in range(20_000):
        obs, r, _, _, info_next = env.step(info["optimal_action"])
        rewards.append(r)
        expected.append(info_next["expected_reward"])
        regret.append(info_next["regret"])
        info = info_next
    assert np.max(regret) == 0.0
    # Bernoulli mean within 4 standard errors of the expected click rate.
    assert abs(np.mean(rewards) - np.mean(expected)) < 4 * np.std(rewards) / np.sqrt(len(rewards))


def test_logging_policy_info(table):
    env = PlacementBandit(table=table, logging_policy=True)
    _, info = env.reset(seed=1)
    assert info["pscore"] == pytest.approx(info["logging_probs"][info["logging_action"]])
    assert info["optimal_action"] == int(np.argmax(info["expected_rewards"]))


@pytest.mark.parametrize("action", [6, -1, 2.5, "a"])
def test_bad_action_names_action_and_space(table, action):
    env = PlacementBandit(table=table)
    env.reset(seed=0)
    with pytest.raises(InputError, match=r"action .* is outside the action space Discrete\(6\)"):
        env.step(action)


def test_step_before_reset(table):
    with pytest.raises(AssertionError, match="Call reset before using step method"):
        PlacementBandit(table=table).step(0)


def test_vector_env_matches_single_env_statistics(table):
    venv = PlacementBanditVector(num_envs=512, table=table, reward="purchase", logging_policy=True)
    obs, info = venv.reset(seed=0)
    assert obs.shape == (512, 8) and obs.dtype == np.float32
    assert venv.observation_space.contains(obs)
    total_r, total_e = 0.0, 0.0
    for _ in range(50):
        a = info["logging_action"]
        np.testing.assert_allclose(info["pscore"], info["logging_probs"][np.arange(512), a])
        obs, r, term, trunc, info = venv.step(a)
        total_r += r.sum()
        total_e += info["expected_reward"].sum()
        assert not term.any() and not trunc.any()
    n = 50 * 512
    assert abs(total_r - total_e) / n < 4 * np.sqrt(total_e / n / n)


def test_vector_env_seeding_and_bad_actions(table):
    runs = []
    for _ in range(2):
        venv = PlacementBanditVector(num_envs=64, table=table)
        obs, _ = venv.reset(seed=5)
        o2, r, *_ = venv.step(np.zeros(64, dtype=np.int64))
        runs.append((obs, o2, r))
    for x, y in zip(*runs, strict=True):
        np.testing.assert_array_equal(x, y)
    with pytest.raises(InputError, match=r"action 9 \(env 3\) is outside the action space Discrete\(6\)"):
        venv.step(np.array([0, 0, 0, 9] + [0] * 60))
    with pytest.raises(InputError, match=r"must be 64 integers"):
        venv.step(np.zeros(3, dtype=np.int64))


def test_slate_optimal_and_duplicates(table):
    env = PlacementSlate(table=table, examination=EXAM)
    _, info = env.reset(seed=0)
    gain, exam = info["attractiveness"], info["examination"]
    # Hand check: the optimal slate is the top-3 variants in decreasing order of gain.
    top = np.argsort(-gain)[:3]
    np.testing.assert_array_equal(info["optimal_action"], top)
    assert info["optimal_value"] == pytest.approx(float(gain[top] @ exam))
    _, _, _, _, step_info = env.step(np.array([top[0], top[0], top[1]]))
    np.testing.assert_allclose(step_info["expected_reward_per_slot"],
                               [exam[0] * gain[top[0]], 0.0, exam[2] * gain[top[1]]])
    assert step_info["regret"] > 0
    with pytest.raises(InputError, match=r"outside the action space MultiDiscrete"):
        env.step(np.array([0, 1]))
