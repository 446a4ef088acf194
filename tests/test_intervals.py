"""One ConfidenceInterval type for A/B results and OPE estimators (rlopt.intervals)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import rlopt.ab as ab
import rlopt.ope as ope
from rlopt.intervals import ConfidenceInterval


def test_both_areas_return_the_one_type():
    assert ab.ConfidenceInterval is ope.ConfidenceInterval is ConfidenceInterval
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.0, 1.0, 200), rng.normal(0.3, 1.0, 200)
    two = ab.welch_ttest(a, b).confidence_interval(0.9)
    n = 300
    action = rng.integers(0, 3, n)
    dist = np.full((n, 3, 1), 1 / 3)
    boot = ope.InverseProbabilityWeighting().estimate_interval(
        reward=rng.random(n), action=action, pscore=np.full(n, 1 / 3), action_dist=dist,
        n_bootstrap_samples=200, rng=1)
    for ci in (two, boot):
        assert type(ci) is ConfidenceInterval
        assert ci.low < ci.estimate < ci.high and ci.covers(ci.estimate)
    assert two.confidence_level == 0.9 and two.estimate == pytest.approx(b.mean() - a.mean())
    assert boot.confidence_level == pytest.approx(0.95)


def test_unpacks_as_the_pair_like_scipy():
    ci = ConfidenceInterval(1.0, 4.0, estimate=2.0, confidence_level=0.95)
    low, high = ci
    assert (low, high) == (1.0, 4.0) == tuple(ci) and (ci[0], ci[-1]) == (1.0, 4.0) and len(ci) == 2
    assert ci.width == 3.0 and not ci.covers(4.5)
    with pytest.raises(IndexError):
        ci[2]


def test_one_sided_results_have_an_open_end():
    res = ab.two_proportion_ztest(100, 1000, 130, 1000, alternative="greater")
    ci = res.confidence_interval()
    assert ci.high == math.inf and ci.low < res.estimate == ci.estimate
    rel = res.relative_interval()
    assert rel.high == math.inf and rel.estimate == pytest.approx(res.relative)


def test_no_public_ab_name_looks_like_a_pytest_class():
    """pytest collects ``Test*`` classes; a result class so named would need ``__test__ = False``."""
    assert [name for name in ab.__all__ if name.startswith("Test")] == []
