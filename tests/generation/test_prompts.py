"""Prompts carry the context's facts; contexts naming unknown items or placements fail with the row."""

from __future__ import annotations

import pandas as pd
import pytest

from rlopt.errors import InputError
from rlopt.generation.prompts import context_messages
from tests.tuning.tuning_data import CATALOG, PLACEMENTS, SEGMENTS


def test_prompt_has_every_fact():
    ctx = pd.DataFrame([{"item_id": "i1", "segment": "bargain", "placement": "push"}])
    (msgs,) = context_messages(ctx, CATALOG, PLACEMENTS, SEGMENTS)
    user = msgs[-1]["content"]
    for fact in ("Trail Running Shoes", "Stride", "shoes", "$89.00", "20% off", "grippy outsole",
                 "bargain hunters who love discounts", "push notification", "At most 40 characters"):
        assert fact in user
    assert msgs[0]["role"] == "system"


def test_no_discount_item_says_so():
    ctx = pd.DataFrame([{"item_id": "i2", "segment": "unknown_seg", "placement": "home_banner"}])
    (msgs,) = context_messages(ctx, CATALOG, PLACEMENTS, SEGMENTS)
    assert "no discount" in msgs[-1]["content"] and "unknown seg" in msgs[-1]["content"]


@pytest.mark.parametrize("row, column", [
    ({"item_id": "nope", "segment": "bargain", "placement": "push"}, "item_id"),
    ({"item_id": "i1", "segment": "bargain", "placement": "billboard"}, "placement"),
])
def test_unknown_item_or_placement_names_the_row(row, column):
    ctx = pd.DataFrame([{"item_id": "i1", "segment": "bargain", "placement": "push"}, row])
    with pytest.raises(InputError) as err:
        context_messages(ctx, CATALOG, PLACEMENTS, SEGMENTS, source="ctx.jsonl")
    assert err.value.row == 2 and err.value.column == column and err.value.file == "ctx.jsonl"


def test_a_shops_own_placement_names_are_read_as_a_task_not_echoed_as_code():
    from rlopt.generation.prompts import build_messages

    item = {"title": "Kova Chef Knife", "brand": "Kova", "category": "kitchen", "price": 45.5, "discount_pct": 10,
            "attributes": {"feature": "stays sharp for years"}}
    for placement, words in (("shop_home", "a home-page banner"), ("product_grid", "a one-line caption for a product"),
                             ("newsletter_subject", "an email subject line"), ("app_push", "a push notification"),
                             ("checkout_upsell", "add-on offer"), ("billboard", "ad copy for the billboard")):
        user = build_messages(item, "bargain", placement, 120)[1]["content"]
        assert words in user and "_" not in user.split("\n")[0] and "'" not in user.split("\n")[0]
    user = build_messages(item, "bargain", "email", 120)[1]["content"]
    # the attribute's generic name is not a second label ("Key feature: feature: ...")
    assert "Key feature: stays sharp for years" in user
    assert "Key feature: capacity: 28 litres" in build_messages(
        {**item, "attributes": {"capacity": "28 litres"}}, "bargain", "email", 120)[1]["content"]
