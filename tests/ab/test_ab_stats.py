"""A/B statistics: agreement with statsmodels/SciPy, SRM, CUPED, delta method, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.proportion import proportions_ztest
from statsmodels.stats.weightstats import ttest_ind

from rlopt.ab import stat_tests as abt
from rlopt.ab.results import ConfidenceInterval
from rlopt.errors import InputError

ALTS = ["two-sided", "less", "greater"]
SM_ALT = {"two-sided": "two-sided", "less": "smaller", "greater": "larger"}


@pytest.mark.parametrize("alternative", ALTS)
@pytest.mark.parametrize("counts", [(100, 2000, 140, 2000), (37, 800, 29, 1200), (5, 50, 5, 50)])
def test_ztest_matches_statsmodels(counts, alternative):
    x_a, n_a, x_b, n_b = counts
    res = abt.two_proportion_ztest(x_a, n_a, x_b, n_b, alternative=alternative)
    z, p = proportions_ztest([x_b, x_a], [n_b, n_a], alternative=SM_ALT[alternative])
    assert res.statistic == pytest.approx(z, rel=1e-10)
    assert res.pvalue == pytest.approx(p, rel=1e-10)
    assert res.estimate == pytest.approx(x_b / n_b - x_a / n_a)


@pytest.mark.parametrize("alternative", ALTS)
def test_welch_matches_statsmodels(alternative):
    rng = np.random.default_rng(3)
    a, b = rng.exponential(2.0, 300), rng.exponential(2.4, 450)
    res = abt.welch_ttest(a, b, alternative=alternative)
    t, p, df = ttest_ind(b, a, usevar="unequal", alternative=SM_ALT[alternative])
    assert res.statistic == pytest.approx(t, rel=1e-10)
    assert res.pvalue == pytest.approx(p, rel=1e-10)
    assert res.df == pytest.approx(df, rel=1e-10)


def test_welch_interval_matches_scipy():
    from scipy import stats

    rng = np.random.default_rng(4)
    a, b = rng.normal(0, 1, 200), rng.normal(0.2, 3, 100)
    ours = abt.welch_ttest(a, b).confidence_interval(0.9)
    ref = stats.ttest_ind(b, a, equal_var=False).confidence_interval(0.9)
    assert ours.low == pytest.approx(ref.low) and ours.high == pytest.approx(ref.high)


def test_one_sided_interval_is_half_open():
    res = abt.two_proportion_ztest(100, 2000, 140, 2000, alternative="greater")
    ci = res.confidence_interval()
    assert isinstance(ci, ConfidenceInterval) and ci.high == math.inf and ci.low < res.estimate


def test_relative_lift_interval_covers_truth_by_simulation():
    # Delta-method relative CI should cover the true lift ~95% of the time.
    rng = np.random.default_rng(5)
    p_a, p_b, n = 0.05, 0.06, 20000
    xa, xb = rng.binomial(n, p_a, 400), rng.binomial(n, p_b, 400)
    cover = [abt.two_proportion_ztest(a, n, b, n).relative_interval() for a, b in zip(xa, xb, strict=True)]
    rate = np.mean([lo <= p_b / p_a - 1 <= hi for lo, hi in cover])
    assert 0.91 <= rate <= 0.99


def test_delta_method_equals_binomial_when_one_impression_per_user():
    rng = np.random.default_rng(6)
    ca, cb = rng.binomial(1, 0.1, 3000), rng.binomial(1, 0.12, 3000)
    ones = np.ones(3000)
    res = abt.ratio_delta_method(ca, ones, cb, ones)
    ref = abt.welch_ttest(ca, cb)
    assert res.estimate == pytest.approx(ref.estimate)
    assert res.std_error == pytest.approx(ref.std_error, rel=1e-9)


def test_delta_method_widens_for_clustered_users():
    # Users with a persistent propensity: impression-level z-test is too narrow, delta is not.
    rng = np.random.default_rng(7)
    imps = rng.integers(1, 30, 4000)
    p = rng.beta(0.5, 5, 4000)
    clicks = rng.binomial(imps, p)
    half = 2000
    delta = abt.ratio_delta_method(clicks[:half], imps[:half], clicks[half:], imps[half:])
    naive = abt.two_proportion_ztest(clicks[:half].sum(), imps[:half].sum(), clicks[half:].sum(),
                                     imps[half:].sum())
    assert delta.estimate == pytest.approx(naive.estimate)
    assert delta.std_error > 1.5 * naive.std_error


def test_cuped_keeps_estimate_and_reduces_variance():
    rng = np.random.default_rng(8)
    x = rng.gamma(2.0, 2.0, 6000)
    y = 0.8 * x + rng.normal(0, 1.0, 6000) + np.r_[np.zeros(3000), np.full(3000, 0.1)]
    plain = abt.welch_ttest(y[:3000], y[3000:])
    res = abt.cuped(y[:3000], x[:3000], y[3000:], x[3000:])
    assert res.theta == pytest.approx(0.8, abs=0.05)
    assert res.std_error < 0.5 * plain.std_error
    assert res.variance_reduction == pytest.approx(np.corrcoef(x, y)[0, 1] ** 2, abs=0.01)
    assert res.confidence_interval()[0] <= 0.1 <= res.confidence_interval()[1]
    assert res.pvalue < plain.pvalue


def test_srm_detects_skewed_split_and_passes_fair_one():
    rng = np.random.default_rng(9)
    fair = rng.multinomial(20000, [0.5, 0.5])
    assert not abt.srm_check(fair).mismatch
    skew = rng.multinomial(20000, [0.52, 0.48])
    res = abt.srm_check(skew)
    assert res.mismatch and res.pvalue < 1e-6
    # A planned 70/30 split is not a mismatch when it was the plan.
    planned = rng.multinomial(20000, [0.7, 0.3])
    assert not abt.srm_check(planned, [0.7, 0.3]).mismatch
    assert abt.srm_check(planned).mismatch


@pytest.mark.parametrize(
    ("call", "regex"),
    [
        (lambda: abt.two_proportion_ztest(1, 10, 2, 10, alternative="bigger"),
         r"`alternative` must be one of 'two-sided', 'less', 'greater'; got 'bigger'"),
        (lambda: abt.two_proportion_ztest(11, 10, 2, 10), r"x_a must be an integer count in \[0, n_a=10\]"),
        (lambda: abt.two_proportion_ztest(1, 0, 2, 10), r"n_a must be a positive integer"),
        (lambda: abt.welch_ttest([1.0], [1.0, 2.0]), r"`a` needs at least 2 observations"),
        (lambda: abt.welch_ttest([1.0, np.nan], [1.0, 2.0]), r"`a` has a non-finite value at index 1"),
        (lambda: abt.ratio_delta_method([1, 2], [1, 2, 3], [1, 2], [1, 2]), r"same length"),
        (lambda: abt.ratio_delta_method([0, 0], [0, 0], [1, 2], [1, 2]), r"den_a must be >= 0 with a positive"),
        (lambda: abt.cuped([1, 2, 3], [1, 2], [1, 2], [1, 2]), r"y_a and x_a must have the same length"),
        (lambda: abt.srm_check([10]), r"one count per arm"),
        (lambda: abt.srm_check([10, 12], [0.5, 0.0]), r"positive weights"),
        (lambda: abt.welch_ttest([1, 2], [3, 4]).confidence_interval(95), r"`confidence_level` must be in"),
    ],
)
def test_bad_input_messages(call, regex):
    with pytest.raises(InputError, match=regex):
        call()


def test_degenerate_arms_give_no_evidence():
    res = abt.two_proportion_ztest(0, 100, 0, 100)
    assert res.pvalue == 1.0 and res.statistic == 0.0
    res = abt.welch_ttest([1.0, 1.0, 1.0], [1.0, 1.0])
    assert res.pvalue == 1.0


def test_results_are_frozen_and_serializable():
    import dataclasses
    import json

    res = abt.cuped([1, 2, 3, 4], [1, 2, 2, 4], [2, 3, 4, 5], [1, 3, 2, 4])
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.pvalue = 0.0  # type: ignore[misc]
    d = json.loads(json.dumps(res.to_dict()))
    assert d["test"] == "cuped" and len(d["ci"]) == 2 and "theta" in d
    assert "pvalue=" in repr(res)
