"""Direct method (DM): plug a reward model's predictions into the evaluation policy.

References
----------
Beygelzimer & Langford. "The Offset Tree for Learning with Partial Labels." KDD 2009.
Dudík, Erhan, Langford, Li. "Doubly Robust Policy Evaluation and Optimization." Statistical Science 2014.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from rlopt.ope.base import BaseOffPolicyEstimator

__all__ = ["DirectMethod", "direct_method_rewards"]


def direct_method_rewards(action_dist: np.ndarray, estimated_rewards_by_reg_model: np.ndarray,
                          position: np.ndarray) -> np.ndarray:
    """``sum_a pi_e(a | x_i, pos_i) q(x_i, a, pos_i)`` per row, shape (n_rounds,).

    >>> direct_method_rewards(np.array([[[0.8], [0.2]]]), np.array([[[0.6], [0.4]]]), np.array([0]))
    array([0.56])
    """
    rows = np.arange(action_dist.shape[0])
    return np.einsum("na,na->n", action_dist[rows, :, position], estimated_rewards_by_reg_model[rows, :, position])


@dataclass
class DirectMethod(BaseOffPolicyEstimator):
    """Direct method (DM).

    .. math::
        \\hat V_{DM} = \\frac{1}{n} \\sum_i \\sum_a \\pi_e(a \\mid x_i, pos_i) \\, \\hat q(x_i, a, pos_i)

    Needs no propensities: low variance, but biased as much as the regression model
    ``estimated_rewards_by_reg_model`` (n_rounds, n_actions, len_list) is wrong. The interval
    reflects only the sampling of contexts, not the model's error.

    Parameters
    ----------
    estimator_name : str, default "dm"

    Examples
    --------
    >>> DirectMethod().estimate_policy_value(
    ...     action_dist=np.array([[[0.8], [0.2]], [[0.2], [0.8]]]),
    ...     estimated_rewards_by_reg_model=np.array([[[0.6], [0.4]], [[0.3], [0.5]]]))
    0.51
    """

    estimator_name: str = "dm"
    _requires: ClassVar[tuple[str, ...]] = ("estimated_rewards_by_reg_model",)

    def _estimate_round_rewards(self, **data: np.ndarray) -> np.ndarray:
        return direct_method_rewards(data["action_dist"], data["estimated_rewards_by_reg_model"], data["position"])
