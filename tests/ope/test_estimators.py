"""Every estimator against values worked by hand on a 5-row log, plus pinned error messages.

The log (2 actions, 1 slot):

    row  action reward pscore  pi_e(0) pi_e(1)  q(.,0) q(.,1)
    1    0      1      0.50    0.8     0.2      0.6    0.4
    2    1      0      0.50    0.2     0.8      0.3    0.5
    3    0      0      0.25    0.5     0.5      0.2    0.1
    4    1      1      0.75    0.4     0.6      0.5    0.7
    5    1      1      0.50    0.9     0.1      0.4    0.6

By hand: w = [1.6, 1.6, 2.0, 0.8, 0.2] (sum 6.2); w*r = [1.6, 0, 0, 0.8, 0.2] (sum 2.6);
DM rows = [0.56, 0.46, 0.15, 0.62, 0.42] (sum 2.21); r - q(a_i) = [0.4, -0.5, -0.2, 0.3, 0.4];
w*(r - q) = [0.64, -0.8, -0.4, 0.24, 0.08] (sum -0.24).
"""

from __future__ import annotations

import numpy as np
import pytest

from rlopt.errors import InputError
from rlopt.ope import (
    ConfidenceInterval,
    DirectMethod,
    DoublyRobust,
    DoublyRobustWithShrinkage,
    InverseProbabilityWeighting,
    SelfNormalizedDoublyRobust,
    SelfNormalizedInverseProbabilityWeighting,
    SwitchDoublyRobust,
)

ACTION = np.array([0, 1, 0, 1, 1])
REWARD = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
PSCORE = np.array([0.5, 0.5, 0.25, 0.75, 0.5])
PI0 = np.array([0.8, 0.2, 0.5, 0.4, 0.9])
Q0 = np.array([0.6, 0.3, 0.2, 0.5, 0.4])
Q1 = np.array([0.4, 0.5, 0.1, 0.7, 0.6])
ACTION_DIST = np.stack([PI0, 1 - PI0], axis=1)[:, :, None]
Q = np.stack([Q0, Q1], axis=1)[:, :, None]
LOG = dict(reward=REWARD, action=ACTION, pscore=PSCORE, action_dist=ACTION_DIST, estimated_rewards_by_reg_model=Q)

# DRos, lambda_=1: w' = w / (w^2 + 1) = [1.6/3.56, 1.6/3.56, 2/5, 0.8/1.64, 0.2/1.04]
_W_OS = np.array([1.6 / 3.56, 1.6 / 3.56, 0.4, 0.8 / 1.64, 0.2 / 1.04])
HAND = [
    (InverseProbabilityWeighting(), 2.6 / 5),
    (InverseProbabilityWeighting(lambda_=1.0), (1.0 + 0.8 + 0.2) / 5),  # clipped w*r = [1, 0, 0, .8, .2]
    (SelfNormalizedInverseProbabilityWeighting(), 2.6 / 6.2),
    (DirectMethod(), 2.21 / 5),
    (DoublyRobust(), 2.21 / 5 - 0.24 / 5),
    (SelfNormalizedDoublyRobust(), 2.21 / 5 - 0.24 / 6.2),
    (SwitchDoublyRobust(lambda_=1.5), 2.21 / 5 + (0.24 + 0.08) / 5),  # only rows 4, 5 have w <= 1.5
    (SwitchDoublyRobust(lambda_=0.0), 2.21 / 5),
    (DoublyRobustWithShrinkage(lambda_=1.0), 2.21 / 5 + float(_W_OS @ np.array([0.4, -0.5, -0.2, 0.3, 0.4])) / 5),
    (DoublyRobustWithShrinkage(lambda_=0.0), 2.21 / 5),
    (DoublyRobustWithShrinkage(), 2.21 / 5 - 0.24 / 5),
]


@pytest.mark.parametrize(("estimator", "expected"), HAND, ids=lambda v: getattr(v, "estimator_name", ""))
def test_hand_worked_values(estimator, expected):
    assert estimator.estimate_policy_value(**LOG) == pytest.approx(expected, abs=1e-12)


def test_dros_hand_value_literal():
    # the same number computed by hand to 6 digits, so the formula above is not just re-derived
    assert DoublyRobustWithShrinkage(lambda_=1.0).estimate_policy_value(**LOG) == pytest.approx(0.461664, abs=1e-6)


@pytest.mark.parametrize(("estimator", "_"), HAND)
def test_interval_brackets_estimate_and_is_reproducible(estimator, _):
    a = estimator.estimate_interval(**LOG, n_bootstrap_samples=300, rng=7)
    b = estimator.estimate_interval(**LOG, n_bootstrap_samples=300, rng=7)
    assert isinstance(a, ConfidenceInterval) and a == b
    assert a.low <= a.estimate <= a.high and a.confidence_level == pytest.approx(0.95)
    assert a.estimate == pytest.approx(estimator.estimate_policy_value(**LOG))


def test_self_normalized_bootstrap_resamples_the_denominator():
    # with the full-sample denominator, a resample of w*r/mean(w) can exceed 1; the ratio cannot.
    ci = SelfNormalizedInverseProbabilityWeighting().estimate_interval(**LOG, n_bootstrap_samples=2000, rng=0)
    assert 0.0 <= ci.low and ci.high <= 1.0


