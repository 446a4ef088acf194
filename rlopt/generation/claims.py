"""Numbers a copy states that its item's own facts do not back.

One job: find the numbers in a piece of copy outside its discount and price claims (those are
judged by :mod:`rlopt.generation.compliance`) and say which of them neither the item's catalog row
nor the copy the shop itself logged for the item contains. A tuned generator learns phrases that
earn clicks for *some* items and writes them for others: "Loved by 10,000+ shoppers" is the shop's
claim for the items it logged it for, and a made-up one for the rest; "hot for 12 hours" is a
fact of one flask, not of a candle.

The rule: a number is *supported* for an item when it appears in any field of the item's catalog
row (title, description, price, ...) or in any copy logged for the item (the shop's own claim).
Numbers are compared after normalizing "10,000" / "10000" / "10k" / "10,000+" to one value.
Numbers inside discount or price claims ("30% off", "$29.99") are left to the compliance rule.
Claims without a number ("best seller", "top rated") are not caught.

Rewards (:class:`rlopt.tuning.rewards.ClaimSupportPenalty`) and the foreign-markets benchmark use
this one rule.

Examples
--------
>>> import pandas as pd
>>> catalog = pd.DataFrame([{"item_id": "f1", "title": "Trail Flask 750", "price": 30.0, "discount_pct": 0.0}])
>>> logs = pd.DataFrame({"item_id": ["f1"], "copy_text": ["Trail Flask - hot for 12 hours"]})
>>> support = NumberSupport(catalog, logs)
>>> support.unsupported("Trail Flask 750 - hot for 12 hours", "f1")
[]
>>> support.unsupported("Loved by 10,000+ shoppers, hot for 24 hours", "f1")
['10000', '24']
>>> support.unsupported("Trail Flask, 20% off", "f1")  # a discount claim: the compliance rule's job
[]
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

from rlopt.generation.compliance import parse_claims

#: A number as copy writes it: "12", "4.5", "10,000", "10k"; a trailing "+" is glue.
NUMBER = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(k\b|K\b)?")


def _canonical(digits: str, thousands: str | None) -> str:
    value = float(digits.replace(",", "")) * (1000.0 if thousands else 1.0)
    return str(int(value)) if value.is_integer() else f"{value:g}"


def stated_numbers(text: str, price: float | None = None, skip_claims: bool = True) -> list[str]:
    """The numbers in ``text``, normalized ("10,000+" -> "10000", "4.50" -> "4.5"), in order.

    With ``skip_claims``, numbers inside the discount and price claims of
    :func:`rlopt.generation.compliance.parse_claims` are left out.

    >>> stated_numbers("Loved by 10,000+ shoppers - 4.50 stars, 30% off")
    ['10000', '4.5']
    """
    text = str(text)
    spans = [(c.start, c.end) for c in parse_claims(text, price)] if skip_claims else []
    return [_canonical(m.group(1), m.group(2)) for m in NUMBER.finditer(text)
            if not any(s <= m.start() < e for s, e in spans)]


class NumberSupport:
    """The numbers each item's facts back: its catalog row and the copy logged for it.

    Parameters
    ----------
    catalog : DataFrame
        Contract catalog (``item_id`` and any fact columns; ``price`` to read price claims).
    logs : DataFrame, optional
        ``item_id, copy_text``: the shop's own copy (training logs only, when the same items are
        evaluated later). Without it only the catalog backs a number.
    """

    def __init__(self, catalog: pd.DataFrame, logs: pd.DataFrame | None = None):
        ids = catalog["item_id"].astype(str)
        facts = catalog.drop(columns=["item_id"]).astype(str).agg(" ".join, axis=1)
        self.prices = dict(zip(ids, pd.to_numeric(catalog.get("price"), errors="coerce"), strict=True)) \
            if "price" in catalog.columns else {}
        self.support: dict[str, set[str]] = {i: set(stated_numbers(f, skip_claims=False))
                                             for i, f in zip(ids, facts, strict=True)}
        if logs is not None and len(logs):
            shown = logs[["item_id", "copy_text"]].astype(str).drop_duplicates()
            for item, text in zip(shown["item_id"], shown["copy_text"], strict=True):
                self.support.setdefault(item, set()).update(stated_numbers(text, skip_claims=False))

    def unsupported(self, text: str, item_id: str) -> list[str]:
        """The numbers ``text`` states for ``item_id`` that its facts and logged copy do not contain."""
        price = self.prices.get(str(item_id))
        backed = self.support.get(str(item_id), set())
        return [n for n in stated_numbers(text, None if pd.isna(price) else price) if n not in backed]

    def flags(self, texts: Iterable[str], items: Iterable[str]) -> list[bool]:
        """Per copy: does it state a number its item's facts do not back?"""
        return [bool(self.unsupported(t, i)) for t, i in zip(texts, items, strict=True)]

    def share(self, copies: pd.DataFrame) -> float:
        """Share of ``copies`` (``item_id, copy_text``) with an unsupported number (``nan`` for none)."""
        if not len(copies):
            return float("nan")
        flags = self.flags(copies["copy_text"].astype(str), copies["item_id"].astype(str))
        return float(sum(flags) / len(flags))


__all__ = ["NUMBER", "NumberSupport", "stated_numbers"]
