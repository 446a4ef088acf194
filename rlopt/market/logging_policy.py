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
        self.items = list(dict.fromkeys(item for item, _ in keys))
        self.placements = list(dict.fromkeys(plc for _, plc in keys))
        if keys != [(i, p) for i in self.items for p in self.placements]:
            raise ValueError("pools must be keyed item-major over every (item, placement)")
        self.context_index = {key: i for i, key in enumerate(keys)}
        self._item_pos = {item: i for i, item in enumerate(self.items)}
        self._plc_pos = {plc: i for i, plc in enumerate(self.placements)}
        size = len(next(iter(pools.values())))
        prior = np.array([[prior_score(t) for t in pools[key]] for key in keys])
        noise = np.random.default_rng([seed, 3]).normal(0.0, config.prior_noise, size=prior.shape)
        soft = softmax((prior + noise) / config.temperature, axis=1)
        self.probs = (1.0 - config.epsilon) * soft + config.epsilon / size
        self._cum = np.cumsum(self.probs, axis=1)
        self._cum[:, -1] = 1.0
        self.pool_size = size

    def rows_from_index(self, item_index: np.ndarray, placement_index: np.ndarray) -> np.ndarray:
        """Row of :attr:`probs` from catalog-order item and placement indices, shape (n,)."""
        return np.asarray(item_index, dtype=np.int64) * len(self.placements) + np.asarray(placement_index)

    def rows(self, item_id, placement) -> np.ndarray:
        """Row of :attr:`probs` for each (item_id, placement) pair, shape (n,)."""
        from rlopt.errors import InputError

        idx = []
        for values, pos, column in ((item_id, self._item_pos, "item_id"), (placement, self._plc_pos, "placement")):
            codes, uniques = pd.factorize(np.asarray(values, dtype=object))
            unknown = [u for u in uniques if u not in pos]
            if unknown:
                raise InputError(f"no copy pool for {column} '{unknown[0]}'", column=column,
                                 rule=f"{column} known to the market", value=unknown[0])
            idx.append(np.array([pos[u] for u in uniques], dtype=np.int64)[codes])
        return self.rows_from_index(*idx)

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
        return self.choose_rows(self.rows(impressions["item_id"], impressions["placement"]), rng)

    def choose_rows(self, rows: np.ndarray, rng: RNGLike = None) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`choose` for precomputed context rows (see :meth:`rows_from_index`)."""
        u = as_rng(rng).random(len(rows))
        cum = self._cum[rows]
        index = (cum < u[:, None]).sum(axis=1)
        index = np.minimum(index, self.pool_size - 1)
        return index.astype(np.int64), self.probs[rows, index]
