"""Prompts for copy generation, built from a context (item x segment x placement).

The prompt states every fact the copy may use — title, category, brand, key attribute, price,
the *real* discount — plus who reads it (the segment's plain-English description), where
(the placement) and the hard character limit. Optionally it shows a few of the item's logged
copies that earned the most (few-shot examples, :mod:`rlopt.generation.fewshot`) and asks for a
new one. It is a chat (system + user messages) so the
same record feeds the tokenizer's chat template at generation time and TRL's conversational
datasets at tuning time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from rlopt.data.placements import placement_for
from rlopt.errors import InputError
from rlopt.generation.currency import money_text, normalize_code

SYSTEM_PROMPT = (
    "You write short, honest marketing copy for an online shop. Reply with the copy only: "
    "one line, no quotes, no hashtags."
)

_PLACEMENT_WORDS = {
    "push": "a push notification",
    "home_banner": "a home-page banner",
    "email_subject": "an email subject line",
    "product_page": "a product-page headline",
}
# A shop's own placement names, read by keyword (first match wins). Said as code ("a 'shop_home'
# placement") the small model echoes the name into the copy ("Here's a copy of the 'shop_home'
# placement") or writes about the placement instead of the item.
_PLACEMENT_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("push|notification", "a push notification"),
    ("email|newsletter|mail", "an email subject line"),
    ("upsell|checkout|cart|basket|cross_?sell", "a one-line add-on offer shown at checkout"),
    ("feed|grid|search|listing|tile|result|category|catalog|recommend", "a one-line caption for a product listing"),
    ("banner|carousel|hero|lookbook|home|landing", "a home-page banner"),
    ("product|pdp|detail", "a product-page headline"),
)
#: Attribute names that say nothing a shopper reads ("feature: 28 litres" is shown as "28 litres").
GENERIC_ATTRIBUTE_NAMES = frozenset({"feature", "key_feature", "key feature", "highlight", "usp", "attribute"})

#: Lines around few-shot examples in the user message (:func:`build_messages`).
EXAMPLES_HEADER = "Copies that worked for this item:"
EXAMPLES_REQUEST = "Write a new one; do not repeat them word for word."


def max_chars_for(placements: Mapping[str, Any], name: str) -> int:
    """Character limit of placement ``name``; a ``default`` entry covers unlisted names."""
    place = placement_for(placements, name)
    if place is None:
        raise KeyError(name)
    return int(place.max_chars)


def segment_description(segments: Mapping[str, Any] | None, segment: str) -> str:
    """Plain-English description of ``segment``: ``Segment.description``, a str value, or the name."""
    if segments and segment in segments:
        seg = segments[segment]
        desc = getattr(seg, "description", seg)
        if isinstance(desc, str) and desc.strip():
            return desc.strip()
    return str(segment).replace("_", " ")


def key_attribute(attributes: Any) -> str | None:
    """The catalog's ``key_attribute`` (or the first attribute) as ``"name: value"`` text.

    A generic name (:data:`GENERIC_ATTRIBUTE_NAMES`, e.g. ``feature``) is left out: the value alone.

    >>> key_attribute({"capacity": "28 litres"}), key_attribute({"feature": "28 litres"})
    ('capacity: 28 litres', '28 litres')
    """
    if not isinstance(attributes, Mapping) or not attributes:
        return None
    if "key_attribute" in attributes:
        return str(attributes["key_attribute"])
    name, value = next(iter(attributes.items()))
    # the prompt's own label is "Key feature:"; "Key feature: feature: 28 litres" came back as
    # "Backpack: feature: feature: 28 litres"
    return str(value) if str(name).strip().lower() in GENERIC_ATTRIBUTE_NAMES else f"{name}: {value}"


def placement_words(placement: str) -> str:
    """What a copy for ``placement`` is, in words the model reads as a task.

    The packaged names (:data:`_PLACEMENT_WORDS`), else a keyword of a shop's own name
    (:data:`_PLACEMENT_KEYWORDS`), else the name in plain words.

    >>> placement_words("push"), placement_words("newsletter_subject"), placement_words("product_grid")
    ('a push notification', 'an email subject line', 'a one-line caption for a product listing')
    >>> placement_words("billboard")
    'one line of ad copy for the billboard'
    """
    if placement in _PLACEMENT_WORDS:
        return _PLACEMENT_WORDS[placement]
    name = str(placement).lower()
    for pattern, words in _PLACEMENT_KEYWORDS:
        if re.search(pattern, name):
            return words
    words = " ".join(re.split(r"[_\W]+", name)).strip()
    return f"one line of ad copy for the {words}"


def format_discount(discount_pct: float) -> str:
    """``"25% off"`` (rounded to a whole percent) or ``"no discount"``."""
    pct = round(float(discount_pct))
    return f"{pct}% off" if pct > 0 else "no discount"


def build_messages(item: Mapping[str, Any], segment_text: str, placement: str,
                   max_chars: int, examples: Sequence[str] | None = None) -> list[dict[str, str]]:
    """Chat messages for one context.

    Parameters
    ----------
    item : mapping
        A catalog row: ``title, category, brand, price, discount_pct`` (+ optional ``attributes``).
    segment_text : str
        Who the copy is for (a segment description).
    placement : str
        Where it is shown; ``max_chars`` is its character limit.
    examples : sequence of str, optional
        Copies that worked for this item (best first), shown as examples before the request for a
        new one (:data:`EXAMPLES_HEADER`). None or empty: the prompt is the plain one.

    Examples
    --------
    >>> item = {"title": "Stride Trail Shoes", "brand": "Stride", "category": "shoes", "price": 89,
    ...         "discount_pct": 20}
    >>> print(build_messages(item, "runners", "push", 40, examples=["Grip on any trail"])[1]["content"])
    Write a push notification for shoppers who are runners.
    Product: Stride Trail Shoes
    Brand: Stride
    Category: shoes
    Price: $89.00
    Discount: 20% off
    Copies that worked for this item:
    - Grip on any trail
    Write a new one; do not repeat them word for word.
    At most 40 characters. Mention only the real discount.
    """
    where = placement_words(placement)
    facts = [
        f"Product: {item['title']}",
        f"Brand: {item['brand']}",
        f"Category: {item['category']}",
        f"Price: {money_text(float(item['price']), normalize_code(item.get('currency')))}",
        f"Discount: {format_discount(item['discount_pct'])}",
    ]
    attr = key_attribute(item.get("attributes"))
    if attr:
        facts.append(f"Key feature: {attr}")
    shown = [" ".join(str(e).split()) for e in (examples or []) if str(e).strip()]
    if shown:  # after the facts, so the copy still draws on them; the limit stays the last line
        facts += [EXAMPLES_HEADER, *(f"- {e}" for e in shown), EXAMPLES_REQUEST]
    user = (
        f"Write {where} for shoppers who are {segment_text}.\n"
        + "\n".join(facts)
        + f"\nAt most {int(max_chars)} characters. Mention only the real discount."
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def catalog_index(catalog: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """``item_id -> row dict`` for fast lookups."""
    return {str(r["item_id"]): r for r in catalog.to_dict("records")}


def context_messages(contexts: pd.DataFrame, catalog: pd.DataFrame, placements: Mapping[str, Any],
                     segments: Mapping[str, Any] | None = None,
                     source: str = "contexts") -> list[list[dict[str, str]]]:
    """Chat messages for every context row, checking items and placements.

    A context column ``examples`` (a list of copies per row, e.g. from
    :func:`rlopt.generation.fewshot.add_examples`) puts those copies in the row's prompt.

    Raises
    ------
    InputError
        Naming the row (from 1) and column of an unknown ``item_id`` or ``placement``.
    """
    check_contexts(contexts, catalog, placements, source)
    items = catalog_index(catalog)
    examples = contexts["examples"] if "examples" in contexts.columns else [None] * len(contexts)
    out = []
    for row, shown in zip(contexts.itertuples(index=False), examples, strict=True):
        limit = max_chars_for(placements, row.placement)
        out.append(build_messages(items[str(row.item_id)], segment_description(segments, row.segment),
                                  row.placement, limit, examples=example_list(shown)))
    return out


def example_list(value: Any) -> list[str]:
    """A context's ``examples`` cell as a list of copies (a list, an array, a JSON list string; missing -> []).

    >>> example_list('["a", "b"]'), example_list(None), example_list(["a"])
    (['a', 'b'], [], ['a'])
    """
    if value is None or (isinstance(value, float) and value != value):
        return []
    if isinstance(value, str):
        import json

        try:
            value = json.loads(value)
        except ValueError:
            return [value] if value.strip() else []
        if isinstance(value, str):
            return [value]
    return [str(v) for v in value if str(v).strip()]


def check_contexts(contexts: pd.DataFrame, catalog: pd.DataFrame, placements: Mapping[str, Any],
                   source: str = "contexts") -> None:
    """Every context names a catalog item and a known placement (errors give the 1-based row)."""
    for col in ("item_id", "segment", "placement"):
        if col not in contexts.columns:
            raise InputError(f"missing column '{col}' (contexts need item_id, segment, placement)",
                             file=source, column=col, rule="required column")
    known_items = set(catalog["item_id"].astype(str))
    for i, (item, place) in enumerate(zip(contexts["item_id"].astype(str), contexts["placement"],
                                          strict=True), start=1):
        if item not in known_items:
            raise InputError("item_id is not in the catalog", file=source, row=i, column="item_id",
                             rule="item_id present in the catalog", value=item)
        if place not in placements and "default" not in placements:
            raise InputError(f"unknown placement; known: {', '.join(sorted(placements))} "
                             "(or pass --placements)", file=source, row=i, column="placement",
                             rule="placement defined in the market config or --placements", value=place)
