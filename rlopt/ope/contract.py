"""Turn a contract impression log into OPE inputs (OBP names), and an empirical-CTR reward model.

The action set of a row is the set of distinct copies logged for its ``(item_id, placement)``:
a context's candidates are the logged pool. Actions are numbered within each pool (by
``copy_id``), so ``n_actions`` is the largest pool and ``valid`` (n_rounds, n_actions) marks the
slots that exist for each row. The context is ``one-hot(segment, placement, item)`` plus the
numeric ``user_features``; ``position`` is the slot within the placement.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rlopt.data.schema import copy_id_for
from rlopt.errors import InputError
from rlopt.seeding import RNGLike, as_rng

__all__ = ["ContractFeedback", "contract_feedback", "copy_text_features", "empirical_ctr"]

REWARD_COLUMNS = ("clicked", "converted", "revenue")


@dataclass(frozen=True, eq=False)
class ContractFeedback:
    """OPE view of a contract log.

    Attributes
    ----------
    context : ndarray (n_rounds, dim_context)
    action, position : ndarray of int (n_rounds,)
    reward : ndarray (n_rounds,)
    pscore : ndarray (n_rounds,) or None (no ``propensity`` column)
    n_actions, len_list : int
    group : ndarray of int (n_rounds,)
        Pool index of each row (one pool per ``(item_id, placement)``).
    valid : ndarray of bool (n_rounds, n_actions)
    pool_copies : list of list of str
        ``copy_id`` of each pool's actions, in action order.
    pool_texts : list of list of str
        The matching ``copy_text``.
    frame : DataFrame
        The log rows (for scoring candidates with a reward model).
    """

    context: np.ndarray
    action: np.ndarray
    position: np.ndarray
    reward: np.ndarray
    pscore: np.ndarray | None
    n_actions: int
    len_list: int
    group: np.ndarray
    valid: np.ndarray
    pool_copies: list[list[str]]
    pool_texts: list[list[str]]
    frame: pd.DataFrame

    @property
    def n_rounds(self) -> int:
        return int(self.action.shape[0])

    def on_policy_value(self) -> float:
        return float(self.reward.mean())


def _one_hot(values: pd.Series, prefix: str) -> np.ndarray:
    return pd.get_dummies(values.astype(str), prefix=prefix, dtype=float).to_numpy()


def _user_feature_matrix(col: pd.Series) -> np.ndarray:
    # dicts from read_logs, or JSON strings from a raw read_table of a Parquet/CSV file
    records = [json.loads(v) if isinstance(v, str) and v.strip() else v for v in col]
    records = [v if isinstance(v, dict) else {} for v in records]
    frame = pd.DataFrame.from_records(records, index=col.index)
    numeric = frame.apply(pd.to_numeric, errors="coerce")
    keep = [c for c in numeric.columns if numeric[c].notna().any()]
    return numeric[sorted(keep)].fillna(0.0).to_numpy(dtype=float)


def contract_feedback(logs: pd.DataFrame, reward: str = "clicked",
                      pools: dict[tuple[str, str], list[str]] | None = None) -> ContractFeedback:
    """Build :class:`ContractFeedback` from a validated log (``rlopt.data.read_logs``).

    Parameters
    ----------
    logs : DataFrame
        Contract columns ``item_id, placement, position, copy_id, copy_text, clicked`` (+ optional
        ``segment, user_features, propensity, converted, revenue``).
    reward : {"clicked", "converted", "revenue"}
    pools : dict, optional
        ``(item_id, placement) -> candidate copy texts`` when the logging policy's full pools are
        known (e.g. ``Marketplace.copy_pool``). Without it the candidates are the copies that
        happen to be logged, which makes rarely logged copies enter the action set only when they
        were drawn: IPW over such data-dependent sets is biased for small logs (see the README).

    Returns
    -------
    ContractFeedback
    """
    if reward not in REWARD_COLUMNS:
        raise InputError(f"`reward` must be one of {list(REWARD_COLUMNS)}, got {reward!r}")
    missing = [c for c in ("item_id", "placement", "position", "copy_id", "copy_text", reward) if c not in logs]
    if missing:
        raise InputError(f"the log lacks column(s) {missing} needed for OPE", column=missing[0])
    logs = logs.reset_index(drop=True)
    key = logs["item_id"].astype(str) + "\x1f" + logs["placement"].astype(str)
    group, group_keys = pd.factorize(key, sort=True)
    pool_copies, pool_texts = [], []
    action = np.empty(len(logs), dtype=np.int64)
    for g in range(len(group_keys)):
        rows = np.flatnonzero(group == g)
        if pools is None:
            pool = logs.iloc[rows].drop_duplicates("copy_id").sort_values("copy_id")
            pool_copies.append(pool["copy_id"].astype(str).tolist())
            pool_texts.append(pool["copy_text"].astype(str).tolist())
        else:
            item, placement = group_keys[g].split("\x1f")
            texts = list(pools.get((item, placement), []))
            pool_texts.append(texts)
            pool_copies.append([copy_id_for(t) for t in texts])
        index = {c: j for j, c in enumerate(pool_copies[-1])}
        mapped = logs["copy_id"].iloc[rows].astype(str).map(index)
        if mapped.isna().any():
            bad = int(rows[np.flatnonzero(mapped.isna().to_numpy())[0]])
            raise InputError("logged copy is not in the given pool of its (item_id, placement)", row=bad + 1,
                             column="copy_id", rule="copy in pool", value=logs["copy_id"].iloc[bad])
        action[rows] = mapped.to_numpy(dtype=np.int64)
    n_actions = max(len(p) for p in pool_copies)
    sizes = np.array([len(p) for p in pool_copies])
    valid = np.arange(n_actions)[None, :] < sizes[group][:, None]
    blocks = [_one_hot(logs["placement"], "placement"), _one_hot(logs["item_id"], "item")]
    if "segment" in logs:
        blocks.insert(0, _one_hot(logs["segment"], "segment"))
    if "user_features" in logs:
        blocks.append(_user_feature_matrix(logs["user_features"]))
    position = logs["position"].to_numpy(dtype=np.int64)
    pscore = logs["propensity"].to_numpy(dtype=float) if "propensity" in logs else None
    return ContractFeedback(
        context=np.hstack(blocks), action=action, position=position,
        reward=logs[reward].to_numpy(dtype=float), pscore=pscore, n_actions=int(n_actions),
        len_list=int(position.max()) + 1, group=group.astype(np.int64), valid=valid,
        pool_copies=pool_copies, pool_texts=pool_texts, frame=logs,
    )


def empirical_ctr(
    key: np.ndarray,
    action: np.ndarray,
    reward: np.ndarray,
    n_actions: int,
    *,
    n_folds: int = 5,
    prior_strength: float = 20.0,
    rng: RNGLike = None,
) -> np.ndarray:
    """Cross-fitted, smoothed mean reward of each (key, action): shape (n_rounds, n_actions).

    For row ``i`` in fold ``k``, from the other folds only:

    .. math:: \\hat q(i, a) = \\frac{S_{-k}(key_i, a) + m \\, \\bar r_{-k}(key_i)}{N_{-k}(key_i, a) + m}

    (sum ``S`` and count ``N`` of rewards, shrunk toward the key's mean with ``m = prior_strength``
    pseudo-observations; an action never seen in the other folds gets the key's mean).

    >>> q = empirical_ctr(np.zeros(6, int), np.array([0, 0, 0, 1, 1, 1]), np.array([1., 1, 1, 0, 0, 0]),
    ...                   2, n_folds=2, prior_strength=1.0, rng=0)
    >>> bool((q[:, 0] > q[:, 1]).all())
    True
    """
    n = key.shape[0]
    n_keys = int(key.max()) + 1
    folds = as_rng(rng).permutation(n) % max(1, min(n_folds, n))
    out = np.empty((n, n_actions))
    for k in np.unique(folds):
        train, test = folds != k, folds == k
        if n_folds == 1:
            train = np.ones(n, dtype=bool)
        sums = np.zeros((n_keys, n_actions))
        counts = np.zeros((n_keys, n_actions))
        np.add.at(sums, (key[train], action[train]), reward[train])
        np.add.at(counts, (key[train], action[train]), 1.0)
        key_n = counts.sum(axis=1)
        overall = reward[train].mean() if train.any() else 0.0
        key_mean = np.divide(sums.sum(axis=1), key_n, out=np.full(n_keys, overall), where=key_n > 0)
        smoothed = (sums + prior_strength * key_mean[:, None]) / (counts + prior_strength)
        out[test] = smoothed[key[test]]
    return out


def copy_text_features(feedback: ContractFeedback, n_features: int = 32) -> np.ndarray:
    """Hashed bag-of-words of each row's candidate copies: shape (n_rounds, n_actions, n_features).

    Lets a reward model share what it learns about wording across items (a pool index alone
    means nothing across pools); invalid candidate slots are all zero.
    """
    from sklearn.feature_extraction.text import HashingVectorizer

    vectorizer = HashingVectorizer(n_features=n_features, alternate_sign=False, norm="l2", ngram_range=(1, 2))
    out = np.zeros((feedback.n_rounds, feedback.n_actions, n_features))
    for g, texts in enumerate(feedback.pool_texts):
        rows = np.flatnonzero(feedback.group == g)
        out[rows, : len(texts)] = vectorizer.transform(texts).toarray()[None]
    return out
