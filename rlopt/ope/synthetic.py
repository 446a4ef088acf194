"""A self-contained synthetic multi-slot bandit with known ground truth, for checking OPE.

Contexts ``x ~ N(0, I_d)``; the expected reward of item ``a`` shown in slot ``pos`` is

.. math:: q(x, a, pos) = e_{pos} \\, \\sigma(x^\\top \\theta_a + b_a)

(a position-based click model: examination ``e_pos`` times attractiveness). The logging policy
puts item ``a`` in the row's slot with ``softmax(beta * logit(x, a))``; an evaluation policy
``softmax(beta_e * logit)`` differs only in its inverse temperature. The true value of any
``action_dist`` is the mean of ``sum_a pi_e(a | x, pos) q(x, a, pos)`` over a large fresh
sample of contexts and slots. The reward model in :mod:`rlopt.ope.regression` has no
context-action interactions, so it is misspecified here on purpose, as it will be on real data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit, softmax

from rlopt.seeding import RNGLike, as_rng

__all__ = ["SyntheticBandit"]


@dataclass
class SyntheticBandit:
    """Synthetic logged bandit feedback (OBP's ``SyntheticBanditDataset`` in spirit).

    Parameters
    ----------
    n_actions : int
    dim_context : int
    len_list : int
        Number of slots; each logged row shows one item in one uniformly drawn slot.
    beta : float
        Logging policy's inverse temperature (0 = uniform).
    examination : tuple of float, optional
        Per-slot examination probabilities (default ``1, 0.7, 0.5, ...``).
    seed : int
        Fixes the reward parameters ``theta, b``.

    Examples
    --------
    >>> bandit = SyntheticBandit(n_actions=4, dim_context=3, len_list=2, seed=0)
    >>> fb = bandit.obtain_batch_bandit_feedback(100, rng=1)
    >>> fb["expected_reward"].shape, bool((fb["pscore"] > 0).all())
    ((100, 4, 2), True)
    """

    n_actions: int = 10
    dim_context: int = 5
    len_list: int = 1
    beta: float = 1.0
    examination: tuple[float, ...] | None = None
    seed: int = 0
    theta: np.ndarray = field(init=False, repr=False)
    bias: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        self.theta = rng.normal(scale=1.0 / np.sqrt(self.dim_context), size=(self.dim_context, self.n_actions))
        self.bias = rng.normal(loc=-1.5, scale=0.7, size=self.n_actions)
        if self.examination is None:
            self.examination = tuple(1.0 / (1.0 + 0.5 * np.arange(self.len_list)))
        if len(self.examination) != self.len_list:
            raise ValueError("`examination` must have len_list entries")

    def logits(self, context: np.ndarray) -> np.ndarray:
        """``x @ theta + b``, shape (n, n_actions)."""
        return context @ self.theta + self.bias

    def expected_reward(self, context: np.ndarray) -> np.ndarray:
        """``q(x, a, pos)``, shape (n, n_actions, len_list)."""
        return expit(self.logits(context))[:, :, None] * np.asarray(self.examination)[None, None, :]

    def softmax_policy(self, context: np.ndarray, beta: float) -> np.ndarray:
        """``softmax(beta * logit)`` in every slot, shape (n, n_actions, len_list)."""
        probs = softmax(beta * self.logits(context), axis=1)
        return np.repeat(probs[:, :, None], self.len_list, axis=2)

    def sample_context(self, n: int, rng: RNGLike = None) -> np.ndarray:
        """``n`` contexts, shape (n, dim_context)."""
        return as_rng(rng).normal(size=(n, self.dim_context))

    def obtain_batch_bandit_feedback(self, n_rounds: int, rng: RNGLike = None) -> dict[str, np.ndarray]:
        """Log ``n_rounds`` rows under the logging policy.

        Returns
        -------
        dict with ``context`` (n, d), ``action``, ``position``, ``reward``, ``pscore`` (n,),
        ``expected_reward`` (n, n_actions, len_list), ``pi_b`` (n, n_actions, len_list),
        ``n_rounds``, ``n_actions``, ``len_list``.
        """
        rng = as_rng(rng)
        context = self.sample_context(n_rounds, rng)
        pi_b = self.softmax_policy(context, self.beta)
        position = rng.integers(0, self.len_list, size=n_rounds)
        rows = np.arange(n_rounds)
        cum = pi_b[rows, :, position].cumsum(axis=1)
        action = np.minimum((rng.random(n_rounds)[:, None] > cum).sum(axis=1), self.n_actions - 1)
        q = self.expected_reward(context)
        reward = (rng.random(n_rounds) < q[rows, action, position]).astype(float)
        return {
            "n_rounds": n_rounds, "n_actions": self.n_actions, "len_list": self.len_list,
            "context": context, "action": action, "position": position, "reward": reward,
            "pscore": pi_b[rows, action, position], "expected_reward": q, "pi_b": pi_b,
        }

    def true_value(self, beta_e: float, n_contexts: int = 200_000, rng: RNGLike = 12345) -> float:
        """Value of ``softmax(beta_e * logit)`` over fresh contexts and uniformly drawn slots."""
        context = self.sample_context(n_contexts, rng)
        per_slot = (self.softmax_policy(context, beta_e) * self.expected_reward(context)).sum(axis=1)
        return float(per_slot.mean())
