"""Claims a copy states that its item's own facts do not back: numbers, and fact phrases without one.

One job: find the checkable claims in a piece of copy outside its discount and price claims (those
are judged by :mod:`rlopt.generation.compliance`) and say which of them neither the item's catalog
row nor the copy the shop itself logged for the item contains. A tuned generator learns phrases
that earn clicks for *some* items and writes them for others: "Loved by 10,000+ shoppers" is the
shop's claim for the items it logged it for, and a made-up one for the rest; "hot for 12 hours" is
a fact of one flask, not of a candle; "free shipping this week" is an offer on some items only.

Two kinds of claim are read:

- **numbers** (:func:`stated_numbers`): compared after normalizing "10,000" / "10000" / "10k" /
  "10,000+" to one value; numbers inside discount or price claims ("30% off", "$29.99") are left
  to the compliance rule;
- **fact phrases** (:func:`stated_phrases`, :data:`FACT_PHRASES`): wording that states a
  checkable fact without a number: social proof ("loved by", "customer favourite"), sales rank
  ("best seller", "most popular"), ratings ("top rated", "five-star"), awards, "handmade", origin
  ("made in Italy"), certifications and health claims ("organic", "vegan", "clinically proven",
  "vet recommended"), scarcity ("selling fast", "limited edition"), offers that are not discounts
  ("free shipping", "free returns", "free gift") and guarantees ("lifetime warranty"). Each is read as a *key* ("Best-selling" and "bestseller" are
  both ``best seller``; "hand woven" and "handcrafted" are both ``handmade``).

The rule: a claim is *supported* for an item when the same number or key appears in any field of
the item's catalog row (title, description, attributes, ...) or in any copy logged for the item
(the shop's own claim). A shop-wide fact ("free returns on everything") is backed by putting it in
a catalog column.

What is not read, and why: puffery ("premium", "exclusive", "luxurious", "perfect for") states no
fact a shopper could check, so it is the copywriter's, not a claim (the distinction advertising law
draws); product properties ("waterproof", "leather") are too many to list, so a copy calling a
candle waterproof is not caught; nor is wording outside the patterns (English only).

Rewards (:class:`rlopt.tuning.rewards.ClaimSupportPenalty`), the generation-time check
(:func:`rlopt.generation.sample.generate_copies`), the report's copy checks and the foreign-markets
benchmark use this one rule.

Examples
--------
>>> import pandas as pd
>>> catalog = pd.DataFrame([{"item_id": "f1", "title": "Trail Flask 750", "price": 30.0, "discount_pct": 0.0}])
>>> logs = pd.DataFrame({"item_id": ["f1"], "copy_text": ["Trail Flask - hot for 12 hours, free shipping"]})
>>> support = ClaimSupport(catalog, logs)
>>> support.unsupported("Trail Flask 750 - hot for 12 hours, ships free", "f1")
[]
>>> support.unsupported("Loved by 10,000+ shoppers, hot for 24 hours", "f1")
['loved by', '10000', '24']
>>> support.unsupported("Trail Flask, 20% off", "f1")  # a discount claim: the compliance rule's job
[]
"""

from __future__ import annotations

import re
from collections import Counter
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


#: Fact phrases a copy can state without a number, by key: a pattern per key, matched case-insensitively
#: on word boundaries. A claim is backed for an item when its key is found in the item's facts.
FACT_PHRASES: dict[str, str] = {
    # social proof and sales rank
    "loved by": r"loved by|trusted by|(?:customer|fan|shopper|crowd|staff|reader)s?'? fav(?:ou)?rites?",
    "best seller": r"best[- ]?sell(?:er|ers|ing)|most[- ]popular|top[- ]sell(?:er|ers|ing)|number one|no\.? ?1",
    "top rated": r"top[- ]rated|highest[- ]rated|highly[- ]rated|five[- ]stars?|5[- ]stars?|rated \d(?:\.\d)?",
    "award": r"award[- ]?winn(?:ing|er)|awarded|prize[- ]winning",
    "as seen on": r"as seen (?:on|in)",
    # how and where it is made
    "handmade": r"hand[- ]?(?:made|crafted|woven|knit(?:ted)?|stitched|sewn|painted|poured|built|finished|carved|thrown)"
                r"|made by hand",
    "made in": r"made in (?:the )?[a-z]+",
    # certifications and health claims
    "organic": r"(?:certified )?organic",
    "certified": r"certified(?! organic)",
    "vegan": r"vegan",
    "cruelty free": r"cruelty[- ]free",
    "fair trade": r"fair[- ]?trade",
    "recycled": r"recycled|upcycled",
    "non-toxic": r"non[- ]?toxic|bpa[- ]free",
    "hypoallergenic": r"hypo[- ]?allergenic",
    "clinically proven": r"clinically (?:proven|tested)|(?:dermatologist|doctor|dentist|vet)[- ]?(?:tested|approved"
                         r"|recommended)",
    "patented": r"patented|patent[- ]pending",  # not "patent leather"
    # scarcity
    "limited edition": r"limited[- ]edition",
    "scarcity": r"(?:low|limited) stock|selling fast|almost gone|(?:only )?a few left|while (?:stocks?|supplies) last",
    # offers and guarantees that are not discounts
    "free shipping": r"free (?:shipping|delivery|postage)|ships? free|delivered free",
    "free returns": r"free returns?",
    "free gift": r"free gift|gift with (?:every )?purchase",
    "guarantee": r"(?:money[- ]back|lifetime|satisfaction) guarantee[ds]?|guaranteed for life|lifetime warranty"
                 r"|\d+[- ]years? warranty",
}
_PHRASES = [(key, re.compile(rf"(?<![\w-])(?:{pattern})(?![\w-])", re.I)) for key, pattern in FACT_PHRASES.items()]


