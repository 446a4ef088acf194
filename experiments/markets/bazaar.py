"""Bazaar: a second, independently written shop simulator whose logs follow rlopt's data contract.

rlopt's own simulator (``rlopt.market``) decides what the tuned generator is graded on everywhere
else; a generator tuned on its logs could be learning *its* quirks. Bazaar shares no code, no
vocabulary and no response model with it: this file imports neither rlopt nor anything rlopt wrote,
and its shoppers respond to different things. It plays an outside shop: it writes only what such a
shop would hand over (``catalog.parquet``, ``train.parquet`` impression logs, ``placements.json``;
no market config, no segment descriptions, no copy templates), and keeps its truth to itself
(:class:`Truth`), which scores *any* copy text, so generated copy can be graded.

It is still a simulator written by this project's engineers, not a real shop; see the README.

How shoppers respond (the truth, per impression of ``copy`` for ``item`` in ``placement`` slot ``k``
seen by a shopper of ``segment``)::

    P(click)            = examination[placement][k] * sigmoid(z_click)
    P(buy | click)      = sigmoid(z_buy)
    z_click = appeal[item] + base[placement] + 0.9 * hits(segment's words, capped at 2)
              + 0.6 * names the product + 0.4 * names the brand (for brand-minded segments)
              + 0.5 * states the real discount (items with >= 10% off) + 0.3 * a call to action
              - 1.2 * length misfit - 1.5 * over the limit - 0.8 * SHOUTING - 1.0 * repetitive
              - 0.7 * claims a discount that is not the real one
    z_buy   = buy[item] + 0.4 * states the real discount + 0.3 * hits(segment's words) > 0
              - 2.0 * claims a discount that is not the real one (the shopper feels tricked)

Run: ``python -m experiments.markets.bazaar --out runs/bazaar --impressions 300000 --seed 0``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.markets._shop import draw_outcomes, main, probabilities, read_hidden, write_shop

# Shopper segments (names only: an outside shop's labels) and the words that pull each of them.
SEGMENT_WORDS = {
    "buying_a_gift": ("gift", "present", "surprise", "wrapped", "loved one", "treat"),
    "on_a_tight_budget": ("save", "deal", "affordable", "value", "budget", "bargain", "cheap"),
    "new_parents": ("safe", "gentle", "baby", "easy", "family", "peace of mind"),
    "tech_enthusiasts": ("smart", "fast", "latest", "pro", "powerful", "upgrade"),
}
BRAND_MINDED = {"buying_a_gift": 1.0, "on_a_tight_budget": 0.0, "new_parents": 0.5, "tech_enthusiasts": 1.0}
SEGMENT_SHARE = {"buying_a_gift": 0.25, "on_a_tight_budget": 0.35, "new_parents": 0.15, "tech_enthusiasts": 0.25}

PLACEMENTS = {  # name -> max_chars, slot examination, base click logit, the length shoppers like
    "app_push": {"max_chars": 60, "examination": [1.0], "base": -2.9, "ideal": 40},
    "homepage_carousel": {"max_chars": 70, "examination": [1.0, 0.7, 0.5, 0.35], "base": -3.0, "ideal": 50},
    "newsletter_subject": {"max_chars": 55, "examination": [1.0], "base": -2.8, "ideal": 38},
    "search_result": {"max_chars": 90, "examination": [1.0, 0.75, 0.55], "base": -2.5, "ideal": 65},
}

CATEGORIES = {  # category -> (nouns, adjectives, brands, key features, price range)
    "headphones": (("Headphones", "Earbuds", "Headset"), ("Wireless", "Noise-Cancelling", "Compact"),
                   ("Sonora", "Auralis", "Beatline"), ("battery: 30 hours", "weight: 180 g", "range: 15 m"),
                   (25, 220)),
    "kitchen": (("Kettle", "Blender", "Knife Set", "Coffee Grinder"), ("Stainless", "Quiet", "Compact"),
                ("Cookwell", "Hearth & Co", "Mettle"), ("capacity: 1.7 l", "power: 900 W", "blades: 6"),
                (18, 160)),
    "baby": (("Baby Monitor", "Stroller Fan", "Bottle Warmer", "Play Mat"), ("Portable", "Soft", "Foldable"),
             ("Littlenest", "Cradlecare", "Bloom"), ("age: 0-3 years", "battery: 12 hours", "washable: yes"),
             (15, 140)),
    "stationery": (("Notebook", "Fountain Pen", "Desk Organizer", "Planner"), ("Refillable", "Leather", "A5"),
                   ("Inkwell", "Papyra", "Quillmark"), ("pages: 192", "nib: fine", "cover: vegan leather"),
                   (6, 60)),
    "gadgets": (("Smart Plug", "Fitness Tracker", "Power Bank", "Desk Lamp"), ("Smart", "Rechargeable", "Slim"),
                ("Voltix", "Nimbus", "Kinetic"), ("battery: 7 days", "output: 20 W", "app: iOS and Android"),
                (12, 120)),
}

CTA = ("shop now", "get yours", "order today", "grab it", "see more", "discover")
_WORD = re.compile(r"[a-z0-9']+")
_PCT = re.compile(r"(\d{1,2})\s*%")
_DISCOUNT_WORDS = re.compile(r"\b(half price|half off|buy one get one|bogo)\b", re.I)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


@dataclass
class Truth:
    """How bazaar's shoppers respond to a copy; scores any text (``evaluate``)."""

    catalog: pd.DataFrame
    appeal: dict[str, float]
    buy: dict[str, float]

    def __post_init__(self) -> None:
        self._items = self.catalog.set_index("item_id")

    @classmethod
    def from_dir(cls, sim_dir: str | Path) -> Truth:
        """Load the catalog and the hidden item parameters (``truth.json``) written by :func:`simulate`."""
        return cls(*read_hidden(sim_dir))

    def claims(self, text: str, discount_pct: float) -> tuple[bool, bool]:
        """(states the real discount, claims a discount that is not the real one) — bazaar's own reading."""
        real = round(float(discount_pct))
        stated = [int(m) for m in _PCT.findall(text)]
        false_claim = any(abs(s - real) > 2 for s in stated) or bool(_DISCOUNT_WORDS.search(text) and real < 45)
        if real == 0 and re.search(r"\b(sale|discount|off)\b", text.lower()) and stated:
            false_claim = True
        return (real >= 10 and any(abs(s - real) <= 2 for s in stated)), false_claim

    def features(self, text: str, item: pd.Series, segment: str, placement: str) -> dict[str, float]:
        """The text features the shoppers respond to (see the module docstring)."""
        low = text.lower()
        words = _words(text)
        place = PLACEMENTS[placement]
        title_words = {w for w in _words(item["title"]) if len(w) >= 4} - set(_words(item["brand"]))
        hits = sum(1 for w in SEGMENT_WORDS[segment] if re.search(rf"\b{re.escape(w)}\b", low))
        bigrams = list(zip(words, words[1:], strict=False))
        repetitive = len(bigrams) >= 4 and len(set(bigrams)) / len(bigrams) < 0.8
        shouting = sum(1 for w in re.findall(r"[A-Za-z]{3,}", text) if w.isupper()) >= 2 or "!!" in text
        true_disc, false_claim = self.claims(text, item["discount_pct"])
        return {
            "segment_hits": float(min(hits, 2)),
            "names_product": float(bool(title_words & set(words))),
            "names_brand": float(item["brand"].lower() in low),
            "real_discount": float(true_disc),
            "cta": float(any(c in low for c in CTA)),
            "length_misfit": abs(len(text) - place["ideal"]) / place["max_chars"],
            "over_limit": float(len(text) > place["max_chars"]),
            "shouting": float(shouting),
            "repetitive": float(repetitive),
            "false_claim": float(false_claim),
            "empty": float(not words),
        }

    def logits(self, text: str, item_id: str, segment: str, placement: str) -> tuple[float, float]:
        """``(z_click, z_buy)`` of one copy in one context."""
        item = self._items.loc[item_id]  # a row: title, brand, discount_pct, ...
        f = self.features(text, item, segment, placement)
        z_click = (self.appeal[item_id] + PLACEMENTS[placement]["base"] + 0.9 * f["segment_hits"]
                   + 0.6 * f["names_product"] + 0.4 * BRAND_MINDED[segment] * f["names_brand"]
                   + 0.5 * f["real_discount"] + 0.3 * f["cta"] - 1.2 * f["length_misfit"]
                   - 1.5 * f["over_limit"] - 0.8 * f["shouting"] - 1.0 * f["repetitive"]
                   - 0.7 * f["false_claim"] - 4.0 * f["empty"])
        z_buy = self.buy[item_id] + 0.4 * f["real_discount"] + 0.3 * (f["segment_hits"] > 0) - 2.0 * f["false_claim"]
        return z_click, z_buy

    def net_price(self, item_ids) -> np.ndarray:
        """Price after the real discount, per item id."""
        items = self._items
        return (items["price"] * (1 - items["discount_pct"] / 100)).reindex(pd.Index(item_ids).astype(str)).to_numpy()

    def evaluate(self, df: pd.DataFrame) -> pd.DataFrame:
        """Add ``p_click, p_purchase_given_click, p_purchase, expected_revenue`` (slot ``position``, default 0)."""
        position = df["position"].to_numpy() if "position" in df.columns else np.zeros(len(df), int)
        z = np.array([self.logits(str(t), str(i), str(s), str(p)) for t, i, s, p in
                      zip(df["copy_text"], df["item_id"], df["segment"], df["placement"], strict=True)]).reshape(-1, 2)
        exam = np.array([PLACEMENTS[p]["examination"][k] for p, k in zip(df["placement"], position, strict=True)])
        return probabilities(df, exam, z, self.net_price(df["item_id"]))


