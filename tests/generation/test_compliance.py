"""Discount-claim compliance: parsing, the rule, repair — on hand-written copy, the market's copy
pool and real SmolLM2 output, with the simulator's own parser as an independent check."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from rlopt.generation.compliance import check, implied_discount, parse_claims, repair, tidy
from rlopt.generation.postprocess import claimed_discounts, is_misleading

HERE = Path(__file__).parent


# ------------------------------------------------------------------ parsing
@pytest.mark.parametrize("text, price, expected", [
    ("30% off trail shoes", None, [("percent", 30.0, 30.0)]),
    ("Save 30 percent on shoes", None, [("percent", 30.0, 30.0)]),
    ("Shoes -30% this week", None, [("percent", 30.0, 30.0)]),
    ("Up to 30% off shoes", None, [("percent", 30.0, 30.0)]),
    ("Half price shoes", None, [("half", 50.0, 50.0)]),
    ("Half-off shoes", None, [("half", 50.0, 50.0)]),
    ("$20 off shoes", 80.0, [("dollars_off", 20.0, 25.0)]),
    ("Save $20 on shoes", 80.0, [("dollars_off", 20.0, 25.0)]),
    ("Save up to $20 on shoes", 80.0, [("dollars_off", 20.0, 25.0)]),
    ("A $20 discount on shoes", 80.0, [("dollars_off", 20.0, 25.0)]),
    ("A discount of $20 on shoes", 80.0, [("dollars_off", 20.0, 25.0)]),
    ("Only $60 for shoes", 80.0, [("price", 60.0, 25.0)]),
    ("Shoes, now $59.99", 80.0, [("price", 59.99, pytest.approx(25.0125))]),
    ("Shoes $60", 80.0, [("price", 60.0, 25.0)]),
    ("Shoes $60", None, [("price", 60.0, None)]),
    ("Shoes £60", 80.0, [("price", 60.0, 25.0)]),
    ("Was $100, shoes", 80.0, [("reference", 100.0, None)]),
    ("Shoes on sale", None, [("sale", None, None)]),
    ("Clearance shoes", None, [("sale", None, None)]),
    ("Shoes with no hidden discounts", None, []),
    ("No-discount shoes, sold without a discount", None, []),
    ("100% organic cotton tee", None, []),
    ("80% recycled shell, 100% waterproof", None, []),
    ("Shoes for the whole family", 80.0, []),
])
def test_parse_claims(text, price, expected):
    got = [(c.kind, c.value, c.implied_pct) for c in parse_claims(text, price)]
    assert got == expected


def test_claim_spans_point_into_the_text():
    text = "Save $20 - now only $59.99, 25% off!"
    spans = [c.span(text) for c in parse_claims(text, 80.0)]
    assert spans == ["$20", "$59.99", "25% off"]


def test_one_phrase_is_one_claim():
    # "save 30%" is a percent claim, not also sale wording; "$20 off" is not also a claimed price
    assert [c.kind for c in parse_claims("Save 30% or $20 off", 80.0)] == ["percent", "dollars_off"]


def test_implied_discount_is_the_largest():
    assert implied_discount("10% off, or save $20", 80.0) == 25.0
    assert implied_discount("Fresh shoes", 80.0) == 0.0


# ------------------------------------------------------------------ the rule
@pytest.mark.parametrize("text, price, disc, misleading", [
    ("Now 20% off", 80.0, 20.0, False),
    ("Now 21% off", 80.0, 20.4, False),          # within 1 point
    ("Now 22% off", 80.0, 20.0, True),
    ("Now 10% off", 80.0, 20.0, True),           # under-claims are wrong too
    ("Now 40% off", 80.0, 20.0, True),
    ("Half price today", 80.0, 50.0, False),
    ("Half price today", 80.0, 20.0, True),
    ("$16 off today", 80.0, 20.0, False),
    ("$40 off today", 80.0, 20.0, True),
    ("Save $16 today", 80.0, 20.0, False),
    ("Only $64 today", 80.0, 20.0, False),       # the real net price
    ("Only $64.50 today", 80.0, 20.0, False),    # within 1% of it
    ("Yours for $80", 80.0, 20.0, False),        # the list price
    ("Only $40 today", 80.0, 20.0, True),
    ("Only $40 today", None, 20.0, False),       # no price: a claimed price cannot be judged
    ("Was $80, now $64", 80.0, 20.0, False),
    ("Was $120, now $64", 80.0, 20.0, True),
    ("On sale this week", 80.0, 20.0, False),
    ("On sale this week", 80.0, 0.0, True),
    ("Discounted mugs", 80.0, 0.0, True),
    ("Save 20 on mugs", 80.0, 0.0, True),
    ("5% off mugs", 80.0, 0.0, True),
    ("$5 off mugs", 80.0, 0.0, True),
    ("$5 off mugs", None, 0.0, True),            # amounts off on an undiscounted item, price or not
    ("Mugs for $80", 80.0, 0.0, False),
    ("Mugs for $60", 80.0, 0.0, True),
    ("Handmade mugs, free shipping", 80.0, 0.0, False),
    ("100% organic cotton", 80.0, 0.0, False),
])
def test_check(text, price, disc, misleading):
    assert check(text, price, disc) is misleading


def test_is_misleading_keeps_its_signature_and_judges_dollars_with_a_price():
    assert not is_misleading("Now 20% off", 20.0)
    assert is_misleading("Now 40% off", 20.0, 1.0)
    assert not is_misleading("Now only $19", 20.0)
    assert is_misleading("Now only $19", 20.0, price=80.0)
    assert is_misleading("Big sale on mugs", 0.0)
    assert claimed_discounts("Save 30% now, half price extras") == [30.0, 50.0]


# ------------------------------------------------------------------ repair
REPAIR_CASES = [
    # discounted item: the wrong claim becomes the true one, in the original's wording
    ("Trail shoes, 40% off today", 89.0, 20.0, ("Trail shoes, 20% off today", "corrected")),
    ("Save 30 percent on trail shoes", 89.0, 20.0, ("Save 20 percent on trail shoes", "corrected")),
    ("Trail shoes -35% this week", 89.0, 20.0, ("Trail shoes -20% this week", "corrected")),
    ("Up to 50% off trail shoes", 89.0, 20.0, ("20% off trail shoes", "corrected")),
    ("Half price trail shoes this week", 89.0, 20.0, ("20% off trail shoes this week", "corrected")),
    ("Stride trail shoes now 20 percent off", 89.0, 15.5, ("Stride trail shoes now 15.5 percent off", "corrected")),
    ("Trail shoes: $40 off this week", 80.0, 25.0, ("Trail shoes: $20 off this week", "corrected")),
    ("Save $35 on trail shoes", 80.0, 25.0, ("Save $20 on trail shoes", "corrected")),
    ("Save $35.00 on trail shoes", 80.0, 25.0, ("Save $20.00 on trail shoes", "corrected")),
    ("Trail shoes, a $30 discount today", 80.0, 25.0, ("Trail shoes, $20 off today", "corrected")),
    ("Trail shoes, only $29.99 today", 80.0, 25.0, ("Trail shoes, only $60.00 today", "corrected")),
    ("Trail shoes, now $45", 80.0, 25.0, ("Trail shoes, now $60", "corrected")),
    ("Trail shoes, now $45", 73.99, 25.0, ("Trail shoes, now $55", "corrected")),     # $55 is within 1%
    ("Trail shoes, now $5", 13.99, 25.0, ("Trail shoes, now $10.49", "corrected")),   # $10 is not: cents
    ("Was $120, now $60: trail shoes", 80.0, 25.0, ("Was $80, now $60: trail shoes", "corrected")),
    ("Trail shoes for €29", 80.0, 25.0, ("Trail shoes for €60", "corrected")),
    ("100% organic cotton tee, 40% off", 30.0, 20.0, ("100% organic cotton tee, 20% off", "corrected")),
    # undiscounted item: the claim goes, with its glue words
    ("Get 30% off grippy trail shoes today!", 80.0, 0.0, ("Grippy trail shoes today!", "removed")),
    ("Grippy trail shoes, 30% off, for muddy runs", 80.0, 0.0, ("Grippy trail shoes, for muddy runs", "removed")),
    ("Packed with grip and a 20% discount.", 80.0, 0.0, ("Packed with grip.", "removed")),
    ("Big sale on trail shoes for muddy runs", 80.0, 0.0, ("Trail shoes for muddy runs", "removed")),
    ("Grippy trail shoes - save up to $20!", 80.0, 0.0, ("Grippy trail shoes", "removed")),
    ("Trail shoes, 30% off, only $49!", 80.0, 0.0, ("Trail shoes, only $80!", "removed")),
    ("Half-price trail shoes for your muddy runs", 80.0, 0.0, ("Trail shoes for your muddy runs", "removed")),
    ("Purchase: $19.99 for grippy trail shoes", 80.0, 0.0, ("Purchase: $80.00 for grippy trail shoes", "corrected")),
    # too little left
    ("Trail shoes, 30% off!", 80.0, 0.0, (None, "unrepairable")),
    ("Trail shoes on sale", 80.0, 0.0, (None, "unrepairable")),
    ("50% off!", 80.0, 0.0, (None, "unrepairable")),
    # honest copy is left alone
    ("Trail shoes, 20% off today", 89.0, 20.0, ("Trail shoes, 20% off today", "ok")),
    ("Trail shoes on sale", 80.0, 10.0, ("Trail shoes on sale", "ok")),
    ("Save $20 on trail shoes", None, 20.0, ("Save $20 on trail shoes", "ok")),
]


@pytest.mark.parametrize("text, price, disc, expected", REPAIR_CASES)
def test_repair(text, price, disc, expected):
    assert repair(text, price, disc, 60) == expected


def test_repair_respects_max_chars():
    text = "Half price Stride trail shoes with a grippy outsole, only $19 today"
    fixed, action = repair(text, 89.0, 20.0, 40)
    assert action == "corrected" and len(fixed) <= 40 and not check(fixed, 89.0, 20.0)
    # a replacement that lengthens the text is capped again
    fixed, _ = repair("Shoes x" + " y" * 24 + " half price", 89.0, 20.0, 60)
    assert len(fixed) <= 60


def test_repair_of_long_honest_copy_only_caps():
    text = "Grippy trail shoes for every muddy morning run"
    assert repair(text, 80.0, 0.0, 20) == ("Grippy trail shoes", "ok")


def test_tidy():
    assert tidy("Shoes ,  for  your runs , . ") == "Shoes, for your runs."
    assert tidy(" - : on Trail shoes - and") == "Trail shoes"
    assert tidy("and more", lead=False) == "and more"


# ------------------------------------------------------------------ idempotence and real copy
def _idempotent(text, price, disc, limit):
    fixed, action = repair(text, price, disc, limit)
    if fixed is None:
        return
    assert len(fixed) <= limit
    assert not check(fixed, price, disc), (text, fixed)
    assert repair(fixed, price, disc, limit) == (fixed, "ok"), (text, fixed)


@pytest.mark.parametrize("text, price, disc, _expected", REPAIR_CASES)
def test_repair_is_idempotent_on_the_hand_written_cases(text, price, disc, _expected):
    _idempotent(text, price, disc, 60)
    _idempotent(text, price, disc, 25)


@pytest.fixture(scope="module")
def market():
    from rlopt.market import DEFAULT_MARKET, Marketplace
    from rlopt.market.oracle import Oracle

    m = Marketplace.from_toml(DEFAULT_MARKET)
    return m, Oracle(m)


def _repaired_frame(frame: pd.DataFrame, m) -> pd.DataFrame:
    cat = m.catalog.set_index("item_id")
    rows = []
    for item, place, text in zip(frame["item_id"], frame["placement"], frame["copy_text"], strict=True):
        price, disc, title = float(cat.at[item, "price"]), float(cat.at[item, "discount_pct"]), cat.at[item, "title"]
        limit = m.placements[place].max_chars
        fixed, action = repair(text, price, disc, limit)
        rows.append({"item_id": item, "placement": place, "raw": text, "action": action,
                     "copy_text": fixed if fixed is not None else title[:limit],
                     "misleading_before": check(text, price, disc), "misleading_after": check(fixed or title, price, disc),
                     "price": price, "disc": disc, "limit": limit})
    return pd.DataFrame(rows)


def test_copy_pool_after_repair_is_honest_by_both_parsers(market):
    m, oracle = market
    pool = pd.DataFrame([(item, place, text) for (item, place), copies in m.pools.items() for _, text in copies],
                        columns=["item_id", "placement", "copy_text"])
    out = _repaired_frame(pool, m)
    kinds = [k for (_, _), copies in m.pools.items() for k, _ in copies]
    # the pool's "misleading" variants are exactly what rlopt flags, and what the truth calls over-claims
    assert (out["misleading_before"] == pd.Series([k == "misleading" for k in kinds])).all()
    assert oracle.overclaims(pool).sum() == out["misleading_before"].sum()
    assert not out["misleading_after"].any()
    assert not oracle.overclaims(out).any()
    assert (out["copy_text"].str.len() <= out["limit"]).all()
    assert set(out["action"]) <= {"ok", "corrected", "removed"}
    for r in out.itertuples():
        _idempotent(r.raw, r.price, r.disc, r.limit)


def test_real_smollm2_copy_after_repair_is_honest_by_both_parsers(market):
    """Copy the default SmolLM2 generator (base and DPO-tuned) wrote in a quickstart run, with any claim."""
    m, oracle = market
    gen = pd.DataFrame([json.loads(line) for line in (HERE / "smollm2_claims.jsonl").read_text().splitlines()])
    out = _repaired_frame(gen, m)
    assert out["misleading_before"].mean() > 0.3  # the file holds the copies with claims: many are wrong
    assert oracle.overclaims(gen).any()
    assert not out["misleading_after"].any()
    assert not oracle.overclaims(out).any()
    assert (out["copy_text"].str.len() <= out["limit"]).all()
    for r in out.itertuples():
        _idempotent(r.raw, r.price, r.disc, r.limit)


def test_oracle_claimed_discount_reads_like_the_truth(market):
    m, oracle = market
    item = m.catalog[m.catalog["discount_pct"] == 0].iloc[0]
    df = pd.DataFrame({"copy_text": ["Save 30% today", f"Only ${item.price / 2:.2f}", "$10 off today", "Shop now",
                                     "100% organic"], "item_id": item.item_id})
    got = oracle.claimed_discount(df)
    assert got[0] == 30.0 and got[1] == pytest.approx(50.0, abs=0.01)
    assert got[2] == pytest.approx(1000.0 / item.price) and got[3] == 0.0 and got[4] == 0.0
    assert oracle.overclaims(df).tolist() == [True, True, 1000.0 / item.price > 2.0, False, False]


# ------------------------------------------------------------------ prices without a currency symbol
@pytest.mark.parametrize("text, price, expected", [
    ("Terra Nova Speckled Vase, 14.88 dollars", 144.88, [("price", 14.88)]),
    ("Vase for 130 euros", 144.88, [("price", 130.0)]),
    ("Vase for USD 130.39", 144.88, [("price", 130.39)]),
    ("Terra Nova Speckled Vase - 144.88", 144.88, [("price", 144.88)]),  # a bare amount with cents
    ("Save 15 dollars on the vase", 144.88, [("dollars_off", 15.0)]),
    ("15 bucks off the vase", 144.88, [("dollars_off", 15.0)]),
    ("Was 160 dollars, the vase", 144.88, [("reference", 160.0)]),
    # not prices: a unit or a rating after the number, no cents, a weight in pounds
    ("Weighs 2.50 kg, lamp with 3.33lumens", 40.0, []),
    ("Rated 4.85 by our buyers", 40.0, []),
    ("Lantern: 300 lumens, 28 litres", 40.0, []),
    ("Only 5 pounds light", 40.0, []),
])
def test_prices_in_words_and_bare_amounts_are_claims(text, price, expected):
    assert [(c.kind, c.value) for c in parse_claims(text, price)] == expected


@pytest.mark.parametrize("text, price, disc, wrong", [
    ("Terra Nova Speckled Vase, 14.88 dollars", 144.88, 0.0, True),  # issue 19: a tenth of the price
    ("Terra Nova Speckled Vase, 144.88 dollars", 144.88, 0.0, False),
    ("Terra Nova Speckled Vase - 144.88", 144.88, 0.0, False),
    ("Terra Nova Speckled Vase - 104.88", 144.88, 0.0, True),
    ("Vase, now 130.39", 144.88, 10.0, False),  # the sale price
    ("Vase, now 145 dollars", 144.88, 0.0, False),  # rounded to whole units
    ("Vase for 99 euros", 144.88, 10.0, True),
])
def test_a_stated_price_must_be_the_list_or_the_sale_price(text, price, disc, wrong):
    assert check(text, price, disc) is wrong


def test_a_wrong_price_in_words_is_corrected_in_its_own_format():
    assert repair("Terra Nova Speckled Vase, 14.88 dollars", 144.88, 0.0, 70) == \
        ("Terra Nova Speckled Vase, 144.88 dollars", "corrected")
    assert repair("Vase - 104.88 only", 144.88, 10.0, 70) == ("Vase - 130.39 only", "corrected")
    assert repair("Save 40 dollars on the vase", 144.88, 10.0, 70) == ("Save 14 dollars on the vase", "corrected")


def test_the_price_rule_flags_no_logged_copy_of_the_foreign_markets(tmp_path):
    """False positives: the shops' own logged copy states prices the new rule must accept (bazaar's logs
    do carry misleading percent claims on purpose; none of them is a price claim)."""
    from experiments.markets import bazaar
    from experiments.markets.small_shop import make_small_shop
    from rlopt.generation.compliance import misleading_claims

    sim = bazaar.simulate(tmp_path / "bazaar", 4000, seed=0)
    shops = [(pd.read_parquet(sim / "catalog.parquet"), pd.read_parquet(sim / "train.parquet"))]
    small = make_small_shop(600, 10, seed=0)
    shops.append((small.catalog, small.train))
    for catalog, logs in shops:
        items = catalog.set_index(catalog["item_id"].astype(str))
        for item, text in logs[["item_id", "copy_text"]].astype(str).drop_duplicates().itertuples(index=False):
            wrong = misleading_claims(text, float(items.at[item, "price"]), float(items.at[item, "discount_pct"]))
            assert not [c for c in wrong if c.kind in ("price", "reference")], text
