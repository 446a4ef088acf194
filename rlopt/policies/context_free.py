"""Context-free bandit policies: uniform, ε-greedy, UCB1 and Bernoulli Thompson sampling.

They keep per-arm counts ``n_a`` and reward sums ``s_a`` and ignore the context values.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rlopt.errors import InputError
from rlopt.policies.base import Policy, greedy_probs
from rlopt.seeding import RNGLike


class _ArmStats(Policy):
    """Per-arm pull counts ``n_a`` and reward sums ``s_a`` (shape ``(K,)`` each)."""

    def __init__(self, n_actions: int, dim: int, rng: RNGLike = None) -> None:
        super().__init__(n_actions, dim, rng)
        self.counts = np.zeros(self.n_actions)
        self.sums = np.zeros(self.n_actions)

    def _update(self, contexts: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        self.counts += np.bincount(actions, minlength=self.n_actions)
        self.sums += np.bincount(actions, weights=rewards, minlength=self.n_actions)

    @property
    def means(self) -> np.ndarray:
        """Empirical mean reward per arm, ``s_a / n_a`` (0 for unpulled arms); shape ``(K,)``."""
        return np.divide(self.sums, self.counts, out=np.zeros(self.n_actions), where=self.counts > 0)


class UniformPolicy(_ArmStats):
    """Uniform random actions, ``π(a|x) = 1/K``: the reference logging policy for replay."""

    name = "uniform"

    def _select(self, contexts: np.ndarray) -> np.ndarray:
        return self.rng.integers(0, self.n_actions, size=contexts.shape[0])

    def _action_probs(self, contexts: np.ndarray) -> np.ndarray:
        return np.full((contexts.shape[0], self.n_actions), 1.0 / self.n_actions)

    def _rank_scores(self, contexts: np.ndarray) -> np.ndarray:
        return self.rng.random((contexts.shape[0], self.n_actions))


class EpsilonGreedy(_ArmStats):
    """ε-greedy on empirical arm means.

    With probability ``epsilon`` play a uniform random arm, else ``argmax_a s_a / n_a``
    (unpulled arms count as mean ``initial``; ties broken at random).
    ``π(a|x) = ε/K + (1-ε)·1[a ∈ argmax]/|argmax|`` exactly.

    Parameters
    ----------
    epsilon : float in [0, 1]
        Exploration rate.
    initial : float
        Mean assumed for arms never pulled (optimistic values explore them first).
    """

    name = "epsilon-greedy"

    def __init__(self, n_actions: int, dim: int, rng: RNGLike = None, epsilon: float = 0.1,
                 initial: float = 1.0) -> None:
        super().__init__(n_actions, dim, rng)
        self.epsilon = check_unit_interval("epsilon", epsilon)
        self.initial = float(initial)

    def _scores(self, contexts: np.ndarray) -> np.ndarray:
        means = np.where(self.counts > 0, self.means, self.initial)
        return np.broadcast_to(means, (contexts.shape[0], self.n_actions))

    def _select(self, contexts: np.ndarray) -> np.ndarray:
        return epsilon_mix(self, self._argmax(self._scores(contexts)))

    def _action_probs(self, contexts: np.ndarray) -> np.ndarray:
        return self.epsilon / self.n_actions + (1 - self.epsilon) * greedy_probs(self._scores(contexts))

    def _rank_scores(self, contexts: np.ndarray) -> np.ndarray:
        return epsilon_scores(self, np.asarray(self._scores(contexts), dtype=np.float64))

    def params(self) -> dict[str, Any]:
        return {"epsilon": self.epsilon, "initial": self.initial}


class UCB1(_ArmStats):
    """UCB1 (Auer et al. 2002): ``argmax_a s_a/n_a + c·sqrt(2 ln t / n_a)``; unpulled arms first.

    Deterministic given the counts, so ``π(a|x)`` is the greedy indicator (ties split evenly).

    Parameters
    ----------
    c : float >= 0
        Scale of the exploration bonus (``c = 1`` is the textbook rule for rewards in [0, 1]).
    """

    name = "ucb1"

    def __init__(self, n_actions: int, dim: int, rng: RNGLike = None, c: float = 1.0) -> None:
        super().__init__(n_actions, dim, rng)
        if not np.isfinite(c) or c < 0:
            raise InputError(f"c must be a finite number >= 0, got {c}", column="c", rule="c >= 0")
        self.c = float(c)

    def _scores(self, contexts: np.ndarray) -> np.ndarray:
        pulled = self.counts > 0
        bonus = self.c * np.sqrt(2.0 * np.log(max(self.t, 1)) / np.where(pulled, self.counts, 1.0))
        scores = np.where(pulled, self.means + bonus, np.inf)
        return np.broadcast_to(scores, (contexts.shape[0], self.n_actions))

    def _select(self, contexts: np.ndarray) -> np.ndarray:
        return self._argmax(self._scores(contexts))

    def _action_probs(self, contexts: np.ndarray) -> np.ndarray:
        scores = np.nan_to_num(self._scores(contexts), posinf=np.finfo(np.float64).max)
        return greedy_probs(scores)

    def _rank_scores(self, contexts: np.ndarray) -> np.ndarray:
        return np.nan_to_num(self._scores(contexts), posinf=np.finfo(np.float64).max)

    def params(self) -> dict[str, Any]:
        return {"c": self.c}


class BernoulliTS(_ArmStats):
    """Bernoulli Thompson sampling with Beta(``alpha0``, ``beta0``) priors.

    Each row samples ``θ_a ~ Beta(α0 + s_a, β0 + n_a - s_a)`` and plays ``argmax θ_a``.
    Rewards must lie in [0, 1] (fractional rewards update the Beta counts fractionally).
    ``action_probs`` is a Monte-Carlo estimate from ``n_samples`` posterior draws (seeded,
    so the same state gives the same estimate); ``exact_probs`` is False.
    """

    name = "bernoulli-ts"
    exact_probs = False

    def __init__(self, n_actions: int, dim: int, rng: RNGLike = None, alpha0: float = 1.0,
                 beta0: float = 1.0, n_samples: int = 2000) -> None:
        super().__init__(n_actions, dim, rng)
        if alpha0 <= 0 or beta0 <= 0:
            raise InputError("alpha0 and beta0 must be > 0", rule="Beta prior parameters > 0")
        self.alpha0, self.beta0, self.n_samples = float(alpha0), float(beta0), int(n_samples)

    def _update(self, contexts: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        if rewards.size and (rewards.min() < 0 or rewards.max() > 1):
            raise InputError(
                "bernoulli-ts needs rewards in [0, 1]; use reward='click' or 'purchase', or a linear policy",
                column="reward", rule="0 <= reward <= 1", value=float(rewards[(rewards < 0) | (rewards > 1)][0]),
            )
        super()._update(contexts, actions, rewards)

    def _posterior(self) -> tuple[np.ndarray, np.ndarray]:
        return self.alpha0 + self.sums, self.beta0 + self.counts - self.sums

    def _select(self, contexts: np.ndarray) -> np.ndarray:
        return self._argmax(self._rank_scores(contexts))

    def _rank_scores(self, contexts: np.ndarray) -> np.ndarray:
        a, b = self._posterior()
        return self.rng.beta(a, b, size=(contexts.shape[0], self.n_actions))

    def _action_probs(self, contexts: np.ndarray) -> np.ndarray:
        # Context-free: one probability vector, estimated once and repeated per row.
        a, b = self._posterior()
        draws = np.random.default_rng(self._probs_seed).beta(a, b, size=(self.n_samples, self.n_actions))
        freq = np.bincount(draws.argmax(axis=1), minlength=self.n_actions) / self.n_samples
        return np.broadcast_to(freq, (contexts.shape[0], self.n_actions)).copy()

    def params(self) -> dict[str, Any]:
        return {"alpha0": self.alpha0, "beta0": self.beta0, "n_samples": self.n_samples}


def check_unit_interval(name: str, value: float) -> float:
    """``value`` as a float, or an InputError naming ``name`` when it is outside [0, 1] (e.g. ``epsilon``)."""
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise InputError(f"{name} must be in [0, 1], got {value}", column=name, rule=f"0 <= {name} <= 1")
    return value


def epsilon_mix(policy: Policy, greedy: np.ndarray) -> np.ndarray:
    """Replace each greedy action by a uniform one with probability ``policy.epsilon``."""
    n = greedy.shape[0]
    explore = policy.rng.random(n) < policy.epsilon
    random_actions = policy.rng.integers(0, policy.n_actions, size=n)
    return np.where(explore, random_actions, greedy)


def epsilon_scores(policy: Policy, scores: np.ndarray) -> np.ndarray:
    """Greedy scores, replaced by random ones on the rows that explore (probability ε)."""
    explore = policy.rng.random(scores.shape[0]) < policy.epsilon
    return np.where(explore[:, None], policy.rng.random(scores.shape), scores)