def _phrase_matches(text: str) -> list[tuple[int, str]]:
    """``(start, key)`` of every fact phrase in ``text``; "made in X" keys carry X ("made in italy")."""
    found = []
    for key, pattern in _PHRASES:
        for m in pattern.finditer(text):
            found.append((m.start(), " ".join(m.group(0).lower().split()) if key == "made in" else key))
    return found


def stated_phrases(text: str) -> list[str]:
    """The fact-phrase keys :data:`FACT_PHRASES` finds in ``text``, in order of appearance.

    >>> stated_phrases("Best-selling handcrafted mug, made in Portugal - free delivery")
    ['best seller', 'handmade', 'made in portugal', 'free shipping']
    """
    return [key for _, key in sorted(_phrase_matches(str(text)))]


def _claims(text: str, price: float | None = None, skip_claims: bool = True) -> list[str]:
    """Fact-phrase keys and numbers in ``text``, in order of appearance."""
    text = str(text)
    spans = [(c.start, c.end) for c in parse_claims(text, price)] if skip_claims else []
    numbers = [(m.start(), _canonical(m.group(1), m.group(2))) for m in NUMBER.finditer(text)
               if not any(s <= m.start() < e for s, e in spans)]
    return [claim for _, claim in sorted(numbers + _phrase_matches(text))]


class ClaimSupport:
    """The claims each item's facts back: the numbers and fact phrases of its catalog row and logged copy.

    Parameters
    ----------
    catalog : DataFrame
        Contract catalog (``item_id`` and any fact columns; ``price`` to read price claims).
    logs : DataFrame, optional
        ``item_id, copy_text``: the shop's own copy (training logs only, when the same items are
        evaluated later). Without it only the catalog backs a claim.
    """

    def __init__(self, catalog: pd.DataFrame, logs: pd.DataFrame | None = None):
        ids = catalog["item_id"].astype(str)
        facts = catalog.drop(columns=["item_id"]).astype(str).agg(" ".join, axis=1)
        self.prices = dict(zip(ids, pd.to_numeric(catalog.get("price"), errors="coerce"), strict=True)) \
            if "price" in catalog.columns else {}
        self.support: dict[str, set[str]] = {i: set(_claims(f, skip_claims=False))
                                             for i, f in zip(ids, facts, strict=True)}
        if logs is not None and len(logs):
            shown = logs[["item_id", "copy_text"]].astype(str).drop_duplicates()
            for item, text in zip(shown["item_id"], shown["copy_text"], strict=True):
                self.support.setdefault(item, set()).update(_claims(text, skip_claims=False))

    def unsupported(self, text: str, item_id: str) -> list[str]:
        """The claims (number or phrase key) ``text`` states for ``item_id`` that its facts do not contain."""
        price = self.prices.get(str(item_id))
        backed = self.support.get(str(item_id), set())
        return [c for c in _claims(text, None if pd.isna(price) else price) if c not in backed]


def most_common_claims(claims_per_copy: Iterable[Iterable[str] | None], top: int = 5) -> dict[str, int]:
    """``{claim: copies stating it}`` for the ``top`` claims, most first (ties by name); a copy counts a claim once."""
    counts = Counter(c for claims in claims_per_copy if claims for c in set(claims))
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top])


__all__ = ["FACT_PHRASES", "NUMBER", "ClaimSupport", "most_common_claims", "stated_numbers", "stated_phrases"]
