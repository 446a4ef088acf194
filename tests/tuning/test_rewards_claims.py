"""The claim guard: a number the item's catalog row and logged copy do not back costs -1 (GRPO/RLOO, ranked pairs)."""

from __future__ import annotations

import pandas as pd
import pytest

from rlopt.errors import InputError
from rlopt.generation.claims import NumberSupport, stated_numbers
from rlopt.tuning.config import make_config
from rlopt.tuning.rewards import ClaimSupportPenalty, build_reward_funcs

CATALOG = pd.DataFrame([
    {"item_id": "f1", "title": "Trail Flask 750", "brand": "Northpeak", "price": 30.0, "discount_pct": 0.0},
    {"item_id": "c1", "title": "Scented Candle", "brand": "Hearth", "price": 18.0, "discount_pct": 20.0},
])
LOGS = pd.DataFrame({"item_id": ["f1", "c1"], "copy_text": ["Trail Flask - hot for 12 hours",
                                                             "Scented Candle - Loved by 10,000+ shoppers"]})


def test_a_phrase_true_of_one_item_is_unsupported_for_another():
    penalty = ClaimSupportPenalty(CATALOG, LOGS)
    texts = ["Scented Candle - Loved by 10k shoppers", "Trail Flask - Loved by 10,000+ shoppers",
             "Trail Flask 750 - hot for 12 hours", "Scented Candle - hot for 12 hours\nsecond line 99"]
    assert penalty(None, texts, item_id=["c1", "f1", "f1", "c1"]) == [0.0, -1.0, 0.0, -1.0]


def test_discount_numbers_are_left_to_the_compliance_rule():
    support = NumberSupport(CATALOG, LOGS)
    assert support.unsupported("Scented Candle, 20% off - now $14.40", "c1") == []
    assert stated_numbers("100% cotton, 20% off", price=18.0) == ["100"]  # a product percent is a claim here


def test_without_logs_only_the_catalog_backs_a_number():
    support = NumberSupport(CATALOG)
    assert support.unsupported("Trail Flask 750 - hot for 12 hours", "f1") == ["12"]
    assert support.share(pd.DataFrame({"item_id": ["f1", "f1"], "copy_text": ["Trail Flask 750", "Flask, 3 colours"]})) == 0.5


def test_online_configs_carry_the_guard_on_by_default():
    cfg = make_config("grpo", "quick")
    assert cfg.claim_penalty == 1.0
    funcs, weights = build_reward_funcs(None, CATALOG, {}, cfg, LOGS)
    assert "claim_support" in [f.__name__ for f in funcs]
    cfg.claim_penalty = 0.0
    assert "claim_support" not in [f.__name__ for f in build_reward_funcs(None, CATALOG, {}, cfg, LOGS)[0]]
    with pytest.raises(InputError, match="claim_penalty"):
        make_config("rloo", "quick", claim_penalty=-1.0)
