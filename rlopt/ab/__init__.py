"""A/B statistics and simulated A/B tests.

- :mod:`rlopt.ab.stat_tests` — two-proportion z-test, Welch's t-test, delta-method ratio test, CUPED, SRM.
- :mod:`rlopt.ab.sequential` — mSPRT with always-valid p-values and early stopping.
- :mod:`rlopt.ab.power` — power, sample size and minimum detectable effect.
- :mod:`rlopt.ab.simulate` — :func:`simulate_ab`: arms (:mod:`rlopt.ab.arms`, copy generators or
  policies) on the simulated marketplace, returning an :class:`ABResult`.

Differences are always arm B (treatment) minus arm A (control).
"""

from rlopt.ab.arms import ARM_SPECS, Arm
from rlopt.ab.outcome import ABResult, ArmSummary, Comparison
from rlopt.ab.power import (
    mde_means,
    mde_proportions,
    power_means,
    power_proportions,
    sample_size_means,
    sample_size_proportions,
)
from rlopt.ab.results import CupedResult, SRMResult, StatTestResult
from rlopt.ab.sequential import SequentialResult, msprt, sequential_test
from rlopt.ab.simulate import ABPowerWarning, ABSRMWarning, assign_users, simulate_ab
from rlopt.ab.stat_tests import cuped, ratio_delta_method, srm_check, two_proportion_ztest, welch_ttest
from rlopt.intervals import ConfidenceInterval

__all__ = [
    "ARM_SPECS", "ABPowerWarning", "ABResult", "ABSRMWarning", "Arm", "ArmSummary", "Comparison",
    "assign_users", "simulate_ab",
    "ConfidenceInterval", "CupedResult", "SRMResult", "SequentialResult", "StatTestResult",
    "cuped", "mde_means", "mde_proportions", "msprt", "power_means", "power_proportions",
    "ratio_delta_method", "sample_size_means", "sample_size_proportions", "sequential_test",
    "srm_check", "two_proportion_ztest", "welch_ttest",
]
