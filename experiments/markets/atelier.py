"""Atelier: an independently written design shop whose shoppers do *not* respond additively to copy.

Bazaar (``bazaar.py``) and the small shop (``small_shop.py``) score copy as a sum (or product) of
independent text features. Atelier's truth has three effects no sum of text features can express,
the kind a real shop's logs hold:

- **diminishing returns of discount talk**: the first mention of a real discount lifts clicks (by
  how much depends on the segment); every further mention ("SALE: 20% off - save big on this
  deal") *lowers* them: the copy reads as a clearance bin;
- **template fatigue**: a shopper who has recently seen the same template (the copy with the item's
  own words masked: "Just in: {title}") clicks less on it again, whatever the item; this needs the
  shopper's history, so the logs carry ``user_id`` and the simulator walks each shopper's
  impressions in time order;
- **segment-specific voice**: a voice that lifts one segment lowers another ("timeless, crafted by
  hand" pulls collectors and puts value seekers off; "an affordable steal" does the reverse); a
  voice counts once, however many of its words the copy uses.

Like bazaar, this file imports nothing from rlopt. It hands over only what an outside shop would
(``catalog.parquet``, ``train.parquet`` contract logs with propensities of its logging policy,
``placements.json``) and keeps its truth to itself (``truth.json``, read by :class:`Truth`), which
grades *any* copy text in a context, so generated copy can be graded.

How shoppers respond (per impression of ``copy`` for ``item`` in ``placement`` slot ``k`` seen by a
shopper of ``segment`` who saw the same template ``f`` times in their last ``FATIGUE_WINDOW``
impressions)::

    P(click)          = examination[placement][k] * sigmoid(z_click)
    P(buy | click)    = sigmoid(z_buy)
    z_click = appeal[item] + base[placement]
              + sum_v VOICE_EFFECT[segment][v] * [copy uses voice v]          (segment-specific voice)
              + FIRST_DISCOUNT[segment] * s * [m >= 1, real discount >= 10%, no false claim]
              - 0.45 * max(m - 1, 0)                                          (diminishing returns)
              - 0.4 * min(f, 3)                                               (template fatigue)
              + 0.5 * names the product + 0.3 * names the brand + 0.25 * a call to action
              - 1.0 * length misfit - 1.5 * over the limit - 0.7 * SHOUTING
              - 0.8 * false claim - 4.0 * empty
    z_buy   = buy[item] + 0.35 * states the real discount - 2.0 * false claim
              + 0.25 * [a voice the segment likes] - 0.15 * max(m - 1, 0)

``m`` counts the copy's discount cues (a percentage, "sale", "save", "deal", "discount",
"clearance", ...); ``s`` is 1 when a stated percentage is the real discount and 0.5 for discount
words without one. A false claim is a stated percentage more than 2 points off the real discount,
or any discount talk on a full-price item. Length misfit is ``|len - ideal| / max_chars``.

The logging policy is the shop's stale preference: per item x placement a softmax over its copy
pool (logits drawn once) mixed with 10% uniform; the logged ``propensity`` is the chosen copy's
probability. Shoppers keep their segment; items, placements and slots are drawn uniformly.

Run: ``python -m experiments.markets.atelier --out runs/atelier --impressions 60000 --seed 0``.
"""

from __future__ import annotations

import json
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.markets._shop import draw_outcomes, main, probabilities, read_hidden, write_shop

VOICES = {  # voice -> its words (a copy uses a voice when any of them appears)
    "luxe": ("timeless", "exclusive", "crafted", "luxurious", "elegant", "refined", "premium"),
    "thrift": ("affordable", "bargain", "steal", "budget", "cheap", "value"),
    "playful": ("bold", "fun", "vibrant", "playful", "trendy", "wow"),
    "practical": ("durable", "everyday", "practical", "reliable", "easy care", "versatile"),
}
SEGMENT_SHARE = {"collectors": 0.25, "value_seekers": 0.35, "trendsetters": 0.2, "homemakers": 0.2}
VOICE_EFFECT = {  # segment -> voice -> click logit; every voice lifts one segment and lowers another
    "collectors": {"luxe": 0.8, "thrift": -0.7, "playful": -0.2, "practical": 0.1},
    "value_seekers": {"luxe": -0.5, "thrift": 0.8, "playful": 0.0, "practical": 0.3},
    "trendsetters": {"luxe": 0.2, "thrift": -0.3, "playful": 0.8, "practical": -0.5},
    "homemakers": {"luxe": -0.3, "thrift": 0.2, "playful": -0.5, "practical": 0.8},
}
FIRST_DISCOUNT = {"collectors": 0.3, "value_seekers": 0.9, "trendsetters": 0.4, "homemakers": 0.6}
EXTRA_DISCOUNT = 0.45  # click logit lost per discount cue after the first
FATIGUE = 0.4  # click logit lost per recent sighting of the same template (at most FATIGUE_CAP)
FATIGUE_CAP = 3
FATIGUE_WINDOW = 8  # a shopper's last impressions that count

