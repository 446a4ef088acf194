"""Train/holdout splits of impression logs without leakage (by time, or by user)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from rlopt.errors import InputError
from rlopt.seeding import RNGLike, as_rng


def split_logs(logs: pd.DataFrame, holdout_fraction: float = 0.2, by: Literal["time", "user"] = "time",
               seed: RNGLike = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split logs into (train, holdout) so that nothing about the holdout leaks into training.

    Parameters
    ----------
    logs : pandas.DataFrame
        Validated logs (``timestamp`` int64 epoch ms; ``user_id`` for ``by="user"``).
    holdout_fraction : float in (0, 1)
        Target share of rows in the holdout.
    by : {"time", "user"}
        ``"time"``: every train timestamp <= every holdout timestamp; rows sharing the boundary
        timestamp all go to one side (whichever lands closer to the target), so there are no
        ties across the split. ``"user"``: users are shuffled with ``seed`` and whole users go
        to the holdout until it holds at least ``holdout_fraction`` of the rows; the user sets
        are disjoint.
    seed : int, Generator or None
        Used by ``by="user"`` only (the time split is deterministic).

    Returns
    -------
    train, holdout : pandas.DataFrame
        Both non-empty, rows in their original order, original index kept.

    Examples
    --------
    >>> df = pd.DataFrame({"timestamp": [5, 1, 3, 3, 9], "user_id": list("abcde")})
    >>> train, holdout = split_logs(df, 0.4)
    >>> bool(train["timestamp"].max() <= holdout["timestamp"].min()), len(holdout)
    (True, 2)
    """
    if not (isinstance(holdout_fraction, (int, float)) and 0.0 < holdout_fraction < 1.0):
        raise InputError(f"holdout_fraction must be in (0, 1), got {holdout_fraction!r}",
                         rule="holdout_fraction in (0, 1)")
    if by not in ("time", "user"):
        raise InputError(f"by must be 'time' or 'user', got {by!r}", rule="split by time|user")
    column = "timestamp" if by == "time" else "user_id"
    if column not in logs.columns:
        raise InputError(f"split by {by} needs a '{column}' column", column=column, rule="required columns present")
    if len(logs) < 2:
        raise InputError(f"need at least 2 rows to split, got {len(logs)}", rule="enough rows to split")
    holdout = _time_holdout(logs, holdout_fraction) if by == "time" else _user_holdout(logs, holdout_fraction, seed)
    if holdout.all() or not holdout.any():
        what = "distinct timestamps" if by == "time" else "distinct users"
        raise InputError(f"cannot split: all rows share one value of '{column}' (need at least 2 {what})",
                         column=column, rule="enough rows to split")
    return logs[~holdout], logs[holdout]


def _time_holdout(logs: pd.DataFrame, fraction: float) -> np.ndarray:
    ts = logs["timestamp"].to_numpy()
    n = len(ts)
    target = fraction * n
    cut = np.sort(ts)[min(n - 1, max(0, int(round(n - target))))]
    # The boundary timestamp goes wholly to the holdout (ts >= cut) or to train (ts > cut).
    options = [ts >= cut, ts > cut]
    valid = [m for m in options if 0 < m.sum() < n]
    if not valid:
        return options[0]
    return min(valid, key=lambda m: abs(m.sum() - target))


def _user_holdout(logs: pd.DataFrame, fraction: float, seed: RNGLike) -> np.ndarray:
    codes, uniques = pd.factorize(logs["user_id"], sort=True)  # sorted: same seed -> same split
    counts = np.bincount(codes, minlength=len(uniques))
    order = as_rng(seed).permutation(len(uniques))
    cum = np.cumsum(counts[order])
    target = fraction * len(logs)
    k = int(np.searchsorted(cum, target)) + 1  # smallest prefix of users reaching the target...
    if k > 1 and abs(cum[k - 2] - target) <= abs(cum[k - 1] - target):
        k -= 1  # ...or one user fewer when that lands closer
    k = min(k, len(uniques) - 1)
    chosen = np.zeros(len(uniques), dtype=bool)
    chosen[order[:k]] = True
    return chosen[codes]


def split_summary(train: pd.DataFrame, holdout: pd.DataFrame, by: str) -> dict[str, object]:
    """What a split did, with its no-leakage checks made on the result (for ``split.json``).

    ``time_boundary_ok``: every train timestamp <= every holdout timestamp (``by="time"``);
    ``shared_users``: users in both parts (0 for ``by="user"``; for ``by="time"`` a returning user
    is expected and only reported).

    >>> tr = pd.DataFrame({"timestamp": [1, 2], "user_id": ["a", "b"]})
    >>> ho = pd.DataFrame({"timestamp": [3], "user_id": ["b"]})
    >>> s = split_summary(tr, ho, "time")
    >>> s["holdout_share"], s["time_boundary_ok"], s["shared_users"]
    (0.3333, True, 1)
    """
    n = len(train) + len(holdout)
    out: dict[str, object] = {"by": by, "train_rows": len(train), "holdout_rows": len(holdout),
                              "holdout_share": round(len(holdout) / n, 4) if n else 0.0}
    if "timestamp" in train.columns:
        out.update(train_last_timestamp=int(train["timestamp"].max()),
                   holdout_first_timestamp=int(holdout["timestamp"].min()),
                   time_boundary_ok=bool(train["timestamp"].max() <= holdout["timestamp"].min()))
    if "user_id" in train.columns:
        users_train, users_holdout = set(train["user_id"]), set(holdout["user_id"])
        out.update(train_users=len(users_train), holdout_users=len(users_holdout),
                   shared_users=len(users_train & users_holdout))
    return out
