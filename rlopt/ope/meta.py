"""Run several estimators on one log and summarize them in one table.

Mirrors OBP's ``OffPolicyEvaluation``: estimators are keyed by ``estimator_name``; the log is a
``bandit_feedback`` mapping (``reward, action, position, pscore``) or an object with those
attributes (e.g. :class:`rlopt.data.obd.OBDFeedback`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from rlopt.errors import InputError
from rlopt.ope._validation import check_bootstrap_args, check_ope_inputs, resolve_position
from rlopt.ope.base import BaseOffPolicyEstimator, ConfidenceInterval
from rlopt.ope.dm import DirectMethod
from rlopt.seeding import RNGLike, as_rng

__all__ = ["OffPolicyEvaluation"]

_KEYS = ("reward", "action", "position", "pscore")


def _pscore_problem(pscore: Any) -> str | None:
    """A sentence describing why ``pscore`` cannot be used, or None if it can."""
    if pscore is None:
        return "the log has no propensities (`pscore`)"
    p = np.asarray(pscore, dtype=float)
    bad = ~np.isfinite(p) | (p <= 0)
    if bad.any():
        first = int(np.flatnonzero(bad)[0]) + 1
        return f"{int(bad.sum())} of {p.size} propensities (`pscore`) are missing or <= 0 (first at row {first})"
    return None


@dataclass
class OffPolicyEvaluation:
    """Several OPE estimators on one logged dataset.

    Parameters
    ----------
    bandit_feedback : mapping or object
        ``reward``, ``action``, ``position`` (optional), ``pscore`` (optional) arrays of shape (n_rounds,).
    ope_estimators : sequence of BaseOffPolicyEstimator
        Names (``estimator_name``) must be unique.
    fallback_to_dm : bool, default False
        If the propensities are missing or not positive: False raises an InputError; True drops
        every estimator that needs them, keeps (or adds) the direct method and records why in
        ``notes``.

    Examples
    --------
    >>> from rlopt.ope import InverseProbabilityWeighting, DirectMethod
    >>> fb = dict(reward=np.array([1.0, 0.0]), action=np.array([0, 1]), pscore=np.array([0.5, 0.5]))
    >>> ope = OffPolicyEvaluation(fb, [InverseProbabilityWeighting(), DirectMethod()])
    >>> dist = np.array([[[0.8], [0.2]], [[0.2], [0.8]]]); q = np.array([[[0.6], [0.4]], [[0.3], [0.5]]])
    >>> {k: round(v, 6) for k, v in ope.estimate_policy_values(dist, q).items()}
    {'ipw': 0.8, 'dm': 0.51}
    """

    bandit_feedback: Any
    ope_estimators: Sequence[BaseOffPolicyEstimator]
    fallback_to_dm: bool = False
    notes: list[str] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        names = [e.estimator_name for e in self.ope_estimators]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if not names or dupes:
            raise InputError(f"`ope_estimators` must be non-empty with unique `estimator_name`s; repeated: {dupes}")
        fb = self.bandit_feedback
        get = fb.get if isinstance(fb, Mapping) else (lambda k, d=None: getattr(fb, k, d))
        self._data = {k: get(k, None) for k in _KEYS}
        if self._data["reward"] is None or self._data["action"] is None:
            raise InputError("`bandit_feedback` must provide `reward` and `action`")
        self.estimators = {e.estimator_name: e for e in self.ope_estimators}
        problem = _pscore_problem(self._data["pscore"])
        needs_pscore = [n for n, e in self.estimators.items() if "pscore" in e._requires]
        if problem and needs_pscore:
            if not self.fallback_to_dm:
                raise InputError(
                    f"{problem}, which {', '.join(needs_pscore)} need. Supply propensities, or fall back to "
                    "the direct method (fallback_to_dm=True / --fallback-dm), which needs none but is only as "
                    "good as its reward model.",
                    column="pscore", rule="pscore > 0",
                )
            self.estimators = {n: e for n, e in self.estimators.items() if n not in needs_pscore}
            if not any(isinstance(e, DirectMethod) for e in self.estimators.values()):
                self.estimators["dm"] = DirectMethod()
            self.notes.append(f"{problem}; fell back to the direct method (dropped {', '.join(needs_pscore)})")
            self._data["pscore"] = None

    @property
    def on_policy_value(self) -> float:
        """Mean logged reward: the logging policy's own value."""
        return float(np.mean(self._data["reward"]))

    def _prepared(self, action_dist: np.ndarray, estimated_rewards_by_reg_model: np.ndarray | None) -> dict:
        """Validate the arrays any estimator uses once, then each estimator's inputs unchecked."""
        kw = {**self._data, "action_dist": action_dist, "estimated_rewards_by_reg_model": estimated_rewards_by_reg_model}
        used = {name for est in self.estimators.values() for name in est._requires}
        position = resolve_position(action_dist, kw["position"])
        check_ope_inputs(action_dist, position=position, **{k: kw[k] for k in used if kw[k] is not None})
        return {
            name: est._prepare(action_dist, kw["reward"], kw["action"], kw["pscore"], position,
                               estimated_rewards_by_reg_model, check=False)
            for name, est in self.estimators.items()
        }

    def estimate_policy_values(
        self, action_dist: np.ndarray, estimated_rewards_by_reg_model: np.ndarray | None = None
    ) -> dict[str, float]:
        """``{estimator_name: estimate}`` for ``action_dist`` (n_rounds, n_actions, len_list)."""
        data = self._prepared(action_dist, estimated_rewards_by_reg_model)
        return {name: est._value(data[name]) for name, est in self.estimators.items()}

    def estimate_intervals(
        self,
        action_dist: np.ndarray,
        estimated_rewards_by_reg_model: np.ndarray | None = None,
        *,
        alpha: float = 0.05,
        n_bootstrap_samples: int = 1000,
        rng: RNGLike = None,
        method: str = "percentile",
    ) -> dict[str, ConfidenceInterval]:
        """``{estimator_name: ConfidenceInterval}``; each estimator gets its own child seed.

        ``method``: ``"percentile"`` or ``"bca"`` (see ``BaseOffPolicyEstimator.estimate_interval``).
        """
        check_bootstrap_args(alpha, n_bootstrap_samples, method)
        data = self._prepared(action_dist, estimated_rewards_by_reg_model)
        children = as_rng(rng).spawn(len(self.estimators))
        return {
            name: est._interval(data[name], alpha, n_bootstrap_samples, child, method)
            for (name, est), child in zip(self.estimators.items(), children, strict=True)
        }

    def summarize_off_policy_estimates(
        self,
        action_dist: np.ndarray,
        estimated_rewards_by_reg_model: np.ndarray | None = None,
        *,
        ground_truth: float | None = None,
        alpha: float = 0.05,
        n_bootstrap_samples: int = 1000,
        rng: RNGLike = None,
        method: str = "percentile",
    ) -> pd.DataFrame:
        """One row per estimator: ``estimate, low, high, confidence_level, relative_estimate``.

        ``relative_estimate`` is the estimate over the logged on-policy mean. With
        ``ground_truth`` also ``relative_error = |estimate - truth| / truth`` and ``covers``.
        """
        cis = self.estimate_intervals(action_dist, estimated_rewards_by_reg_model, alpha=alpha,
                                      n_bootstrap_samples=n_bootstrap_samples, rng=rng, method=method)
        base = self.on_policy_value
        rows = []
        for name, ci in cis.items():
            row = {"estimator": name, "estimate": ci.estimate, "low": ci.low, "high": ci.high,
                   "confidence_level": ci.confidence_level,
                   "relative_estimate": ci.estimate / base if base else float("nan")}
            if ground_truth is not None:
                row["relative_error"] = abs(ci.estimate - ground_truth) / abs(ground_truth) if ground_truth else float("nan")
                row["covers"] = ci.covers(ground_truth)
            rows.append(row)
        return pd.DataFrame(rows).set_index("estimator")
