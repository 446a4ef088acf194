"""Linear contextual bandits with one ridge model per arm (disjoint): LinUCB, linear TS, linear ε-greedy.

Per arm ``a`` with the contexts ``X_a`` (rows where ``a`` was played) and rewards ``r_a``:

    A_a = λ I + X_a^T X_a,    b_a = X_a^T r_a,    θ_a = A_a^{-1} b_a

A constant 1 is appended to every context when ``fit_intercept`` is True (so ``d = dim + 1``).

**Typed arms** (``n_types = T > 0``): when an action's identity differs per context (action
``k`` shows a different copy in every item's pool) but each action has a known *type* (the
copy's template kind), the last ``n_actions`` context columns hold the type code of every
action (``0 .. T-1``) and the policy keeps one ridge model per type, shared by all actions
of that type: ``score(x, k) = f(x, model[type_k])`` with ``x`` the other ``dim - n_actions``
columns. This is the disjoint model of Li et al. (2010) over types instead of indices.
Single updates use the Sherman-Morrison rank-one formula on ``A_a^{-1}``; a batch update adds
``X_a^T X_a`` per arm and updates ``A_a^{-1}`` by the Woodbury identity when the arm got fewer
than ``d/2`` new rows (``O(m d^2)``), else re-inverts ``A_a`` (which also resets any drift).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import log_ndtr

from rlopt.errors import InputError
from rlopt.policies.base import Policy, greedy_probs
from rlopt.policies.context_free import check_unit_interval, epsilon_mix, epsilon_scores
from rlopt.seeding import RNGLike


class TypedModels(Policy):
    """One model per action (``n_types = 0``) or per action type (typed arms); see the module docstring.

    Holds ``fit_intercept``, ``n_types``, ``n_models`` and the model input size ``d_model``;
    ``_split`` turns contexts into model features and type codes.
    """

    contextual = True

    def __init__(self, n_actions: int, dim: int, rng: RNGLike = None, fit_intercept: bool = True,
                 n_types: int = 0) -> None:
        super().__init__(n_actions, dim, rng)
        if n_types < 0 or (n_types > 0 and self.dim < self.n_actions):
            raise InputError(f"n_types={n_types} needs dim >= n_actions (the last n_actions columns are "
                             f"type codes); got dim={self.dim}", column="n_types", rule="0 <= n_types")
        self.fit_intercept = bool(fit_intercept)
        self.n_types = int(n_types)
        self.n_models = self.n_types or self.n_actions
        self.d_model = self.dim - (self.n_actions if self.n_types else 0) + int(self.fit_intercept)

    def _split(self, contexts: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Features (with intercept) ``(n, d)`` and, for typed arms, type codes ``(n, K)``."""
        types = None
        if self.n_types:
            types = contexts[:, -self.n_actions:].astype(np.int64)
            if types.size and (types.min() < 0 or types.max() >= self.n_types):
                raise InputError(f"type codes in the last {self.n_actions} context columns must be in "
                                 f"0..{self.n_types - 1}", column="contexts", rule="0 <= type < n_types")
            contexts = contexts[:, :-self.n_actions]
        if self.fit_intercept:
            contexts = np.concatenate([contexts, np.ones((contexts.shape[0], 1))], axis=1)
        return contexts, types

    def _per_action(self, values: np.ndarray, types: np.ndarray | None) -> np.ndarray:
        """Map per-model values ``(n, n_models)`` to per-action ``(n, K)``."""
        return values if types is None else np.take_along_axis(values, types, axis=1)

    def _model_of(self, actions: np.ndarray, types: np.ndarray | None) -> np.ndarray:
        """Index of the model that learns from each played action, shape ``(n,)``."""
        return actions if types is None else types[np.arange(len(actions)), actions]


