"""The ground truth reacts the way a copywriter would: pinned pairs of texts.

Each test compares two copies for the same shopper, item and slot, so nobody can quietly break a
reaction the rest of rlopt relies on (reward models learn these; tuned generators are judged by them).
"""

from __future__ import annotations

import numpy as np
import pytest


def _item(market, discounted: bool):
    cat = market.catalog
    rows = cat[(cat["discount_pct"] >= 20) if discounted else (cat["discount_pct"] == 0)]
    return rows.iloc[0]


def _p(oracle, texts, item, segment="bargain_hunters", placement="product_page"):
    click = oracle.click_prob(texts, item.item_id, segment, placement, 0)
    buy = click * oracle.purchase_prob(texts, item.item_id, segment, placement)
    return click, buy


def _good(item) -> str:
    a = item.attributes
    return f"{item.title}: {a['key_attribute']} and {a['benefit']}."


@pytest.mark.parametrize("segment", ["bargain_hunters", "brand_loyalists", "eco_conscious", "premium_seekers",
                                     "busy_parents"])
def test_call_to_action_helps(market, oracle, segment):
    item = _item(market, False)
    click, _ = _p(oracle, [_good(item) + " Shop now", _good(item)], item, segment)
    assert click[0] > 1.3 * click[1]


def test_relevance_and_concrete_benefit_help(market, oracle):
    item = _item(market, False)
    a = item.attributes
    texts = [f"{item.title}: {a['key_attribute']}, {a['benefit']}. Shop now",
             f"{item.title}. Shop now",
             "Something for you. Shop now"]
    click, _ = _p(oracle, texts, item)
    assert click[0] > 1.3 * click[1] > 1.3 * click[2]


def test_accurate_discount_helps_bargain_hunters(market, oracle):
    item = _item(market, True)
    d = int(item.discount_pct)
    click, buy = _p(oracle, [f"{d}% off the {_good(item)} Shop now", f"{_good(item)} Shop now"], item)
    assert click[0] > 1.5 * click[1] and buy[0] > buy[1]


@pytest.mark.parametrize("discounted", [True, False])
def test_inflated_discount_raises_clicks_but_cuts_purchases(market, oracle, discounted):
    item = _item(market, discounted)
    real = int(item.discount_pct)
    honest = f"{real}% off the {_good(item)} Shop now" if real else f"{_good(item)} Free shipping. Shop now"
    inflated = f"{real + 30}% off the {_good(item)} Shop now"
    click, buy = _p(oracle, [honest, inflated], item)
    assert click[1] > click[0], "a bigger claimed discount must attract more clicks"
    assert buy[1] < 0.5 * buy[0], "an over-claim must cut purchases sharply"
    p_given_click = oracle.purchase_prob([honest, inflated], item.item_id, "bargain_hunters", "product_page")
    assert p_given_click[1] < 0.3 * p_given_click[0]


