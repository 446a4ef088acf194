"""Linear contextual bandits with one ridge model per arm (disjoint): LinUCB, linear TS, linear ε-greedy.

Per arm ``a`` with the contexts ``X_a`` (rows where ``a`` was played) and rewards ``r_a``:

    A_a = λ I + X_a^T X_a,    b_a = X_a^T r_a,    θ_a = A_a^{-1} b_a

A constant 1 is appended to every context when ``fit_intercept`` is True (so ``d = dim + 1``).
Single updates use the Sherman-Morrison rank-one formula on ``A_a^{-1}``; batch updates add
``X_a^T X_a`` and re-invert only the arms that changed (``d`` is small, so the inverse is cheap
and keeps the numerics from drifting).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import log_ndtr

from rlopt.errors import InputError
from rlopt.policies.base import Policy, greedy_probs
from rlopt.policies.context_free import _check_unit, _epsilon_mix
from rlopt.seeding import RNGLike


class _RidgeArms(Policy):
    """Shared per-arm ridge state: ``A_inv (K, d, d)``, ``b (K, d)``, ``theta (K, d)``."""

    contextual = True

    def __init__(self, n_actions: int, dim: int, rng: RNGLike = None, lambda_: float = 1.0,
                 fit_intercept: bool = True) -> None:
        super().__init__(n_actions, dim, rng)
        if not np.isfinite(lambda_) or lambda_ <= 0:
            raise InputError(f"lambda_ must be > 0, got {lambda_}", column="lambda_", rule="lambda_ > 0")
        self.lambda_ = float(lambda_)
        self.fit_intercept = bool(fit_intercept)
        d = self.dim + int(self.fit_intercept)
        self.A = np.broadcast_to(self.lambda_ * np.eye(d), (self.n_actions, d, d)).copy()
        self.A_inv = np.broadcast_to(np.eye(d) / self.lambda_, (self.n_actions, d, d)).copy()
        self.b = np.zeros((self.n_actions, d))
        self.theta = np.zeros((self.n_actions, d))

    def _design(self, contexts: np.ndarray) -> np.ndarray:
        if not self.fit_intercept:
            return contexts
        return np.concatenate([contexts, np.ones((contexts.shape[0], 1))], axis=1)

    def _update(self, contexts: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        X = self._design(contexts)
        if X.shape[0] == 1:  # Sherman-Morrison: A^{-1} - (A^{-1} x x^T A^{-1}) / (1 + x^T A^{-1} x)
            a, x = int(actions[0]), X[0]
            Ax = self.A_inv[a] @ x
            self.A_inv[a] -= np.outer(Ax, Ax) / (1.0 + x @ Ax)
            self.A[a] += np.outer(x, x)
            self.b[a] += rewards[0] * x
            self.theta[a] = self.A_inv[a] @ self.b[a]
            return
        touched = np.unique(actions)
        for a in touched:
            rows = actions == a
            Xa = X[rows]
            self.A[a] += Xa.T @ Xa
            self.b[a] += Xa.T @ rewards[rows]
        self.A_inv[touched] = np.linalg.inv(self.A[touched])
        self.theta[touched] = np.einsum("kde,ke->kd", self.A_inv[touched], self.b[touched])

    def _mean_and_width(self, contexts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predicted means ``x·θ_a`` and widths ``sqrt(x^T A_a^{-1} x)``, each ``(n, K)``."""
        X = self._design(contexts)
        mean = X @ self.theta.T
        quad = np.einsum("knd,nd->nk", X[None] @ self.A_inv, X)  # (K,n,d) -> (n,K)
        return mean, np.sqrt(np.maximum(quad, 0.0))

    def params(self) -> dict[str, Any]:
        return {"lambda_": self.lambda_, "fit_intercept": self.fit_intercept}


class LinUCB(_RidgeArms):
    """Disjoint LinUCB (Li et al. 2010): ``argmax_a x·θ_a + α sqrt(x^T A_a^{-1} x)``.

    Deterministic given its state, so ``π(a|x)`` is the exact greedy indicator (ties split).

    Parameters
    ----------
    alpha : float >= 0
        Width of the confidence bonus.
    lambda_ : float > 0
        Ridge penalty (prior precision).
    fit_intercept : bool
        Append a constant feature.
    """

    name = "linucb"

    def __init__(self, n_actions: int, dim: int, rng: RNGLike = None, alpha: float = 0.5,
                 lambda_: float = 1.0, fit_intercept: bool = True) -> None:
        super().__init__(n_actions, dim, rng, lambda_=lambda_, fit_intercept=fit_intercept)
        if not np.isfinite(alpha) or alpha < 0:
            raise InputError(f"alpha must be >= 0, got {alpha}", column="alpha", rule="alpha >= 0")
        self.alpha = float(alpha)

    def _scores(self, contexts: np.ndarray) -> np.ndarray:
        mean, width = self._mean_and_width(contexts)
        return mean + self.alpha * width

    def _select(self, contexts: np.ndarray) -> np.ndarray:
        return self._argmax(self._scores(contexts))

    def _action_probs(self, contexts: np.ndarray) -> np.ndarray:
        return greedy_probs(self._scores(contexts))

    def params(self) -> dict[str, Any]:
        return {"alpha": self.alpha, **super().params()}


