"""The shared estimator API: hyperparameters in a dataclass, data in the methods.

Each estimator overrides only the private per-sample method(s); the public
``estimate_policy_value`` and ``estimate_interval`` validate once and sit on them.
Argument names and shapes follow Open Bandit Pipeline (Saito et al. 2021):

- ``reward``: (n_rounds,) observed rewards
- ``action``: (n_rounds,) int, logged actions
- ``position``: (n_rounds,) int, slots (``None`` = all 0)
- ``pscore``: (n_rounds,) logging propensities ``pi_b(a_i | x_i, pos_i)``
- ``action_dist``: (n_rounds, n_actions, len_list) evaluation policy ``pi_e(a | x_i, pos)``
- ``estimated_rewards_by_reg_model``: (n_rounds, n_actions, len_list) ``q(x_i, a, pos)``
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from rlopt.errors import InputError
from rlopt.intervals import ConfidenceInterval
from rlopt.ope._validation import check_bootstrap_args, check_ope_inputs, resolve_position
from rlopt.ope.bootstrap import (
    bca_interval,
    bootstrap_statistics,
    influence_values,
    percentile_interval,
    ratio_mean,
)
from rlopt.seeding import RNGLike

__all__ = ["BaseOffPolicyEstimator", "ConfidenceInterval", "importance_weight"]


def importance_weight(action_dist: np.ndarray, action: np.ndarray, position: np.ndarray,
                      pscore: np.ndarray) -> np.ndarray:
    """``w_i = pi_e(a_i | x_i, pos_i) / pscore_i``, shape (n_rounds,).

    >>> importance_weight(np.full((2, 4, 1), 0.25), np.array([0, 3]), np.array([0, 0]), np.array([0.5, 0.125]))
    array([0.5, 2. ])
    """
    rows = np.arange(action.shape[0])
    return action_dist[rows, action, position] / pscore


@dataclass
class BaseOffPolicyEstimator(ABC):
    """Base class: validation, point estimate and bootstrap interval on per-sample contributions.

    Subclasses set ``_requires`` (the data arguments they need besides ``action_dist``) and
    implement ``_estimate_round_rewards``; self-normalized ones also override ``_ratio_parts``.
    """

    estimator_name: str = "base"
    _requires: ClassVar[tuple[str, ...]] = ()

    # ------------------------------------------------------------------ private, per sample
    @abstractmethod
    def _estimate_round_rewards(self, **data: np.ndarray) -> np.ndarray:
        """Per-sample contributions, shape (n_rounds,); their mean is the estimate."""

    def _ratio_parts(self, **data: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """``(base, numerator, denominator)`` with estimate ``mean(base) + mean(num)/mean(den)``."""
        return self._estimate_round_rewards(**data), None, None

    # ------------------------------------------------------------------ validation
    def _prepare(
        self,
        action_dist: np.ndarray,
        reward: np.ndarray | None,
        action: np.ndarray | None,
        pscore: np.ndarray | None,
        position: np.ndarray | None,
        estimated_rewards_by_reg_model: np.ndarray | None,
        check: bool = True,
    ) -> dict[str, np.ndarray]:
        """Required-argument check, validation (unless ``check=False``: the caller already ran
        ``check_ope_inputs`` on these arrays) and dtype casts."""
        given = {
            "reward": reward,
            "action": action,
            "pscore": pscore,
            "estimated_rewards_by_reg_model": estimated_rewards_by_reg_model,
        }
        missing = [name for name in self._requires if given[name] is None]
        if missing:
            raise InputError(
                f"`{self.estimator_name}` needs {', '.join(f'`{m}`' for m in missing)} "
                f"(it uses {', '.join(f'`{r}`' for r in self._requires)} and `action_dist`)"
            )
        position = resolve_position(action_dist, position)
        used = {k: v for k, v in given.items() if k in self._requires}
        if check:
            check_ope_inputs(action_dist, position=position, **used)
        data = {"action_dist": action_dist, "position": position.astype(np.int64)}
        for name, value in used.items():
            data[name] = value.astype(np.int64) if name == "action" else value.astype(float)
        return data

    # ------------------------------------------------------------------ public
    def estimate_policy_value(
        self,
        *,
        action_dist: np.ndarray,
        reward: np.ndarray | None = None,
        action: np.ndarray | None = None,
        pscore: np.ndarray | None = None,
        position: np.ndarray | None = None,
        estimated_rewards_by_reg_model: np.ndarray | None = None,
        **kwargs: object,
    ) -> float:
        """Estimate the evaluation policy's value ``V(pi_e)``.

        Arguments not used by this estimator are ignored (so one ``bandit_feedback`` dict can
        feed every estimator), as are extra keywords such as ``context``.

        Returns
        -------
        float
        """
        data = self._prepare(action_dist, reward, action, pscore, position, estimated_rewards_by_reg_model)
        return self._value(data)

    def _value(self, data: dict[str, np.ndarray]) -> float:
        return float(ratio_mean(*self._ratio_parts(**data)))

    def estimate_interval(
        self,
        *,
        action_dist: np.ndarray,
        reward: np.ndarray | None = None,
        action: np.ndarray | None = None,
        pscore: np.ndarray | None = None,
        position: np.ndarray | None = None,
        estimated_rewards_by_reg_model: np.ndarray | None = None,
        alpha: float = 0.05,
        n_bootstrap_samples: int = 1000,
        rng: RNGLike = None,
        method: str = "percentile",
        **kwargs: object,
    ) -> ConfidenceInterval:
        """Point estimate and bootstrap ``(1 - alpha)`` interval.

        Rows are resampled with replacement ``n_bootstrap_samples`` times; for self-normalized
        estimators the numerator and denominator are recomputed on the same resample.
        ``method="percentile"`` takes the replicates' quantiles; ``"bca"`` corrects them for bias
        and skew (Efron's BCa, acceleration from the empirical influence function). The same
        ``rng`` gives the same replicates for both.

        Returns
        -------
        rlopt.intervals.ConfidenceInterval
            ``low, high`` of the interval, ``estimate`` (the value on the full sample) and
            ``confidence_level = 1 - alpha``.
        """
        check_bootstrap_args(alpha, n_bootstrap_samples, method)
        data = self._prepare(action_dist, reward, action, pscore, position, estimated_rewards_by_reg_model)
        return self._interval(data, alpha, n_bootstrap_samples, rng, method)

    def _interval(self, data: dict[str, np.ndarray], alpha: float, n_bootstrap_samples: int, rng: RNGLike,
                  method: str) -> ConfidenceInterval:
        parts = self._ratio_parts(**data)
        estimate = float(ratio_mean(*parts))
        reps = bootstrap_statistics(*parts, n_bootstrap_samples=n_bootstrap_samples, rng=rng)
        if method == "bca":
            low, high = bca_interval(reps, estimate, influence_values(*parts), alpha)
        else:
            low, high = percentile_interval(reps, alpha)
        return ConfidenceInterval(low, high, estimate=estimate, confidence_level=1.0 - alpha)
