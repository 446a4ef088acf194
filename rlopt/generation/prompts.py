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

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from rlopt.errors import InputError

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

#: Lines around few-shot examples in the user message (:func:`build_messages`).
EXAMPLES_HEADER = "Copies that worked for this item:"
EXAMPLES_REQUEST = "Write a new one; do not repeat them word for word."


def max_chars_for(placements: Mapping[str, Any], name: str) -> int:
    """Character limit of placement ``name``; a ``default`` entry covers unlisted names."""
    place = placements.get(name) or placements.get("default")
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
    """The catalog's ``key_attribute`` (or the first attribute) as ``"name: value"`` text."""
    if not isinstance(attributes, Mapping) or not attributes:
        return None
    if "key_attribute" in attributes:
        return str(attributes["key_attribute"])
    name, value = next(iter(attributes.items()))
    return f"{name}: {value}"


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
    where = _PLACEMENT_WORDS.get(placement, f"a '{placement}' placement")
    facts = [
        f"Product: {item['title']}",
        f"Brand: {item['brand']}",
        f"Category: {item['category']}",
        f"Price: ${float(item['price']):.2f}",
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
