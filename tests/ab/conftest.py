"""A small market with a truth we control, shaped like ``rlopt.market`` (for fast, exact A/B tests).

Copy text ``"<item> v<k>"`` has CTR ``0.04 + 0.01 k`` (pool variants k = 0..3); any copy containing
``SALE`` has CTR 0.09. Each user has a persistent click multiplier (so impressions of one user are
correlated, as with real shoppers); purchases happen on 30% of clicks at the item's price.
"""

from __future__ import annotations

import types

import numpy as np
import pandas as pd
import pytest

from rlopt.data import Placement
from rlopt.seeding import as_rng


class FakeLoggingPolicy:
    def __init__(self, pool_size):
        self.pool_size = pool_size

    def choose(self, imps, rng):
        rng = as_rng(rng)
        return rng.integers(0, self.pool_size, len(imps)), np.full(len(imps), 1.0 / self.pool_size)


class FakeMarket:
    pool_size = 4

    def __init__(self, n_users=3000, n_items=6, seed=0):
        rng = np.random.default_rng(seed)
        self.items = [f"item{i}" for i in range(n_items)]
        self.catalog = pd.DataFrame({"item_id": self.items, "title": [f"Thing {i}" for i in range(n_items)],
                                     "category": "home", "brand": "Acme", "price": 10.0 + np.arange(n_items),
                                     "discount_pct": 0.0})
        self.placements = {"push": Placement(name="push", max_chars=60, slots=1, examination=(1.0,))}
        self.segments = {"deal": types.SimpleNamespace(name="deal"), "quality": types.SimpleNamespace(name="quality")}
        self.user_ids = np.array([f"u{i}" for i in range(n_users)])
        self.user_segment = rng.choice(["deal", "quality"], n_users)
        self.user_mult = rng.gamma(4.0, 0.25, n_users)  # mean 1, persistent per user
        self.user_weight = rng.pareto(2.0, n_users) + 1.0  # some users come back a lot
        self.user_weight /= self.user_weight.sum()
        self.logging_policy = FakeLoggingPolicy(self.pool_size)

    def copy_pool(self, item_id, placement):
        return [f"{item_id} v{k}" for k in range(self.pool_size)]

    def sample_impressions(self, n, rng):
        rng = as_rng(rng)
        u = rng.choice(len(self.user_ids), n, p=self.user_weight)
        return pd.DataFrame({
            "event_id": [f"e{i}" for i in range(n)],
            "timestamp": np.arange(n, dtype=np.int64) * 1000,
            "user_id": self.user_ids[u],
            "segment": self.user_segment[u],
            "user_features": [{"price_sensitivity": float(m) / 4} for m in self.user_mult[u]],
            "item_id": rng.choice(self.items, n),
            "placement": "push",
            "position": 0,
        })


class FakeOracle:
    def __init__(self, market):
        self.market = market
        self.mult = dict(zip(market.user_ids, market.user_mult, strict=True))

    def evaluate(self, df):
        text = df["copy_text"].astype(str)
        variant = text.str.extract(r" v(\d)$")[0].astype(float).fillna(0).to_numpy()
        ctr = np.where(text.str.contains("SALE"), 0.09, 0.04 + 0.01 * variant)
        if "user_id" in df.columns:
            ctr = np.clip(ctr * df["user_id"].map(self.mult).to_numpy(float), 0, 1)
        price = self.market.catalog.set_index("item_id")["price"].reindex(df["item_id"]).to_numpy()
        out = df.copy()
        out["p_click"] = ctr
        out["p_purchase_given_click"] = 0.3
        out["p_purchase"] = ctr * 0.3
        out["expected_revenue"] = out["p_purchase"] * price
        return out

    def respond(self, df, rng):
        rng = as_rng(rng)
        out = self.evaluate(df)
        clicked = rng.random(len(out)) < out["p_click"].to_numpy()
        converted = clicked & (rng.random(len(out)) < 0.3)
        price = self.market.catalog.set_index("item_id")["price"].reindex(out["item_id"]).to_numpy()
        out["clicked"] = clicked.astype(np.int64)
        out["converted"] = converted.astype(np.int64)
        out["revenue"] = np.where(converted, price, 0.0)
        return out


@pytest.fixture()
def fake_market():
    market = FakeMarket()
    return market, FakeOracle(market)


@pytest.fixture()
def sale_copies(tmp_path, fake_market):
    """Generated copies (K=2 per context) that all say SALE: CTR 0.09 vs the pool's 0.04-0.07."""
    market, _ = fake_market
    rows = [{"item_id": item, "segment": seg, "placement": "push", "copy_text": f"{item} SALE {k}",
             "generator": "tuned", "sample_idx": k}
            for item in market.items for seg in market.segments for k in range(2)]
    path = tmp_path / "sale.jsonl"
    pd.DataFrame(rows).to_json(path, orient="records", lines=True)
    return path