PLACEMENTS = {  # name -> max_chars, slot examination, base click logit, the length shoppers like
    "lookbook_banner": {"max_chars": 70, "examination": [1.0, 0.6, 0.4], "base": -2.9, "ideal": 48},
    "style_email": {"max_chars": 60, "examination": [1.0], "base": -2.7, "ideal": 40},
    "app_feed": {"max_chars": 80, "examination": [1.0, 0.8, 0.6, 0.45], "base": -2.8, "ideal": 55},
    "checkout_upsell": {"max_chars": 50, "examination": [1.0], "base": -3.1, "ideal": 34},
}
CATEGORIES = {  # category -> (nouns, adjectives, brands, features, price range)
    "knitwear": (("Cardigan", "Sweater", "Scarf", "Beanie"), ("Merino", "Cable-Knit", "Chunky"),
                 ("Loomwell", "Fennic", "Ardent"), ("100% merino wool", "hand-finished seams", "machine washable"),
                 (35, 240)),
    "leather": (("Wallet", "Tote", "Belt", "Card Holder"), ("Full-Grain", "Vegetable-Tanned", "Slim"),
                ("Saddlery & Son", "Corvo", "Halden"), ("full-grain leather", "solid brass hardware", "RFID lining"),
                (25, 320)),
    "ceramics": (("Vase", "Mug Set", "Serving Bowl", "Planter"), ("Stoneware", "Speckled", "Glazed"),
                 ("Kilnhouse", "Terra Nova", "Mudlark"), ("dishwasher safe", "thrown on the wheel", "set of 4"),
                 (18, 160)),
    "jewelry": (("Necklace", "Ring", "Earrings", "Bracelet"), ("Sterling", "Gold-Plated", "Minimal"),
                ("Aurum Lane", "Petra", "Wren & Co"), ("recycled silver", "nickel free", "adjustable fit"),
                (20, 280)),
}
# The shop's copy templates: name -> text. Every item x placement pool draws some of them, so the same
# template reaches a shopper again and again on different items (the fatigue the truth models).
TEMPLATES = {
    "plain": "{title}",
    "just_in": "Just in: {title}",
    "luxe": "{title} - timeless, crafted by hand",
    "luxe_brand": "The exclusive {noun} from {brand}",
    "thrift": "{title}: an affordable little steal",
    "playful": "Bold and fun: the {noun} everyone wants",
    "practical": "{title} - durable, easy care, for every day",
    "feature": "{title}: {feature}",
    "cta": "{title} - shop the collection",
    "discount": "{title}, now {pct}% off",
    "discount_heavy": "SALE: {pct}% off {title} - save big on this deal",
    "discount_luxe": "{title}: timeless style, {pct}% off",
    "discount_thrift": "Bargain alert: {title}, {pct}% off",
    "overclaim": "{title} - up to {over}% off",
}
DISCOUNT_TEMPLATES = ("discount", "discount_heavy", "discount_luxe", "discount_thrift", "overclaim")
CTA = ("shop now", "shop the collection", "get yours", "order today", "discover", "see more")

_WORD = re.compile(r"[a-z0-9']+")
_PCT = re.compile(r"\b(\d{1,2})\s*%")  # "100% merino" states no discount
_DISCOUNT_CUES = re.compile(r"\b\d{1,2}\s*%|\b(?:sale|save|saving|savings|deal|deals|discount|discounted|clearance|"
                            r"markdown|reduced|price drop|half price|half off|bogo)\b", re.I)
