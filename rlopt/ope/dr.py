"""Doubly robust (DR) estimators: DR, self-normalized DR, switch-DR and DR with shrinkage.

All share the form ``DM_i + g(w_i) (r_i - q(x_i, a_i, pos_i))`` and differ in ``g``.

References
----------
Dudík, Erhan, Langford, Li. "Doubly Robust Policy Evaluation and Optimization." Statistical Science 2014.
Wang, Agarwal, Dudík. "Optimal and Adaptive Off-policy Evaluation in Contextual Bandits." ICML 2017.
Su, Dimakopoulou, Krishnamurthy, Dudík. "Doubly Robust Off-policy Evaluation with Shrinkage." ICML 2020.
Saito, Aihara, Matsutani, Narita. "Open Bandit Dataset and Pipeline." NeurIPS 2021 Datasets and Benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from rlopt.ope._validation import check_scalar_hyperparameter
from rlopt.ope.base import BaseOffPolicyEstimator, importance_weight
from rlopt.ope.dm import direct_method_rewards

__all__ = [
    "DoublyRobust",
    "DoublyRobustWithShrinkage",
    "SelfNormalizedDoublyRobust",
    "SwitchDoublyRobust",
]


@dataclass
class DoublyRobust(BaseOffPolicyEstimator):
    """Doubly robust (DR): the direct method plus an importance-weighted residual.

    .. math::
        \\hat V_{DR} = \\frac{1}{n} \\sum_i \\Big[ \\sum_a \\pi_e(a \\mid x_i, pos_i) \\hat q(x_i, a, pos_i)
        + \\min(w_i, \\lambda) \\big(r_i - \\hat q(x_i, a_i, pos_i)\\big) \\Big]

    Unbiased if either the propensities or the regression model are right; with a good
    ``estimated_rewards_by_reg_model`` (n_rounds, n_actions, len_list) its variance is below IPW's.

    Parameters
    ----------
    lambda_ : float, default inf
        Weight clipping threshold (``inf`` = none).
    estimator_name : str, default "dr"

    Examples
    --------
    >>> dist = np.array([[[0.8], [0.2]], [[0.2], [0.8]]])
    >>> q = np.array([[[0.6], [0.4]], [[0.3], [0.5]]])
    >>> round(DoublyRobust().estimate_policy_value(
    ...     reward=np.array([1.0, 0.0]), action=np.array([0, 1]), pscore=np.array([0.5, 0.5]),
    ...     action_dist=dist, estimated_rewards_by_reg_model=q), 6)
    0.43
    """

    lambda_: float = np.inf
    estimator_name: str = "dr"
    _requires: ClassVar[tuple[str, ...]] = ("reward", "action", "pscore", "estimated_rewards_by_reg_model")

    def __post_init__(self) -> None:
        check_scalar_hyperparameter(self.lambda_, "lambda_")

    def _raw_weights(self, action_dist, action, position, pscore, **_: np.ndarray) -> np.ndarray:
        return importance_weight(action_dist, action, position, pscore)

    def _weights(self, **data: np.ndarray) -> np.ndarray:
        """``g(w)``: the factor on the residual (clipped weights for plain DR)."""
        return np.minimum(self._raw_weights(**data), self.lambda_)

    @staticmethod
    def _dm_and_residual(action_dist, action, position, reward, estimated_rewards_by_reg_model,
                         **_: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        q = estimated_rewards_by_reg_model
        dm = direct_method_rewards(action_dist, q, position)
        residual = reward - q[np.arange(action.shape[0]), action, position]
        return dm, residual

    def _estimate_round_rewards(self, **data: np.ndarray) -> np.ndarray:
        dm, residual = self._dm_and_residual(**data)
        return dm + self._weights(**data) * residual


@dataclass
class SelfNormalizedDoublyRobust(DoublyRobust):
    """Self-normalized DR (SNDR): the residual term divided by the mean weight.

    .. math::
        \\hat V_{SNDR} = \\frac{1}{n} \\sum_i \\sum_a \\pi_e \\hat q(x_i, a, pos_i)
        + \\frac{\\sum_i w_i (r_i - \\hat q(x_i, a_i, pos_i))}{\\sum_i w_i}

    Examples
    --------
    >>> dist = np.array([[[0.8], [0.2]], [[0.2], [0.8]]])
    >>> q = np.array([[[0.6], [0.4]], [[0.3], [0.5]]])
    >>> round(SelfNormalizedDoublyRobust().estimate_policy_value(
    ...     reward=np.array([1.0, 0.0]), action=np.array([0, 1]), pscore=np.array([0.5, 0.5]),
    ...     action_dist=dist, estimated_rewards_by_reg_model=q), 6)
    0.46
    """

    estimator_name: str = "sndr"

    def _estimate_round_rewards(self, **data: np.ndarray) -> np.ndarray:
        dm, residual = self._dm_and_residual(**data)
        w = self._weights(**data)
        mean_w = w.mean()
        return dm + (w * residual / mean_w if mean_w > 0 else 0.0)

    def _ratio_parts(self, **data: np.ndarray):
        dm, residual = self._dm_and_residual(**data)
        w = self._weights(**data)
        return dm, w * residual, w


@dataclass
class SwitchDoublyRobust(DoublyRobust):
    """Switch-DR: DR where the weight is at most ``lambda_``, the direct method alone elsewhere.

    .. math::
        \\hat V_{SwitchDR} = \\frac{1}{n} \\sum_i \\Big[ \\sum_a \\pi_e \\hat q(x_i, a, pos_i)
        + w_i \\, \\mathbb{1}\\{w_i \\le \\lambda\\} \\big(r_i - \\hat q(x_i, a_i, pos_i)\\big) \\Big]

    ``lambda_ = 0`` gives DM, ``lambda_ = inf`` gives DR (the per-sample form used by OBP).

    Parameters
    ----------
    lambda_ : float, default inf
        Switching threshold on the importance weight.
    estimator_name : str, default "switch-dr"

    Examples
    --------
    >>> dist = np.array([[[0.8], [0.2]], [[0.2], [0.8]]])
    >>> q = np.array([[[0.6], [0.4]], [[0.3], [0.5]]])
    >>> round(SwitchDoublyRobust(lambda_=1.0).estimate_policy_value(
    ...     reward=np.array([1.0, 0.0]), action=np.array([0, 1]), pscore=np.array([0.5, 0.5]),
    ...     action_dist=dist, estimated_rewards_by_reg_model=q), 6)
    0.51
    """

    estimator_name: str = "switch-dr"

    def _weights(self, **data: np.ndarray) -> np.ndarray:
        w = self._raw_weights(**data)
        return w * (w <= self.lambda_)


@dataclass
class DoublyRobustWithShrinkage(DoublyRobust):
    """DR with optimistic shrinkage (DRos): weights shrunk toward 0 by ``lambda_``.

    .. math::
        \\hat w_i = \\frac{\\lambda \\, w_i}{w_i^2 + \\lambda}, \\qquad
        \\hat V_{DRos} = \\frac{1}{n} \\sum_i \\Big[ \\sum_a \\pi_e \\hat q(x_i, a, pos_i)
        + \\hat w_i \\big(r_i - \\hat q(x_i, a_i, pos_i)\\big) \\Big]

    ``lambda_ = 0`` gives DM, ``lambda_ = inf`` gives DR.

    Parameters
    ----------
    lambda_ : float, default inf
        Shrinkage hyperparameter (>= 0).
    estimator_name : str, default "dr-os"

    Examples
    --------
    >>> dist = np.array([[[0.8], [0.2]], [[0.2], [0.8]]])
    >>> q = np.array([[[0.6], [0.4]], [[0.3], [0.5]]])
    >>> round(DoublyRobustWithShrinkage(lambda_=1.0).estimate_policy_value(
    ...     reward=np.array([1.0, 0.0]), action=np.array([0, 1]), pscore=np.array([0.5, 0.5]),
    ...     action_dist=dist, estimated_rewards_by_reg_model=q), 6)
    0.487528
    """

    estimator_name: str = "dr-os"

    def _weights(self, **data: np.ndarray) -> np.ndarray:
        w = self._raw_weights(**data)
        if np.isinf(self.lambda_):
            return w
        if self.lambda_ == 0:
            return np.zeros_like(w)
        return self.lambda_ * w / (w**2 + self.lambda_)
