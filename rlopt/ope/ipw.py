"""Inverse probability weighting (IPW) and its self-normalized variant (SNIPW).

References
----------
Precup, Sutton, Singh. "Eligibility Traces for Off-Policy Policy Evaluation." ICML 2000.
Strehl, Langford, Li, Kakade. "Learning from Logged Implicit Exploration Data." NeurIPS 2010.
Swaminathan & Joachims. "The Self-Normalized Estimator for Counterfactual Learning." NeurIPS 2015.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from rlopt.ope._validation import check_scalar_hyperparameter
from rlopt.ope.base import BaseOffPolicyEstimator, importance_weight

__all__ = ["InverseProbabilityWeighting", "SelfNormalizedInverseProbabilityWeighting"]


@dataclass
class InverseProbabilityWeighting(BaseOffPolicyEstimator):
    """Inverse probability weighting (IPW), optionally with clipped weights.

    .. math::
        \\hat V_{IPW} = \\frac{1}{n} \\sum_i \\min(w_i, \\lambda) \\, r_i,
        \\qquad w_i = \\frac{\\pi_e(a_i \\mid x_i, pos_i)}{\\pi_b(a_i \\mid x_i, pos_i)}

    Unbiased when ``pscore`` is the true logging propensity and ``lambda_ = inf``; its variance
    grows with the weights. Uses ``reward``, ``action``, ``pscore``, ``position`` (n_rounds,)
    and ``action_dist`` (n_rounds, n_actions, len_list).

    Parameters
    ----------
    lambda_ : float, default inf
        Clipping threshold for the weights (``inf`` = no clipping).
    estimator_name : str, default "ipw"

    Examples
    --------
    >>> dist = np.array([[[0.8], [0.2]], [[0.2], [0.8]]])
    >>> InverseProbabilityWeighting().estimate_policy_value(
    ...     reward=np.array([1.0, 0.0]), action=np.array([0, 1]), pscore=np.array([0.5, 0.5]),
    ...     action_dist=dist)
    0.8
    """

    lambda_: float = np.inf
    estimator_name: str = "ipw"
    _requires: ClassVar[tuple[str, ...]] = ("reward", "action", "pscore")

    def __post_init__(self) -> None:
        check_scalar_hyperparameter(self.lambda_, "lambda_")

    def _weights(self, action_dist, action, position, pscore, **_: np.ndarray) -> np.ndarray:
        return np.minimum(importance_weight(action_dist, action, position, pscore), self.lambda_)

    def _estimate_round_rewards(self, **data: np.ndarray) -> np.ndarray:
        return self._weights(**data) * data["reward"]


@dataclass
class SelfNormalizedInverseProbabilityWeighting(InverseProbabilityWeighting):
    """Self-normalized IPW (SNIPW): IPW divided by the mean weight.

    .. math::
        \\hat V_{SNIPW} = \\frac{\\sum_i w_i r_i}{\\sum_i w_i}

    Biased but consistent, bounded by the reward range, usually far less variable than IPW.
    The bootstrap resamples numerator and denominator together.

    Examples
    --------
    >>> dist = np.array([[[0.8], [0.2]], [[0.2], [0.8]]])
    >>> SelfNormalizedInverseProbabilityWeighting().estimate_policy_value(
    ...     reward=np.array([1.0, 0.0]), action=np.array([0, 1]), pscore=np.array([0.5, 0.5]),
    ...     action_dist=dist)
    0.5
    """

    estimator_name: str = "snipw"

    def _estimate_round_rewards(self, **data: np.ndarray) -> np.ndarray:
        w = self._weights(**data)
        mean_w = w.mean()
        return w * data["reward"] / mean_w if mean_w > 0 else np.zeros_like(w)

    def _ratio_parts(self, **data: np.ndarray):
        w = self._weights(**data)
        return np.zeros_like(w), w * data["reward"], w
