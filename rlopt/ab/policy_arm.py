"""An arm that learns while it runs: a bandit policy choosing pool copy, updated on its own clicks."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rlopt.ab.arms import Arm, _pool_lookup
from rlopt.errors import InputError


def context_matrix(imps: pd.DataFrame, segments: list[str], placements: list[str]) -> np.ndarray:
    """Bandit context per impression: ``[1, user features..., one-hot segment, one-hot placement]``.

    Returns
    -------
    ndarray, shape (n, 1 + n_user_features + len(segments) + len(placements))
    """
    n = len(imps)
    parts = [np.ones((n, 1))]
    if "user_features" in imps.columns:
        feats = pd.DataFrame(list(imps["user_features"].map(lambda d: d if isinstance(d, dict) else {})))
        numeric = feats.apply(pd.to_numeric, errors="coerce").fillna(0.0)
        parts.append(numeric.reindex(sorted(numeric.columns), axis=1).to_numpy(float))
    for col, levels in (("segment", segments), ("placement", placements)):
        codes = pd.Categorical(imps[col], categories=levels).codes
        parts.append(np.eye(len(levels))[codes] * (codes >= 0)[:, None])
    return np.hstack(parts)


def run_policy_arm(arm: Arm, market, oracle, imps: pd.DataFrame, rng: np.random.Generator,
                   batch_size: int = 500) -> pd.DataFrame:
    """Play ``arm`` (``policy:NAME``) on ``imps`` in time order, in batches, learning from clicks.

    Each batch: ``select_batch`` -> pool copy -> ``oracle.respond`` -> ``update_batch(clicked)``.

    Returns
    -------
    DataFrame
        ``imps`` (same order) plus ``copy_text, clicked, converted, revenue``.
    """
    try:
        from rlopt.policies import make_policy
    except ImportError as err:  # pragma: no cover - policies ship with rlopt
        raise InputError(f"arm {arm.spec!r} needs rlopt.policies ({err})", column="arm") from None
    segments = sorted(market.segments)
    placements = sorted(market.placements)
    order = np.argsort(imps["timestamp"].to_numpy(), kind="stable")
    ctx = context_matrix(imps, segments, placements)
    try:
        policy = make_policy(arm.target, n_actions=int(market.pool_size), dim=ctx.shape[1], rng=rng)
    except (KeyError, ValueError) as err:
        raise InputError(f"arm {arm.spec!r} does not resolve to a policy: {err}", column="arm",
                         rule="policy:NAME with NAME in rlopt.policies.POLICY_NAMES") from None
    outs = []
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        actions = np.asarray(policy.select_batch(ctx[rows]))
        frame = imps.iloc[rows].copy()
        frame["copy_text"] = _pool_lookup(market, frame, actions)
        frame = oracle.respond(frame, rng)
        policy.update_batch(ctx[rows], actions, frame["clicked"].to_numpy(float))
        outs.append(frame)
    return pd.concat(outs).loc[imps.index]
