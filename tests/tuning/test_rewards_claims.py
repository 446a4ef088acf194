"""The claim guard: a number or fact phrase the item's catalog row and logged copy do not back costs -1 (GRPO/RLOO, ranked pairs)."""

from __future__ import annotations

import pandas as pd
import pytest

from rlopt.errors import InputError
from rlopt.generation.checks import check_copies, checks_summary
from rlopt.generation.claims import ClaimSupport, stated_numbers, stated_phrases
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
    support = ClaimSupport(CATALOG, LOGS)
    assert support.unsupported("Scented Candle, 20% off - now $14.40", "c1") == []
    assert stated_numbers("100% cotton, 20% off", price=18.0) == ["100"]  # a product percent is a claim here


def test_without_logs_only_the_catalog_backs_a_number():
    support = ClaimSupport(CATALOG)
    assert support.unsupported("Trail Flask 750 - hot for 12 hours", "f1") == ["12"]
    assert support.unsupported("Trail Flask 750", "f1") == [] and support.unsupported("Flask, 3 colours", "f1") == ["3"]


def test_a_fact_phrase_without_a_number_needs_the_same_backing():
    # the 10,000+ guard alone let "Loved by shoppers" through: the phrase is the claim
    support = ClaimSupport(CATALOG, LOGS)
    assert support.unsupported("Trail Flask - loved by shoppers", "f1") == ["loved by"]
    assert support.unsupported("Scented Candle - loved by shoppers", "c1") == []  # the shop said it of c1
    assert support.unsupported("Best-selling Trail Flask, free delivery", "f1") == ["best seller", "free shipping"]
    # one key per claim however it is worded; the catalog backs it too ("hand poured" in a fact column)
    catalog = CATALOG.assign(attributes=["", "hand poured soy wax, made in Portugal"])
    backed = ClaimSupport(catalog)
    assert backed.unsupported("Handmade candle, made in Portugal", "c1") == []
    assert backed.unsupported("Handmade flask, made in Portugal", "f1") == ["handmade", "made in portugal"]
    assert backed.unsupported("Scented candle made in Spain", "c1") == ["made in spain"]


@pytest.mark.parametrize(("text", "keys"), [
    ("A customer favourite - top-rated, award-winning", ["loved by", "top rated", "award"]),
    ("Certified organic, vegan and cruelty-free", ["organic", "vegan", "cruelty free"]),
    ("Selling fast: limited edition, lifetime warranty", ["scarcity", "limited edition", "guarantee"]),
    ("Vet-recommended chews with a free gift", ["clinically proven", "free gift"]),
    ("Premium, exclusive, timeless and perfect for gifting", []),  # puffery states no checkable fact
    ("Patent leather boots, no 1-click checkout issues", []),
])
def test_fact_phrases_are_read_and_puffery_is_not(text, keys):
    assert stated_phrases(text) == keys


def test_the_tally_names_the_claims_made_up_most():
    support = ClaimSupport(CATALOG, LOGS)
    copies = pd.DataFrame({"item_id": ["f1", "f1", "f1", "c1"],
                           "copy_text": ["Flask - loved by all, loved by 10k", "Flask, free shipping", "Flask - loved by many",
                                         "Candle - loved by 10,000+ shoppers"]})
    summary = checks_summary(check_copies(copies, CATALOG, support), CATALOG, top=5)
    assert summary["unbacked_top"] == {"loved by": 2, "10000": 1, "free shipping": 1}  # a copy counts a claim once
    assert summary["unbacked_claim"] == 0.75


def test_online_configs_carry_the_guard_on_by_default():
    cfg = make_config("grpo", "quick")
    assert cfg.claim_penalty == 1.0
    funcs, weights = build_reward_funcs(None, CATALOG, {}, cfg, LOGS)
    assert "claim_support" in [f.__name__ for f in funcs]
    cfg.claim_penalty = 0.0
    assert "claim_support" not in [f.__name__ for f in build_reward_funcs(None, CATALOG, {}, cfg, LOGS)[0]]
    with pytest.raises(InputError, match="claim_penalty"):
        make_config("rloo", "quick", claim_penalty=-1.0)
