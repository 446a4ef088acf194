"""Bandit policies: the shared API, exact/estimated propensities, learning, seeding and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from rlopt.errors import InputError
from rlopt.policies import POLICY_NAMES, LinUCB, make_policy

K, D = 4, 5


def _linear_world(seed: int = 0):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(K, D))

    def draw(n):
        x = rng.normal(size=(n, D))
        p = 1 / (1 + np.exp(-(x @ w.T)))
        return x, p

    return rng, draw


def _train(policy, rounds: int = 20, n: int = 200, seed: int = 0):
    rng, draw = _linear_world(seed)
    for _ in range(rounds):
        x, p = draw(n)
        a = policy.select_batch(x)
        r = (rng.random(n) < p[np.arange(n), a]).astype(float)
        policy.update_batch(x, a, r)
    return draw


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_api_shapes_and_probabilities(name):
    policy = make_policy(name, K, D, rng=0)
    draw = _train(policy, rounds=5)
    x, _ = draw(7)
    actions = policy.select_batch(x)
    assert actions.shape == (7,) and actions.dtype == np.int64
    assert ((actions >= 0) & (actions < K)).all()
    assert 0 <= policy.select(x[0]) < K
    probs = policy.action_probs(x)
    assert probs.shape == (7, K)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert (probs >= 0).all()
    policy.update(x[0], int(actions[0]), 1.0)
    assert policy.t == 5 * 200 + 1


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_action_probs_match_selection_frequencies(name):
    """Exact or estimated, action_probs must agree with how select_batch actually behaves."""
    policy = make_policy(name, K, D, rng=1)
    draw = _train(policy, rounds=3, n=100, seed=1)
    x, _ = draw(3)
    probs = policy.action_probs(x)
    reps = 3000
    counts = np.zeros((3, K))
    actions = policy.select_batch(np.repeat(x, reps, axis=0)).reshape(3, reps)
    for j in range(3):
        counts[j] = np.bincount(actions[j], minlength=K) / reps
    np.testing.assert_allclose(counts, probs, atol=0.035)


def test_action_probs_do_not_change_future_selections():
    a, b = make_policy("bernoulli-ts", K, D, rng=3), make_policy("bernoulli-ts", K, D, rng=3)
    x = np.zeros((10, D))
    a.action_probs(x)
    np.testing.assert_array_equal(a.select_batch(x), b.select_batch(x))


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_same_seed_same_actions(name):
    runs = []
    for _ in range(2):
        policy = make_policy(name, K, D, rng=42)
        draw = _train(policy, rounds=4, seed=5)
        runs.append(policy.select_batch(draw(50)[0]))
    np.testing.assert_array_equal(runs[0], runs[1])


@pytest.mark.parametrize("name", ["linucb", "linear-ts", "linear-epsilon-greedy", "logistic-ts"])
def test_linear_policies_learn_the_best_arm(name):
    policy = make_policy(name, K, D, rng=0)
    draw = _train(policy, rounds=30, n=200)
    x, p = draw(2000)
    chosen = p[np.arange(2000), policy.select_batch(x)].mean()
    best, uniform = p.max(axis=1).mean(), p.mean()
    assert chosen > uniform + 0.8 * (best - uniform), (chosen, uniform, best)


def test_sherman_morrison_matches_batch_update():
    rng = np.random.default_rng(0)
    x, a, r = rng.normal(size=(50, D)), rng.integers(0, K, 50), rng.random(50)
    one, batch = LinUCB(K, D, rng=0), LinUCB(K, D, rng=0)
    for i in range(50):
        one.update(x[i], int(a[i]), float(r[i]))
    batch.update_batch(x, a, r)
    np.testing.assert_allclose(one.A_inv, batch.A_inv, atol=1e-10)
    np.testing.assert_allclose(one.theta, batch.theta, atol=1e-10)
    # And both equal the closed-form ridge solution for arm 0.
    X0 = np.c_[x[a == 0], np.ones((a == 0).sum())]
    ridge = np.linalg.solve(X0.T @ X0 + np.eye(D + 1), X0.T @ r[a == 0])
    np.testing.assert_allclose(batch.theta[0], ridge, atol=1e-10)


def test_ucb1_tries_every_arm_first():
    policy = make_policy("ucb1", K, 0, rng=0)
    seen = set()
    for _ in range(K):
        a = policy.select(np.zeros(0))
        seen.add(a)
        policy.update(np.zeros(0), a, 0.0)
    assert seen == set(range(K))


def test_epsilon_greedy_probs_are_exact():
    policy = make_policy("epsilon-greedy:epsilon=0.2,initial=0", 4, 1, rng=0)
    policy.update_batch(np.zeros((2, 1)), np.array([2, 3]), np.array([1.0, 0.5]))
    np.testing.assert_allclose(policy.action_probs(np.zeros((1, 1))), [[0.05, 0.05, 0.85, 0.05]])


@pytest.mark.parametrize(
    ("spec", "pattern"),
    [
        ("bogus", r"unknown policy 'bogus'; valid policies: uniform, epsilon-greedy, ucb1"),
        ("linucb:beta=1", r"no parameter 'beta=1'; valid parameters .*alpha=0.25"),
        ("linucb:alpha", r"no parameter 'alpha'"),
        ("epsilon-greedy:epsilon=lots", r"'epsilon' expects float, got 'lots'"),
        ("epsilon-greedy:epsilon=1.5", r"epsilon must be in \[0, 1\]"),
        ("linear-ts:v=-1", r"v must be > 0"),
    ],
)
def test_bad_specs_are_input_errors(spec, pattern):
    with pytest.raises(InputError, match=pattern):
        make_policy(spec, K, D, rng=0)


def test_spec_parameters_and_aliases():
    policy = make_policy("egreedy:epsilon=0.3", K, D, rng=0)
    assert policy.name == "epsilon-greedy" and policy.epsilon == 0.3
    assert make_policy("linucb:alpha=2,fit_intercept=false", K, D).params() == {
        "alpha": 2.0, "lambda_": 1.0, "fit_intercept": False, "n_types": 0}


@pytest.mark.parametrize("name", ["linucb", "linear-ts", "linear-epsilon-greedy", "logistic-ts"])
def test_typed_arms_share_one_model_per_type(name):
    """Action k shows a different type in every context; a typed policy must follow the type."""
    rng = np.random.default_rng(0)
    n_types, k = 5, 3
    w = rng.normal(size=(n_types, D))

    def draw(n):
        x = rng.normal(size=(n, D))
        types = np.stack([rng.choice(n_types, k, replace=False) for _ in range(n)])
        p = 1 / (1 + np.exp(-np.einsum("nd,nkd->nk", x, w[types])))
        return np.c_[x, types], p

    policy = make_policy(f"{name}:n_types={n_types}", k, D + k, rng=0)
    assert (policy.n_models, policy.d_model) == (n_types, D + 1)
    for _ in range(30):
        ctx, p = draw(200)
        a = policy.select_batch(ctx)
        policy.update_batch(ctx, a, (rng.random(200) < p[np.arange(200), a]).astype(float))
    ctx, p = draw(2000)
    chosen = p[np.arange(2000), policy.select_batch(ctx)].mean()
    best, uniform = p.max(axis=1).mean(), p.mean()
    assert chosen > uniform + 0.8 * (best - uniform), (chosen, uniform, best)
    np.testing.assert_allclose(policy.action_probs(ctx[:5]).sum(axis=1), 1.0)
    with pytest.raises(InputError, match=r"type codes .* must be in 0..4"):
        policy.select_batch(np.c_[ctx[:1, :D], [[0, 1, 7]]])


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (lambda p: p.update_batch(np.zeros((2, D)), np.array([0, K]), np.zeros(2)),
         rf"action {K} at row 2 is outside the action space Discrete\({K}\)"),
        (lambda p: p.update_batch(np.zeros((2, D)), np.array([0]), np.zeros(2)), r"must have shape \(2,\)"),
        (lambda p: p.select_batch(np.zeros((2, D + 1))), r"contexts have 6 columns"),
        (lambda p: p.select_batch(np.zeros(D)), r"2-D array"),
        (lambda p: p.update_batch(np.zeros((1, D)), np.array([0]), np.array([np.nan])), r"finite"),
    ],
)
def test_bad_inputs_name_the_problem(call, pattern):
    with pytest.raises(InputError, match=pattern):
        call(make_policy("linucb", K, D, rng=0))


def test_bernoulli_ts_rejects_rewards_outside_unit_interval():
    with pytest.raises(InputError, match=r"rewards in \[0, 1\]"):
        make_policy("bernoulli-ts", K, D).update(np.zeros(D), 0, 3.5)


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_rank_batch_orders_every_action(name):
    policy = make_policy(name, K, D, rng=0)
    draw = _train(policy, rounds=3)
    x, _ = draw(20)
    ranks = policy.rank_batch(x)
    assert ranks.shape == (20, K)
    np.testing.assert_array_equal(np.sort(ranks, axis=1), np.tile(np.arange(K), (20, 1)))


def test_rank_batch_follows_deterministic_scores():
    policy = make_policy("linucb", K, D, rng=0)
    draw = _train(policy, rounds=3)
    x, _ = draw(20)
    np.testing.assert_array_equal(policy.rank_batch(x), np.argsort(-policy._scores(x), axis=1))
    np.testing.assert_array_equal(policy.rank_batch(x)[:, 0], policy.select_batch(x))


def test_logistic_ts_laplace_update_is_the_map_estimate():
    from scipy.optimize import minimize
    from scipy.special import log_expit

    from rlopt.policies.logistic import _laplace_update

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(200, 6)), (rng.random(200) < 0.2).astype(float)
    m0, q0 = rng.normal(size=6) * 0.1, rng.random(6) + 0.5

    def objective(w):
        z = X @ w
        return -(y * log_expit(z) + (1 - y) * log_expit(-z)).sum() + 0.5 * (q0 * (w - m0) ** 2).sum()

    w, q = _laplace_update(X, y, m0, q0)
    reference = minimize(objective, m0, method="BFGS", options={"gtol": 1e-10}).x
    np.testing.assert_allclose(w, reference, atol=1e-6)
    p = 1 / (1 + np.exp(-X @ w))
    np.testing.assert_allclose(q, q0 + (X**2 * (p * (1 - p))[:, None]).sum(axis=0))
