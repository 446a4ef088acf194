"""The data contract's column names and the ``Placement`` type (see docs/design.md, "Data contract")."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

CATALOG_REQUIRED = ("item_id", "title", "category", "brand", "price", "discount_pct")
CATALOG_OPTIONAL = ("attributes", "currency")

LOG_REQUIRED = (
    "event_id", "timestamp", "user_id", "item_id", "placement", "position", "copy_text",
    "clicked", "converted",
)
LOG_OPTIONAL = ("segment", "user_features", "copy_id", "propensity", "revenue")

CONTEXT_REQUIRED = ("item_id", "segment", "placement")
CONTEXT_OPTIONAL = ("user_features",)

COPIES_REQUIRED = (*CONTEXT_REQUIRED, "copy_text")
COPIES_OPTIONAL = ("user_features", "generator", "sample_idx")


@dataclass(frozen=True)
class Placement:
    """Where copy is shown.

    Attributes
    ----------
    name : str
        e.g. ``push``, ``home_banner``, ``email_subject``, ``product_page``.
    max_chars : int
        Character limit; longer copy is cut off when shown.
    slots : int
        Number of slots (positions ``0 .. slots-1``).
    examination : tuple of float, length ``slots``
        Probability that a shopper looks at each slot (position bias).
    """

    name: str
    max_chars: int
    slots: int
    examination: tuple[float, ...]

    def __post_init__(self) -> None:
        if self.max_chars <= 0:
            raise ValueError(f"placement '{self.name}': max_chars must be > 0, got {self.max_chars}")
        if self.slots <= 0:
            raise ValueError(f"placement '{self.name}': slots must be > 0, got {self.slots}")
        if len(self.examination) != self.slots:
            raise ValueError(
                f"placement '{self.name}': examination has {len(self.examination)} values, "
                f"expected one per slot ({self.slots})"
            )
        if any(not (0.0 < p <= 1.0) for p in self.examination):
            raise ValueError(f"placement '{self.name}': examination probabilities must be in (0, 1]")

    def to_dict(self) -> dict:
        return {"max_chars": self.max_chars, "slots": self.slots, "examination": list(self.examination)}


# Columns that hold JSON objects: dicts in memory, JSON strings in CSV and Parquet files.
JSON_COLUMNS = ("user_features", "attributes")


def copy_id_for(text: str) -> str:
    """Stable id of a piece of copy: the first 16 hex characters of SHA-256 of its UTF-8 text.

    >>> copy_id_for("Save 20% today")
    'c933d9d090c95ebd'
    >>> len(copy_id_for("")) == 16
    True
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