@pytest.mark.parametrize("placement", ["push", "home_banner", "email_subject", "product_page"])
def test_over_long_copy_is_cut_off_and_loses(market, oracle, placement):
    item = _item(market, False)
    short = f"{item.attributes['noun']} by {item.brand}. Shop now"
    limit = market.placements[placement].max_chars
    filler = " It is made with care and tested for many months by our team so you can rely on it."
    long = short + filler * (limit // len(filler) + 1)
    assert len(short) <= limit < len(long)
    click, _ = _p(oracle, [short, long], item, placement=placement)
    assert click[0] > 1.5 * click[1]


@pytest.mark.parametrize("bad", [
    "{noun} {noun} {noun} {noun} {noun} {noun}",                       # repetition
    "{brand} xqzt blorf vlemmo grashk {noun} shop now",                # gibberish
    "Fresh pasta recipes for a cosy weekend dinner party. Read more",  # off-topic
    "sale deal save now hurry today cheap discount {noun}",            # keyword stuffing
    "{BRAND} {NOUN}!!! SHOP NOW!!! BUY BUY!!!",                         # shouting
    "",                                                                # empty
])
def test_degenerate_copy_loses(market, oracle, bad):
    item = _item(market, False)
    noun = item.attributes["noun"].lower()
    text = bad.format(noun=noun, brand=item.brand, NOUN=noun.upper(), BRAND=item.brand.upper())
    click, _ = _p(oracle, [f"{item.brand} {noun}: {item.attributes['key_attribute']}. Shop now", text], item)
    assert click[1] < 0.35 * click[0]


def test_empty_copy_is_nearly_never_clicked(market, oracle):
    item = _item(market, False)
    assert oracle.attractiveness([""], item.item_id, "bargain_hunters", "push")[0] < 1e-3


def test_segment_matching_tone(market, oracle):
    item = _item(market, False)
    noun = item.attributes["noun"].lower()
    refined = (f"Discover the {item.title}: exceptional {item.attributes['key_attribute']}, "
               f"crafted to last. Explore")
    casual = f"Hey, you'll love the {item.title} - {item.attributes['key_attribute']}! Grab yours"
    attr = item.attributes["key_attribute"]
    eco = f"{item.title}: {attr}, made responsibly from recycled, sustainable materials. Shop now"
    family = f"Busy mornings made easy: {attr} {noun} the whole family can rely on. Get yours"
    premium, _ = _p(oracle, [refined, casual], item, "premium_seekers")
    assert premium[0] > 1.5 * premium[1]
    bargain, _ = _p(oracle, [refined, casual], item, "bargain_hunters")
    assert bargain[1] > bargain[0]
    green, _ = _p(oracle, [eco, refined], item, "eco_conscious")
    assert green[0] > green[1]
    parents, _ = _p(oracle, [family, refined], item, "busy_parents")
    assert parents[0] > parents[1]


def test_user_features_shift_the_truth(market, oracle):
    item = _item(market, True)
    text = f"{int(item.discount_pct)}% off the {_good(item)} Shop now"
    stingy = {"price_sensitivity": 1.0, "brand_loyalty": 0.2, "urgency": 0.7, "eco_affinity": 0.25}
    lavish = {**stingy, "price_sensitivity": 0.4}
    p = oracle.attractiveness([text, text], item.item_id, "bargain_hunters", "push", [stingy, lavish])
    assert p[0] > 1.2 * p[1]


def test_position_bias_follows_examination(market, oracle):
    item = _item(market, False)
    text = f"{item.attributes['noun']} by {item.brand}. Shop now"
    exam = market.placements["home_banner"].examination
    p = oracle.click_prob([text] * 3, item.item_id, "busy_parents", "home_banner", [0, 1, 2])
    np.testing.assert_allclose(p / p[0], np.array(exam) / exam[0])


def test_free_form_copy_scores_like_good_templates(market, oracle):
    """Copy a person would write (not from any template) lands among the pool's good copies."""
    cat = market.catalog.set_index("item_id")
    written = {
        "item-0001": "Save 40% on the Kinetic Pulse trail runners. Cushioned, light and built for 500 miles. "
                     "Order today",
        "item-0002": "Stay dry on every hike: the Northpeak Terra Rain Jacket is fully waterproof, with zip "
                     "pockets and sealed seams. Shop now",
        "item-0005": "Hydrated skin all day: Verdant's Nova Face Serum, now 20% off, in a refillable bottle. "
                     "Try it today",
    }
    for item_id, text in written.items():
        assert item_id in cat.index
        for segment in market.segments:
            pool = market.copy_pool(item_id, "product_page")
            pool_p = oracle.click_prob(pool, item_id, segment, "product_page", 0)
            mine = oracle.click_prob([text], item_id, segment, "product_page", 0)[0]
            assert mine >= np.quantile(pool_p, 0.4), (item_id, segment, mine, np.sort(pool_p))


def test_money_claims_are_checked_against_the_real_price(market, oracle):
    item = _item(market, True)
    net = item.price * (1 - item.discount_pct / 100)
    off = item.price - net
    base = f"{item.title}, {item.attributes['key_attribute']}."
    texts = [f"{base} Now only ${net:.2f}. Shop now",          # the real price
             f"{base} Now only ${net * 0.5:.2f}. Shop now",    # a price it does not have
             f"${off:.0f} off the {base} Shop now",            # the real amount off
             f"${off * 2 + 10:.0f} off the {base} Shop now"]   # an inflated amount off
    click, buy = _p(oracle, texts, item)
    assert buy[1] < 0.5 * buy[0] and click[1] > click[0]
    assert buy[3] < 0.5 * buy[2] and click[3] > click[2]


def test_naming_another_brand_loses(market, oracle):
    item = _item(market, False)
    other = next(b for b in market.config.catalog.brands if b != item.brand)
    good = f"{item.title}: {item.attributes['key_attribute']}. Shop now"
    click, buy = _p(oracle, [good, good.replace(". Shop now", f", better than {other}. Shop now")], item)
    assert click[1] < click[0] and buy[1] < buy[0]


def test_a_few_words_in_a_big_slot_lose_to_a_full_message(market, oracle):
    item = _item(market, False)
    noun = item.attributes["noun"].lower()
    full = (f"{item.title}: {item.attributes['key_attribute']}, {item.attributes['benefit']}. "
            f"A {noun} you can rely on every day. Shop now")
    click, _ = _p(oracle, [full, f"{item.brand} {noun}"], item)
    assert click[0] > 2 * click[1]


def test_a_mixed_message_loses_to_a_focused_one(market, oracle):
    """Piling every segment's hot words into one line must not beat a message with one voice."""
    item = _item(market, True)
    d = int(item.discount_pct)
    head = f"{item.title}, {item.attributes['key_attribute']}"
    focused = f"{d}% off the {head}. Hurry, sale ends tonight. Shop now"
    salad = (f"{d}% off the {head}: premium, organic, easy for the whole family. Hey, discover the sale "
             f"before it ends. Shop now")
    for segment in market.segments:
        click, _ = _p(oracle, [focused, salad], item, segment)
        if segment == "bargain_hunters":
            assert click[0] > click[1]
    lex_all = oracle.click_prob([salad] * 5, item.item_id, list(market.segments), "product_page", 0)
    lex_one = oracle.click_prob([focused] * 5, item.item_id, list(market.segments), "product_page", 0)
    assert lex_all.max() < 1.5 * lex_one.max()
