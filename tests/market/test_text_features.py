"""The feature extractor the truth reads copy with (one text at a time)."""

from __future__ import annotations

import pytest

from rlopt.market.lexicon import base_vocabulary
from rlopt.market.text_features import (
    TEXT_FEATURES,
    cut_to_limit,
    item_features,
    item_word_sets,
    text_features,
)

VOCAB = base_vocabulary() | {"auris", "pulse"}


def feats(text: str) -> dict[str, float]:
    return dict(zip(TEXT_FEATURES, text_features(text, VOCAB), strict=True))


@pytest.mark.parametrize(("text", "claim"), [
    ("30% off the Pulse", 30), ("Save 25% today", 25), ("now -40% on all", 40), ("15 percent off", 15),
    ("up to 60% off", 60), ("half price headphones", 50), ("20% discount", 20), ("100% cotton", 0),
    ("Get 2 for 1", 0),
])
def test_percent_claims(text, claim):
    assert feats(text)["claim"] == claim


@pytest.mark.parametrize(("text", "off", "price"), [
    ("$20 off the Pulse", 20, 0), ("save $15 now", 15, 0), ("now only $29.99", 0, 29.99),
    ("from $19 or $25", 0, 19), ("no money talk", 0, 0),
])
def test_money_claims(text, off, price):
    f = feats(text)
    assert f["dollars_off"] == off and f["price_claim"] == pytest.approx(price)


def test_cut_to_limit_drops_the_partial_word():
    assert cut_to_limit("Noise cancelling headphones", 14) == ("Noise", True)
    assert cut_to_limit("Noise cancelling", 16) == ("Noise cancelling", False)


def test_quality_signals():
    good = feats("Auris Pulse headphones: noise cancelling, 30-hour battery. Shop now")
    assert good["cta"] == 1 and good["benefit"] > 0 and good["gibberish"] == 0 and good["repetition"] == 0
    assert feats("headphones headphones headphones headphones")["repetition"] > 0.5
    assert feats("xqzt vlorp grashk headphones")["gibberish"] >= 0.75
    assert feats("BUY NOW!!! HEADPHONES!!!")["shouting"] > 0.5
    assert feats("sale deal hurry premium organic family hey discover")["stuffing"] > 0.5
    assert feats("")["empty"] == 1 and feats("Hi")["too_short"] == 1
    assert feats("You'll love it!")["lex_casual"] > feats("You will love it.")["lex_casual"]


def test_relevance_to_the_item():
    sets = item_word_sets("Auris Pulse Headphones", "Auris", "headphones", "Headphones", "noise cancelling",
                          "30-hour battery", frozenset({"Auris", "Sonora"}))
    rel, off, brand, benefit, other = item_features("Auris headphones, noise cancelling, 30-hour battery", sets)
    assert rel > 0.8 and off == 0 and brand == 1 and benefit == 1 and other == 0
    rel, off, *_ = item_features("Fresh pasta for dinner", sets)
    assert rel == 0 and off == 1
    assert item_features("Better than Sonora", sets)[-1] == 1
    assert item_features("Pulse headphones in your stride", sets)[-1] == 0  # lowercase word, not a brand


def test_attribute_said_in_other_words_counts():
    sets = item_word_sets("Northpeak Terra Rain Jacket", "Northpeak", "rain_jackets", "Rain Jacket", "waterproof",
                          "zip pockets", synonyms=("keeps you dry", "rainproof"))
    exact = item_features("waterproof shell", sets)[0]
    said = item_features("it keeps you dry all day", sets)[0]
    partial = item_features("keeps you warm", sets)[0]
    assert exact == pytest.approx(0.35) and said == pytest.approx(0.8 * 0.35) and partial == 0
