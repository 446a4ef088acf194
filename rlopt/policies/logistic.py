"""Logistic Thompson sampling with a diagonal Laplace posterior (Chapelle & Li 2011, Algorithm 3).

Per model ``j`` (an action, or an action type with ``n_types``) the posterior over the logistic
weights is ``N(m_j, diag(1/q_j))``. After a batch with features ``X_j`` and 0/1 (or fractional)
rewards ``y_j`` the new mean is the MAP estimate

    m_j <- argmin_w  ½ Σ_i q_ji (w_i - m_ji)² - Σ_n [y_n log σ(x_n·w) + (1 - y_n) log(1 - σ(x_n·w))]

(Newton's method from ``m_j``) and the precision grows by the curvature at it:
``q_ji += Σ_n x_ni² p_n (1 - p_n)``. A row's score for action ``k`` is drawn from
``x·w ~ N(x·m, v² Σ_i x_i² / q_i)``, the exact law of ``x·w`` under the diagonal posterior.

Reference: Chapelle & Li, "An Empirical Evaluation of Thompson Sampling", NeurIPS 2011.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit

from rlopt.errors import InputError
from rlopt.policies.linear import TypedModels, gaussian_argmax_probs
from rlopt.seeding import RNGLike


class LogisticTS(TypedModels):
    """Thompson sampling on a logistic model per action (or per type), diagonal Laplace posterior.

    Parameters
    ----------
    v : float > 0
        Posterior scale: 1 samples the Laplace posterior itself; the default 0.5 shrinks it, which
        Chapelle & Li (2011) found better on display-ad data (it was also better here, see the
        README's bandit section).
    lambda_ : float > 0
        Prior precision of every weight.
    fit_intercept : bool
        Append a constant feature.
    n_types : int
        0: one model per action; T > 0: typed arms (see :mod:`rlopt.policies.linear`).
    n_nodes : int
        Gauss-Hermite nodes for ``action_probs`` (estimated, ``exact_probs`` is False).
    """

    name = "logistic-ts"
    exact_probs = False

    def __init__(self, n_actions: int, dim: int, rng: RNGLike = None, v: float = 0.5, lambda_: float = 1.0,
                 fit_intercept: bool = True, n_types: int = 0, n_nodes: int = 48) -> None:
        super().__init__(n_actions, dim, rng, fit_intercept=fit_intercept, n_types=n_types)
        if not np.isfinite(v) or v <= 0:
            raise InputError(f"v must be > 0, got {v}", column="v", rule="v > 0")
        if not np.isfinite(lambda_) or lambda_ <= 0:
            raise InputError(f"lambda_ must be > 0, got {lambda_}", column="lambda_", rule="lambda_ > 0")
        self.v, self.lambda_, self.n_nodes = float(v), float(lambda_), int(n_nodes)
        self.m = np.zeros((self.n_models, self.d_model))
        self.q = np.full((self.n_models, self.d_model), self.lambda_)

    def _mean_and_sd(self, contexts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        X, types = self._split(contexts)
        mean = X @ self.m.T
        sd = self.v * np.sqrt((X * X) @ (1.0 / self.q).T)
        return self._per_action(mean, types), self._per_action(sd, types)

    def _rank_scores(self, contexts: np.ndarray) -> np.ndarray:
        mean, sd = self._mean_and_sd(contexts)
        return mean + sd * self.rng.standard_normal(mean.shape)

    def _select(self, contexts: np.ndarray) -> np.ndarray:
        return self._argmax(self._rank_scores(contexts))

    def _action_probs(self, contexts: np.ndarray) -> np.ndarray:
        mean, sd = self._mean_and_sd(contexts)
        return gaussian_argmax_probs(mean, sd, self.n_nodes)

    def _update(self, contexts: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        if rewards.min() < 0 or rewards.max() > 1:
            raise InputError("logistic-ts needs rewards in [0, 1]; use reward='click' or 'purchase'",
                             column="reward", rule="0 <= reward <= 1")
        X, types = self._split(contexts)
        models = self._model_of(actions, types)
        for j in np.unique(models):
            rows = models == j
            self.m[j], self.q[j] = _laplace_update(X[rows], rewards[rows], self.m[j], self.q[j])

    def params(self) -> dict[str, Any]:
        return {"v": self.v, "lambda_": self.lambda_, "fit_intercept": self.fit_intercept, "n_types": self.n_types}


def _laplace_update(X: np.ndarray, y: np.ndarray, m0: np.ndarray, q0: np.ndarray,
                    max_iter: int = 20, tol: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    """MAP weights under the prior ``N(m0, diag(1/q0))`` by Newton's method, and the new precision.

    The objective is strictly convex (the prior term), so Newton from ``m0`` converges in a few
    steps; each costs ``O(m d^2 + d^3)`` for ``m`` rows of ``d`` features.
    """
    w = m0.copy()
    for _ in range(max_iter):
        p = expit(X @ w)
        grad = X.T @ (p - y) + q0 * (w - m0)
        hess = (X.T * (p * (1 - p))) @ X + np.diag(q0)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < tol:
            break
    p = expit(X @ w)
    return w, q0 + (X * X).T @ (p * (1 - p))
