"""Evaluation-policy action distributions for the Open Bandit Dataset's two logged policies.

OBD ships logs of a uniform Random policy and of Bernoulli Thompson Sampling (BTS), which ran
side by side. To estimate one policy's CTR from the other's log we need the evaluated policy's
``action_dist`` of shape (n_rounds, n_actions, len_list):

- Random: ``1 / n_actions`` for every item and slot.
- BTS: the batch posteriors it used are not in the sample, so (as OBP does) we Monte-Carlo its
  ranking from Beta posteriors. Here the posteriors are fitted per (item, slot) on the evaluated
  policy's own log, with a Beta prior centred on that log's CTR (``prior_strength`` pseudo
  impressions; a flat Beta(1, 1) would rank barely-shown items first). Each simulation draws
  ``theta[a, pos]`` and fills slot 0, 1, ... with the best not-yet-placed item for that slot.
  ``method="frequency"`` instead uses how often each item was logged in each slot, the
  time-averaged marginal of the policy, which needs no model of BTS's internals.
Neither depends on the user, so every row gets the same distribution.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from rlopt.data.obd import OBDFeedback
from rlopt.errors import InputError
from rlopt.seeding import RNGLike, as_rng

__all__ = ["bts_action_dist", "obd_action_dist", "uniform_action_dist"]


def uniform_action_dist(n_rounds: int, n_actions: int, len_list: int = 1) -> np.ndarray:
    """Uniform policy: shape (n_rounds, n_actions, len_list), all ``1 / n_actions``.

    >>> uniform_action_dist(2, 4, 3)[0, :, 2]
    array([0.25, 0.25, 0.25, 0.25])
    """
    return np.full((n_rounds, n_actions, len_list), 1.0 / n_actions)


def _posterior_ranking(alpha: np.ndarray, beta: np.ndarray, n_sim: int, rng: np.random.Generator) -> np.ndarray:
    """Slot-by-slot Thompson ranking frequencies, shape (n_actions, len_list)."""
    n_actions, len_list = alpha.shape
    counts = np.zeros((n_actions, len_list))
    chunk = max(1, 2_000_000 // (n_actions * len_list))
    for start in range(0, n_sim, chunk):
        size = min(chunk, n_sim - start)
        theta = rng.beta(alpha, beta, size=(size, n_actions, len_list))
        taken = np.zeros((size, n_actions), dtype=bool)
        for pos in range(len_list):
            scores = np.where(taken, -np.inf, theta[:, :, pos])
            pick = scores.argmax(axis=1)
            taken[np.arange(size), pick] = True
            counts[:, pos] += np.bincount(pick, minlength=n_actions)
    return counts / n_sim


def bts_action_dist(
    feedback: OBDFeedback,
    n_rounds: int,
    *,
    method: Literal["posterior", "frequency"] = "posterior",
    n_sim: int = 100_000,
    prior_strength: float = 1000.0,
    rng: RNGLike = None,
) -> np.ndarray:
    """Action distribution of the policy that logged ``feedback`` (BTS), for ``n_rounds`` rows.

    Parameters
    ----------
    feedback : OBDFeedback
        The evaluated policy's own log (its clicks and impressions per item and slot).
    n_rounds : int
        Rows of the log being reweighted (the distribution is repeated for each).
    method : {"posterior", "frequency"}
        Monte-Carlo Thompson ranking, or the logged (item, slot) frequencies.
    n_sim : int
        Monte-Carlo rankings for ``"posterior"``.
    prior_strength : float
        Pseudo-impressions of the Beta prior ``Beta(ctr * s, (1 - ctr) * s)``.
    rng : Generator, int or None

    Returns
    -------
    ndarray of shape (n_rounds, n_actions, len_list); each (row, slot) sums to 1.
    """
    n_actions, len_list = feedback.n_actions, feedback.len_list
    impressions = np.zeros((n_actions, len_list))
    clicks = np.zeros((n_actions, len_list))
    np.add.at(impressions, (feedback.action, feedback.position), 1.0)
    np.add.at(clicks, (feedback.action, feedback.position), feedback.reward)
    if method == "frequency":
        dist = impressions / impressions.sum(axis=0, keepdims=True)
    elif method == "posterior":
        if not prior_strength > 0:
            raise InputError(f"`prior_strength` must be > 0, got {prior_strength!r}")
        ctr = float(np.clip(feedback.reward.mean(), 1e-6, 1 - 1e-6))
        alpha = ctr * prior_strength + clicks
        beta = (1 - ctr) * prior_strength + impressions - clicks
        dist = _posterior_ranking(alpha, beta, n_sim, as_rng(rng))
    else:
        raise InputError(f"`method` must be 'posterior' or 'frequency', got {method!r}")
    return np.broadcast_to(dist, (n_rounds, n_actions, len_list)).copy()


def obd_action_dist(policy_name: str, evaluated_log: OBDFeedback, n_rounds: int, **kwargs) -> np.ndarray:
    """``action_dist`` for OBD policy ``"random"`` or ``"bts"`` (``kwargs`` go to :func:`bts_action_dist`)."""
    if policy_name == "random":
        return uniform_action_dist(n_rounds, evaluated_log.n_actions, evaluated_log.len_list)
    if policy_name == "bts":
        return bts_action_dist(evaluated_log, n_rounds, **kwargs)
    raise InputError(f"unknown OBD policy {policy_name!r}; valid: 'random', 'bts'")
