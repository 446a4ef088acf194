"""Exposure features from the logs themselves: how often a shopper just saw this copy or its template.

A shopper who saw the same message a moment ago clicks it less (ad fatigue). The logs say who saw
what and when, so for each impression ``i`` of shopper ``u`` the counts over ``u``'s previous
``window`` impressions ``j`` (strictly earlier: by ``timestamp``, ties by row order) are::

    seen_copy_i     = #{j : copy_text_j == copy_text_i}
    seen_template_i = #{j : template(j) == template(i)}

``template`` is the copy with the item's own words masked (:func:`template`): the title, the brand
and the title's words become placeholders and every number ``#``, so "Just in: Corvo Slim Wallet"
and "Just in: Petra Minimal Ring" share one template. Only earlier impressions count, so a count is
known when the impression is served (no leakage from the outcome or from later rows).

At scoring time generated copy has no shopper history: the counts are 0 (a fresh shopper), which is
what ``RewardModel.score`` means. A frame that carries ``seen_copy`` / ``seen_template`` columns
(:func:`add_exposure`, e.g. a holdout counted with the training logs as ``history``) keeps them;
a frame with ``user_id`` and ``timestamp`` but no counts is counted on its own rows; any other
frame gets zeros.
"""

from __future__ import annotations

import re
from collections import deque

import numpy as np
import pandas as pd

WINDOW = 8  # previous impressions of the same shopper that count
COLUMNS = ("seen_copy", "seen_template")
_WORD = re.compile(r"[a-z0-9']+")


def template(text: str, title: str, brand: str) -> str:
    """The copy with the item's words masked: lower case, title -> ``T``, brand -> ``B``, each title
    word of 3+ letters -> ``W`` (runs of them -> one ``W``), numbers -> ``#``, punctuation dropped.

    >>> template("Just in: Corvo Slim Wallet", "Corvo Slim Wallet", "Corvo")
    'just in t'
    >>> template("Slim Wallet by Corvo, now 20% off", "Corvo Slim Wallet", "Corvo")
    'w by b now # off'
    """
    low = f" {str(text).lower()} "
    for part, mark in ((title, " t "), (brand, " b ")):
        part = str(part).strip().lower()
        if part:
            low = low.replace(part, mark)
    words = {w for w in _WORD.findall(str(title).lower()) if len(w) >= 3} - {"t", "b"}
    for w in sorted(words, key=len, reverse=True):
        low = re.sub(rf"\b{re.escape(w)}\b", " w ", low)
    low = re.sub(r"\d+", " # ", low)
    out = " ".join(re.findall(r"[a-z0-9']+|#", low))
    return re.sub(r"\bw( w)+\b", "w", out)


def exposure_counts(joined: pd.DataFrame, window: int = WINDOW) -> np.ndarray:
    """``(seen_copy, seen_template)`` per row, shape (n, 2), from a time-ordered pass over the rows.

    ``joined`` needs ``user_id, timestamp, copy_text, title, brand`` (logs joined with the catalog);
    without ``user_id`` or ``timestamp`` every count is 0.
    """
    n = len(joined)
    out = np.zeros((n, 2), dtype=np.float64)
    if n == 0 or "user_id" not in joined or "timestamp" not in joined:
        return out
    ts = joined["timestamp"]
    key = (ts if pd.api.types.is_numeric_dtype(ts) else pd.to_datetime(ts, utc=True).astype("int64")).to_numpy()
    order = np.lexsort((np.arange(n), key))
    copies = joined["copy_text"].astype(str).to_numpy()
    cache: dict[tuple[str, str, str], str] = {}
    templates = []
    for t, ttl, br in zip(copies, joined["title"].astype(str), joined["brand"].astype(str), strict=True):
        k = (t, ttl, br)
        if k not in cache:
            cache[k] = template(t, ttl, br)
        templates.append(cache[k])
    users = joined["user_id"].astype(str).to_numpy()
    recent: dict[str, deque] = {}
    for r in order:
        seen = recent.setdefault(users[r], deque(maxlen=window))
        out[r, 0] = sum(1 for c, _ in seen if c == copies[r])
        out[r, 1] = sum(1 for _, s in seen if s == templates[r])
        seen.append((copies[r], templates[r]))
    return out


def add_exposure(frame: pd.DataFrame, catalog: pd.DataFrame, history: pd.DataFrame | None = None,
                 window: int = WINDOW) -> pd.DataFrame:
    """``frame`` with ``seen_copy`` and ``seen_template`` columns, counted over ``history`` + ``frame``.

    ``history`` (earlier logs of the same shoppers, e.g. the training logs for a later holdout) is
    only read: its rows give the frame's first impressions their past. Rows of ``frame`` keep their
    order and index.
    """
    from reward_models.inputs import join_items

    parts = [frame] if history is None else [history, frame]
    cols = ["user_id", "timestamp", "copy_text", "item_id"]
    if not all(c in p for p in parts for c in cols):
        out = frame.copy()
        for c in COLUMNS:
            out[c] = 0.0
        return out
    both = pd.concat([p[cols] for p in parts], ignore_index=True)
    counts = exposure_counts(join_items(both, catalog), window)[len(both) - len(frame):]
    out = frame.copy()
    out["seen_copy"], out["seen_template"] = counts[:, 0], counts[:, 1]
    return out


def exposure_of(joined: pd.DataFrame, window: int = WINDOW) -> np.ndarray:
    """The counts a model reads for ``joined`` rows, shape (n, 2): the frame's ``seen_copy`` /
    ``seen_template`` columns when present, else counted on its own rows (zeros without shoppers)."""
    if all(c in joined for c in COLUMNS):
        return joined[list(COLUMNS)].to_numpy(np.float64)
    return exposure_counts(joined, window)