def make_catalog(rng: np.random.Generator, per_category: int = 12) -> pd.DataFrame:
    """``per_category`` items in each of bazaar's categories (contract columns + key feature)."""
    rows = []
    for cat, (nouns, adjs, brands, feats, (lo, hi)) in CATEGORIES.items():
        for j in range(per_category):
            discount = float(rng.choice([0, 0, 0, 10, 15, 20, 25, 30, 40]))
            brand = str(rng.choice(brands))
            price = round(float(np.exp(rng.uniform(np.log(lo), np.log(hi)))) - 0.01, 2)
            rows.append({"item_id": f"bz-{cat[:3]}-{j:02d}", "title": f"{brand} {rng.choice(adjs)} {rng.choice(nouns)}",
                         "category": cat, "brand": brand, "price": price, "discount_pct": discount,
                         "attributes": json.dumps({"key_attribute": str(rng.choice(feats))})})
    return pd.DataFrame(rows)


def logged_copies(item: dict, placement: str, rng: np.random.Generator, n: int = 6) -> list[str]:
    """The shop's own copy for one item and placement: ``n`` variants its writers tried.

    Each mixes parts at random — the product name or not, a segment's words (any segment), the real
    discount, sometimes an inflated one, a call to action, shouting, padding — so the logs hold
    copies that differ in what the shoppers respond to.
    """
    max_chars = PLACEMENTS[placement]["max_chars"]
    noun = item["title"].split()[-1]
    real = round(item["discount_pct"])
    texts = []
    while len(texts) < n:
        parts = []
        if rng.random() < 0.7:
            parts.append(item["title"] if rng.random() < 0.5 else f"The {noun}")
        else:
            parts.append(str(rng.choice(["Something new", "You will love this", "Our pick", "Just in"])))
        if rng.random() < 0.6:
            seg = rng.choice(list(SEGMENT_WORDS))
            parts.append(f"{rng.choice(SEGMENT_WORDS[seg])}".capitalize() + str(rng.choice(["", " idea", " pick"])))
        if real > 0 and rng.random() < 0.5:
            parts.append(f"{real}% off")
        elif rng.random() < 0.12:
            parts.append(f"{min(90, real + int(rng.choice([15, 25, 40])))}% off")  # an overclaim
        if rng.random() < 0.4:
            parts.append(str(rng.choice(CTA)).capitalize())
        text = " - ".join(parts)
        if rng.random() < 0.15:
            text = text.upper() + "!!"
        if rng.random() < 0.2:
            text += " " + str(rng.choice(["for every day", "made to last", "with free returns", "in stock"]))
        text = text[:max_chars]
        if text not in texts:
            texts.append(text)
    return texts


