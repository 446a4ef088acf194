"""Shared helpers for the data-contract tests: a small valid catalog, log and placements set."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from rlopt.data import Placement, write_table

PLACEMENTS = {
    "push": Placement("push", 60, 2, (1.0, 0.6)),
    "home_banner": Placement("home_banner", 90, 3, (1.0, 0.7, 0.5)),
    "email_subject": Placement("email_subject", 50, 1, (0.9,)),
}


def make_catalog() -> pd.DataFrame:
    return pd.DataFrame({
        "item_id": ["sku-1", "sku-2", "sku-3"],
        "title": ["Trail shoe", "Rain jacket", "Water bottle"],
        "category": ["shoes", "outerwear", "gear"],
        "brand": ["Acme", "Nimbus", "Acme"],
        "price": [89.0, 120.5, 15.0],
        "discount_pct": [0.0, 20.0, 95.0],
        "attributes": [{"color": "red"}, {}, {"material": "steel", "size": "1l"}],
    })


def make_logs() -> pd.DataFrame:
    return pd.DataFrame({
        "event_id": ["e1", "e2", "e3", "e4", "e5", "e6"],
        "timestamp": [1_700_000_000_000 + 1000 * i for i in range(6)],
        "user_id": ["u1", "u2", "u3", "u1", "u4", "u5"],
        "segment": ["bargain", "bargain", "loyal", "bargain", "new", "loyal"],
        "user_features": [{"age": 31, "tier": "gold"}, {"age": 22}, {}, {"age": 31, "tier": "gold"},
                          {"vip": True}, {"age": 50.5}],
        "item_id": ["sku-1", "sku-2", "sku-3", "sku-1", "sku-2", "sku-3"],
        "placement": ["push", "push", "home_banner", "email_subject", "home_banner", "push"],
        "position": [0, 1, 2, 0, 1, 0],
        "copy_text": ["Run further today", "Stay dry, 20% off", "Hydrate in style", "Your trail awaits",
                      "Stay dry, 20% off", "Last chance: bottles"],
        "propensity": [0.5, 0.25, 1.0, 0.1, 0.3, 0.9],
        "clicked": [1, 0, 1, 1, 0, 1],
        "converted": [1, 0, 0, 1, 0, 0],
        "revenue": [89.0, 0.0, 0.0, 89.0, 0.0, 0.0],
    })


def write_any(df: pd.DataFrame, path: Path) -> Path:
    """Write ``df`` in the format of ``path``'s suffix, keeping deliberately bad cells.

    Parquet needs one type per column, so columns that mix types are written as strings there
    (the reader must then parse them, as it does for CSV).
    """
    if path.suffix == ".parquet":
        df = df.copy()
        for col in df.columns:
            if df[col].dtype == object:
                kinds = {type(v) for v in df[col] if v is not None and v == v}
                if len(kinds) > 1 and not kinds <= {dict, str}:
                    df[col] = [None if v is None or v != v else
                               (json.dumps(v) if isinstance(v, (dict, list)) else str(v)) for v in df[col]]
    return write_table(df, path)
