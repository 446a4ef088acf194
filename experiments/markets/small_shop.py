"""Small shop: a few thousand impressions of a hand-written shop's logs, with known true CTRs.

The case issue 19 describes: a shop with 30 items, 3-4 logged copies per item, 3 shopper segments
and 3 placements, and only a few thousand impressions. Written independently of ``rlopt.market``
(this file imports nothing from rlopt); it hands over contract logs and keeps the truth.

Each logged copy is one of a few templates with a known click multiplier ("Loved by 10,000+
shoppers" pulls about 1.85x the bland title), so the true CTR of every copy is known:

    P(click)          = exam[placement][position] * min(0.9, ctr_item * template[t] * seg[s] * plc[p])
    P(buy | click)    = buy_item * (1.15 if the copy names a real discount else 1.0)

``ctr_item`` is drawn around 6% per item. The logging policy picks a copy per impression with
probabilities fixed per item (a stale preference, not uniform); the chosen copy's probability is
the logged ``propensity``. Timestamps increase with the row.

Run: ``python -m experiments.markets.small_shop --out runs/small_shop --seed 0``.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

SEGMENTS = {"regulars": 0.45, "bargain": 0.35, "first_visit": 0.20}  # name -> traffic share
SEGMENT_LIFT = {"regulars": 1.1, "bargain": 0.95, "first_visit": 0.9}
PLACEMENTS = {  # name -> slot examination, click multiplier
    "shop_home": ((1.0, 0.7, 0.5), 1.0),
    "email": ((1.0,), 0.85),
    "product_grid": ((1.0, 0.8), 1.1),
}
# template -> (text, click multiplier). "bland" is the shop's default copy.
TEMPLATES = {
    "bland": ("{title}", 1.0),
    "social_proof": ("{title} - Loved by 10,000+ shoppers", 1.85),
    "shipping": ("{title}, free shipping this week", 1.35),
    "new": ("New in: {title} by {brand}", 1.15),
    "feature": ("{title}: {feature}", 1.2),
}
CATEGORIES = {  # category -> (nouns, features, brands, price range)
    "kitchen": (("Chef Knife", "Cast Iron Pan", "Pour-Over Kettle", "Spice Grinder"),
                ("stays sharp for years", "oven safe to 260C", "gooseneck spout", "ceramic burrs"),
                ("Ferro", "Kova"), (18, 120)),
    "outdoor": (("Trail Backpack", "Camp Lantern", "Insulated Flask", "Rain Shell"),
                ("28 litres", "300 lumens", "hot for 12 hours", "fully taped seams"),
                ("Northpeak", "Tundra"), (20, 180)),
    "home": (("Linen Throw", "Desk Lamp", "Wool Rug", "Scented Candle"),
             ("stonewashed linen", "dimmable warm light", "hand woven", "burns 60 hours"),
             ("Hearth", "Lumo"), (15, 150)),
}


@dataclass
class SmallShop:
    """The shop's catalog, its train / holdout logs and each row's true probabilities."""

    catalog: pd.DataFrame
    train: pd.DataFrame
    holdout: pd.DataFrame
    truth_train: pd.DataFrame  # p_click, p_purchase per train row (same index)
    truth_holdout: pd.DataFrame
    copies: pd.DataFrame  # item_id, template, copy_text, multiplier: the logged copies
    item_ctr: dict[str, float] | None = None  # hidden per-item parameters, for grading any copy (Truth)
    item_buy: dict[str, float] | None = None

    def truth(self) -> Truth:
        """The shop's truth as a grader of any copy text (:class:`Truth`)."""
        return Truth(self.catalog, self.item_ctr or {}, self.item_buy or {})

    def write(self, out: str | Path) -> Path:
        """``catalog.csv``, ``train.csv``, ``holdout.csv`` (contract columns) and ``truth_*.csv``."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        cat = self.catalog.copy()
        cat["attributes"] = cat["attributes"].map(lambda a: "{" + ", ".join(f'"{k}": "{v}"' for k, v in a.items()) + "}")
        cat.to_csv(out / "catalog.csv", index=False)
        self.train.to_csv(out / "train.csv", index=False)
        self.holdout.to_csv(out / "holdout.csv", index=False)
        self.truth_train.to_csv(out / "truth_train.csv", index=False)
        self.truth_holdout.to_csv(out / "truth_holdout.csv", index=False)
        return out


# How free text maps onto the templates' pulls (for grading copy the shop never logged): each cue
# stands for its template; a copy takes the multiplier of the strongest cue it has (cues do not add).
CUES = {
    "social_proof": re.compile(r"\bloved by\b|\b\d[\d,.]*\s*k?\+?\s*(?:happy\s+)?(?:shoppers|customers|buyers|reviews)\b"
                               r"|\bbest[- ]?sell", re.I),
    "shipping": re.compile(r"\bfree (?:shipping|delivery)\b", re.I),
    "new": re.compile(r"\bnew\b", re.I),
}


@dataclass
class Truth:
    """The small shop's click and purchase model applied to any copy text (generated copy included).

    A copy's multiplier is the largest of the templates whose cue it carries (:data:`CUES`; the
    ``feature`` template's cue is the item's own feature phrase), 1.0 (bland) without one, 0.3 for
    a copy with no words; then the module docstring's formulas. Every logged copy gets its own
    template's multiplier back.
    """

    catalog: pd.DataFrame
    item_ctr: dict[str, float]
    item_buy: dict[str, float]

    def __post_init__(self) -> None:
        self._items = {str(r["item_id"]): r for r in self.catalog.to_dict("records")}

    def multiplier(self, text: str, item_id: str) -> tuple[float, bool]:
        """``(click multiplier, carries the shipping cue)`` of one copy for one item."""
        item = self._items[item_id]
        if not re.search(r"[A-Za-z0-9]", text):
            return 0.3, False
        pulls = [TEMPLATES["bland"][1]] + [TEMPLATES[t][1] for t, cue in CUES.items() if cue.search(text)]
        feature = str(item["attributes"].get("feature", "")) if isinstance(item["attributes"], dict) else ""
        if feature and feature.lower() in text.lower():
            pulls.append(TEMPLATES["feature"][1])
        return max(pulls), bool(CUES["shipping"].search(text))

    def evaluate(self, df: pd.DataFrame) -> pd.DataFrame:
        """Add ``p_click, p_purchase_given_click, p_purchase`` to ``copy_text, item_id, segment,
        placement`` rows (``position``, default 0: the first slot)."""
        position = df["position"].to_numpy() if "position" in df.columns else np.zeros(len(df), int)
        discount = dict(zip(self.catalog["item_id"], self.catalog["discount_pct"], strict=True))
        p_click, p_buy = [], []
        for text, item, seg, plc, pos in zip(df["copy_text"], df["item_id"], df["segment"], df["placement"],
                                             position, strict=True):
            mult, shipping = self.multiplier(str(text), str(item))
            exam, plc_mult = PLACEMENTS[str(plc)]
            p_click.append(exam[int(pos)] * min(0.9, self.item_ctr[str(item)] * mult * SEGMENT_LIFT[str(seg)] * plc_mult))
            p_buy.append(min(0.9, self.item_buy[str(item)] * (1.15 if discount[str(item)] > 0 and shipping else 1.0)))
        out = df.copy()
        out["p_click"] = p_click
        out["p_purchase_given_click"] = p_buy
        out["p_purchase"] = out["p_click"] * out["p_purchase_given_click"]
        return out


def make_catalog(rng: np.random.Generator, n_items: int = 30) -> pd.DataFrame:
    rows = []
    cats = list(CATEGORIES)
    for i in range(n_items):
        cat = cats[i % len(cats)]
        nouns, features, brands, (lo, hi) = CATEGORIES[cat]
        k = (i // len(cats)) % len(nouns)
        brand = brands[int(rng.integers(len(brands)))]
        rows.append({"item_id": f"ss-{i:03d}", "title": f"{brand} {nouns[k]}", "category": cat, "brand": brand,
                     "price": float(round(rng.uniform(lo, hi), 2)),
                     "discount_pct": float(rng.choice([0.0, 0.0, 10.0, 20.0])),
                     "attributes": {"feature": features[k]}})
    return pd.DataFrame(rows)


def make_copies(catalog: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """3-4 logged copies per item: always the bland title, plus 2-3 other templates."""
    others = [t for t in TEMPLATES if t != "bland"]
    rows = []
    for item in catalog.to_dict("records"):
        chosen = ["bland", *rng.choice(others, size=int(rng.integers(2, 4)), replace=False)]
        for t in chosen:
            text, mult = TEMPLATES[t]
            rows.append({"item_id": item["item_id"], "template": t, "multiplier": mult,
                         "copy_text": text.format(title=item["title"], brand=item["brand"],
                                                  feature=item["attributes"]["feature"])})
    return pd.DataFrame(rows)


def _impressions(n: int, start: int, catalog: pd.DataFrame, copies: pd.DataFrame, item_ctr: np.ndarray,
                 item_buy: np.ndarray, policy: dict[str, np.ndarray], rng: np.random.Generator):
    segs, seg_p = list(SEGMENTS), np.array(list(SEGMENTS.values()))
    plcs = list(PLACEMENTS)
    by_item = {k: g.reset_index(drop=True) for k, g in copies.groupby("item_id", sort=False)}
    items = catalog["item_id"].to_numpy()
    rows, truth = [], []
    for r in range(n):
        i = int(rng.integers(len(items)))
        seg = segs[int(rng.choice(len(segs), p=seg_p))]
        plc = plcs[int(rng.integers(len(plcs)))]
        exam, plc_mult = PLACEMENTS[plc]
        pos = int(rng.integers(len(exam)))
        options, probs = by_item[items[i]], policy[items[i]]
        j = int(rng.choice(len(options), p=probs))
        copy = options.iloc[j]
        p_first = min(0.9, item_ctr[i] * copy["multiplier"] * SEGMENT_LIFT[seg] * plc_mult)
        p_click = exam[pos] * p_first
        p_buy = min(0.9, item_buy[i] * (1.15 if catalog["discount_pct"].iloc[i] > 0 and copy["template"] == "shipping"
                                         else 1.0))
        clicked = int(rng.random() < p_click)
        converted = int(clicked and rng.random() < p_buy)
        price = float(catalog["price"].iloc[i]) * (1 - float(catalog["discount_pct"].iloc[i]) / 100)
        rows.append({"event_id": f"ev-{start + r:06d}", "timestamp": 1_735_689_600_000 + 60_000 * (start + r),
                     "user_id": f"u-{int(rng.integers(2000)):05d}", "segment": seg, "item_id": items[i],
                     "placement": plc, "position": pos, "copy_text": copy["copy_text"],
                     "propensity": float(probs[j]), "clicked": clicked, "converted": converted,
                     "revenue": round(price, 2) if converted else 0.0})
        truth.append({"p_click": p_click, "p_purchase": p_click * p_buy, "p_click_first_slot": p_first,
                      "template": copy["template"]})
    return pd.DataFrame(rows), pd.DataFrame(truth)


def make_small_shop(impressions: int = 3000, holdout: int = 1500, n_items: int = 30, seed: int = 0) -> SmallShop:
    """A seeded small shop: ``impressions`` training rows then ``holdout`` later rows.

    >>> shop = make_small_shop(200, 100, seed=1)
    >>> len(shop.train), len(shop.holdout), bool(shop.copies.groupby("item_id").size().between(3, 4).all())
    (200, 100, True)
    """
    rng = np.random.default_rng(seed)
    catalog = make_catalog(rng, n_items)
    copies = make_copies(catalog, rng)
    item_ctr = rng.uniform(0.035, 0.085, n_items)
    item_buy = rng.uniform(0.1, 0.3, n_items)
    policy = {k: rng.dirichlet(np.full(len(g), 3.0)) for k, g in copies.groupby("item_id", sort=False)}
    train, truth_train = _impressions(impressions, 0, catalog, copies, item_ctr, item_buy, policy, rng)
    held, truth_held = _impressions(holdout, impressions, catalog, copies, item_ctr, item_buy, policy, rng)
    ids = catalog["item_id"].tolist()
    return SmallShop(catalog, train, held, truth_train, truth_held, copies,
                     dict(zip(ids, map(float, item_ctr), strict=True)), dict(zip(ids, map(float, item_buy), strict=True)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--impressions", type=int, default=3000)
    parser.add_argument("--holdout", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(make_small_shop(args.impressions, args.holdout, seed=args.seed).write(args.out))


if __name__ == "__main__":
    main()
