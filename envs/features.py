"""The numeric context a placement bandit observes, built the same way for simulated shoppers and logs.

Layout (``d = n_segments + n_user_features + n_placements + 1 + n_categories + 2`` columns):

=====================  =========================================  =======  =======
columns                meaning                                    min      max
=====================  =========================================  =======  =======
``segment=<s>``        one-hot of the shopper's segment           0        1
``user:<f>``           numeric user feature (market: in [0, 1])   0        1
``placement=<p>``      one-hot of the placement                   0        1
``examination``        P(shopper looks at the slot) = position    0        1
                       bias of ``placement`` at ``position``
``category=<c>``       one-hot of the item's category             0        1
``log_price``          ``(log price - lo) / (hi - lo)`` over the  0        1
                       catalog's price range
``discount``           ``discount_pct / 100``                     0        0.95
``pool=<item>|<plc>``  one-hot of the copy pool (item x            0        1
                       placement); only when ``pools`` is given
=====================  =========================================  =======  =======

Why the pool one-hot: each item x placement pool lists its variants in its own order, so
action ``k`` means a different copy in every pool; a per-arm linear model can only learn which
index is good for which pool when it sees the pool.

Unknown segments, placements or categories are errors naming the value (never a silent zero row).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rlopt.data.schema import Placement
from rlopt.errors import InputError


@dataclass(frozen=True)
class ContextEncoder:
    """Turns (segment, user features, placement, position, item) rows into float32 contexts.

    Parameters
    ----------
    segments : sequence of str
        Segment labels, in one-hot order.
    user_features : sequence of str
        Numeric user feature names, in column order.
    placements : mapping of str to Placement
        Placement configs (for the one-hot and the examination probability).
    catalog : DataFrame
        Contract catalog (``item_id, category, price, discount_pct``).
    """

    segments: tuple[str, ...]
    user_features: tuple[str, ...]
    placements: Mapping[str, Placement]
    catalog: pd.DataFrame
    pools: tuple[tuple[str, str], ...] = ()

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(sorted(self.catalog["category"].astype(str).unique()))

    @property
    def feature_names(self) -> tuple[str, ...]:
        return (
            *(f"segment={s}" for s in self.segments),
            *(f"user:{f}" for f in self.user_features),
            *(f"placement={p}" for p in self.placements),
            "examination",
            *(f"category={c}" for c in self.categories),
            "log_price",
            "discount",
            *(f"pool={i}|{p}" for i, p in self.pools),
        )

    @property
    def dim(self) -> int:
        return len(self.feature_names)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-column ``(low, high)`` of the observation space, float32 each of shape ``(d,)``."""
        low = np.zeros(self.dim, dtype=np.float32)
        high = np.ones(self.dim, dtype=np.float32)
        return low, high

    def encode(self, frame: pd.DataFrame, source: str = "contexts") -> np.ndarray:
        """Encode ``frame`` (``segment, item_id, placement`` [+ ``position``, ``user_features``]).

        Returns
        -------
        ndarray of float32, shape ``(len(frame), d)``
        """
        n = len(frame)
        seg = _index_of(frame["segment"].astype(str), self.segments, "segment", source)
        plc_names = tuple(self.placements)
        plc = _index_of(frame["placement"].astype(str), plc_names, "placement", source)
        cat_lookup = self.catalog.set_index("item_id")
        items = frame["item_id"].astype(str)
        missing = ~items.isin(cat_lookup.index)
        if missing.any():
            i = int(np.flatnonzero(missing.to_numpy())[0])
            raise InputError(f"item '{items.iloc[i]}' is not in the catalog", file=source, row=i + 1,
                             column="item_id", rule="item_id present in the catalog", value=items.iloc[i])
        cat = _index_of(cat_lookup.loc[items, "category"].astype(str), self.categories, "category", source)
        price = cat_lookup.loc[items, "price"].to_numpy(dtype=np.float64)
        disc = cat_lookup.loc[items, "discount_pct"].to_numpy(dtype=np.float64)
        pos = frame["position"].to_numpy(dtype=np.int64) if "position" in frame else np.zeros(n, np.int64)
        exam = np.empty(n)
        for j, name in enumerate(plc_names):
            rows = plc == j
            e = np.asarray(self.placements[name].examination)
            bad = rows & ((pos < 0) | (pos >= e.size))
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise InputError(f"position {pos[i]} is outside placement '{name}' (slots 0..{e.size - 1})",
                                 file=source, row=i + 1, column="position", rule="0 <= position < slots",
                                 value=int(pos[i]))
            exam[rows] = e[pos[rows]]
        lo, hi = np.log(self.catalog["price"].min()), np.log(self.catalog["price"].max())
        blocks = [
            _one_hot(seg, len(self.segments)),
            self._user_block(frame, source),
            _one_hot(plc, len(plc_names)),
            exam[:, None],
            _one_hot(cat, len(self.categories)),
            ((np.log(price) - lo) / max(hi - lo, 1e-12))[:, None],
            (disc / 100.0)[:, None],
        ]
        if self.pools:
            keys = items.reset_index(drop=True) + "|" + frame["placement"].astype(str).reset_index(drop=True)
            idx = _index_of(keys, tuple(f"{i}|{p}" for i, p in self.pools), "pool", source)
            blocks.append(_one_hot(idx, len(self.pools)))
        return np.clip(np.concatenate(blocks, axis=1), 0.0, 1.0).astype(np.float32)

    def _user_block(self, frame: pd.DataFrame, source: str) -> np.ndarray:
        out = np.zeros((len(frame), len(self.user_features)))
        if not self.user_features or "user_features" not in frame:
            return out
        for i, feats in enumerate(frame["user_features"]):
            if not isinstance(feats, Mapping):
                continue  # absent for this row: the features stay at 0 (documented default)
            for j, name in enumerate(self.user_features):
                if name in feats:
                    value = feats[name]
                    try:
                        out[i, j] = float(value)
                    except (TypeError, ValueError):
                        raise InputError(f"user feature '{name}' must be numeric", file=source, row=i + 1,
                                         column="user_features", rule="numeric user features",
                                         value=value) from None
        return out


def _index_of(values: pd.Series, vocab: Sequence[str], column: str, source: str) -> np.ndarray:
    lookup = {v: i for i, v in enumerate(vocab)}
    idx = values.map(lookup)
    if idx.isna().any():
        i = int(np.flatnonzero(idx.isna().to_numpy())[0])
        raise InputError(f"unknown {column} '{values.iloc[i]}'; known: {', '.join(vocab)}", file=source,
                         row=i + 1, column=column, rule=f"{column} in the market config", value=values.iloc[i])
    return idx.to_numpy(dtype=np.int64)


def _one_hot(index: np.ndarray, size: int) -> np.ndarray:
    out = np.zeros((index.size, size))
    out[np.arange(index.size), index] = 1.0
    return out
