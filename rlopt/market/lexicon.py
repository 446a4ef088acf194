"""Word lists the ground truth reads copy with: taste lexicons, calls to action, benefits, vocabulary.

The vocabulary that decides what counts as gibberish is ``vocab.json`` (the 21.7k whole lowercase
words of the BERT-base-uncased WordPiece vocabulary, which all-MiniLM-L6-v2 uses; derived once and
stored here so the truth never depends on an installed model) plus every lexicon word below plus
the catalog's own words (brands and model names are invented, so they are added per market).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

#: Taste lexicons: a segment's ``taste`` weights how much it likes copy using each (keys match
#: ``TASTE_KEYS`` except ``brand``, which is per item).
LEXICONS: dict[str, frozenset[str]] = {
    "discount": frozenset(
        "sale deal deals save saving savings discount discounted off bargain bargains cheap cheaper price "
        "prices priced clearance markdown half budget value affordable lowest coupon code promo".split()
    ),
    "urgency": frozenset(
        "tonight hurry limited chance ends ending soon before gone final quick "
        "countdown hours left only while stocks immediately rush don't miss".split()
    ),
    "quality": frozenset(
        "premium quality crafted luxury luxurious finest engineered precision durable professional pro "
        "superior refined elegant exquisite handcrafted flagship iconic signature performance "
        "built lasting".split()
    ),
    "eco": frozenset(
        "organic recycled sustainable sustainably eco natural plant planet earth biodegradable renewable "
        "ethical ethically fair vegan compostable responsibly responsible carbon reusable green "
        "refillable".split()
    ),
    "family": frozenset(
        "family families kids kid children parents parent easy simple busy hassle safe everyday "
        "effortless home school mornings convenient reliable practical whole".split()
    ),
    "casual": frozenset(
        "hey love loving awesome cool wow yay fun super totally grab ya gonna vibes epic treat "
        "obsessed yours".split()
    ),
    "formal": frozenset(
        "discover introducing experience exceptional distinguished elevate elevated curated exclusive "
        "presenting sophisticated timeless meticulously impeccable artisan bespoke esteemed "
        "discerning".split()
    ),
}

#: Calls to action (regex over lowercased text).
CTA_PATTERN = re.compile(
    r"\b(shop(ping)? now|shop|buy|order|get yours|get it|get one|grab (yours|it|one|a pair)|add to (cart|bag)"
    r"|snag (yours|one|it|a pair)|find yours|book now|don't miss out|start (shopping|today)"
    r"|learn more|explore|discover|claim|check (it )?out|see (more|it|why|how)|tap|try (it|one|now)"
    r"|treat yourself|upgrade|reserve|pick (yours|one|it) up)\b"
)

#: Concrete benefits (regex over lowercased text); numbers with units count too (see truth).
BENEFIT_PATTERN = re.compile(
    r"\b(free (shipping|delivery|returns?)|warranty|guarantee[d]?|lasts?|lifetime|waterproof"
    r"|all[- ]day|hour|hours|battery|lightweight|machine[- ]washable|money[- ]back|miles?"
    r"|next[- ]day|fast delivery|in stock|ships)\b"
)
#: A number with a unit (not a percent): "30-hour", "2 year", "500 ml", "1.2 kg".
NUMBER_UNIT_PATTERN = re.compile(
    r"\b\d+(\.\d+)?[- ]?(hours?|hr|h|years?|yr|months?|days?|ml|l|kg|g|oz|mm|cm|m|km|w|mah|gb|tb"
    r"|pack|pcs|x|in|inch|inches|cups?|layers?|pockets?|speeds?|settings?|modes?|colors?|colours?)\b"
)

#: Claimed discounts: "30% off", "save 30%", "-30%", "30 percent off", "up to 30% off", "30% discount".
CLAIM_PATTERN = re.compile(
    r"(?:save\s+(?:up\s+to\s+)?(\d{1,2})\s*(?:%|percent))"
    r"|(?:(?<![\w.])-\s?(\d{1,2})\s*%)"
    r"|(?:(\d{1,2})\s*(?:%|percent)\s*(?:off|discount|savings|cheaper|less))"
)
HALF_PRICE_PATTERN = re.compile(r"\bhalf[- ]price\b|\bhalf off\b")
#: Money amounts: "$20 off" / "save $20" are amounts off; any other "$29.99" is a claimed price.
MONEY_PATTERN = re.compile(r"(save\s+(?:up\s+to\s+)?)?\$\s?(\d{1,5}(?:[.,]\d{1,2})?)(\s*off\b)?")

#: Function words (fluency); also part of the vocabulary.
STOPWORDS: frozenset[str] = frozenset(
    "a an the and or but for with to of in on at by from your you our we it its this that is are be "
    "all more most new just so up out as".split()
)

#: Everyday commerce words the BERT vocabulary lacks.
COMMERCE_WORDS: frozenset[str] = frozenset(
    "headphones earbuds earphones sneakers trainers moisturizer moisturiser serum cleanser skincare "
    "waterproof windproof breathable cancelling canceling noise bestseller bestsellers restock "
    "restocked preorder checkout wishlist smartwatch smartwatches backpack backpacks daypack "
    "recycled refillable biodegradable compostable cruelty hypoallergenic ergonomic lightweight "
    "rechargeable wireless bluetooth insulated packable stainless espresso barista grinder kettle "
    "hydrating fragrance unscented spf sweatshirt hoodie tee tees jogger joggers fleece "
    "anti slip nonstick dishwasher".split()
)

_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?|\d+(?:\.\d+)?")
_SUFFIXES = ("'s", "s", "es", "ed", "ing", "ly", "er", "est")


def tokenize(text: str) -> list[str]:
    """Lowercase word and number tokens.

    >>> tokenize("Save 30% on Auris headphones -- shop now!")
    ['save', '30', 'on', 'auris', 'headphones', 'shop', 'now']
    """
    return _TOKEN.findall(text.lower())


@lru_cache(maxsize=1)
def base_vocabulary() -> frozenset[str]:
    """The shared vocabulary: ``vocab.json`` + lexicons + commerce words + stopwords."""
    words = set(json.loads((Path(__file__).with_name("vocab.json")).read_text(encoding="utf-8")))
    for lex in LEXICONS.values():
        words |= lex
    return frozenset(words | COMMERCE_WORDS | STOPWORDS)


def in_vocabulary(token: str, vocab: frozenset[str] | set[str]) -> bool:
    """True when ``token`` or a simple stem of it (plural, -ed, -ing, -ly) is a known word.

    >>> in_vocabulary("jackets", base_vocabulary()), in_vocabulary("xqzvbl", base_vocabulary())
    (True, False)
    """
    if token in vocab or token.isdigit():
        return True
    for suffix in _SUFFIXES:
        if token.endswith(suffix) and len(token) - len(suffix) >= 2 and token[: -len(suffix)] in vocab:
            return True
    return False
