"""Native batched version of ``rlopt/PlacementBandit-v0``: ``B`` shoppers per ``step`` call, in NumPy."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from envs.placement_bandit import PlacementBandit
from envs.tables import ShopperTable, draw_response, outcome_reward
from rlopt.errors import InputError


class PlacementBanditVector(VectorEnv):
    """``num_envs`` independent copies of :class:`envs.placement_bandit.PlacementBandit`.

    Same spaces, rewards and info keys as the single env, batched: observations ``(B, d)``,
    actions ``(B,)`` ints, rewards ``(B,)``; ``info`` holds arrays (``expected_rewards`` ``(B, K)``,
    ``optimal_action``, ``regret`` ... ``(B,)``). Shoppers are i.i.d. and episodes never end,
    so ``terminations`` and ``truncations`` are always False and no autoreset happens.
    A step costs a few NumPy gathers, independent of the market's size.

    Parameters
    ----------
    num_envs : int
        Shoppers per call ``B``.
    max_episode_steps, render_mode
        Accepted for ``gym.make_vec``; ignored (no truncation, no rendering).
    **kwargs
        As for :class:`PlacementBandit` (``market, reward, reward_source, placement,
        logging_policy, n_shoppers, table_seed, table``).
    """

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int = 1, max_episode_steps: int | None = None, render_mode: str | None = None,
                 **kwargs: Any) -> None:
        # ``gym.make_vec`` passes the spec's ``max_episode_steps``; shoppers are i.i.d. and a
        # bandit has no episodes, so the batched env never truncates (documented above).
        self.max_episode_steps = max_episode_steps
        self.render_mode = render_mode
        if int(num_envs) < 1:
            raise InputError(f"num_envs must be >= 1, got {num_envs}", rule="num_envs >= 1")
        self.single = PlacementBandit(**kwargs)  # builds (or reuses) the table, checks arguments
        self.num_envs = int(num_envs)
        self.table: ShopperTable = self.single.table
        self.feature_names = self.single.feature_names
        self.single_observation_space = self.single.observation_space
        self.single_action_space: spaces.Discrete = self.single.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._k = self.table.n_actions
        self._expected = self.single.expected_rewards.ravel()
        self._p_click = np.ascontiguousarray(self.table.p_click).ravel()
        self._p_buy = np.ascontiguousarray(self.table.p_purchase_given_click).ravel()
        self._value = np.ascontiguousarray(self.table.value_per_purchase).ravel()
        self._idx: np.ndarray | None = None
        self._np_random, _ = seeding.np_random(None)

    def _draw(self) -> tuple[np.ndarray, dict[str, Any]]:
        rng = self._np_random
        self._idx = rng.integers(self.table.n_shoppers, size=self.num_envs)
        info: dict[str, Any] = {"expected_rewards": self.single.expected_rewards[self._idx],
                                "optimal_action": self.single.optimal_action[self._idx]}
        if self.single.logging_policy:
            probs = self.table.logging_probs[self._idx]
            u = rng.random(self.num_envs)[:, None]
            act = np.minimum((np.cumsum(probs, axis=1) <= u).sum(axis=1), self._k - 1)
            info.update(logging_action=act, pscore=probs[np.arange(self.num_envs), act], logging_probs=probs)
        return self.table.obs[self._idx], info

    def reset(self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None):
        if isinstance(seed, (list, tuple)):
            seed = seed[0]
        if seed is not None:
            self._np_random, _ = seeding.np_random(seed)
        return self._draw()

    def step(self, actions: np.ndarray):
        assert self._idx is not None, "Call reset before using step method."
        act = np.asarray(actions)
        if act.shape != (self.num_envs,) or not np.issubdtype(act.dtype, np.integer):
            raise InputError(f"actions must be {self.num_envs} integers (shape ({self.num_envs},)); got "
                             f"dtype {act.dtype}, shape {act.shape}", column="action",
                             rule=f"actions in {self.action_space}")
        bad = (act < 0) | (act >= self._k)
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            raise InputError(f"action {int(act[j])} (env {j}) is outside the action space "
                             f"{self.single_action_space} (valid: integers 0..{self._k - 1})",
                             column="action", rule=f"action in {self.single_action_space}", value=int(act[j]))
        flat = self._idx * self._k + act
        clicked, purchased = draw_response(self._np_random.random((2, self.num_envs)), self._p_click[flat],
                                           self._p_buy[flat])
        rewards = outcome_reward(self.single.reward, clicked, purchased, self._value[flat])
        expected = self._expected[flat]
        regret = self.single.optimal_value[self._idx] - expected
        obs, info = self._draw()
        info.update(expected_reward=expected, regret=regret, clicked=clicked, purchased=purchased)
        done = np.zeros(self.num_envs, dtype=bool)
        return obs, rewards, done, done.copy(), info
