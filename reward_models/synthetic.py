"""Contract logs that rlopt's marketplace did not make: a small independent generator.

Used by tests (before or without ``rlopt.market``) and by the benchmark's "foreign logs" case.
Segment names, placements, copy templates and the response model all differ from the simulator's:
copy is built from phrases whose appeal depends on the segment, clickbait phrases raise clicks
but lower purchases, and slots have their own examination probabilities. The true probabilities
are returned so a benchmark can report the truth's AUC on the same rows.

    P(click)            = exam[placement][position] * sigmoid(a_item + a_seg,plc + sum_phrase u[seg, phrase])
    P(purchase | click) = sigmoid(c_item + sum_phrase v[seg, phrase] + 2 * discount - 1.5 * clickbait)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit

from rlopt.seeding import RNGLike, as_rng

SEGMENTS = ("students", "parents", "pros", "retirees")
PLACEMENTS = {"sms": (0.9, 0.5), "app_tile": (0.8, 0.55, 0.35), "newsletter": (0.6, 0.4, 0.3, 0.2)}
CATEGORIES = ("garden", "kitchen", "audio", "toys", "books")
PHRASES = (
    "save big today", "half price this week", "crafted to last", "pro grade quality",
    "loved by families", "safe for kids", "easy to use", "free delivery", "limited stock",
    "new arrival", "you will not believe this", "act now or miss out", "as seen on tv",
    "award winning design", "gentle on your budget", "built for experts",
)
CLICKBAIT = np.array([p in ("you will not believe this", "act now or miss out", "as seen on tv") for p in PHRASES])


@dataclass
class SyntheticLogs:
    """A catalog, an impression log in the contract's columns and the true probabilities."""

    catalog: pd.DataFrame
    logs: pd.DataFrame
    truth: pd.DataFrame  # p_click, p_purchase per log row (slot included)


def make_synthetic_logs(n_impressions: int = 20_000, n_items: int = 60, rng: RNGLike = 0,
                        propensity: bool = True) -> SyntheticLogs:
    """Generate a catalog and ``n_impressions`` logged impressions with known truth."""
    rng = as_rng(rng)
    n_seg, n_phr = len(SEGMENTS), len(PHRASES)
    cats = rng.choice(CATEGORIES, size=n_items)
    catalog = pd.DataFrame({
        "item_id": [f"sku-{i:04d}" for i in range(n_items)],
        "title": [f"{c.title()} thing {i}" for i, c in enumerate(cats)],
        "category": cats,
        "brand": rng.choice(["Acme", "Northwind", "Globex", "Initech"], size=n_items),
        "price": np.round(rng.lognormal(3.5, 0.6, size=n_items), 2),
        "discount_pct": rng.choice([0.0, 10.0, 25.0, 40.0], size=n_items),
        "attributes": [{"color": str(c)} for c in rng.choice(["red", "blue", "green"], size=n_items)],
    })
    a_item = rng.normal(-1.6, 0.5, n_items)
    c_item = rng.normal(-1.0, 0.5, n_items)
    plc_names = list(PLACEMENTS)
    a_seg_plc = rng.normal(0.0, 0.4, (n_seg, len(plc_names)))
    u = rng.normal(0.0, 0.8, (n_seg, n_phr)) + 0.8 * CLICKBAIT
    v = rng.normal(0.0, 0.5, (n_seg, n_phr))

    item = rng.integers(n_items, size=n_impressions)
    seg = rng.integers(n_seg, size=n_impressions)
    plc = rng.integers(len(plc_names), size=n_impressions)
    slots = np.array([len(PLACEMENTS[p]) for p in plc_names])
    pos = (rng.random(n_impressions) * slots[plc]).astype(int)
    # logging policy: two phrases per copy, chosen uniformly -> propensity 1 / C(n_phr, 2)
    first = rng.integers(n_phr, size=n_impressions)
    second = (first + 1 + rng.integers(n_phr - 1, size=n_impressions)) % n_phr
    titles = catalog["title"].to_numpy()
    copy = [f"{titles[i]}: {PHRASES[a]}, {PHRASES[b]}" for i, a, b in zip(item, first, second, strict=True)]
    exam = np.array([PLACEMENTS[plc_names[p]][q] for p, q in zip(plc, pos, strict=True)])
    attract = expit(a_item[item] + a_seg_plc[seg, plc] + u[seg, first] + u[seg, second])
    bait = CLICKBAIT[first].astype(float) + CLICKBAIT[second]
    disc = catalog["discount_pct"].to_numpy()[item] / 100
    p_cvr = expit(c_item[item] + v[seg, first] + v[seg, second] + 2 * disc - 1.5 * bait)
    p_click = exam * attract
    clicked = (rng.random(n_impressions) < p_click).astype(int)
    converted = clicked * (rng.random(n_impressions) < p_cvr).astype(int)
    price = catalog["price"].to_numpy()[item] * (1 - disc)
    logs = pd.DataFrame({
        "event_id": [f"ev{i:07d}" for i in range(n_impressions)],
        "timestamp": 1_700_000_000_000 + np.sort(rng.integers(0, 30 * 86_400_000, n_impressions)),
        "user_id": [f"u{k}" for k in rng.integers(5000, size=n_impressions)],
        "segment": np.array(SEGMENTS)[seg],
        "user_features": [{"tenure_years": float(t)} for t in np.round(rng.exponential(2.0, n_impressions), 2)],
        "item_id": catalog["item_id"].to_numpy()[item],
        "placement": np.array(plc_names)[plc],
        "position": pos,
        "copy_text": copy,
        "clicked": clicked,
        "converted": converted,
        "revenue": np.round(converted * price, 2),
    })
    if propensity:
        logs["propensity"] = 2.0 / (n_phr * (n_phr - 1))
    truth = pd.DataFrame({"p_click": p_click, "p_purchase": p_click * p_cvr})
    return SyntheticLogs(catalog, logs, truth)