_VOICE_RES = {v: re.compile(r"\b(?:" + "|".join(re.escape(w) for w in ws) + r")\b", re.I) for v, ws in VOICES.items()}


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def skeleton(text: str, item: dict | pd.Series) -> str:
    """The template of a copy: lower case, the item's title / brand / title words / feature and every
    number masked, punctuation dropped. ``"Just in: Corvo Slim Wallet"`` -> ``"just in t"``,
    ``"25% off"`` -> ``"d off"``.

    Two copies of the same template for different items have the same skeleton.
    """
    low = text.lower()
    for part, mark in ((item["title"], " t "), (item["brand"], " b "), (_feature(item), " f ")):
        if part:
            low = low.replace(str(part).lower(), mark)
    for w in sorted({w for w in _words(str(item["title"])) if len(w) >= 3}, key=len, reverse=True):
        low = re.sub(rf"\b{re.escape(w)}\b", " n ", low)
    low = re.sub(r"\d+", " d ", low)
    return re.sub(r"\bn( n)+\b", "n", " ".join(_WORD.findall(low)))


def _feature(item: dict | pd.Series) -> str:
    attrs = item.get("attributes") if hasattr(item, "get") else None
    if isinstance(attrs, str):
        attrs = json.loads(attrs) if attrs.strip().startswith("{") else {}
    return str((attrs or {}).get("feature", ""))


@dataclass
class Truth:
    """How atelier's shoppers respond to a copy; grades any text in a context (:meth:`evaluate`)."""

    catalog: pd.DataFrame
    appeal: dict[str, float]
    buy: dict[str, float]
    _cache: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._items = {str(r["item_id"]): r for r in self.catalog.to_dict("records")}

    @classmethod
    def from_dir(cls, sim_dir: str | Path) -> Truth:
        """Load the catalog and the hidden item parameters (``truth.json``) written by :func:`simulate`."""
        return cls(*read_hidden(sim_dir))

    def features(self, text: str, item_id: str, placement: str) -> dict[str, float]:
        """The segment-free reading of one copy for one item and placement (cached per text)."""
        key = (text, item_id, placement)
        if key not in self._cache:
            self._cache[key] = self._features(text, self._items[item_id], placement)
        return self._cache[key]

    @staticmethod
    def _features(text: str, item: dict, placement: str) -> dict[str, float]:
        low = text.lower()
        words = _words(text)
        place = PLACEMENTS[placement]
        real = round(float(item["discount_pct"]))
        stated = [int(p) for p in _PCT.findall(text)]
        mentions = len(_DISCOUNT_CUES.findall(text))
        false_claim = any(abs(s - real) > 2 for s in stated) or (real == 0 and mentions > 0)
        states_real = real >= 10 and any(abs(s - real) <= 2 for s in stated)
        title_words = {w for w in _words(item["title"]) if len(w) >= 4} - set(_words(item["brand"]))
        shouting = sum(1 for w in re.findall(r"[A-Za-z]{3,}", text) if w.isupper()) >= 2 or "!!" in text
        return {
            **{f"voice_{v}": float(bool(r.search(text))) for v, r in _VOICE_RES.items()},
            "discount_mentions": float(mentions),
            "states_real_discount": float(states_real),
            "discount_strength": (1.0 if states_real else 0.5) if (mentions and real >= 10 and not false_claim) else 0.0,
            "false_claim": float(false_claim),
            "names_product": float(bool(title_words & set(words))),
            "names_brand": float(str(item["brand"]).lower() in low),
            "cta": float(any(c in low for c in CTA)),
            "length_misfit": abs(len(text) - place["ideal"]) / place["max_chars"],
            "over_limit": float(len(text) > place["max_chars"]),
            "shouting": float(shouting),
            "empty": float(not words),
        }

    def logits(self, text: str, item_id: str, segment: str, placement: str, fatigue: float = 0.0
               ) -> tuple[float, float]:
        """``(z_click, z_buy)`` of one copy in one context, for a shopper with ``fatigue`` recent
        sightings of its template (0: a fresh shopper)."""
        f = self.features(text, item_id, placement)
        voice = sum(VOICE_EFFECT[segment][v] * f[f"voice_{v}"] for v in VOICES)
        liked = any(VOICE_EFFECT[segment][v] > 0 and f[f"voice_{v}"] for v in VOICES)
        extra = max(f["discount_mentions"] - 1.0, 0.0)
        z_click = (self.appeal[item_id] + PLACEMENTS[placement]["base"] + voice
                   + FIRST_DISCOUNT[segment] * f["discount_strength"] - EXTRA_DISCOUNT * extra
                   - FATIGUE * min(fatigue, FATIGUE_CAP)
                   + 0.5 * f["names_product"] + 0.3 * f["names_brand"] + 0.25 * f["cta"]
                   - 1.0 * f["length_misfit"] - 1.5 * f["over_limit"] - 0.7 * f["shouting"]
                   - 0.8 * f["false_claim"] - 4.0 * f["empty"])
        z_buy = (self.buy[item_id] + 0.35 * f["states_real_discount"] - 2.0 * f["false_claim"]
                 + 0.25 * liked - 0.15 * extra)
        return z_click, z_buy

    def skeletons(self, df: pd.DataFrame) -> list[str]:
        """:func:`skeleton` of every row's ``copy_text`` for its ``item_id``."""
        return [skeleton(str(t), self._items[str(i)]) for t, i in zip(df["copy_text"], df["item_id"], strict=True)]

    def fatigue_counts(self, logs: pd.DataFrame) -> np.ndarray:
        """Per row of ``logs``: how often its shopper saw the same template in their previous
        ``FATIGUE_WINDOW`` impressions (by ``timestamp``, then row order; rows not in ``logs`` are
        not known, so pass the whole log)."""
        order = np.lexsort((np.arange(len(logs)), logs["timestamp"].to_numpy()))
        skel = self.skeletons(logs)
        users = logs["user_id"].astype(str).to_numpy()
        recent: dict[str, deque] = {}
        out = np.zeros(len(logs))
        for r in order:
            seen = recent.setdefault(users[r], deque(maxlen=FATIGUE_WINDOW))
            out[r] = sum(1 for s in seen if s == skel[r])
            seen.append(skel[r])
        return out

    def net_price(self, item_ids) -> np.ndarray:
        """Price after the real discount, per item id."""
        return np.array([self._items[str(i)]["price"] * (1 - self._items[str(i)]["discount_pct"] / 100)
                         for i in item_ids], dtype=float)

    def evaluate(self, df: pd.DataFrame, fatigue: np.ndarray | None = None) -> pd.DataFrame:
        """Add ``p_click, p_purchase_given_click, p_purchase, expected_revenue`` to ``df``.

        Parameters
        ----------
        df : DataFrame, n rows
            ``copy_text, item_id, segment, placement`` (+ ``position``, default 0: the first slot).
        fatigue : array, shape (n,), optional
            Recent sightings of each row's template by its shopper (:meth:`fatigue_counts`); default
            0, a fresh shopper (how generated copy is graded).
        """
        n = len(df)
        position = df["position"].to_numpy() if "position" in df.columns else np.zeros(n, int)
        fat = np.zeros(n) if fatigue is None else np.asarray(fatigue, dtype=float)
        z = np.array([self.logits(str(t), str(i), str(s), str(p), float(f)) for t, i, s, p, f in
                      zip(df["copy_text"], df["item_id"], df["segment"], df["placement"], fat, strict=True)]
                     ).reshape(-1, 2)
        exam = np.array([PLACEMENTS[p]["examination"][int(k)] for p, k in zip(df["placement"], position, strict=True)])
        return probabilities(df, exam, z, self.net_price(df["item_id"]))

    def evaluate_logs(self, logs: pd.DataFrame) -> pd.DataFrame:
        """:meth:`evaluate` of logged impressions with each shopper's fatigue (what generated the clicks)."""
        return self.evaluate(logs, self.fatigue_counts(logs))


