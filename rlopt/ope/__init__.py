"""Off-policy evaluation: estimate a new policy's value from another policy's logs, with intervals.

Estimators are named and called as in Open Bandit Pipeline (``reward, action, position, pscore,
action_dist, estimated_rewards_by_reg_model``), so results can be cross-checked on identical inputs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rlopt.lazy import lazy_exports

# name -> submodule. Loaded on first use (PEP 562): the CLI builds `rlopt ope`'s options from
# rlopt.ope.config at start-up and should not pay for SciPy, pandas and scikit-learn then.
_EXPORTS = {
    "BaseOffPolicyEstimator": "base", "ConfidenceInterval": "base", "importance_weight": "base",
    "OPEConfig": "config", "DirectMethod": "dm", "DoublyRobust": "dr", "DoublyRobustWithShrinkage": "dr",
    "SelfNormalizedDoublyRobust": "dr", "SwitchDoublyRobust": "dr", "InverseProbabilityWeighting": "ipw",
    "SelfNormalizedInverseProbabilityWeighting": "ipw", "OffPolicyEvaluation": "meta",
    "RegressionModel": "regression",
}

if TYPE_CHECKING:  # what static tools (and readers) see
    from rlopt.ope.base import BaseOffPolicyEstimator, ConfidenceInterval, importance_weight
    from rlopt.ope.config import OPEConfig
    from rlopt.ope.dm import DirectMethod
    from rlopt.ope.dr import (
        DoublyRobust,
        DoublyRobustWithShrinkage,
        SelfNormalizedDoublyRobust,
        SwitchDoublyRobust,
    )
    from rlopt.ope.ipw import InverseProbabilityWeighting, SelfNormalizedInverseProbabilityWeighting
    from rlopt.ope.meta import OffPolicyEvaluation
    from rlopt.ope.regression import RegressionModel


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "BaseOffPolicyEstimator",
    "ConfidenceInterval",
    "DirectMethod",
    "DoublyRobust",
    "DoublyRobustWithShrinkage",
    "InverseProbabilityWeighting",
    "OPEConfig",
    "OffPolicyEvaluation",
    "RegressionModel",
    "SelfNormalizedDoublyRobust",
    "SelfNormalizedInverseProbabilityWeighting",
    "SwitchDoublyRobust",
    "importance_weight",
]
