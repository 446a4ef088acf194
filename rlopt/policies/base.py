"""The bandit policy interface shared by every policy in :mod:`rlopt.policies`.

A policy sees contexts as float arrays of shape ``(n, dim)`` and chooses one of
``n_actions`` actions per row. Batch calls (``select_batch`` / ``update_batch``) are the
primary path; the single-row calls wrap them. Every policy exposes ``action_probs`` so a
logging run can record the propensity of the action it took.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rlopt.errors import InputError
from rlopt.seeding import RNGLike, as_rng


class Policy:
    """Base class: a stochastic or deterministic map from contexts to actions, learning online.

    Parameters
    ----------
    n_actions : int
        Number of actions ``K`` (arms); actions are ``0 .. K-1``.
    dim : int
        Context dimension ``d``; context-free policies accept any ``d`` and ignore the values.
    rng : Generator, int or None
        Source of all randomness (tie-breaking, exploration, posterior sampling).

    Notes
    -----
    Subclasses implement ``_select(contexts) -> (n,)``, ``_update(contexts, actions, rewards)``
    and ``_action_probs(contexts) -> (n, K)``. Inputs are validated once here.
    A batch ``select_batch`` uses the parameters as they are when called (no learning between
    the rows of one batch); ``update_batch`` then folds in the whole batch at once.
    """

    name = "policy"
    #: True when ``action_probs`` is exact; False when estimated (Monte Carlo, quadrature).
    exact_probs = True
    #: True when the policy reads the context values (linear policies).
    contextual = False

    def __init__(self, n_actions: int, dim: int, rng: RNGLike = None) -> None:
        if int(n_actions) < 1:
            raise InputError(f"n_actions must be >= 1, got {n_actions}", rule="n_actions >= 1")
        if int(dim) < 0:
            raise InputError(f"dim must be >= 0, got {dim}", rule="dim >= 0")
        self.n_actions = int(n_actions)
        self.dim = int(dim)
        self.rng = as_rng(rng)
        # A separate, fixed seed for probability estimates, so calling ``action_probs``
        # never changes the actions the policy will select later.
        self._probs_seed = int(self.rng.integers(2**62))
        self.t = 0  # number of (context, action, reward) triples seen

    # ----------------------------------------------------------------- public API
    def select(self, context: np.ndarray) -> int:
        """Choose an action for one context of shape ``(dim,)``."""
        ctx = np.asarray(context, dtype=np.float64).reshape(1, -1)
        return int(self.select_batch(ctx)[0])

    def select_batch(self, contexts: np.ndarray) -> np.ndarray:
        """Choose one action per row of ``contexts`` (shape ``(n, dim)``); returns ``(n,)`` int64."""
        ctx = self._check_contexts(contexts)
        return self._select(ctx).astype(np.int64, copy=False)

    def update(self, context: np.ndarray, action: int, reward: float) -> None:
        """Learn from one observed ``(context, action, reward)``."""
        ctx = np.asarray(context, dtype=np.float64).reshape(1, -1)
        self.update_batch(ctx, np.asarray([action]), np.asarray([reward], dtype=np.float64))

    def update_batch(self, contexts: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        """Learn from ``n`` observations: contexts ``(n, dim)``, actions ``(n,)``, rewards ``(n,)``."""
        ctx = self._check_contexts(contexts)
        act = np.asarray(actions)
        rew = np.asarray(rewards, dtype=np.float64)
        if act.shape != (ctx.shape[0],) or rew.shape != (ctx.shape[0],):
            raise InputError(
                f"actions and rewards must have shape ({ctx.shape[0]},) to match contexts; "
                f"got {act.shape} and {rew.shape}",
                rule="len(actions) == len(rewards) == len(contexts)",
            )
        if act.size and (not np.issubdtype(act.dtype, np.integer)):
            if not np.all(np.equal(np.mod(act, 1), 0)):
                raise InputError("actions must be integers", column="action", rule="integer actions")
            act = act.astype(np.int64)
        bad = (act < 0) | (act >= self.n_actions)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"action {int(act[i])} at row {i + 1} is outside the action space Discrete({self.n_actions})",
                column="action", rule=f"0 <= action < {self.n_actions}", value=int(act[i]),
            )
        if not np.all(np.isfinite(rew)):
            raise InputError("rewards must be finite", column="reward", rule="finite reward")
        if ctx.shape[0]:
            self._update(ctx, act.astype(np.int64), rew)
            self.t += ctx.shape[0]

    def action_probs(self, contexts: np.ndarray) -> np.ndarray:
        """Probability of each action for each context: shape ``(n, n_actions)``, rows sum to 1.

        Exact for deterministic and ε-greedy policies (ties split evenly); see each
        subclass for how stochastic policies estimate it (``exact_probs`` says which).
        """
        ctx = self._check_contexts(contexts)
        probs = self._action_probs(ctx)
        return probs / probs.sum(axis=1, keepdims=True)

    def rank_batch(self, contexts: np.ndarray) -> np.ndarray:
        """All actions ordered best-first per row, shape ``(n, n_actions)`` (for slates).

        The policy's own ranking rule: UCB scores for UCB policies, one posterior draw for
        Thompson sampling, the greedy order (or, with probability ε, a random order) for
        ε-greedy; other policies rank by ``action_probs``. Ties are broken at random.
        """
        ctx = self._check_contexts(contexts)
        scores = self._rank_scores(ctx)
        return np.lexsort((self.rng.random(scores.shape), -scores), axis=-1)

    def params(self) -> dict[str, Any]:
        """Hyperparameters (for reports and JSON)."""
        return {}

    def _rank_scores(self, contexts: np.ndarray) -> np.ndarray:
        return self._action_probs(contexts)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}(n_actions={self.n_actions}, dim={self.dim}{', ' if args else ''}{args})"

    # ----------------------------------------------------------------- helpers
    def _check_contexts(self, contexts: np.ndarray) -> np.ndarray:
        ctx = np.asarray(contexts, dtype=np.float64)
        if ctx.ndim != 2:
            raise InputError(
                f"contexts must be a 2-D array (n, dim); got shape {ctx.shape}", rule="contexts.ndim == 2"
            )
        if self.contextual and ctx.shape[1] != self.dim:
            raise InputError(
                f"contexts have {ctx.shape[1]} columns but the policy was built with dim={self.dim}",
                rule="contexts.shape[1] == dim",
            )
        return ctx

    def _argmax(self, scores: np.ndarray) -> np.ndarray:
        """Row-wise argmax with ties broken uniformly at random (via ``self.rng``)."""
        cand = _ties(scores)
        if cand.sum(axis=1).max(initial=0) <= 1:
            return scores.argmax(axis=1)
        return (self.rng.random(scores.shape) * cand).argmax(axis=1)

    def _select(self, contexts: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _update(self, contexts: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        raise NotImplementedError  # pragma: no cover - abstract

    def _action_probs(self, contexts: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


def _ties(scores: np.ndarray, tol: float = 1e-12) -> np.ndarray:
    """Boolean mask of the row-wise maxima (within ``tol``); shape as ``scores``."""
    top = scores.max(axis=1, keepdims=True)
    finite_top = np.isfinite(top)
    slack = tol * np.maximum(1.0, np.abs(np.where(finite_top, top, 0.0)))
    return np.where(finite_top, scores >= top - slack, scores == top)


def greedy_probs(scores: np.ndarray) -> np.ndarray:
    """Probabilities of a greedy argmax with uniform tie-breaking: ``1/|argmax set|`` on the maxima.

    >>> greedy_probs(np.array([[1.0, 3.0, 3.0]])).tolist()
    [[0.0, 0.5, 0.5]]
    """
    cand = _ties(scores).astype(np.float64)
    return cand / cand.sum(axis=1, keepdims=True)