def make_catalog(rng: np.random.Generator, per_category: int = 12) -> pd.DataFrame:
    """``per_category`` items in each of atelier's categories (contract columns, ``feature`` attribute)."""
    rows = []
    for cat, (nouns, adjs, brands, feats, (lo, hi)) in CATEGORIES.items():
        for j in range(per_category):
            brand = str(rng.choice(brands))
            rows.append({"item_id": f"at-{cat[:4]}-{j:02d}",
                         "title": f"{brand} {rng.choice(adjs)} {nouns[j % len(nouns)]}",
                         "category": cat, "brand": brand,
                         "price": round(float(np.exp(rng.uniform(np.log(lo), np.log(hi)))) - 0.01, 2),
                         "discount_pct": float(rng.choice([0, 0, 0, 10, 15, 20, 25, 30])),
                         "attributes": json.dumps({"feature": str(rng.choice(feats))})})
    return pd.DataFrame(rows)


def _fit(text: str, max_chars: int) -> str:
    """Cut at the last whole word that fits (the shop's CMS does this)."""
    if len(text) <= max_chars:
        return text
    return text[:max_chars].rsplit(" ", 1)[0].rstrip(" -,:")


def copy_pool(item: dict, placement: str, rng: np.random.Generator, n: int = 6) -> list[tuple[str, str]]:
    """The shop's copies for one item x placement: ``(template, text)``, the plain title first, then
    ``n - 1`` other templates (discount ones only for discounted items; an overclaim now and then)."""
    real = round(float(item["discount_pct"]))
    names = [t for t in TEMPLATES if t != "plain" and (real > 0 or t not in DISCOUNT_TEMPLATES)]
    if real > 0 and rng.random() > 0.25:
        names.remove("overclaim")
    chosen = ["plain", *rng.choice(names, size=n - 1, replace=False)]
    nouns = CATEGORIES[item["category"]][0] if item["category"] in CATEGORIES else ()
    noun = next((n for n in nouns if str(item["title"]).endswith(n)), str(item["title"]).split()[-1])
    values = {"title": item["title"], "brand": item["brand"], "noun": noun, "feature": _feature(item),
              "pct": real, "over": min(70, real + 30)}
    return [(t, _fit(TEMPLATES[t].format(**values), PLACEMENTS[placement]["max_chars"])) for t in chosen]


