"""Context featurization: turn (item, segment, placement, user) into model inputs.

Vocabularies for ``segment``, ``placement``, ``category`` and slots ``(placement, position)`` are
fitted on the training logs and saved in ``reward_config.json``. Index 0 of every vocabulary is a
reserved "unknown" entry, so a category or segment never seen in training still scores (it gets
the learned unknown embedding) instead of failing. Numeric inputs are standardized with the
training mean and standard deviation:

    x_num = [log1p(price), discount_pct / 100, user_features...]   (standardized)
    x_txt = surface statistics of the copy (length, digits, "!", overlap with the item title...)

``user_features`` dicts become a fixed vector: numeric keys (sorted) are standardized (a missing
key is 0 = the training mean); string-valued keys become multi-hot ``key=value`` indicators.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

UNKNOWN = "<unknown>"
MAX_USER_CATEGORIES = 64
_WORD = re.compile(r"[a-z0-9%$]+")


def _vocab(values: pd.Series) -> list[str]:
    return [UNKNOWN, *sorted({str(v) for v in values.dropna().unique()} - {UNKNOWN})]


def _index(vocab: list[str], values: pd.Series) -> np.ndarray:
    lookup = {v: i for i, v in enumerate(vocab)}
    return np.fromiter((lookup.get(str(v), 0) for v in values), dtype=np.int64, count=len(values))


def parse_user_features(value: Any) -> dict[str, Any]:
    """A ``user_features`` cell as a dict (dicts, JSON strings, None/NaN all accepted)."""
    if isinstance(value, dict):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return {}
    if isinstance(value, str):
        return json.loads(value) if value.strip() else {}
    return dict(value)


def item_text(row: pd.Series | dict) -> str:
    """The item's text for the encoder: ``"title | key attribute"`` (or the first attributes)."""
    attrs = row.get("attributes")
    if isinstance(attrs, str):
        attrs = json.loads(attrs) if attrs.strip() else {}
    if not isinstance(attrs, dict):
        attrs = {}
    if "key_attribute" in attrs:
        extra = str(attrs["key_attribute"])
    else:
        extra = ", ".join(f"{k}: {v}" for k, v in list(attrs.items())[:3])
    return f"{row['title']} | {extra}" if extra else str(row["title"])


def surface_features(copy_text: pd.Series, title: pd.Series, brand: pd.Series, category: pd.Series) -> np.ndarray:
    """Cheap statistics of the copy text that an embedding sees poorly.

    Returns
    -------
    ndarray, shape (n, 8), float32
        chars/100, words/20, uppercase fraction, "!" count (capped at 3)/3, has digit, has "%",
        fraction of title words present in the copy, brand mentioned.
    """
    out = np.zeros((len(copy_text), 8), dtype=np.float32)
    for i, (text, ttl, br, _cat) in enumerate(zip(copy_text, title, brand, category, strict=True)):
        text = str(text)
        low = text.lower()
        words = _WORD.findall(low)
        letters = [c for c in text if c.isalpha()]
        title_words = set(_WORD.findall(str(ttl).lower()))
        out[i] = (
            len(text) / 100.0,
            len(words) / 20.0,
            sum(c.isupper() for c in letters) / max(len(letters), 1),
            min(text.count("!"), 3) / 3.0,
            float(any(c.isdigit() for c in text)),
            float("%" in text),
            len(title_words & set(words)) / max(len(title_words), 1),
            float(bool(str(br).strip()) and str(br).lower() in low),
        )
    return out


@dataclass
class ContextFeatures:
    """Model inputs for n rows (all numpy, aligned with the frame)."""

    segment: np.ndarray  # (n,) int64
    placement: np.ndarray  # (n,) int64
    category: np.ndarray  # (n,) int64
    slot: np.ndarray  # (n,) int64, 0 = unknown slot or position 0 (no bias)
    numeric: np.ndarray  # (n, d_num) float32


