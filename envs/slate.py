"""``rlopt/PlacementSlate-v0``: assign copy variants to the slots of one placement, with position bias."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.placement_bandit import cached_market_table, observation_box
from envs.tables import (
    ShopperTable,
    check_reward,
    draw_response,
    expected_reward,
    outcome_reward,
    resolve_market,
)
from rlopt.errors import InputError


class PlacementSlate(gym.Env[np.ndarray, np.ndarray]):
    """Fill the ``S`` slots of a placement with copy variants; clicks follow a position-based model.

    ## Description
    Each step is one shopper viewing a placement with ``S`` slots (e.g. a carousel) about one
    item. The agent assigns one of the item's ``K`` copy variants to each slot. Click model
    (position-based): slot ``s`` is examined with probability ``examination[s]`` (the
    placement's config) and, if examined, clicked with the variant's attractiveness
    ``P(click | examined)`` from the oracle (or reward model) for this shopper. A variant
    repeated in a later slot earns nothing there (the shopper has already judged it), so the
    best slate shows the ``S`` most attractive distinct variants, the best in the most
    examined slot. Shoppers are drawn once from the market (as in ``PlacementBandit-v0``),
    restricted to the placement.

    ## Action Space
    ``MultiDiscrete([K] * S)``: ``action[s]`` is the pool index shown in slot ``s``.
    A value outside ``0 .. K-1`` or a wrong length raises :class:`rlopt.errors.InputError`.

    ## Observation Space
    ``Box(0, 1, (d,), float32)``: the same columns as ``PlacementBandit-v0`` (see
    :mod:`envs.features`, pool one-hot included); placement and examination columns are
    constant here.

    ## Rewards
    Sum over slots: clicks (``reward="click"``), purchases (``"purchase"``) or revenue
    (``"value"``). Expected reward of slot ``s``: ``examination[s] * attractiveness[a_s]``
    (x P(purchase | click) x revenue for the other rewards), 0 for a repeated variant.

    ## Starting State
    ``reset`` draws the first shopper. ``info`` describes that shopper: ``attractiveness`` (K,)
    (expected reward of each variant if examined), ``examination`` (S,), ``optimal_action`` (S,)
    and ``optimal_value``. ``step`` adds, for the shopper just served: ``expected_reward_per_slot``
    (S,), ``expected_reward``, ``regret`` and ``clicks`` (S,).

    ## Episode End
    Never terminates; ``gym.make`` adds a ``TimeLimit`` of 1000 steps.

    ## Arguments
    ``gym.make("rlopt/PlacementSlate-v0", market=None, placement=None, reward="click",
    reward_source="truth", n_shoppers=20_000, table_seed=0, table=None, examination=None,
    pool_features=False, variant_kinds=True)``;
    ``placement=None`` takes the market placement with the most slots; ``table`` and
    ``examination`` (length S) pass a prebuilt table instead of the market.

    ## Vectorized environment
    None native; ``gym.make_vec`` with ``vectorization_mode="sync"`` works.

    ## Version History
    * v0: initial version.
    """

    metadata = {"render_modes": []}

    def __init__(self, market: Any = None, placement: str | None = None, reward: str = "click",
                 reward_source: str = "truth", n_shoppers: int = 20_000, table_seed: int = 0,
                 table: ShopperTable | None = None, examination: tuple[float, ...] | None = None,
                 pool_features: bool = False,
                 variant_kinds: bool = True) -> None:
        self.reward = check_reward(reward)
        if table is None:
            mk = resolve_market(market)
            if placement is None:
                placement = max(mk.placements, key=lambda p: mk.placements[p].slots)
            if placement not in mk.placements:
                raise InputError(f"unknown placement '{placement}'; known: {', '.join(mk.placements)}",
                                 column="placement", rule="placement in the market config", value=placement)
            examination = tuple(mk.placements[placement].examination)
            table = cached_market_table(market if market is None or isinstance(market, str) else mk,
                                        reward_source=reward_source, placement=placement,
                                        n_shoppers=n_shoppers, seed=table_seed, position=0,
                                        pool_features=pool_features, variant_kinds=variant_kinds)
        if examination is None:
            raise InputError("a prebuilt table needs examination=(per-slot probabilities)",
                             rule="examination given with table")
        self.table = table
        self.placement = placement
        self.feature_names = table.feature_names
        self.type_names = table.type_names
        self.n_types = len(table.type_names)
        self.examination = np.asarray(examination, dtype=np.float64)
        exam0 = table.examination if table.examination is not None else np.ones(table.n_shoppers)
        # P(click | examined) per shopper and variant: the table scored every shopper at slot 0.
        self._attract = np.clip(table.p_click / exam0[:, None], 0.0, 1.0)
        # Expected reward of a variant when examined.
        self._gain = expected_reward(reward, self._attract, table.p_purchase_given_click, table.value_per_purchase)
        k, s = table.n_actions, self.examination.size
        if s > k:
            raise InputError(f"placement has {s} slots but only {k} copy variants", rule="slots <= pool size")
        self.action_space = spaces.MultiDiscrete(np.full(s, k, dtype=np.int64))
        self.observation_space = observation_box(table)
        # Best slate: the S best variants, the best in the most examined slot.
        slot_order = np.argsort(-self.examination, kind="stable")
        top = np.argsort(-self._gain, axis=1, kind="stable")[:, :s]
        self._optimal = np.empty_like(top)
        self._optimal[:, slot_order] = top
        self._best = np.take_along_axis(self._gain, top, axis=1) @ self.examination[slot_order]
        self._idx: int | None = None

    def slot_values(self, i: int, action: np.ndarray) -> np.ndarray:
        """Expected reward of each slot for shopper ``i`` under ``action``, shape ``(S,)``."""
        first = np.array([a not in action[:s] for s, a in enumerate(action)])
        return self.examination * self._gain[i, action] * first

    def _draw(self) -> tuple[np.ndarray, dict[str, Any]]:
        self._idx = i = int(self.np_random.integers(self.table.n_shoppers))
        info = {"attractiveness": self._gain[i].copy(), "examination": self.examination.copy(),
                "optimal_action": self._optimal[i].copy(), "optimal_value": float(self._best[i])}
        return self.table.obs[i].copy(), info

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        return self._draw()

    def step(self, action: np.ndarray):
        assert self._idx is not None, "Call reset before using step method."
        act = np.asarray(action)
        if act.shape != self.action_space.shape or not self.action_space.contains(act.astype(np.int64)):
            raise InputError(f"action {act.tolist()!r} is outside the action space {self.action_space} "
                             f"({self.action_space.shape[0]} slots, variants 0..{self.table.n_actions - 1})",
                             column="action", rule=f"action in {self.action_space}", value=act.tolist())
        i, act = self._idx, act.astype(np.int64)
        values = self.slot_values(i, act)
        first = values > 0  # a repeated variant is not clicked again
        p_click = np.where(first, self.examination * self._attract[i, act], 0.0)
        clicks, purchases = draw_response(self.np_random.random((2, act.size)), p_click,
                                          self.table.p_purchase_given_click[i, act])
        reward = float(outcome_reward(self.reward, clicks, purchases, self.table.value_per_purchase[i, act]).sum())
        served = {"expected_reward_per_slot": values, "expected_reward": float(values.sum()),
                  "regret": float(self._best[i] - values.sum()), "clicks": clicks}
        obs, info = self._draw()
        info.update(served)
        return obs, reward, False, False, info
