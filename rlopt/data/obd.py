"""Open Bandit Dataset (OBD) loader: logged multi-slot bandit feedback from ZOZOTOWN.

The layout is the one the dataset's authors publish (Saito et al. 2021), for each policy
(``random``, ``bts``) and campaign (``all``, ``men``, ``women``)::

    <policy>/<campaign>/<campaign>.csv     one row per impression (all.csv, men.csv, women.csv)
    <policy>/<campaign>/item_context.csv   one row per item

A path may name the log file, its campaign directory or the policy directory (then ``campaign``
picks the sub-directory; :func:`resolve_obd_log`). The log holds an unnamed index column,
``timestamp``, ``item_id`` (0..n_items-1), ``position`` (1..len_list), ``click`` (0/1),
``propensity_score`` (the logging policy's probability of that item in that position),
``user_feature_*`` (hashed categorical) and ``user-item_affinity_*`` (numeric). Any other column is an error naming it: a renamed or
shifted export is far more likely than a new feature, and silently ignoring it would hide that.

References
----------
Saito, Aihara, Matsutani, Narita. "Open Bandit Dataset and Pipeline: Towards Realistic and
Reproducible Off-Policy Evaluation." NeurIPS 2021 Datasets and Benchmarks.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from rlopt.errors import InputError

__all__ = ["CAMPAIGNS", "OBDFeedback", "load_obd", "resolve_obd_log", "REQUIRED_COLUMNS"]

REQUIRED_COLUMNS = ("timestamp", "item_id", "position", "click", "propensity_score")
_PATTERN_COLUMNS = (re.compile(r"user_feature_\d+"), re.compile(r"user-item_affinity_\d+"))
_INDEX_COLUMNS = ("", "Unnamed: 0")
_ITEM_COLUMNS = ("item_id",)
_ITEM_PATTERN = re.compile(r"item_feature_\d+")


@dataclass(frozen=True, eq=False)
class OBDFeedback:
    """Logged bandit feedback of one OBD policy/campaign, in OBP's argument names.

    Attributes
    ----------
    context : ndarray of shape (n_rounds, dim_context)
        One-hot user features (plus the affinity columns when ``include_affinity=True``).
    action : ndarray of int, shape (n_rounds,)
        Item shown, in ``[0, n_actions)``.
    position : ndarray of int, shape (n_rounds,)
        Slot, 0-based (the file's 1..3 become 0..2).
    reward : ndarray of float, shape (n_rounds,)
        Click (0/1).
    pscore : ndarray of float, shape (n_rounds,)
        Logging policy's probability of ``action`` in ``position``.
    n_actions, len_list : int
        Number of items and of slots.
    action_context : ndarray of shape (n_actions, dim_action_context)
        Item features: ``item_feature_0`` as is, the hashed categorical ones one-hot.
    policy_name, campaign : str
        E.g. ``"random"``/``"bts"`` and ``"all"``/``"men"``/``"women"`` (from the directory names unless given).
    timestamp : ndarray of int64, shape (n_rounds,)
        Epoch milliseconds.
    context_names, action_context_names : tuple of str
        Column names of ``context`` and ``action_context``.
    user_categories : dict
        ``user_feature_* -> categories`` used for the one-hot encoding; pass it to another
        ``load_obd`` call to encode a second log identically.
    source : str
        The log file's path.
    """

    context: np.ndarray
    action: np.ndarray
    position: np.ndarray
    reward: np.ndarray
    pscore: np.ndarray
    n_actions: int
    len_list: int
    action_context: np.ndarray
    policy_name: str
    campaign: str = "all"
    timestamp: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    context_names: tuple[str, ...] = ()
    action_context_names: tuple[str, ...] = ()
    user_categories: dict[str, tuple[str, ...]] = field(default_factory=dict)
    source: str = ""

    @property
    def n_rounds(self) -> int:
        """Number of logged impressions."""
        return int(self.action.shape[0])

    def on_policy_value(self) -> float:
        """Mean reward of the log: the logging policy's own CTR (the ground truth OBD offers)."""
        return float(self.reward.mean())

    def as_dict(self) -> dict[str, object]:
        """OBP-style ``bandit_feedback`` dict (``n_rounds, context, action, position, reward, pscore, ...``)."""
        return {
            "n_rounds": self.n_rounds,
            "n_actions": self.n_actions,
            "len_list": self.len_list,
            "context": self.context,
            "action": self.action,
            "position": self.position,
            "reward": self.reward,
            "pscore": self.pscore,
            "action_context": self.action_context,
        }


CAMPAIGNS = ("all", "men", "women")


def resolve_obd_log(path: str | os.PathLike[str], campaign: str = "all") -> tuple[Path, str]:
    """The impression log file an OBD path names, and its campaign.

    Tried in order: ``path`` itself (a file; its campaign is the directory name when the file is
    ``<campaign>/<campaign>.csv``); a campaign directory (``<dir>/<dir name>.csv``, then
    ``<dir>/<campaign>.csv``, then ``<dir>/all.csv`` for a file renamed by hand); a policy directory
    (``<dir>/<campaign>/<campaign>.csv``, then ``.../all.csv``). A policy directory without the
    ``all`` campaign but with exactly one other is read as that one.

    Raises
    ------
    InputError
        Nothing found (naming what was tried and the campaigns that are there).
    """
    p = Path(path)
    if p.is_file():
        named = p.stem == p.parent.name or p.parent.name in CAMPAIGNS
        return p, (p.parent.name if named else campaign)
    if p.is_dir():
        own = p.name if p.name in CAMPAIGNS else campaign  # a campaign directory names its campaign
        for name, found in ((f"{p.name}.csv", p.name), (f"{campaign}.csv", own), ("all.csv", own)):
            if (p / name).is_file():
                return p / name, found
        for name in (f"{campaign}.csv", "all.csv"):
            if (p / campaign / name).is_file():
                return p / campaign / name, campaign
        present = sorted(d.name for d in p.iterdir() if d.is_dir() and (d / f"{d.name}.csv").is_file())
        if campaign == "all" and len(present) == 1:
            return p / present[0] / f"{present[0]}.csv", present[0]
        if present:
            raise InputError(
                f"no '{campaign}' campaign under {p}; it holds the campaigns {', '.join(present)}: pass one's "
                f"directory (e.g. {p / present[0]})", file=str(p), rule="OBD layout <policy>/<campaign>/<campaign>.csv")
    raise InputError(
        f"no OBD log found at {p} (looked for {p / (p.name + '.csv')}, {p / 'all.csv'} and "
        f"{p / campaign / (campaign + '.csv')})",
        file=str(p),
        rule="OBD layout <policy>/<campaign>/<campaign>.csv",
    )


def _check_columns(columns: list[str], required: tuple[str, ...], patterns, file: Path) -> list[str]:
    data_cols = [c for c in columns if c not in _INDEX_COLUMNS]
    unexpected = [c for c in data_cols if c not in required and not any(p.fullmatch(c) for p in patterns)]
    missing = [c for c in required if c not in data_cols]
    if unexpected or missing:
        parts = []
        if unexpected:
            parts.append(f"unexpected columns {unexpected}")
        if missing:
            parts.append(f"missing columns {missing}")
        raise InputError(
            "; ".join(parts) + f". Expected {list(required)} plus "
            + " / ".join(p.pattern for p in patterns),
            file=str(file),
            column=(unexpected or missing)[0],
            rule="OBD columns",
        )
    return data_cols


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _numeric(df: pd.DataFrame, col: str, file: Path) -> np.ndarray:
    values = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        i = _first_bad(bad)
        raise InputError(
            f"{int(bad.sum())} non-numeric or missing value(s)", file=str(file), row=i + 1, column=col,
            rule="numeric", value=df[col].iloc[i],
        )
    return values


def _integral(df: pd.DataFrame, col: str, file: Path, low: int, high: int) -> np.ndarray:
    values = _numeric(df, col, file)
    bad = (values != np.round(values)) | (values < low) | (values > high)
    if bad.any():
        i = _first_bad(bad)
        raise InputError(
            f"{int(bad.sum())} value(s) outside the integers {low}..{high}", file=str(file), row=i + 1,
            column=col, rule=f"integer in [{low}, {high}]", value=df[col].iloc[i],
        )
    return values.astype(np.int64)


def _one_hot(frame: pd.DataFrame, cols: list[str], categories: dict[str, tuple[str, ...]] | None):
    blocks, names, used = [], [], {}
    for col in cols:
        values = frame[col].astype(str).to_numpy()
        cats = tuple(sorted(set(values))) if categories is None or col not in categories else categories[col]
        used[col] = cats
        index = {c: j for j, c in enumerate(cats)}
        # A category unseen in `categories` maps to an all-zero row: the second log of a pair may
        # hold a hash the first never saw, and "none of the known categories" is the honest encoding.
        codes = np.array([index.get(v, -1) for v in values])
        block = np.zeros((len(values), len(cats)))
        known = codes >= 0
        block[np.flatnonzero(known), codes[known]] = 1.0
        blocks.append(block)
        names += [f"{col}={c}" for c in cats]
    matrix = np.hstack(blocks) if blocks else np.zeros((len(frame), 0))
    return matrix, names, used


def _load_item_context(path: Path, n_actions: int) -> tuple[np.ndarray, tuple[str, ...]]:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    cols = _check_columns(list(frame.columns), _ITEM_COLUMNS, (_ITEM_PATTERN,), path)
    item_id = _integral(frame, "item_id", path, 0, 10**9)
    if sorted(item_id.tolist()) != list(range(n_actions)):
        raise InputError(
            f"item_id must list each of 0..{n_actions - 1} exactly once (found {len(item_id)} rows)",
            file=str(path), column="item_id", rule="one row per item",
        )
    frame = frame.iloc[np.argsort(item_id)].reset_index(drop=True)
    feats = [c for c in cols if c != "item_id"]
    numeric, categorical = [], []
    for col in feats:
        ok = pd.to_numeric(frame[col], errors="coerce").notna().all()
        (numeric if ok else categorical).append(col)
    num = frame[numeric].astype(float).to_numpy() if numeric else np.zeros((n_actions, 0))
    cat, cat_names, _ = _one_hot(frame, categorical, None)
    return np.hstack([num, cat]), tuple(numeric) + tuple(cat_names)


def load_obd(
    path: str | os.PathLike[str],
    *,
    campaign: str = "all",
    policy_name: str | None = None,
    n_actions: int | None = None,
    include_affinity: bool = False,
    user_categories: dict[str, tuple[str, ...]] | None = None,
) -> OBDFeedback:
    """Read one OBD log (``<campaign>.csv`` + ``item_context.csv``) into an :class:`OBDFeedback`.

    Parameters
    ----------
    path : path-like
        The log itself (``.../bts/men/men.csv``), its campaign directory (``.../bts/men``) or the
        policy directory (``.../bts``); see :func:`resolve_obd_log`.
    campaign : str
        Campaign (``all``, ``men``, ``women``) read from a policy directory; a campaign directory
        or file names its own.
    policy_name : str, optional
        Defaults to the directory above the campaign (``random`` or ``bts``).
    n_actions : int, optional
        Number of items; defaults to the rows of ``item_context.csv`` (or ``max(item_id) + 1``
        when that file is absent).
    include_affinity : bool
        Append the ``user-item_affinity_*`` columns to ``context`` (OBP leaves them out).
    user_categories : dict, optional
        Category lists for the one-hot user features (from another log's ``user_categories``).

    Returns
    -------
    OBDFeedback

    Raises
    ------
    InputError
        Unexpected or missing columns (named), non-numeric values, ``item_id`` or ``position``
        out of range, ``click`` not 0/1, ``propensity_score`` outside (0, 1] (with the first row).

    Examples
    --------
    >>> from pathlib import Path
    >>> fb = load_obd(Path("tests/data/obd/random/all"))  # doctest: +SKIP
    >>> fb.context.shape[0] == fb.n_rounds                  # doctest: +SKIP
    True
    """
    file, campaign = resolve_obd_log(path, campaign)
    frame = pd.read_csv(file, dtype=str, keep_default_na=False)
    cols = _check_columns(list(frame.columns), REQUIRED_COLUMNS, _PATTERN_COLUMNS, file)
    if len(frame) == 0:
        raise InputError("the log has no rows", file=str(file), rule="non-empty log")
    item_path = file.parent / "item_context.csv"
    if n_actions is None:
        n_actions = len(pd.read_csv(item_path)) if item_path.is_file() else None
    action = _integral(frame, "item_id", file, 0, (n_actions - 1) if n_actions else 10**9)
    n_actions = n_actions or int(action.max()) + 1
    position = _integral(frame, "position", file, 1, 10**6) - 1
    len_list = int(position.max()) + 1
    reward = _integral(frame, "click", file, 0, 1).astype(float)
    pscore = _numeric(frame, "propensity_score", file)
    bad = (pscore <= 0) | (pscore > 1)
    if bad.any():
        i = _first_bad(bad)
        raise InputError(
            f"{int(bad.sum())} propensity score(s) outside (0, 1]", file=str(file), row=i + 1,
            column="propensity_score", rule="propensity_score in (0, 1]", value=frame["propensity_score"].iloc[i],
        )
    ts = pd.to_datetime(frame["timestamp"], errors="coerce", utc=True)
    if ts.isna().any():
        i = _first_bad(ts.isna().to_numpy())
        raise InputError("unparseable timestamp", file=str(file), row=i + 1, column="timestamp",
                         rule="ISO-8601 timestamp", value=frame["timestamp"].iloc[i])
    timestamp = ts.dt.as_unit("ms").astype("int64").to_numpy()
    user_cols = sorted((c for c in cols if c.startswith("user_feature_")), key=lambda c: int(c.rsplit("_", 1)[1]))
    context, names, used = _one_hot(frame, user_cols, user_categories)
    if include_affinity:
        aff_cols = sorted((c for c in cols if c.startswith("user-item_affinity_")),
                          key=lambda c: int(c.rsplit("_", 1)[1]))
        context = np.hstack([context] + [_numeric(frame, c, file)[:, None] for c in aff_cols])
        names += aff_cols
    if item_path.is_file():
        action_context, ac_names = _load_item_context(item_path, n_actions)
    else:  # no item features: fall back to identity, so regression still sees the item
        action_context, ac_names = np.eye(n_actions), tuple(f"item={i}" for i in range(n_actions))
    if policy_name is None:
        policy_name = file.parent.parent.name if file.parent.name == campaign else file.parent.name
    return OBDFeedback(
        context=context,
        action=action,
        position=position,
        reward=reward,
        pscore=pscore,
        n_actions=int(n_actions),
        len_list=len_list,
        action_context=action_context,
        policy_name=policy_name,
        campaign=campaign,
        timestamp=timestamp,
        context_names=tuple(names),
        action_context_names=ac_names,
        user_categories=used,
        source=str(file),
    )
