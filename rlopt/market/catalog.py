"""Catalog generation: items with titles, brands, prices, discounts and one key attribute each."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rlopt.market.config import CatalogConfig


def generate_catalog(config: CatalogConfig, seed: int) -> pd.DataFrame:
    """Build the contract catalog deterministically from ``config`` and ``seed``.

    Items are spread round-robin over the categories (so every category has items), then each gets
    a brand from its category's list, a model name, a noun, a price drawn log-uniformly from the
    category's range (rounded to ``.99``), a discount (0 with probability ``1 - discount_share``,
    else one of ``discount_levels``), a key attribute and a benefit.

    Returns
    -------
    pandas.DataFrame, shape (n_items, 7)
        ``item_id, title, category, brand, price, discount_pct, attributes`` where ``attributes`` is
        a dict with ``key_attribute``, ``benefit``, ``noun`` and ``tier`` (the brand's tier).
    """
    rng = np.random.default_rng([seed, 1])
    names = list(config.categories)
    rows = []
    seen_titles: set[str] = set()
    for i in range(config.n_items):
        spec = config.categories[names[i % len(names)]]
        brand = spec.brands[int(rng.integers(len(spec.brands)))]
        noun = spec.nouns[int(rng.integers(len(spec.nouns)))]
        model = spec.model_names[int(rng.integers(len(spec.model_names)))]
        title = f"{brand} {model} {noun}"
        suffix = 2
        while title in seen_titles:  # keep titles unique without changing the draw sequence
            title = f"{brand} {model} {suffix} {noun}"
            suffix += 1
        seen_titles.add(title)
        lo, hi = spec.price_range
        price = float(np.floor(np.exp(rng.uniform(np.log(lo), np.log(hi))))) + 0.99
        discounted = rng.random() < config.discount_share
        level = config.discount_levels[int(rng.integers(len(config.discount_levels)))]
        rows.append({
            "item_id": f"item-{i:04d}",
            "title": title,
            "category": spec.name,
            "brand": brand,
            "price": price,
            "discount_pct": float(level) if discounted else 0.0,
            "attributes": {
                "key_attribute": spec.attributes[int(rng.integers(len(spec.attributes)))],
                "benefit": spec.benefits[int(rng.integers(len(spec.benefits)))],
                "noun": noun,
                "tier": config.brands[brand],
            },
        })
    return pd.DataFrame(rows, columns=["item_id", "title", "category", "brand", "price", "discount_pct",
                                       "attributes"])