class LinearTS(_RidgeArms):
    """Linear Thompson sampling (Agrawal & Goyal 2013) with a Gaussian posterior per arm.

    ``θ_a ~ N(A_a^{-1} b_a, v² A_a^{-1})``; for one context only the score ``x·θ_a`` matters, so
    each row draws ``score_a ~ N(x·θ̂_a, v² x^T A_a^{-1} x)`` independently per arm (the same
    distribution as sampling ``θ_a``, at ``O(K d²)`` per row) and plays the argmax.

    ``action_probs`` computes ``P(a = argmax) = E_{t~N(μ_a, σ_a²)} Π_{b≠a} Φ((t-μ_b)/σ_b)`` by
    Gauss-Hermite quadrature with ``n_nodes`` nodes (deterministic; accurate to about 1e-3
    unless two arms are both almost certain); ``exact_probs`` is False.

    Parameters
    ----------
    v : float > 0
        Posterior scale (exploration strength).
    lambda_ : float > 0
        Ridge penalty (prior precision).
    fit_intercept : bool
        Append a constant feature.
    n_nodes : int
        Quadrature nodes for ``action_probs``.
    """

    name = "linear-ts"
    exact_probs = False

    def __init__(self, n_actions: int, dim: int, rng: RNGLike = None, v: float = 0.2,
                 lambda_: float = 1.0, fit_intercept: bool = True, n_nodes: int = 48) -> None:
        super().__init__(n_actions, dim, rng, lambda_=lambda_, fit_intercept=fit_intercept)
        if not np.isfinite(v) or v <= 0:
            raise InputError(f"v must be > 0, got {v}", column="v", rule="v > 0")
        self.v = float(v)
        self.n_nodes = int(n_nodes)

    def _select(self, contexts: np.ndarray) -> np.ndarray:
        mean, width = self._mean_and_width(contexts)
        return self._argmax(mean + self.v * width * self.rng.standard_normal(mean.shape))

    def _action_probs(self, contexts: np.ndarray) -> np.ndarray:
        mean, width = self._mean_and_width(contexts)
        sd = np.maximum(self.v * width, 1e-12)
        nodes, weights = np.polynomial.hermite.hermgauss(self.n_nodes)
        # t[n, a, i]: quadrature points of arm a's score distribution.
        t = mean[:, :, None] + np.sqrt(2.0) * sd[:, :, None] * nodes
        # log Φ_b(t) for every other arm b: (n, a, i, b); drop the b = a term afterwards.
        z = (t[..., None] - mean[:, None, None, :]) / sd[:, None, None, :]
        log_cdf = log_ndtr(z).sum(axis=-1) - log_ndtr(np.sqrt(2.0) * nodes)[None, None, :]
        return np.maximum(np.exp(log_cdf) @ (weights / np.sqrt(np.pi)), 0.0) + 1e-300

    def params(self) -> dict[str, Any]:
        return {"v": self.v, **super().params()}


class LinearEpsilonGreedy(_RidgeArms):
    """ε-greedy on per-arm ridge predictions ``x·θ_a`` (a contextual baseline for LinUCB / TS).

    ``π(a|x) = ε/K + (1-ε)·1[a ∈ argmax_b x·θ_b]/|argmax|`` exactly.

    Parameters
    ----------
    epsilon : float in [0, 1]
        Exploration rate.
    lambda_ : float > 0
        Ridge penalty.
    fit_intercept : bool
        Append a constant feature.
    """

    name = "linear-epsilon-greedy"

    def __init__(self, n_actions: int, dim: int, rng: RNGLike = None, epsilon: float = 0.1,
                 lambda_: float = 1.0, fit_intercept: bool = True) -> None:
        super().__init__(n_actions, dim, rng, lambda_=lambda_, fit_intercept=fit_intercept)
        self.epsilon = _check_unit("epsilon", epsilon)

    def _select(self, contexts: np.ndarray) -> np.ndarray:
        return _epsilon_mix(self, self._argmax(self._design(contexts) @ self.theta.T))

    def _action_probs(self, contexts: np.ndarray) -> np.ndarray:
        greedy = greedy_probs(self._design(contexts) @ self.theta.T)
        return self.epsilon / self.n_actions + (1 - self.epsilon) * greedy

    def params(self) -> dict[str, Any]:
        return {"epsilon": self.epsilon, **super().params()}
