"""Replay: evaluate a bandit policy on logged data by rejection sampling (Li et al. 2011).

Stream the log in order. At each logged round ``(x_t, a_t, r_t)`` the policy picks
``π(x_t)``; when it matches ``a_t`` the round is kept (the policy sees ``r_t`` and may learn),
otherwise it is discarded as if it never happened. The estimate is the mean reward of the
kept rounds::

    V̂ = Σ_t 1[π(x_t) = a_t] r_t / Σ_t 1[π(x_t) = a_t]

It is unbiased for the policy's online value **only when the log was collected by uniform
random logging** (``pscore = 1/K``, like OBD's ``random`` log); on a non-uniform log the kept
rounds over-represent what the logger liked. ``weighting="ipw"`` then reweights each kept
round by ``1/pscore`` (self-normalized), which corrects a static policy but not the learning
dynamics. About ``n/K`` rounds are kept, so a log of ``n`` rows evaluates ``n/K`` steps.

References
----------
Li, Chu, Langford, Wang. "Unbiased Offline Evaluation of Contextual-bandit-based News Article
Recommendation Algorithms." WSDM 2011.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import pandas as pd
from gymnasium import spaces

from envs.placement_bandit import _show
from rlopt.errors import InputError
from rlopt.policies.base import Policy

REWARD_COLUMNS = {"click": "clicked", "purchase": "converted", "value": "revenue"}


@dataclass(frozen=True, eq=False)
class ReplayData:
    """A logged bandit feed in OBP's names.

    Attributes
    ----------
    context : ndarray, shape (n_rounds, dim)
    action : ndarray of int, shape (n_rounds,), in ``[0, n_actions)``
    reward : ndarray, shape (n_rounds,)
    n_actions : int
    pscore : ndarray, shape (n_rounds,), optional
        Logging probability of ``action``; required for ``weighting="ipw"``.
    source : str
        Where the data came from (named in errors).
    """

    context: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    n_actions: int
    pscore: np.ndarray | None = None
    source: str = "log"

    def __post_init__(self) -> None:
        n = self.action.shape[0]
        if self.context.ndim != 2 or self.context.shape[0] != n or self.reward.shape != (n,):
            raise InputError(f"context (n, dim), action (n,) and reward (n,) must align; got {self.context.shape}, "
                             f"{self.action.shape}, {self.reward.shape}", file=self.source,
                             rule="one context, action and reward per round")
        bad = (self.action < 0) | (self.action >= self.n_actions)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"logged action {self.action[i]} is outside Discrete({self.n_actions})",
                             file=self.source, row=i + 1, column="action", rule="0 <= action < n_actions")
        if self.pscore is not None:
            bad = ~((self.pscore > 0) & (self.pscore <= 1))
            if self.pscore.shape != (n,) or bad.any():
                i = int(np.flatnonzero(bad)[0]) if self.pscore.shape == (n,) else 0
                raise InputError("pscore must be in (0, 1], one per round", file=self.source, row=i + 1,
                                 column="pscore", rule="0 < pscore <= 1")

    @property
    def n_rounds(self) -> int:
        return int(self.action.shape[0])

    @property
    def dim(self) -> int:
        return int(self.context.shape[1])

    @classmethod
    def from_obd(cls, path: Any, *, position: int | None = None, include_affinity: bool = False,
                 **kwargs: Any) -> ReplayData:
        """Open Bandit Dataset log via :func:`rlopt.data.obd.load_obd`; ``position`` (0-based) keeps one slot.

        Actions are item ids; contexts are the one-hot user features (+ affinities if asked).
        """
        from rlopt.data.obd import load_obd

        fb = load_obd(path, include_affinity=include_affinity, **kwargs)
        keep = np.ones(fb.n_rounds, bool) if position is None else fb.position == position
        if position is not None and not (0 <= position < fb.len_list):
            raise InputError(f"position {position} is outside 0..{fb.len_list - 1}", file=fb.source,
                             column="position", rule="0 <= position < len_list", value=position)
        return cls(context=np.asarray(fb.context[keep], dtype=np.float64), action=fb.action[keep].astype(np.int64),
                   reward=fb.reward[keep].astype(np.float64), n_actions=int(fb.n_actions),
                   pscore=fb.pscore[keep].astype(np.float64), source=fb.source)

    @classmethod
    def from_logs(cls, logs: pd.DataFrame, catalog: pd.DataFrame, placements: dict, *, reward: str = "click",
                  source: str = "logs", pool_features: bool = False) -> ReplayData:
        """Contract impression logs (validated, e.g. by ``rlopt.data.read_logs``).

        The action is the ``copy_id``'s index among the distinct copy ids logged for the same
        ``item_id`` x ``placement`` (sorted, so the index is stable); ``n_actions`` is the largest
        such pool. Contexts use :class:`envs.features.ContextEncoder` with the segments and the
        numeric user feature names found in the log (and the item x placement pool one-hot
        when ``pool_features``: what lets a per-arm model tell pools apart, at ``d`` of a few
        hundred, so slow). ``reward``: click | purchase | value.
        """
        from envs.features import ContextEncoder

        if reward not in REWARD_COLUMNS or REWARD_COLUMNS[reward] not in logs:
            raise InputError(f"reward '{reward}' needs column '{REWARD_COLUMNS.get(reward, '?')}' in the log; "
                             f"valid rewards: {', '.join(REWARD_COLUMNS)}", file=source, column="reward",
                             rule="reward in click|purchase|value with its column present", value=reward)
        frame = logs.reset_index(drop=True).copy()
        if "segment" not in frame:
            frame["segment"] = "all"
        frame["segment"] = frame["segment"].fillna("all").astype(str)
        keys = ["item_id", "placement"]
        pools = frame.groupby(keys)["copy_id"].transform(lambda s: s.rank(method="dense").astype(np.int64) - 1)
        user_keys: set[str] = set()
        if "user_features" in frame:
            for feats in frame["user_features"]:
                if isinstance(feats, dict):
                    user_keys.update(k for k, v in feats.items() if isinstance(v, (int, float)))
        pool_keys = tuple(sorted(set(zip(frame["item_id"].astype(str), frame["placement"].astype(str),
                                             strict=True))))
        encoder = ContextEncoder(tuple(sorted(frame["segment"].unique())), tuple(sorted(user_keys)),
                                 placements, catalog, pools=pool_keys if pool_features else ())
        pscore = frame["propensity"].to_numpy(dtype=np.float64) if "propensity" in frame else None
        return cls(context=encoder.encode(frame, source=source).astype(np.float64),
                   action=pools.to_numpy(dtype=np.int64),
                   reward=frame[REWARD_COLUMNS[reward]].fillna(0).to_numpy(dtype=np.float64),
                   n_actions=int(pools.max()) + 1, pscore=pscore, source=source)


@dataclass(frozen=True)
class ReplayResult:
    """Outcome of :func:`replay_evaluate`.

    ``value`` is the replay estimate ``V̂``; ``stderr`` its standard error (kept rounds treated
    as i.i.d.); ``curve`` the running estimate after each kept round (``(n_matched,)``).
    """

    value: float
    stderr: float
    n_matched: int
    n_rounds: int
    weighting: str
    curve: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "stderr": self.stderr, "n_matched": self.n_matched,
                "n_rounds": self.n_rounds, "match_rate": self.n_matched / max(self.n_rounds, 1),
                "weighting": self.weighting}


def replay_evaluate(policy: Policy, data: ReplayData, *, batch_size: int = 1, learn: bool = True,
                    weighting: str = "uniform") -> ReplayResult:
    """Rejection-sampling replay of ``policy`` over ``data`` (see the module docstring).

    Parameters
    ----------
    policy : Policy
        Built for ``data.n_actions`` actions and ``data.dim`` features.
    batch_size : int
        Rounds decided per ``select_batch`` call; the policy learns from a batch's kept rounds
        after the batch (``1`` is Li et al.'s exact online protocol).
    learn : bool
        Update the policy on kept rounds (False evaluates it frozen).
    weighting : ``"uniform"`` or ``"ipw"``
        ``ipw`` weights kept rounds by ``1/pscore`` (self-normalized).
    """
    if weighting not in ("uniform", "ipw"):
        raise InputError(f"weighting must be 'uniform' or 'ipw', got '{weighting}'", column="weighting",
                         rule="weighting in uniform|ipw", value=weighting)
    if weighting == "ipw" and data.pscore is None:
        raise InputError("weighting='ipw' needs the log's pscore (propensity) column", file=data.source,
                         column="pscore", rule="pscore present for ipw")
    if policy.n_actions != data.n_actions:
        raise InputError(f"policy has {policy.n_actions} actions but the log has {data.n_actions}",
                         file=data.source, rule="policy.n_actions == log n_actions")
    matched = np.zeros(data.n_rounds, dtype=bool)
    for start in range(0, data.n_rounds, max(int(batch_size), 1)):
        rows = slice(start, start + max(int(batch_size), 1))
        x = data.context[rows]
        hit = policy.select_batch(x) == data.action[rows]
        matched[rows] = hit
        if learn and hit.any():
            policy.update_batch(x[hit], data.action[rows][hit], data.reward[rows][hit])
    r = data.reward[matched]
    w = np.ones_like(r) if weighting == "uniform" else 1.0 / data.pscore[matched]
    if r.size == 0:
        return ReplayResult(float("nan"), float("nan"), 0, data.n_rounds, weighting, np.zeros(0))
    value = float((w * r).sum() / w.sum())
    # Delta-method standard error of the self-normalized mean (reduces to sd/sqrt(n) for w = 1).
    stderr = float(np.sqrt(((w * (r - value)) ** 2).sum()) / w.sum())
    curve = np.cumsum(w * r) / np.cumsum(w)
    return ReplayResult(value, stderr, int(matched.sum()), data.n_rounds, weighting, curve)


class ReplayBandit(gym.Env[np.ndarray, int]):
    """Gymnasium view of a log for rejection-sampling replay (Li et al. 2011).

    ## Description
    Walks the log in order. The observation is the logged context; ``step(a)`` reveals the
    logged reward only when ``a`` equals the logged action (``info["matched"]``); a learner
    must ignore unmatched steps (their reward is 0 and meaningless). Unbiased only under
    uniform random logging (see :mod:`envs.replay`).

    ## Action Space
    ``Discrete(n_actions)``; out of range raises :class:`rlopt.errors.InputError`.

    ## Observation Space
    ``Box(min, max, (dim,), float32)`` with the log's per-column minima and maxima.

    ## Rewards
    The logged reward if matched, else 0.

    ## Starting State
    The first logged round (``reset(options={"start": i})`` starts at row ``i``).

    ## Episode End
    Terminates after the last logged round.

    ## Arguments
    ``ReplayBandit(data: ReplayData)``.

    ## Vectorized environment
    None; use :func:`replay_evaluate` with ``batch_size`` for speed.

    ## Version History
    * v0: initial version.
    """

    metadata = {"render_modes": []}

    def __init__(self, data: ReplayData) -> None:
        self.data = data
        self.action_space = spaces.Discrete(data.n_actions)
        ctx = data.context.astype(np.float32)
        self._obs = ctx
        low, high = ctx.min(axis=0), ctx.max(axis=0)
        # A constant column still gets a non-empty interval (Gymnasium warns on low == high).
        self.observation_space = spaces.Box(low, np.where(high > low, high, low + 1), dtype=np.float32)
        self._t: int | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._t = int((options or {}).get("start", 0))
        return self._obs[self._t].copy(), {"logged_action": int(self.data.action[self._t])}

    def step(self, action: int):
        assert self._t is not None, "Call reset before using step method."
        if not self.action_space.contains(action):
            raise InputError(f"action {_show(action)} is outside the action space {self.action_space}",
                             column="action", rule=f"action in {self.action_space}", value=_show(action))
        t = self._t
        matched = int(action) == int(self.data.action[t])
        reward = float(self.data.reward[t]) if matched else 0.0
        self._t = t + 1
        done = self._t >= self.data.n_rounds
        nxt = min(self._t, self.data.n_rounds - 1)
        info = {"matched": matched, "logged_action": int(self.data.action[nxt]), "row": t}
        return self._obs[nxt].copy(), reward, done, False, info

