"""Contract-log adapter: candidate pools, actions, empirical CTR cross-fitting, policy specs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from rlopt.data.schema import copy_id_for
from rlopt.errors import InputError
from rlopt.ope.contract import contract_feedback, copy_text_features, empirical_ctr
from rlopt.ope.evaluate import contract_inputs
from rlopt.ope.specs import greedy_dist, parse_spec


def _logs() -> pd.DataFrame:
    texts = ["b copy", "a copy", "b copy", "c copy", "x copy"]
    return pd.DataFrame({
        "item_id": ["i1", "i1", "i1", "i1", "i2"], "placement": ["push"] * 5, "position": [0, 1, 0, 1, 0],
        "segment": ["s1", "s2", "s1", "s2", "s1"],
        "user_features": [{"f": 0.1}, {"f": 0.2}, {"f": 0.3}, {}, {"f": 0.5}],
        "copy_text": texts, "copy_id": [copy_id_for(t) for t in texts],
        "propensity": [0.5, 0.25, 0.5, 0.25, 1.0], "clicked": [1, 0, 0, 1, 1],
    })


def test_logged_pools_and_actions():
    fb = contract_feedback(_logs())
    assert fb.n_actions == 3 and fb.len_list == 2 and len(fb.pool_copies) == 2
    # pool of (i1, push) sorted by copy_id; rows 1 and 3 logged the same copy -> same action
    assert fb.action[0] == fb.action[2] and fb.pool_texts[fb.group[0]][fb.action[0]] == "b copy"
    assert fb.valid.tolist()[4] == [True, False, False]  # i2 has a pool of one
    # context: segment one-hot (2) + placement (1) + item (2) + numeric user feature (1)
    assert fb.context.shape == (5, 6) and fb.context[3, -1] == 0.0
    raw = _logs().assign(user_features=lambda f: f["user_features"].map(json.dumps))  # as read_table gives them
    np.testing.assert_array_equal(contract_feedback(raw).context, fb.context)
    feats = copy_text_features(fb, n_features=16)
    assert feats.shape == (5, 3, 16) and not feats[4, 1:].any()


def test_known_pools_and_copy_outside_pool():
    pools = {("i1", "push"): ["a copy", "b copy", "c copy", "d copy"], ("i2", "push"): ["x copy", "y copy"]}
    fb = contract_feedback(_logs(), pools=pools)
    assert fb.n_actions == 4 and fb.action.tolist() == [1, 0, 1, 2, 0]
    with pytest.raises(InputError, match=r"row 4, column 'copy_id': logged copy is not in the given pool"):
        contract_feedback(_logs(), pools={**pools, ("i1", "push"): ["a copy", "b copy"]})


def test_empirical_ctr_is_cross_fitted():
    key = np.zeros(40, dtype=int)
    action = np.tile([0, 1], 20)
    reward = np.zeros(40)
    reward[0] = 1.0  # one click on action 0
    q = empirical_ctr(key, action, reward, 2, n_folds=40, prior_strength=1.0, rng=0)  # leave-one-out
    # row 0's own click must not raise its own estimate; other action-0 rows see it
    assert q[0, 0] == pytest.approx(0.0) and q[2, 0] > 0.0


def test_contract_inputs_shapes_and_policies():
    fb = contract_feedback(_logs())
    dist, q = contract_inputs(fb, "logged-best:epsilon=0.5", n_folds=2, q_model="ctr", rng=0)
    assert dist.shape == q.shape == (5, 3, 2)
    np.testing.assert_allclose(dist.sum(axis=1), 1.0)
    assert (dist[~fb.valid] == 0).all()
    uni, _ = contract_inputs(fb, "uniform", n_folds=2, q_model="ctr", rng=0)
    assert uni[0, :, 0] == pytest.approx([1 / 3] * 3)
    with pytest.raises(InputError, match="for OBD logs"):
        contract_inputs(fb, "bts:somewhere", rng=0)


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("reward-model", r"needs a path"),
        ("uniform:epsilon=x", r"must be float"),
        ("uniform:temperature=2", r"unknown option 'temperature'"),
        ("bts:a:b", r"more than one argument"),
    ],
)
def test_bad_specs(spec, match):
    with pytest.raises(InputError, match=match):
        parse_spec(spec)


def test_greedy_dist_ties_and_mask():
    d = greedy_dist(np.array([[0.5, 0.5, 0.9]]), np.array([[True, True, False]]))
    assert d.tolist() == [[1.0, 0.0, 0.0]]


def test_reward_model_spec_scores_every_candidate(monkeypatch):
    import sys
    import types

    seen = {}

    class FakeRewardModel:
        @classmethod
        def from_pretrained(cls, path):
            seen["path"] = path
            return cls()

        def score(self, frame, catalog):
            seen["rows"] = len(frame)
            # prefers copy "c copy" for i1; reward = 1 for it, 0 otherwise
            return pd.DataFrame({"reward": (frame["copy_text"] == "c copy").astype(float)}, index=frame.index)

    monkeypatch.setitem(sys.modules, "reward_models", types.SimpleNamespace(RewardModel=FakeRewardModel))
    fb = contract_feedback(_logs())
    dist, _ = contract_inputs(fb, "reward-model:some/dir:epsilon=0.3", catalog=pd.DataFrame(), q_model="ctr",
                              n_folds=2, rng=0)
    assert seen == {"path": "some/dir", "rows": int(fb.valid.sum())}
    c = fb.pool_texts[fb.group[0]].index("c copy")
    assert dist[0, c, 0] == pytest.approx(0.7 + 0.3 / 3)
    with pytest.raises(InputError, match="need the catalog"):
        contract_inputs(fb, "reward-model:some/dir", catalog=None, q_model="ctr", rng=0)
