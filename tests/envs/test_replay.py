"""Rejection-sampling replay: hand-computed values, IPW weighting, OBD and contract logs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from gymnasium.utils.env_checker import check_env

from envs.replay import ReplayBandit, ReplayData, replay_evaluate
from rlopt.data.schema import Placement
from rlopt.errors import InputError
from rlopt.policies import Policy, make_policy


class Always(Policy):
    """Deterministic test policy: always the same action (counts its updates)."""

    name = "always"

    def __init__(self, n_actions, dim, action):
        super().__init__(n_actions, dim, rng=0)
        self.action, self.seen = action, []

    def _select(self, contexts):
        return np.full(contexts.shape[0], self.action)

    def _update(self, contexts, actions, rewards):
        self.seen += list(zip(actions.tolist(), rewards.tolist(), strict=True))

    def _action_probs(self, contexts):
        probs = np.zeros((contexts.shape[0], self.n_actions))
        probs[:, self.action] = 1
        return probs


@pytest.fixture
def tiny():
    return ReplayData(context=np.zeros((6, 1)), action=np.array([0, 1, 1, 0, 1, 2]),
                      reward=np.array([1.0, 0.0, 1.0, 0.0, 1.0, 1.0]), n_actions=3,
                      pscore=np.array([0.5, 0.25, 0.5, 0.5, 0.25, 0.5]))


@pytest.mark.parametrize("batch_size", [1, 4, 100])
def test_hand_computed_replay_value(tiny, batch_size):
    # Kept rounds are rows 2, 3, 5 (logged action 1) with rewards 0, 1, 1 -> 2/3.
    policy = Always(3, 1, action=1)
    res = replay_evaluate(policy, tiny, batch_size=batch_size)
    assert res.value == pytest.approx(2 / 3)
    assert (res.n_matched, res.n_rounds) == (3, 6)
    np.testing.assert_allclose(res.curve, [0.0, 0.5, 2 / 3])
    assert res.stderr == pytest.approx(np.sqrt(((np.array([0, 1, 1]) - 2 / 3) ** 2).sum()) / 3)
    # The policy learned from the kept rounds only.
    assert policy.seen == [(1, 0.0), (1, 1.0), (1, 1.0)]


def test_ipw_weighting_and_frozen_policy(tiny):
    policy = Always(3, 1, action=1)
    res = replay_evaluate(policy, tiny, learn=False, weighting="ipw")
    # Weights 1/pscore = 4, 2, 4 on rewards 0, 1, 1 -> (2 + 4) / 10.
    assert res.value == pytest.approx(0.6)
    assert policy.seen == []


def test_replay_env_walks_the_log(tiny):
    env = ReplayBandit(tiny)
    check_env(env, skip_render_check=True)
    env.reset(seed=0)
    rewards, matched, done = [], [], False
    while not done:
        _, r, done, _, info = env.step(1)
        rewards.append(r)
        matched.append(info["matched"])
    assert matched == [False, True, True, False, True, False]
    assert sum(rewards) / sum(matched) == pytest.approx(2 / 3)
    with pytest.raises(InputError, match=r"action 3 is outside the action space Discrete\(3\)"):
        env.step(3)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        (dict(action=np.array([0, 5])), r"logged action 5 is outside Discrete\(3\)"),
        (dict(pscore=np.array([0.5, 0.0])), r"pscore must be in \(0, 1\]"),
        (dict(reward=np.zeros(3)), r"must align"),
    ],
)
def test_bad_logs(kwargs, pattern):
    base = dict(context=np.zeros((2, 1)), action=np.array([0, 1]), reward=np.zeros(2), n_actions=3)
    with pytest.raises(InputError, match=pattern):
        ReplayData(**{**base, **kwargs})


def test_bad_replay_arguments(tiny):
    with pytest.raises(InputError, match="weighting must be"):
        replay_evaluate(Always(3, 1, 0), tiny, weighting="magic")
    with pytest.raises(InputError, match="policy has 2 actions but the log has 3"):
        replay_evaluate(Always(2, 1, 0), tiny)
    no_pscore = ReplayData(tiny.context, tiny.action, tiny.reward, 3)
    with pytest.raises(InputError, match="needs the log's pscore"):
        replay_evaluate(Always(3, 1, 0), no_pscore, weighting="ipw")


def test_obd_random_log_replay():
    data = ReplayData.from_obd("tests/data/obd/random/all")
    assert data.n_actions == 80 and data.pscore is not None
    res = replay_evaluate(make_policy("uniform", data.n_actions, data.dim, rng=0), data)
    # A uniform policy matches about 1 in 80 logged rounds.
    assert abs(res.n_matched / data.n_rounds - 1 / 80) < 4 * np.sqrt(1 / 80 / data.n_rounds)
    one_slot = ReplayData.from_obd("tests/data/obd/random/all", position=0)
    assert 0 < one_slot.n_rounds < data.n_rounds
    with pytest.raises(InputError, match="position 7 is outside"):
        ReplayData.from_obd("tests/data/obd/random/all", position=7)


def test_contract_logs_to_replay_data():
    catalog = pd.DataFrame({"item_id": ["i1", "i2"], "title": ["a", "b"], "category": ["shoes", "bags"],
                            "brand": ["x", "y"], "price": [10.0, 100.0], "discount_pct": [0.0, 20.0]})
    placements = {"push": Placement("push", 80, 1, (0.6,)), "home": Placement("home", 60, 2, (0.9, 0.5))}
    logs = pd.DataFrame({
        "item_id": ["i1", "i1", "i2", "i1", "i2"], "placement": ["push", "push", "home", "home", "home"],
        "position": [0, 0, 1, 0, 0], "segment": ["a", "b", "a", "a", None],
        "user_features": [{"u": 0.5}, {"u": 1.0}, {}, None, {"u": 0.0}],
        "copy_id": ["c2", "c1", "c9", "c5", "c3"], "clicked": [1, 0, 1, 1, 0], "converted": [0, 0, 1, 0, 0],
        "propensity": [0.5, 0.5, 0.25, 1.0, 0.75],
    })
    data = ReplayData.from_logs(logs, catalog, placements)
    # Pools: (i1, push) = {c1, c2}; (i2, home) = {c3, c9}; (i1, home) = {c5}.
    np.testing.assert_array_equal(data.action, [1, 0, 1, 0, 0])
    assert data.n_actions == 2
    np.testing.assert_array_equal(data.reward, [1, 0, 1, 1, 0])
    np.testing.assert_array_equal(data.pscore, [0.5, 0.5, 0.25, 1.0, 0.75])
    buy = ReplayData.from_logs(logs, catalog, placements, reward="purchase")
    np.testing.assert_array_equal(buy.reward, [0, 0, 1, 0, 0])
    with pytest.raises(InputError, match="needs column 'revenue'"):
        ReplayData.from_logs(logs, catalog, placements, reward="value")
    bad = logs.assign(placement=["push", "push", "home", "home", "billboard"])
    with pytest.raises(InputError, match="unknown placement 'billboard'"):
        ReplayData.from_logs(bad, catalog, placements)