@dataclass
class FeatureSpace:
    """Vocabularies and scalers fitted on training rows; JSON round-trips via ``to_dict``."""

    segments: list[str] = field(default_factory=lambda: [UNKNOWN])
    placements: list[str] = field(default_factory=lambda: [UNKNOWN])
    categories: list[str] = field(default_factory=lambda: [UNKNOWN])
    slots: list[str] = field(default_factory=lambda: [UNKNOWN])
    user_numeric: list[str] = field(default_factory=list)
    user_categorical: list[str] = field(default_factory=list)
    num_mean: list[float] = field(default_factory=list)
    num_std: list[float] = field(default_factory=list)

    @staticmethod
    def slot_key(placement: Any, position: Any) -> str:
        return f"{placement}#{int(position)}"

    @classmethod
    def fit(cls, joined: pd.DataFrame) -> FeatureSpace:
        """Fit on training logs already joined with the catalog (see ``join_items``)."""
        space = cls(
            segments=_vocab(joined["segment"]) if "segment" in joined else [UNKNOWN],
            placements=_vocab(joined["placement"]),
            categories=_vocab(joined["category"]),
        )
        # Position 0 is the reference slot of each placement (bias fixed at 0), so it gets no entry.
        later = joined.loc[joined["position"].astype(int) > 0]
        pairs = zip(later["placement"], later["position"], strict=True)
        space.slots = [UNKNOWN, *sorted({cls.slot_key(p, q) for p, q in pairs})]
        if "user_features" in joined:
            numeric: set[str] = set()
            categorical: dict[str, int] = {}
            for feats in joined["user_features"].map(parse_user_features):
                for key, val in feats.items():
                    if isinstance(val, bool) or isinstance(val, (int, float)):
                        numeric.add(key)
                    elif val is not None:
                        name = f"{key}={val}"
                        categorical[name] = categorical.get(name, 0) + 1
            space.user_numeric = sorted(numeric)
            top = sorted(categorical, key=lambda k: (-categorical[k], k))[:MAX_USER_CATEGORIES]
            space.user_categorical = sorted(top)
        raw = space._raw_numeric(joined)
        space.num_mean = raw.mean(axis=0).tolist()
        space.num_std = np.maximum(raw.std(axis=0), 1e-6).tolist()
        return space

    @property
    def n_numeric(self) -> int:
        return 2 + len(self.user_numeric) + len(self.user_categorical)

    def _raw_numeric(self, joined: pd.DataFrame) -> np.ndarray:
        n = len(joined)
        out = np.zeros((n, self.n_numeric), dtype=np.float64)
        out[:, 0] = np.log1p(joined["price"].to_numpy(dtype=np.float64))
        out[:, 1] = joined["discount_pct"].to_numpy(dtype=np.float64) / 100.0
        if (self.user_numeric or self.user_categorical) and "user_features" in joined:
            num_pos = {k: 2 + i for i, k in enumerate(self.user_numeric)}
            cat_pos = {k: 2 + len(self.user_numeric) + i for i, k in enumerate(self.user_categorical)}
            means = self.num_mean if self.num_mean else None
            for r, feats in enumerate(joined["user_features"].map(parse_user_features)):
                if means is not None:  # missing numeric keys default to the training mean
                    for j in num_pos.values():
                        out[r, j] = means[j]
                for key, val in feats.items():
                    if key in num_pos and isinstance(val, (bool, int, float)):
                        out[r, num_pos[key]] = float(val)
                    elif f"{key}={val}" in cat_pos:
                        out[r, cat_pos[f"{key}={val}"]] = 1.0
        return out

    def transform(self, joined: pd.DataFrame) -> ContextFeatures:
        """Index and scale a joined frame; ``position`` is optional (absent -> no slot bias)."""
        seg = joined["segment"] if "segment" in joined else pd.Series([UNKNOWN] * len(joined))
        if "position" in joined:
            keys = [self.slot_key(p, q) for p, q in zip(joined["placement"], joined["position"], strict=True)]
            slot = _index(self.slots, pd.Series(keys, dtype=object))
        else:
            slot = np.zeros(len(joined), dtype=np.int64)
        raw = self._raw_numeric(joined)
        numeric = (raw - np.asarray(self.num_mean)) / np.asarray(self.num_std)
        return ContextFeatures(
            segment=_index(self.segments, seg),
            placement=_index(self.placements, joined["placement"]),
            category=_index(self.categories, joined["category"]),
            slot=slot,
            numeric=numeric.astype(np.float32),
        )

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpace:
        return cls(**data)
