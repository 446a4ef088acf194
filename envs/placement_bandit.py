"""``rlopt/PlacementBandit-v0``: choose which copy variant a shopper sees (a contextual bandit)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.tables import ShopperTable, build_market_table, check_reward, draw_response, outcome_reward
from rlopt.errors import InputError

_TABLE_CACHE: dict[tuple, ShopperTable] = {}


def cached_market_table(market: Any = None, **kwargs: Any) -> ShopperTable:
    """:func:`envs.tables.build_market_table`, memoized for ``market`` given as None or a path.

    Building scores ``M x K`` copies with the oracle once; ``gym.make`` calls with the same
    arguments then share the (read-only) table.
    """
    if market is not None and not isinstance(market, (str, bytes)) and not hasattr(market, "__fspath__"):
        return build_market_table(market, **kwargs)
    key = (str(market), *sorted((k, str(v)) for k, v in kwargs.items()))
    if key not in _TABLE_CACHE:
        _TABLE_CACHE[key] = build_market_table(market, **kwargs)
    return _TABLE_CACHE[key]


def observation_box(table: ShopperTable) -> spaces.Box:
    """``[0, 1]`` per column (wider if the data is), kind-code columns ``[0, T-1]`` exactly."""
    low = np.minimum(table.obs.min(axis=0), 0.0)
    high = np.maximum(table.obs.max(axis=0), 1.0)
    if table.type_names:
        high[-table.n_actions:] = max(len(table.type_names) - 1, 1)
    return spaces.Box(low.astype(np.float32), high.astype(np.float32), dtype=np.float32)


class PlacementBandit(gym.Env[np.ndarray, int]):
    """Show one shopper one copy variant; the shopper clicks (and maybe buys) or not.

    ## Description
    Each step is one shopper arriving at a placement slot of the simulated marketplace
    (:mod:`rlopt.market`) to see copy about one item. The agent picks which of the item's
    ``K = market.pool_size`` copy variants (``market.copy_pool(item, placement)``, fixed order)
    to show. A population of ``n_shoppers`` shoppers with their real user features is drawn from
    the market once, and every (shopper, variant) response probability is computed once, by the
    ground-truth oracle or a trained reward model; a step then samples a shopper uniformly from
    that population, so stepping is pure NumPy indexing.

    ## Action Space
    ``Discrete(K)``: index of the copy variant in the shopper's item x placement pool.
    An action outside ``0 .. K-1`` raises :class:`rlopt.errors.InputError` naming the action
    and the space.

    ## Observation Space
    ``Box(0, 1, (d,), float32)``, the shopper about to be served (see :mod:`envs.features`):

    | index               | observation                               | min | max  |
    |---------------------|-------------------------------------------|-----|------|
    | 0 .. S-1            | segment one-hot (S segments)              | 0   | 1    |
    | S .. S+U-1          | user features (U numeric, market: [0, 1]) | 0   | 1    |
    | next P              | placement one-hot (P placements)          | 0   | 1    |
    | next 1              | examination prob. of the shopper's slot   | 0   | 1    |
    | next C              | item category one-hot (C categories)      | 0   | 1    |
    | next 1              | log price, min-max scaled over catalog    | 0   | 1    |
    | next 1              | discount_pct / 100                        | 0   | 0.95 |
    | (optional) I x P'   | copy pool (item x placement) one-hot,     | 0   | 1    |
    |                     | only with ``pool_features=True``          |     |      |
    | last K              | kind code of each variant 0..K-1 (index   | 0   | T-1  |
    |                     | into ``env.unwrapped.type_names``), only  |     |      |
    |                     | with ``variant_kinds=True`` (default)     |     |      |

    Each item x placement pool lists its variants in its own order, so action ``k`` shows a
    different kind of copy in every pool. The kind codes (the template family a variant was
    written from: discount, urgency, eco, ..., market metadata, not the response model) let a
    learner share across pools: linear policies built with ``n_types=T`` keep one model per kind.
    ``pool_features`` is the alternative that keeps per-index models (d grows by I x P').

    User features enter exactly: the oracle scores each drawn shopper with their own features.
    ``env.unwrapped.feature_names`` lists the columns.

    ## Rewards
    ``reward="click"``: 1 if the shopper clicks (P = examination x attractiveness);
    ``"purchase"``: 1 if they click and then buy; ``"value"``: the revenue of the purchase.

    ## Starting State
    ``reset`` draws the first shopper. ``info`` (from ``reset`` and ``step``) describes the
    shopper in the returned observation: ``expected_rewards`` (K,), ``optimal_action``, and,
    with ``logging_policy=True``, ``logging_action`` (drawn from the market's logging policy),
    ``pscore`` (its probability) and ``logging_probs`` (K,). ``step`` adds, for the shopper
    just served: ``expected_reward`` of the action taken, ``regret`` (best expected reward
    minus that), ``clicked`` and ``purchased``.

    ## Episode End
    Shoppers are i.i.d., the env never terminates; ``gym.make`` adds a ``TimeLimit`` of
    1000 steps (``max_episode_steps``) so an episode is a day of 1000 impressions.

    ## Arguments
    ``gym.make("rlopt/PlacementBandit-v0", market=None, reward="click", reward_source="truth",
    placement=None, logging_policy=False, n_shoppers=20_000, table_seed=0, table=None,
    pool_features=False, variant_kinds=True)``;
    ``market`` is a config path, a simulation directory or a Marketplace; ``placement`` limits
    traffic to one placement; ``table`` passes a prebuilt :class:`envs.tables.ShopperTable`.

    ## Vectorized environment
    ``gym.make_vec("rlopt/PlacementBandit-v0", num_envs=B, vectorization_mode="vector_entry_point")``
    gives :class:`envs.vector.PlacementBanditVector`: B shoppers per call, all in NumPy.

    ## Version History
    * v0: initial version.
    """

    metadata = {"render_modes": []}

    def __init__(self, market: Any = None, reward: str = "click", reward_source: str = "truth",
                 placement: str | None = None, logging_policy: bool = False, n_shoppers: int = 20_000,
                 table_seed: int = 0, table: ShopperTable | None = None, pool_features: bool = False,
                 variant_kinds: bool = True) -> None:
        self.reward = check_reward(reward)
        self.logging_policy = bool(logging_policy)
        if table is None:
            table = cached_market_table(market, reward_source=reward_source, placement=placement,
                                        n_shoppers=n_shoppers, seed=table_seed, logging_policy=logging_policy,
                                        pool_features=pool_features, variant_kinds=variant_kinds)
        if self.logging_policy and table.logging_probs is None:
            raise InputError("logging_policy=True needs a table with logging_probs", rule="logging probs present")
        self.table = table
        self.feature_names = table.feature_names
        self.type_names = table.type_names
        self.n_types = len(table.type_names)
        # Per shopper of the table, read by the batched env too (envs.vector).
        self.expected_rewards = np.ascontiguousarray(table.expected(reward))  # (M, K)
        self.optimal_value = self.expected_rewards.max(axis=1)  # (M,)
        self.optimal_action = self.expected_rewards.argmax(axis=1)  # (M,)
        self.action_space = spaces.Discrete(table.n_actions)
        self.observation_space = observation_box(table)
        self._idx: int | None = None
        self._logging_action = -1

    def _draw(self) -> tuple[np.ndarray, dict[str, Any]]:
        self._idx = int(self.np_random.integers(self.table.n_shoppers))
        info: dict[str, Any] = {"expected_rewards": self.expected_rewards[self._idx].copy(),
                                "optimal_action": int(self.optimal_action[self._idx])}
        if self.logging_policy:
            probs = self.table.logging_probs[self._idx]
            self._logging_action = int(min(np.searchsorted(np.cumsum(probs), self.np_random.random(), "right"),
                                           probs.size - 1))
            info.update(logging_action=self._logging_action, pscore=float(probs[self._logging_action]),
                        logging_probs=probs.copy())
        return self.table.obs[self._idx].copy(), info

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        return self._draw()

    def step(self, action: int):
        assert self._idx is not None, "Call reset before using step method."
        if not self.action_space.contains(action):
            raise InputError(f"action {_show(action)} is outside the action space {self.action_space} "
                             f"(valid: integers 0..{self.action_space.n - 1})", column="action",
                             rule=f"action in {self.action_space}", value=_show(action))
        i, a = self._idx, int(action)
        t = self.table
        clicked, purchased = draw_response(self.np_random.random(2), t.p_click[i, a], t.p_purchase_given_click[i, a])
        reward = float(outcome_reward(self.reward, clicked, purchased, t.value_per_purchase[i, a]))
        expected = self.expected_rewards[i, a]
        served = {"expected_reward": float(expected), "regret": float(self.optimal_value[i] - expected),
                  "clicked": bool(clicked), "purchased": bool(purchased)}
        obs, info = self._draw()
        info.update(served)
        return obs, reward, False, False, info


def _show(action: object) -> str:
    """An action for an error message: ``3`` for any integer type, the repr otherwise."""
    return str(int(action)) if isinstance(action, (int, np.integer)) and not isinstance(action, bool) else repr(action)
