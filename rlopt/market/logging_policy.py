"""The logging policy: which pool copy each impression shows, with known propensities.

pi(k | item, placement) = (1 - epsilon) * softmax(prior / temperature)_k + epsilon / K

``prior`` is a deliberately imperfect heuristic, NOT the truth: it likes any percent claim (so it
over-shows misleading copy), exclamation marks and calls to action, and longer text (so it over-shows
copy that gets cut off), plus fixed Gaussian noise per (item, placement, copy) drawn from the market
seed. The policy ignores the shopper's segment, so there is something for a learner to gain.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from scipy.special import softmax

from rlopt.market.config import LoggingPolicyConfig
from rlopt.seeding import RNGLike, as_rng

_PERCENT = re.compile(r"\d+\s*%")
_CTA_HINT = re.compile(r"\b(shop|buy|order|get|grab)\b", re.IGNORECASE)


def prior_score(text: str) -> float:
    """The heuristic the logging policy believes in (not the truth).

    >>> prior_score("50% off everything! Shop now") > prior_score("The Auris Pulse Headphones.")
    True
    """
    return (0.9 * bool(_PERCENT.search(text)) + 0.3 * ("!" in text) + 0.4 * bool(_CTA_HINT.search(text))
            + 0.3 * min(len(text), 120) / 60.0)


class LoggingPolicy:
    """Stochastic policy over each (item, placement) copy pool.

    Parameters
    ----------
    pools : dict[(item_id, placement), list[str]]
        Every pool has the same size ``K``.
    config : LoggingPolicyConfig
    seed : int
        Seeds the fixed prior noise.

    Attributes
    ----------
    probs : ndarray, shape (n_items * n_placements, K)
        pi(k | item, placement); row ``context_index[(item_id, placement)]``.
    """

    def __init__(self, pools: dict[tuple[str, str], list[str]], config: LoggingPolicyConfig, seed: int):
        self.config = config
        keys = list(pools)
        self.context_index = {key: i for i, key in enumerate(keys)}
        self.items = {item for item, _ in keys}
        self.placements = {plc for _, plc in keys}
        size = len(next(iter(pools.values())))
        prior = np.array([[prior_score(t) for t in pools[key]] for key in keys])
        noise = np.random.default_rng([seed, 3]).normal(0.0, config.prior_noise, size=prior.shape)
        soft = softmax((prior + noise) / config.temperature, axis=1)
        self.probs = (1.0 - config.epsilon) * soft + config.epsilon / size
        self._cum = np.cumsum(self.probs, axis=1)
        self._cum[:, -1] = 1.0
        self.pool_size = size

    def rows(self, item_id, placement) -> np.ndarray:
        """Row of :attr:`probs` for each (item_id, placement) pair, shape (n,)."""
        from rlopt.errors import InputError

        keys = pd.MultiIndex.from_arrays([np.asarray(item_id, dtype=object),
                                          np.asarray(placement, dtype=object)])
        codes, uniques = pd.factorize(keys)
        mapping = np.empty(len(uniques), dtype=np.int64)
        for j, key in enumerate(uniques):
            if key not in self.context_index:
                raise InputError(f"no copy pool for item '{key[0]}' in placement '{key[1]}'",
                                 column="item_id", rule="item and placement known to the market")
            mapping[j] = self.context_index[key]
        return mapping[codes]

    def action_probs(self, impressions: pd.DataFrame) -> np.ndarray:
        """pi(. | context) for each impression, shape (n, K)."""
        return self.probs[self.rows(impressions["item_id"], impressions["placement"])]

    def choose(self, impressions: pd.DataFrame, rng: RNGLike = None) -> tuple[np.ndarray, np.ndarray]:
        """Draw a pool index per impression.

        Parameters
        ----------
        impressions : DataFrame with ``item_id`` and ``placement`` columns, n rows
        rng : Generator, int or None

        Returns
        -------
        pool_index : ndarray of int, shape (n,)
        propensity : ndarray of float, shape (n,) — pi(pool_index | item, placement)
        """
        rows = self.rows(impressions["item_id"], impressions["placement"])
        u = as_rng(rng).random(len(rows))
        cum = self._cum[rows]
        index = (cum < u[:, None]).sum(axis=1)
        index = np.minimum(index, self.pool_size - 1)
        return index.astype(np.int64), self.probs[rows, index]