def simulate_frames(impressions: int, seed: int = 0, users: int | None = None
                    ) -> tuple[pd.DataFrame, pd.DataFrame, Truth]:
    """``(catalog, logs, truth)`` of a seeded atelier run; ``logs`` are in the data contract.

    ``users`` shoppers (default ``impressions // 40``, so each sees about 40 impressions) keep one
    segment each; the logs are in time order.
    """
    rng = np.random.default_rng(seed)
    catalog = make_catalog(rng)
    ids = catalog["item_id"].tolist()
    appeal = {i: float(rng.normal(0.0, 0.35)) for i in ids}
    buy = {i: float(rng.normal(-1.4, 0.4) - 0.25 * np.log(p / 60)) for i, p in zip(ids, catalog["price"], strict=True)}
    truth = Truth(catalog, appeal, buy)
    pools, policy = {}, {}
    for item in catalog.to_dict("records"):
        for p in PLACEMENTS:
            pools[(item["item_id"], p)] = copy_pool(item, p, rng)
            logits = rng.normal(0.0, 1.0, len(pools[(item["item_id"], p)]))
            soft = np.exp(logits) / np.exp(logits).sum()
            policy[(item["item_id"], p)] = 0.9 * soft + 0.1 / len(soft)
    n_users = max(20, users or impressions // 40)
    user_seg = rng.choice(list(SEGMENT_SHARE), size=n_users, p=list(SEGMENT_SHARE.values()))
    user = rng.integers(0, n_users, impressions)
    item = rng.choice(ids, size=impressions)
    place = rng.choice(list(PLACEMENTS), size=impressions)
    slots = np.array([rng.integers(len(PLACEMENTS[p]["examination"])) for p in place])
    pick = [int(rng.choice(len(policy[(i, p)]), p=policy[(i, p)])) for i, p in zip(item, place, strict=True)]
    logs = pd.DataFrame({
        "event_id": [f"at{n:07d}" for n in range(impressions)],
        "timestamp": 1_767_225_600_000 + np.arange(impressions, dtype=np.int64) * 2_000,
        "user_id": [f"client{u:05d}" for u in user], "segment": user_seg[user], "item_id": item,
        "placement": place, "position": slots,
        "copy_text": [pools[(i, p)][k][1] for i, p, k in zip(item, place, pick, strict=True)],
        "propensity": [float(policy[(i, p)][k]) for i, p, k in zip(item, place, pick, strict=True)]})
    probs = truth.evaluate_logs(logs)
    draw_outcomes(logs, probs, truth.net_price(logs["item_id"]), rng)
    return catalog, logs, truth


def simulate(out: str | Path, impressions: int, seed: int = 0) -> Path:
    """Write atelier's ``catalog.parquet``, ``train.parquet`` (contract logs), ``placements.json`` and its
    hidden ``truth.json`` (item parameters, for evaluation only) to ``out``; return ``out``.

    Written to temporary names and renamed, so an interrupted run leaves no half file.
    """
    catalog, logs, truth = simulate_frames(impressions, seed)
    return write_shop(out, catalog, logs, PLACEMENTS, truth.appeal, truth.buy)


if __name__ == "__main__":
    main(simulate, __doc__, out="runs/atelier", impressions=60_000)
