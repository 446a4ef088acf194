"""Regression model, OffPolicyEvaluation, OBD policies and a fixed-seed coverage check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rlopt.data.obd import load_obd
from rlopt.errors import InputError
from rlopt.ope import (
    DirectMethod,
    DoublyRobust,
    InverseProbabilityWeighting,
    OffPolicyEvaluation,
    RegressionModel,
    SelfNormalizedInverseProbabilityWeighting,
)
from rlopt.ope.coverage import coverage_study
from rlopt.ope.obd_policies import bts_action_dist, obd_action_dist
from rlopt.ope.synthetic import SyntheticBandit

DATA = Path(__file__).resolve().parents[1] / "data" / "obd"


@pytest.fixture(scope="module")
def bandit_log():
    bandit = SyntheticBandit(n_actions=4, dim_context=3, len_list=2, seed=1)
    return bandit, bandit.obtain_batch_bandit_feedback(1500, rng=2)


def test_regression_is_cross_fitted_and_reproducible(bandit_log):
    _, fb = bandit_log
    args = (fb["context"], fb["action"], fb["reward"], fb["position"])
    model = RegressionModel(n_actions=4, len_list=2)
    q1 = model.fit_predict(*args, n_folds=3, rng=0)
    q2 = RegressionModel(n_actions=4, len_list=2).fit_predict(*args, n_folds=3, rng=0)
    assert q1.shape == (1500, 4, 2) and np.array_equal(q1, q2)
    assert len(model.models_) == 3
    assert ((q1 >= 0) & (q1 <= 1)).all()
    # different folds -> different out-of-fold predictions (they are not in-sample fits)
    q3 = RegressionModel(n_actions=4, len_list=2).fit_predict(*args, n_folds=3, rng=1)
    assert not np.allclose(q1, q3)
    # informative, and much more so with per-action slopes (the truth has context x action terms)
    truth = fb["expected_reward"].ravel()
    assert np.corrcoef(q1.ravel(), truth)[0, 1] > 0.4
    qi = RegressionModel(n_actions=4, len_list=2, interactions=True).fit_predict(*args, n_folds=3, rng=0)
    assert np.corrcoef(qi.ravel(), truth)[0, 1] > np.corrcoef(q1.ravel(), truth)[0, 1] + 0.2


def test_regression_with_action_context_and_continuous_reward():
    rng = np.random.default_rng(0)
    ctx, a = rng.normal(size=(300, 2)), rng.integers(0, 3, 300)
    ac = np.array([[0.0], [1.0], [2.0]])
    r = a * 1.5 + rng.normal(scale=0.1, size=300)  # continuous -> Ridge
    q = RegressionModel(n_actions=3, action_context=ac, action_features="context").fit_predict(ctx, a, r, n_folds=2, rng=0)
    assert q[:, 2, 0].mean() == pytest.approx(3.0, abs=0.2)
    per_row = np.repeat(ac[None], 300, axis=0)
    q2 = RegressionModel(n_actions=3, action_context=per_row).fit_predict(ctx, a, r, n_folds=2, rng=0)
    np.testing.assert_allclose(q, q2)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(n_actions=0), r"`n_actions` must be a positive integer"),
        (dict(n_actions=3, action_context=np.zeros((2, 1))), r"`action_context` must have shape"),
        (dict(n_actions=3, action_features="both"), r"needs `action_context`"),
    ],
)
def test_regression_bad_hyperparameters(kwargs, match):
    with pytest.raises(InputError, match=match):
        RegressionModel(**kwargs)


def test_regression_bad_data():
    with pytest.raises(InputError, match=r"row 2, column 'action'.*\[0, 2\)"):
        RegressionModel(n_actions=2).fit_predict(np.zeros((3, 1)), np.array([0, 2, 1]), np.zeros(3))


def test_meta_summary_and_fallback(bandit_log):
    bandit, fb = bandit_log
    dist = bandit.softmax_policy(fb["context"], 2.0)
    q = RegressionModel(n_actions=4, len_list=2).fit_predict(
        fb["context"], fb["action"], fb["reward"], fb["position"], n_folds=2, rng=0)
    ests = [InverseProbabilityWeighting(), SelfNormalizedInverseProbabilityWeighting(), DirectMethod(), DoublyRobust()]
    ope = OffPolicyEvaluation(fb, ests)
    truth = bandit.true_value(2.0)
    table = ope.summarize_off_policy_estimates(dist, q, ground_truth=truth, n_bootstrap_samples=200, rng=0)
    assert list(table.index) == ["ipw", "snipw", "dm", "dr"]
    assert {"estimate", "low", "high", "relative_error", "covers"} <= set(table.columns)
    assert table.loc["dr", "relative_error"] < 0.15
    again = ope.summarize_off_policy_estimates(dist, q, ground_truth=truth, n_bootstrap_samples=200, rng=0)
    assert table.equals(again)

    broken = {**fb, "pscore": np.where(np.arange(1500) == 9, 0.0, fb["pscore"])}
    with pytest.raises(InputError, match=r"1 of 1500 propensities .* \(first at row 10\).*--fallback-dm"):
        OffPolicyEvaluation(broken, ests)
    fallback = OffPolicyEvaluation(broken, ests, fallback_to_dm=True)
    assert list(fallback.estimators) == ["dm"] and "fell back to the direct method" in fallback.notes[0]
    assert fallback.estimate_policy_values(dist, q)["dm"] == pytest.approx(ope.estimate_policy_values(dist, q)["dm"])


def test_meta_rejects_duplicate_names():
    with pytest.raises(InputError, match="unique"):
        OffPolicyEvaluation({"reward": np.zeros(2), "action": np.zeros(2)}, [DirectMethod(), DirectMethod()])


def test_obd_action_dists_sum_to_one():
    bts = load_obd(DATA / "bts")
    for method in ("posterior", "frequency"):
        dist = bts_action_dist(bts, 5, method=method, n_sim=2000, rng=0)
        assert dist.shape == (5, 80, 3)
        np.testing.assert_allclose(dist.sum(axis=1), 1.0)
    np.testing.assert_array_equal(bts_action_dist(bts, 2, n_sim=500, rng=3), bts_action_dist(bts, 2, n_sim=500, rng=3))
    assert obd_action_dist("random", bts, 3)[0, 0, 0] == pytest.approx(1 / 80)
    with pytest.raises(InputError, match="unknown OBD policy 'greedy'"):
        obd_action_dist("greedy", bts, 3)


def test_fixed_seed_simulation_intervals_cover_the_truth():
    bandit = SyntheticBandit(n_actions=5, dim_context=3, len_list=2, beta=1.0, seed=0)
    truth = bandit.true_value(2.0, n_contexts=100_000)
    result = coverage_study(
        lambda rng: bandit.obtain_batch_bandit_feedback(800, rng),
        lambda fb: bandit.softmax_policy(fb["context"], 2.0),
        truth, n_actions=5, len_list=2, n_repetitions=20, n_bootstrap_samples=300, seed=0,
        estimators=[InverseProbabilityWeighting(), SelfNormalizedInverseProbabilityWeighting(), DoublyRobust()],
    )
    cov = result.summary["coverage"]
    assert len(result.runs) == 60
    # nominal 95%; 20 reps -> allow down to 80% (P(<=15/20 | p=.95) ~ 1.6%)
    assert (cov >= 0.8).all(), cov.to_dict()


def test_meta_validates_once_and_matches_individual_calls(bandit_log):
    bandit, fb = bandit_log
    dist = bandit.softmax_policy(fb["context"], 2.0)
    q = np.full(dist.shape, 0.1)
    ests = [InverseProbabilityWeighting(), SelfNormalizedInverseProbabilityWeighting(), DirectMethod(), DoublyRobust()]
    ope = OffPolicyEvaluation(fb, ests)
    together = ope.estimate_intervals(dist, q, n_bootstrap_samples=100, rng=4, method="bca")
    kw = {k: fb[k] for k in ("reward", "action", "position", "pscore")}
    for (name, est), child in zip(ope.estimators.items(), np.random.default_rng(4).spawn(4), strict=True):
        alone = est.estimate_interval(**kw, action_dist=dist, estimated_rewards_by_reg_model=q,
                                      n_bootstrap_samples=100, rng=child, method="bca")
        assert alone == together[name]
    bad = dist.copy()
    bad[6, 0, 1] += 0.5
    with pytest.raises(InputError, match=r"row 7, column 'action_dist'.*sum to 1"):
        ope.estimate_policy_values(bad, q)