def simulate(out: str | Path, impressions: int, seed: int = 0) -> Path:
    """Write bazaar's catalog, impression logs (uniform logging over each item's copies), placements
    and its hidden truth (``truth.json``, for evaluation only) to ``out``."""
    rng = np.random.default_rng(seed)
    catalog = make_catalog(rng)
    ids = catalog["item_id"].tolist()
    appeal = {i: float(rng.normal(0.0, 0.35)) for i in ids}
    buy = {i: float(rng.normal(-1.3, 0.4) - 0.25 * np.log(p / 40)) for i, p in zip(ids, catalog["price"], strict=True)}
    truth = Truth(catalog, appeal, buy)
    pools = {(r["item_id"], p): logged_copies(r, p, rng) for r in catalog.to_dict("records") for p in PLACEMENTS}
    segs = list(SEGMENT_SHARE)
    seg = rng.choice(segs, size=impressions, p=list(SEGMENT_SHARE.values()))
    item = rng.choice(ids, size=impressions)
    place = rng.choice(list(PLACEMENTS), size=impressions)
    slots = np.array([rng.integers(len(PLACEMENTS[p]["examination"])) for p in place])
    pick = rng.integers(0, 6, size=impressions)
    text = [pools[(i, p)][k] for i, p, k in zip(item, place, pick, strict=True)]
    logs = pd.DataFrame({"event_id": [f"bz{n:07d}" for n in range(impressions)],
                         "timestamp": 1_767_225_600_000 + np.arange(impressions, dtype=np.int64) * 1_000,
                         "user_id": [f"shopper{u}" for u in rng.integers(0, impressions // 5, impressions)],
                         "segment": seg, "item_id": item, "placement": place, "position": slots,
                         "copy_text": text, "propensity": np.full(impressions, 1 / 6)})
    probs = truth.evaluate(logs)
    draw_outcomes(logs, probs, truth.net_price(logs["item_id"]), rng)
    return write_shop(out, catalog, logs, PLACEMENTS, appeal, buy)


if __name__ == "__main__":
    main(simulate, __doc__, out="runs/bazaar", impressions=300_000)
