"""The one click / purchase / value rule (envs.tables) that every env uses."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from envs.placement_bandit import PlacementBandit
from envs.slate import PlacementSlate
from envs.tables import draw_response, expected_reward, outcome_reward, synthetic_table
from envs.vector import PlacementBanditVector
from rlopt.errors import InputError

P_CLICK = np.array([0.5, 0.2, 0.9])
P_BUY = np.array([0.1, 0.5, 1.0])
VALUE = np.array([10.0, 3.0, 7.0])


def test_expected_reward_by_kind():
    np.testing.assert_array_equal(expected_reward("click", P_CLICK, P_BUY, VALUE), P_CLICK)
    np.testing.assert_allclose(expected_reward("purchase", P_CLICK, P_BUY, VALUE), [0.05, 0.1, 0.9])
    np.testing.assert_allclose(expected_reward("value", P_CLICK, P_BUY, VALUE), [0.5, 0.3, 6.3])


def test_draw_response_thresholds():
    u = np.array([[0.49, 0.21, 0.95],   # click, no click, no click
                  [0.05, 0.0, 0.0]])    # buy where clicked and u < P(buy | click)
    clicked, purchased = draw_response(u, P_CLICK, P_BUY)
    assert clicked.tolist() == [True, False, False]
    assert purchased.tolist() == [True, False, False]  # no purchase without a click


def test_outcome_reward_by_kind():
    clicked, purchased = np.array([True, True, False]), np.array([True, False, False])
    assert outcome_reward("click", clicked, purchased, VALUE).tolist() == [1.0, 1.0, 0.0]
    assert outcome_reward("purchase", clicked, purchased, VALUE).tolist() == [1.0, 0.0, 0.0]
    assert outcome_reward("value", clicked, purchased, VALUE).tolist() == [10.0, 0.0, 0.0]
    assert outcome_reward("value", np.True_, np.True_, 4.5) == 4.5  # one response (the single env)


@pytest.mark.parametrize("fn", [lambda r: expected_reward(r, P_CLICK, P_BUY, VALUE),
                                lambda r: outcome_reward(r, P_CLICK > 0, P_BUY > 0, VALUE)])
def test_unknown_reward_names_the_valid_ones(fn):
    with pytest.raises(InputError, match="unknown reward 'clicks'; valid: click, purchase, value"):
        fn("clicks")


@pytest.mark.parametrize("reward", ["click", "purchase", "value"])
def test_vector_env_of_one_replays_the_single_env(reward):
    """Same seed, same draws: one batched env and the single env serve the same shoppers and outcomes."""
    table = synthetic_table(n_shoppers=400, n_actions=5, dim=6, seed=11)
    table = dataclasses.replace(table, value_per_purchase=np.linspace(1.0, 9.0, table.p_click.size)
                                .reshape(table.p_click.shape))
    single, vec = PlacementBandit(table=table, reward=reward), PlacementBanditVector(1, table=table, reward=reward)
    s_obs, s_info = single.reset(seed=5)
    v_obs, v_info = vec.reset(seed=5)
    total = 0.0
    for step in range(300):
        np.testing.assert_array_equal(v_obs[0], s_obs)
        assert v_info["optimal_action"][0] == s_info["optimal_action"]
        s_obs, s_rew, _, _, s_info = single.step(step % 5)
        v_obs, v_rew, _, _, v_info = vec.step(np.array([step % 5]))
        assert v_rew[0] == s_rew and v_info["clicked"][0] == s_info["clicked"]
        assert v_info["regret"][0] == pytest.approx(s_info["regret"])
        total += s_rew
    assert total > 0  # the comparison saw rewards, not only zeros


def test_slate_realised_reward_tracks_expected():
    """Over many shoppers, the slate's mean reward is the mean of its expected reward (same rule)."""
    table = synthetic_table(n_shoppers=500, n_actions=6, dim=6, seed=2)
    env = PlacementSlate(table=table, reward="value", examination=(1.0, 0.6, 0.3))
    _, info = env.reset(seed=0)
    got, want = [], []
    for _ in range(20_000):
        _, reward, _, _, info = env.step(info["optimal_action"])
        got.append(reward)
        want.append(info["expected_reward"])
    assert abs(np.mean(got) - np.mean(want)) < 4 * np.std(got) / np.sqrt(len(got))
