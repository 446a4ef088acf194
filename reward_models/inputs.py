"""Checks and joins on the frames the reward model reads (logs, copies, the catalog).

The data contract itself is enforced by ``rlopt.data`` readers; these checks are the reward
model's own rules, for frames handed over in Python too: every item must be in the catalog, copy
text must be non-empty, and both heads need positive and negative examples to be trained.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rlopt.errors import InputError

CATALOG_COLUMNS = ("item_id", "title", "category", "brand", "price", "discount_pct")


def check_columns(frame: pd.DataFrame, required: tuple[str, ...], source: str | None, what: str) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(f"{what} lacks required column(s) {missing}; it has {list(frame.columns)}",
                         file=source, column=missing[0], rule="required column")


def check_copy_text(frame: pd.DataFrame, source: str | None = None) -> None:
    """Empty or missing ``copy_text`` -> InputError with its row (rows count from 1)."""
    check_columns(frame, ("copy_text",), source, "the copy frame")
    text = frame["copy_text"]
    bad = text.isna().to_numpy() | (text.astype(str).str.strip() == "").to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0]) + 1
        raise InputError(f"copy_text is empty ({int(bad.sum())} row(s) in all)", file=source, row=row,
                         column="copy_text", rule="copy_text non-empty", value=text.iloc[row - 1])


def join_items(frame: pd.DataFrame, catalog: pd.DataFrame, source: str | None = None) -> pd.DataFrame:
    """Add the catalog's ``title, category, brand, price, discount_pct, attributes`` by ``item_id``.

    An item missing from the catalog is an InputError naming it and its first row.
    """
    check_columns(frame, ("item_id",), source, "the frame")
    check_columns(catalog, CATALOG_COLUMNS, None, "the catalog")
    cols = [c for c in (*CATALOG_COLUMNS, "attributes") if c in catalog.columns]
    cat = catalog[cols].drop_duplicates("item_id").set_index("item_id")
    ids = frame["item_id"].astype(str)
    known = ids.isin(cat.index.astype(str))
    if not known.all():
        row = int(np.flatnonzero(~known.to_numpy())[0]) + 1
        raise InputError(f"item '{ids.iloc[row - 1]}' is not in the catalog", file=source, row=row,
                         column="item_id", rule="item_id present in the catalog", value=ids.iloc[row - 1])
    cat.index = cat.index.astype(str)
    extra = cat.loc[ids.to_numpy()].reset_index(drop=True)
    base = frame.drop(columns=[c for c in extra.columns if c in frame.columns]).reset_index(drop=True)
    joined = pd.concat([base, extra], axis=1)
    if "attributes" not in joined:
        joined["attributes"] = [{} for _ in range(len(joined))]
    return joined


def check_trainable(logs: pd.DataFrame, source: str | None = None) -> None:
    """Both heads need both outcomes: clicks and non-clicks, purchases and non-purchases."""
    check_columns(logs, ("item_id", "placement", "position", "copy_text", "clicked", "converted"), source,
                  "the impression log")
    if len(logs) == 0:
        raise InputError("the impression log has no rows; nothing to train on", file=source)
    clicks = int(logs["clicked"].sum())
    buys = int(logs["converted"].sum())
    if clicks == 0:
        raise InputError("the log has no clicks, so the click head P(click) cannot be trained "
                         "(it needs both clicked and not-clicked impressions)", file=source,
                         column="clicked", rule="at least one click")
    if clicks == len(logs):
        raise InputError("every impression was clicked, so the click head P(click) cannot be trained "
                         "(it needs not-clicked impressions too)", file=source, column="clicked",
                         rule="at least one non-click")
    if buys == 0:
        raise InputError("the log has no purchases (converted = 1), so the purchase head "
                         "P(purchase | click) cannot be trained", file=source, column="converted",
                         rule="at least one conversion")
    if buys == clicks:
        raise InputError("every click converted, so the purchase head P(purchase | click) cannot be "
                         "trained (it needs clicks without a purchase too)", file=source,
                         column="converted", rule="at least one click without a conversion")
