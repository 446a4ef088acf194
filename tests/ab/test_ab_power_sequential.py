"""Power/MDE/sample size vs statsmodels; mSPRT validity and power."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.power import NormalIndPower, zt_ind_solve_power
from statsmodels.stats.proportion import proportion_effectsize

from rlopt.ab import power as pw
from rlopt.ab.sequential import msprt, msprt_pvalues, sequential_test
from rlopt.errors import InputError

SM_ALT = {"two-sided": "two-sided", "less": "smaller", "greater": "larger"}


@pytest.mark.parametrize("alternative", ["two-sided", "greater"])
@pytest.mark.parametrize(("effect", "sd", "ratio"), [(0.1, 1.0, 1.0), (0.5, 3.0, 2.0), (0.02, 0.2, 0.5)])
def test_means_agree_with_statsmodels(effect, sd, ratio, alternative):
    alt = SM_ALT[alternative]
    n_sm = zt_ind_solve_power(effect_size=effect / sd, power=0.8, alpha=0.05, ratio=ratio, alternative=alt)
    n = pw.sample_size_means(effect, sd, ratio=ratio, alternative=alternative)
    assert n == math.ceil(n_sm)
    p_sm = NormalIndPower().power(effect / sd, nobs1=n, alpha=0.05, ratio=ratio, alternative=alt)
    assert pw.power_means(effect, sd, n, ratio=ratio, alternative=alternative) == pytest.approx(p_sm, rel=1e-10)
    d_sm = NormalIndPower().solve_power(nobs1=n, power=0.8, alpha=0.05, ratio=ratio, alternative=alt)
    assert pw.mde_means(sd, n, ratio=ratio, alternative=alternative) == pytest.approx(d_sm * sd, rel=1e-4)


def test_less_alternative_is_mirror_of_greater():
    assert pw.mde_means(2.0, 500, alternative="less") == pytest.approx(-pw.mde_means(2.0, 500, alternative="greater"))
    assert pw.sample_size_means(-0.1, 1.0, alternative="less") == pw.sample_size_means(0.1, 1.0, alternative="greater")


@pytest.mark.parametrize(("p_a", "p_b"), [(0.05, 0.055), (0.2, 0.25), (0.01, 0.008)])
def test_proportions_agree_with_statsmodels(p_a, p_b):
    h = proportion_effectsize(p_b, p_a)
    n_sm = NormalIndPower().solve_power(h, power=0.9, alpha=0.01)
    n = pw.sample_size_proportions(p_a, p_b - p_a, power=0.9, alpha=0.01)
    assert n == math.ceil(n_sm)
    assert pw.power_proportions(p_a, p_b, n, alpha=0.01) == pytest.approx(
        NormalIndPower().power(h, nobs1=n, alpha=0.01), rel=1e-10)
    # The MDE at that n (in the effect's direction) is just under the effect we sized for.
    alt = "greater" if p_b > p_a else "less"
    n1 = pw.sample_size_proportions(p_a, p_b - p_a, power=0.9, alpha=0.01, alternative=alt)
    mde = pw.mde_proportions(p_a, n1, power=0.9, alpha=0.01, alternative=alt)
    assert np.sign(mde) == np.sign(p_b - p_a)
    assert abs(mde) <= abs(p_b - p_a) + 1e-9 and abs(mde) == pytest.approx(abs(p_b - p_a), rel=1e-3)


def test_relative_mde_matches_absolute():
    assert pw.sample_size_proportions(0.04, 0.1, relative=True) == pw.sample_size_proportions(0.04, 0.004)


def test_power_is_realized_by_simulation():
    # At the planned n, a two-proportion z-test rejects ~80% of the time.
    from rlopt.ab.stat_tests import two_proportion_ztest

    n = pw.sample_size_proportions(0.1, 0.02)
    rng = np.random.default_rng(0)
    xa, xb = rng.binomial(n, 0.1, 600), rng.binomial(n, 0.12, 600)
    rate = np.mean([two_proportion_ztest(a, n, b, n).pvalue < 0.05 for a, b in zip(xa, xb, strict=True)])
    assert 0.74 <= rate <= 0.86


@pytest.mark.parametrize(
    ("call", "regex"),
    [
        (lambda: pw.sample_size_means(0.1, 1.0, power=0.03), r"`power` \(0.03\) must exceed `alpha`"),
        (lambda: pw.sample_size_means(0.1, -1.0), r"`sd` must be a positive number"),
        (lambda: pw.sample_size_means(-0.1, 1.0, alternative="greater"), r"cannot be detected"),
        (lambda: pw.mde_proportions(1.2, 100), r"`p_a` must be a proportion"),
        (lambda: pw.power_means(0.1, 1, 100, ratio=0), r"`ratio`"),
        (lambda: pw.power_means(0.1, 1, 100, alternative="up"), r"must be one of"),
    ],
)
def test_power_errors(call, regex):
    with pytest.raises(InputError, match=regex):
        call()


# ----------------------------------------------------------------------------- sequential
def test_msprt_pvalues_are_running_min_and_vectorized():
    rng = np.random.default_rng(1)
    d = rng.normal(0, 0.1, (5, 30))
    v = np.full((5, 30), 0.01)
    p = msprt_pvalues(d, v, tau=0.1)
    assert p.shape == (5, 30)
    assert np.all(np.diff(p, axis=-1) <= 0) and np.all((p > 0) & (p <= 1))
    for i in range(5):
        np.testing.assert_allclose(p[i], msprt_pvalues(d[i], v[i], tau=0.1))


def test_msprt_controls_fpr_under_continuous_monitoring():
    # A/A with 100 looks: naive peeking would reject ~30-40%; mSPRT stays below alpha.
    rng = np.random.default_rng(2)
    reps, n = 400, 4000
    a = rng.binomial(1, 0.05, (reps, n)).astype(float)
    b = rng.binomial(1, 0.05, (reps, n)).astype(float)
    stopped = [msprt(a[i], b[i], tau=0.01, looks=100).stopped for i in range(reps)]
    assert np.mean(stopped) <= 0.05


def test_msprt_detects_effect_early_with_right_sign():
    rng = np.random.default_rng(3)
    a, b = rng.binomial(1, 0.10, 40000), rng.binomial(1, 0.08, 40000)
    res = msprt(a, b, tau=0.01, looks=100)
    assert res.stopped and res.decision == "B < A" and res.n[0] < 40000
    lo, hi = res.confidence_interval()
    assert lo <= -0.02 <= hi and hi < 0
    assert res.pvalue <= 0.05 and res.pvalues[res.stop_look - 1] == res.pvalue


def test_sequential_test_errors():
    with pytest.raises(InputError, match="tau"):
        sequential_test([0.1], [0.01], [10], [10], tau=0.0)
    with pytest.raises(InputError, match="one entry per look"):
        sequential_test([0.1, 0.2], [0.01], [10], [10], tau=0.1)
    with pytest.raises(InputError, match="`looks` must be a positive integer"):
        msprt([1, 2, 3], [1, 2, 3], tau=0.1, looks=0)


def test_ratio_looks_matches_delta_method_at_every_look():
    from rlopt.ab.sequential import ratio_looks
    from rlopt.ab.stat_tests import ratio_delta_method

    rng = np.random.default_rng(4)
    n_events, n_units, n_looks = 3000, 400, 6
    unit = rng.integers(0, n_units, n_events)
    look = np.sort(rng.integers(0, n_looks, n_events))
    clicked = rng.binomial(1, 0.1, n_events).astype(float)
    ratio, var, n = ratio_looks(unit, look, clicked, np.ones(n_events), n_units, n_looks)
    for k in (0, 3, 5):
        seen = look <= k
        users = np.unique(unit[seen])
        num = np.bincount(unit[seen], weights=clicked[seen], minlength=n_units)[users]
        den = np.bincount(unit[seen], minlength=n_units)[users].astype(float)
        ref = ratio_delta_method(num, den, num, den)  # same arm twice: mean_a and the per-arm variance
        assert n[k] == users.size
        assert ratio[k] == pytest.approx(ref.mean_a)
        assert var[k] == pytest.approx(ref.std_error**2 / 2)