class _RidgeArms(TypedModels):
    """Shared per-arm ridge state: ``A_inv (K, d, d)``, ``b (K, d)``, ``theta (K, d)``."""

    def __init__(self, n_actions: int, dim: int, rng: RNGLike = None, lambda_: float = 1.0,
                 fit_intercept: bool = True, n_types: int = 0) -> None:
        super().__init__(n_actions, dim, rng, fit_intercept=fit_intercept, n_types=n_types)
        if not np.isfinite(lambda_) or lambda_ <= 0:
            raise InputError(f"lambda_ must be > 0, got {lambda_}", column="lambda_", rule="lambda_ > 0")
        self.lambda_ = float(lambda_)
        n_models, d = self.n_models, self.d_model
        self.A = np.broadcast_to(self.lambda_ * np.eye(d), (n_models, d, d)).copy()
        self.A_inv = np.broadcast_to(np.eye(d) / self.lambda_, (n_models, d, d)).copy()
        self.b = np.zeros((n_models, d))
        self.theta = np.zeros((n_models, d))

    def _design(self, contexts: np.ndarray) -> np.ndarray:
        return self._split(contexts)[0]

    def _greedy_scores(self, contexts: np.ndarray) -> np.ndarray:
        X, types = self._split(contexts)
        return self._per_action(X @ self.theta.T, types)

    def _update(self, contexts: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        X, types = self._split(contexts)
        actions = self._model_of(actions, types)  # learn into the model of the played action's type
        if X.shape[0] == 1:  # Sherman-Morrison: A^{-1} - (A^{-1} x x^T A^{-1}) / (1 + x^T A^{-1} x)
            a, x = int(actions[0]), X[0]
            Ax = self.A_inv[a] @ x
            self.A_inv[a] -= np.outer(Ax, Ax) / (1.0 + x @ Ax)
            self.A[a] += np.outer(x, x)
            self.b[a] += rewards[0] * x
            self.theta[a] = self.A_inv[a] @ self.b[a]
            return
        touched = np.unique(actions)
        d = X.shape[1]
        for a in touched:
            rows = actions == a
            Xa = X[rows]
            self.A[a] += Xa.T @ Xa
            self.b[a] += Xa.T @ rewards[rows]
            if Xa.shape[0] < d // 2:
                # Woodbury: (A + X^T X)^{-1} = A^{-1} - U (I + X U)^{-1} U^T with U = A^{-1} X^T,
                # O(m d^2) instead of the O(d^3) inverse when the arm got m << d new rows.
                U = self.A_inv[a] @ Xa.T
                self.A_inv[a] -= U @ np.linalg.solve(np.eye(Xa.shape[0]) + Xa @ U, U.T)
            else:
                self.A_inv[a] = np.linalg.inv(self.A[a])
        self.theta[touched] = np.einsum("kde,ke->kd", self.A_inv[touched], self.b[touched])

    def _mean_and_width(self, contexts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predicted means ``x·θ_a`` and widths ``sqrt(x^T A_a^{-1} x)``, each ``(n, K)``."""
        X, types = self._split(contexts)
        mean = X @ self.theta.T
        quad = np.stack([np.einsum("nd,nd->n", X @ A_inv, X) for A_inv in self.A_inv], axis=1)
        return self._per_action(mean, types), self._per_action(np.sqrt(np.maximum(quad, 0.0)), types)

    def params(self) -> dict[str, Any]:
        return {"lambda_": self.lambda_, "fit_intercept": self.fit_intercept, "n_types": self.n_types}


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
    n_types : int
        0: one model per action; T > 0: typed arms (see the module docstring).
    """

    name = "linucb"

    def __init__(self, n_actions: int, dim: int, rng: RNGLike = None, alpha: float = 0.25,
                 lambda_: float = 1.0, fit_intercept: bool = True, n_types: int = 0) -> None:
        super().__init__(n_actions, dim, rng, lambda_=lambda_, fit_intercept=fit_intercept,
                         n_types=n_types)
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

    def _rank_scores(self, contexts: np.ndarray) -> np.ndarray:
        return self._scores(contexts)

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
    n_types : int
        0: one model per action; T > 0: typed arms (see the module docstring).
    n_nodes : int
        Quadrature nodes for ``action_probs``.
    """

    name = "linear-ts"
    exact_probs = False

    def __init__(self, n_actions: int, dim: int, rng: RNGLike = None, v: float = 0.1,
                 lambda_: float = 1.0, fit_intercept: bool = True, n_types: int = 0, n_nodes: int = 48) -> None:
        super().__init__(n_actions, dim, rng, lambda_=lambda_, fit_intercept=fit_intercept,
                         n_types=n_types)
        if not np.isfinite(v) or v <= 0:
            raise InputError(f"v must be > 0, got {v}", column="v", rule="v > 0")
        self.v = float(v)
        self.n_nodes = int(n_nodes)

    def _select(self, contexts: np.ndarray) -> np.ndarray:
        return self._argmax(self._rank_scores(contexts))

    def _rank_scores(self, contexts: np.ndarray) -> np.ndarray:
        mean, width = self._mean_and_width(contexts)
        return mean + self.v * width * self.rng.standard_normal(mean.shape)

    def _action_probs(self, contexts: np.ndarray) -> np.ndarray:
        mean, width = self._mean_and_width(contexts)
        return gaussian_argmax_probs(mean, self.v * width, self.n_nodes)

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
    n_types : int
        0: one model per action; T > 0: typed arms (see the module docstring).
    """

    name = "linear-epsilon-greedy"

    def __init__(self, n_actions: int, dim: int, rng: RNGLike = None, epsilon: float = 0.1,
                 lambda_: float = 1.0, fit_intercept: bool = True, n_types: int = 0) -> None:
        super().__init__(n_actions, dim, rng, lambda_=lambda_, fit_intercept=fit_intercept,
                         n_types=n_types)
        self.epsilon = check_unit_interval("epsilon", epsilon)

    def _select(self, contexts: np.ndarray) -> np.ndarray:
        return epsilon_mix(self, self._argmax(self._greedy_scores(contexts)))

    def _rank_scores(self, contexts: np.ndarray) -> np.ndarray:
        return epsilon_scores(self, self._greedy_scores(contexts))

    def _action_probs(self, contexts: np.ndarray) -> np.ndarray:
        greedy = greedy_probs(self._greedy_scores(contexts))
        return self.epsilon / self.n_actions + (1 - self.epsilon) * greedy

    def params(self) -> dict[str, Any]:
        return {"epsilon": self.epsilon, **super().params()}


def gaussian_argmax_probs(mean: np.ndarray, sd: np.ndarray, n_nodes: int = 48) -> np.ndarray:
    """``P(a = argmax_b S_b)`` for independent ``S_b ~ N(mean_b, sd_b²)``, per row: ``(n, K)``.

    ``E_{t~N(μ_a, σ_a²)} Π_{b≠a} Φ((t-μ_b)/σ_b)`` by Gauss-Hermite quadrature (``n_nodes`` nodes).

    >>> gaussian_argmax_probs(np.array([[0.0, 0.0]]), np.array([[1.0, 1.0]])).round(6).tolist()
    [[0.5, 0.5]]
    """
    sd = np.maximum(sd, 1e-12)
    nodes, weights = np.polynomial.hermite.hermgauss(n_nodes)
    # t[n, a, i]: quadrature points of arm a's score distribution.
    t = mean[:, :, None] + np.sqrt(2.0) * sd[:, :, None] * nodes
    # log Φ_b(t) for every other arm b: (n, a, i, b); drop the b = a term afterwards.
    z = (t[..., None] - mean[:, None, None, :]) / sd[:, None, None, :]
    log_cdf = log_ndtr(z).sum(axis=-1) - log_ndtr(np.sqrt(2.0) * nodes)[None, None, :]
    return np.maximum(np.exp(log_cdf) @ (weights / np.sqrt(np.pi)), 0.0) + 1e-300