def test_positions_index_the_slot():
    # two slots; the evaluation policy differs by slot, so the weight must use the logged slot
    dist = np.zeros((2, 2, 2))
    dist[:, 0, 0], dist[:, 1, 0] = 1.0, 0.0  # slot 0 -> action 0
    dist[:, 0, 1], dist[:, 1, 1] = 0.0, 1.0  # slot 1 -> action 1
    kw = dict(reward=np.array([1.0, 1.0]), action=np.array([0, 0]), pscore=np.array([0.5, 0.5]), action_dist=dist)
    assert InverseProbabilityWeighting().estimate_policy_value(**kw, position=np.array([0, 1])) == pytest.approx(1.0)


BAD = [
    (dict(pscore=None), InputError, r"`ipw` needs `pscore`"),
    (dict(pscore=np.array([0.5, 0.0, 0.25, 0.0, 0.5])), InputError, r"row 2.*`pscore` must be positive; 2 row"),
    (dict(pscore=np.array([0.5, np.nan, 0.25, 0.75, 0.5])), InputError, r"row 2.*`pscore` has 1 missing"),
    (dict(action=np.array([0, 1, 2, 1, 1])), InputError, r"row 3.*`action` must hold integers in \[0, 2\)"),
    (dict(action=np.array([0, 1])), InputError, r"`action` and `action_dist` must have the same number of rows"),
    (dict(position=np.array([0, 0, 1, 0, 0])), InputError, r"row 3.*`position` must hold integers in \[0, 1\)"),
    (dict(action_dist=ACTION_DIST * np.array([1, 1, 1, 0.5, 1])[:, None, None]), InputError,
     r"row 4, column 'action_dist'.*sum to 1"),
    (dict(action_dist=ACTION_DIST[:, :, 0]), InputError, r"`action_dist` must be 3-dimensional"),
    (dict(reward=[1, 0, 0, 1, 1]), InputError, r"`reward` must be a numpy.ndarray"),
]


@pytest.mark.parametrize(("override", "exc", "match"), BAD)
def test_bad_inputs(override, exc, match):
    with pytest.raises(exc, match=match):
        InverseProbabilityWeighting().estimate_policy_value(**{**LOG, **override})


def test_dm_needs_no_propensity_and_dr_does():
    assert DirectMethod().estimate_policy_value(**{**LOG, "pscore": None}) == pytest.approx(0.442)
    with pytest.raises(InputError, match="`dr` needs `pscore`"):
        DoublyRobust().estimate_policy_value(**{**LOG, "pscore": None})
    with pytest.raises(InputError, match="`dm` needs `estimated_rewards_by_reg_model`"):
        DirectMethod().estimate_policy_value(action_dist=ACTION_DIST)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: SwitchDoublyRobust(lambda_=-1.0), r"`lambda_` must be >= 0"),
        (lambda: DoublyRobustWithShrinkage(lambda_=float("nan")), r"`lambda_` must not be NaN"),
        (lambda: InverseProbabilityWeighting(lambda_=True), r"`lambda_` must be a real number"),
        (lambda: DoublyRobust(lambda_="1"), r"`lambda_` must be a real number"),
    ],
)
def test_hyperparameters_checked_in_post_init(make, match):
    with pytest.raises(InputError, match=match):
        make()


@pytest.mark.parametrize(
    ("kw", "match"),
    [(dict(alpha=1.5), r"`alpha` must be in \(0, 1\)"), (dict(n_bootstrap_samples=0), r"`n_bootstrap_samples`")],
)
def test_interval_args_checked(kw, match):
    with pytest.raises(InputError, match=match):
        DirectMethod().estimate_interval(**LOG, **kw)


def test_bca_interval_shares_replicates_and_corrects_skew():
    pct = InverseProbabilityWeighting().estimate_interval(**LOG, n_bootstrap_samples=2000, rng=3)
    bca = InverseProbabilityWeighting().estimate_interval(**LOG, n_bootstrap_samples=2000, rng=3, method="bca")
    assert bca.estimate == pct.estimate and bca.low <= bca.estimate <= bca.high
    assert (bca.low, bca.high) != (pct.low, pct.high)
    with pytest.raises(InputError, match="`method` must be 'percentile' or 'bca'"):
        DirectMethod().estimate_interval(**LOG, method="studentized")


def test_bca_matches_scipy_on_a_mean():
    from scipy.stats import bootstrap

    from rlopt.ope.bootstrap import bca_interval, bootstrap_statistics, influence_values

    x = np.random.default_rng(0).exponential(size=400)  # skewed, like importance-weighted rewards
    reps = bootstrap_statistics(x, n_bootstrap_samples=20000, rng=1)
    ours = bca_interval(reps, float(x.mean()), influence_values(x))
    ref = bootstrap((x,), np.mean, n_resamples=20000, method="BCa", rng=np.random.default_rng(2)).confidence_interval
    assert ours == pytest.approx((ref.low, ref.high), abs=0.02)
