"""Off-policy evaluation: estimate a new policy's value from another policy's logs, with intervals.

Estimators are named and called as in Open Bandit Pipeline (``reward, action, position, pscore,
action_dist, estimated_rewards_by_reg_model``), so results can be cross-checked on identical inputs.
"""

from rlopt.ope.base import BaseOffPolicyEstimator, ConfidenceInterval, importance_weight
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

__all__ = [
    "BaseOffPolicyEstimator",
    "ConfidenceInterval",
    "DirectMethod",
    "DoublyRobust",
    "DoublyRobustWithShrinkage",
    "InverseProbabilityWeighting",
    "OffPolicyEvaluation",
    "RegressionModel",
    "SelfNormalizedDoublyRobust",
    "SelfNormalizedInverseProbabilityWeighting",
    "SwitchDoublyRobust",
    "importance_weight",
]
