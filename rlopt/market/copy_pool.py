"""Per-item, per-placement pools of templated copy for the logging policy.

Each pool mixes kinds on purpose, so logged data has something to learn from:

=========== ===================================================================
strong      item noun + key attribute + concrete benefit + call to action
discount    the item's real discount (or free shipping when there is none)
tone        one of premium / eco / urgency / family / casual tones (may not fit the shopper)
bland       names the item, nothing else
weak        off-topic or repetitive
misleading  claims a bigger discount than the real one (any claim on an undiscounted item)
overlong    a strong message that runs past the placement's ``max_chars``
=========== ===================================================================

The pool has ``pool_size`` entries: strong, bland, weak, misleading and overlong always, the rest
from discount and tones; order shuffled. Everything is deterministic from the market seed.
"""

from __future__ import annotations

import numpy as np

# Templates per kind, richest first: for a placement the first one that fits max_chars is used.
TEMPLATES: dict[str, tuple[str, ...]] = {
    "strong": (
        "{title}: {attr} and {benefit}. Shop now",
        "{Attr} {noun} with {benefit}. Get yours",
        "{Attr} {noun}. Shop now",
    ),
    "discount": (
        "{d}% off the {title} - {attr}, {benefit}. Shop now",
        "Save {d}% on {brand} {noun}, {attr}. Buy now",
        "{d}% off {brand} {noun}. Shop now",
    ),
    "free_shipping": (
        "{title} with {attr}, and free shipping. Order today",
        "{Attr} {noun}, free shipping. Order now",
        "{noun_cap}, free shipping. Shop now",
    ),
    "premium": (
        "Discover the {title}: exceptional {attr}, crafted to last. Explore",
        "Premium {attr} {noun} by {brand}. Discover it",
        "Premium {noun} by {brand}",
    ),
    "eco": (
        "{title}: {attr}, made responsibly, shipped plastic-free. Shop now",
        "Sustainable {noun} by {brand}, {attr}. Shop now",
        "Sustainable {brand} {noun}",
    ),
    "urgency": (
        "Last chance: {title} with {attr}. Ends tonight, order now",
        "Hurry, {brand} {noun} selling fast. Order now",
        "Hurry: {brand} {noun} going fast",
    ),
    "family": (
        "Busy mornings made easy: {title}, {benefit}. Get yours",
        "Easy everyday {noun} for the whole family. Get yours",
        "Easy everyday {noun}. Get yours",
    ),
    "casual": (
        "Hey, you'll love the {title} - {attr}! Grab yours",
        "You'll love these {attr} {noun}! Grab yours",
        "Love it: {brand} {noun}! Grab yours",
    ),
    "bland": ("The {title}.", "{brand} {noun}.", "{noun_cap}."),
    "weak": (
        "Something new just arrived in our store.",
        "You won't believe what is inside.",
        "Big news inside.",
        "{noun_cap} {noun} {noun} {noun} deal deal deal",
    ),
    "misleading": (
        "{fake}% off the {title} - today only! Shop now",
        "Save {fake}% on {brand} {noun} now",
        "{fake}% off {noun} today",
    ),
}
_FILLER = (
    " Designed with care and tested over many months by our team, it is the one you will reach for"
    " every single day, wherever the week takes you, season after season."
)
_REQUIRED = ("strong", "bland", "weak", "misleading", "overlong")
_OPTIONAL = ("discount", "premium", "eco", "urgency", "family", "casual")


def _fill(template: str, item: dict) -> str:
    attrs = item["attributes"]
    noun = attrs["noun"].lower()
    d = int(round(item["discount_pct"]))
    fake = max(d + 25, 40) if d > 0 else 35
    return template.format(
        title=item["title"], brand=item["brand"], noun=noun, noun_cap=noun.capitalize(),
        attr=attrs["key_attribute"], Attr=attrs["key_attribute"].capitalize(), benefit=attrs["benefit"],
        d=d, fake=min(fake, 80), category=item["category"].replace("_", " "),
    )


def _fitting(kind: str, item: dict, max_chars: int, rng: np.random.Generator) -> str:
    options = [_fill(t, item) for t in TEMPLATES[kind]]
    if kind == "weak":  # pick any weak text (off-topic or repetitive); not by length
        return options[int(rng.integers(len(options)))]
    for text in options:
        if len(text) <= max_chars:
            return text
    return options[-1]


def build_pool(item: dict, max_chars: int, pool_size: int, seed_seq: list[int]) -> list[tuple[str, str]]:
    """The pool of copy for one item in one placement (deterministic from ``seed_seq``).

    Parameters
    ----------
    item : dict
        One catalog row (``title, brand, category, discount_pct, attributes``).
    max_chars : int
        The placement's character limit (the overlong variant exceeds it, the others try to fit).
    pool_size : int
    seed_seq : list of int
        Seed material, e.g. ``[market_seed, item_index, placement_index]``.

    Returns
    -------
    list of (kind, text), length ``pool_size``
    """
    rng = np.random.default_rng(seed_seq)
    kinds = list(_REQUIRED)
    optional = list(_OPTIONAL)
    if item["discount_pct"] <= 0:
        optional[0] = "free_shipping"
    rng.shuffle(optional)
    while len(kinds) < pool_size:
        kinds.append(optional[(len(kinds) - len(_REQUIRED)) % len(optional)])
    kinds = kinds[:pool_size]
    texts = []
    for kind in kinds:
        if kind == "overlong":
            text = _fill(TEMPLATES["strong"][0], item) + "."
            while len(text) <= max_chars + 15:
                text += _FILLER
            texts.append(text)
        else:
            texts.append(_fitting(kind, item, max_chars, rng))
    order = rng.permutation(len(texts))
    return [(kinds[i], texts[i]) for i in order]
