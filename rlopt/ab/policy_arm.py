"""An arm that learns while it runs: a bandit policy choosing pool copy, updated on its own clicks.

Action ``k`` is pool entry ``k``, which is a different kind of copy in every item's pool. When the
market names the kinds (``market.copy_kinds``), the last ``pool_size`` context columns hold the kind
code of every entry and linear policies get ``n_types`` = number of kinds, so they learn one model
per kind of copy shared across pools (the "typed arms" of :mod:`rlopt.policies.linear`, as in the
placement environment). Context-free policies learn per index and are weak here by construction.
"""

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


def kind_codes(market, imps: pd.DataFrame) -> tuple[np.ndarray | None, int]:
    """Kind code of every pool entry per impression, shape ``(n, pool_size)``, and the number of kinds."""
    if not hasattr(market, "copy_kinds"):
        return None, 0
    keys = list(zip(imps["item_id"], imps["placement"], strict=True))
    per_pool = {k: market.copy_kinds(*k) for k in dict.fromkeys(keys)}
    vocab = {kind: i for i, kind in enumerate(sorted({k for kinds in per_pool.values() for k in kinds}))}
    coded = {k: [vocab[kind] for kind in kinds] for k, kinds in per_pool.items()}
    return np.array([coded[k] for k in keys], dtype=float).reshape(len(keys), -1), len(vocab)


def run_policy_arm(arm: Arm, market, oracle, imps: pd.DataFrame, rng: np.random.Generator,
                   batch_size: int = 500) -> pd.DataFrame:
    """Play ``arm`` (``policy:NAME``) on ``imps`` in time order, in batches, learning from clicks.

    Each batch: ``select_batch`` -> pool copy -> ``oracle.respond`` -> ``update_batch(clicked)``.

    Returns
    -------
    DataFrame
        ``imps`` (same order) plus ``copy_text, clicked, converted, revenue``.
    """
    from rlopt.policies import POLICIES, parse_policy_spec, policy_params

    try:
        name, kwargs = parse_policy_spec(arm.target)
    except InputError as err:
        raise InputError(f"arm {arm.spec!r} does not resolve to a policy: {err.message}", column="arm",
                         rule="policy:NAME with NAME in rlopt.policies.POLICY_NAMES") from None
    order = np.argsort(imps["_arrival" if "_arrival" in imps.columns else "timestamp"].to_numpy(), kind="stable")
    ctx = context_matrix(imps, sorted(market.segments), sorted(market.placements))
    kinds, n_kinds = kind_codes(market, imps)
    if kinds is not None:
        ctx = np.hstack([ctx, kinds])
        if "n_types" in policy_params(name):
            kwargs.setdefault("n_types", n_kinds)
    policy = POLICIES[name](int(market.pool_size), ctx.shape[1], rng, **kwargs)
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
