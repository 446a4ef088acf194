"""What the ground truth reads in a piece of copy: per-text features and per-(text, item) relevance.

Features are computed once per DISTINCT visible text (the caller factorizes, so 1M impressions over
a few thousand pool copies cost a few thousand feature extractions) and cached by text.

Per-text features (all floats, most in [0, 1]):

========== ==================================================================================
n_tokens   number of word/number tokens
lex_<k>    1 - exp(-hits) over taste lexicon ``k`` (saturating: repeating a word adds little);
           contractions and "!" count half a hit each for ``casual``
cta        1 if a call to action appears ("shop now", "get yours", "order", ...)
benefit    min(1, 0.6 [benefit phrase: free shipping, warranty...] + 0.6 [number with unit])
claim      largest discount claimed ("30% off", "save 30%", "-30%", "half price" = 50), else 0
dollars_off largest amount claimed off ("$20 off", "save $20"), else 0 (the truth turns it into percent)
price_claim lowest price claimed ("only $29.99"), else 0 (the truth compares it with the real price)
repetition max(1 - unique/total content tokens, 1 - unique/total content bigrams)
gibberish  min(1, share of out-of-vocabulary tokens + 2 x share of junk characters)
shouting   max(0, ALL-CAPS letter share - 0.3) / 0.7 + 0.3 x extra exclamation marks
stuffing   max(0, lexicon-token share - 0.45) / 0.55 (keyword lists, not sentences)
mixed      max(0, taste lexicons used - 3) / 4 (a mixed message: bargain + luxury + eco + family ...)
too_short  1 if fewer than 3 tokens
empty      1 if no tokens at all
========== ==================================================================================
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

import numpy as np

from rlopt.market.lexicon import (
    BENEFIT_PATTERN,
    CLAIM_PATTERN,
    CTA_PATTERN,
    HALF_PRICE_PATTERN,
    LEXICONS,
    MONEY_PATTERN,
    NUMBER_UNIT_PATTERN,
    STOPWORDS,
    in_vocabulary,
    tokenize,
)

LEXICON_NAMES: tuple[str, ...] = tuple(LEXICONS)
TEXT_FEATURES: tuple[str, ...] = (
    "n_tokens", *(f"lex_{k}" for k in LEXICON_NAMES), "cta", "benefit", "claim", "dollars_off",
    "price_claim", "repetition",
    "gibberish", "shouting", "stuffing", "mixed", "too_short", "empty",
)
ITEM_FEATURES: tuple[str, ...] = ("relevance", "off_topic", "brand_hit", "item_benefit", "other_brand")

_JUNK = re.compile(r"[^\w\s.,!?'\"\-:;%&$€£()/+]|_")
_CAPITALIZED = re.compile(r"\b[A-Z][A-Za-z]+")
_ALL_LEXICON = frozenset().union(*LEXICONS.values())


def cut_to_limit(text: str, max_chars: int) -> tuple[str, bool]:
    """The part of ``text`` a shopper sees in a placement of ``max_chars``, and whether it was cut.

    A cut drops the partial last word (it is unreadable), so the lost words never count.

    >>> cut_to_limit("Shop the new jacket today", 15)
    ('Shop the new', True)
    >>> cut_to_limit("Short", 15)
    ('Short', False)
    """
    if len(text) <= max_chars:
        return text, False
    visible = text[:max_chars]
    if not text[max_chars].isspace() and " " in visible:
        visible = visible[: visible.rindex(" ")]
    return visible.rstrip(), True


def stem(token: str) -> str:
    """Crude plural/possessive folding so "jackets" and "jacket's" match "jacket" (both sides use it)."""
    if token.endswith("'s"):
        token = token[:-2]
    if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
        return token[:-1]
    return token


def text_features(text: str, vocab: frozenset[str]) -> tuple[float, ...]:
    """Features of one visible text, in the order of ``TEXT_FEATURES``."""
    lower = text.lower()
    tokens = tokenize(text)
    n = len(tokens)
    if n == 0:
        return (0.0,) * (len(TEXT_FEATURES) - 1) + (1.0,)
    hits = {k: sum(t in LEXICONS[k] for t in tokens) for k in LEXICON_NAMES}
    # a casual voice also shows in contractions ("you'll", "it's") and an exclamation mark
    hits["casual"] += 0.5 * sum("'" in t for t in tokens) + 0.5 * ("!" in text)
    lex = [1.0 - math.exp(-hits[k]) for k in LEXICON_NAMES]
    cta = 1.0 if CTA_PATTERN.search(lower) else 0.0
    benefit = min(1.0, 0.6 * bool(BENEFIT_PATTERN.search(lower)) + 0.6 * bool(NUMBER_UNIT_PATTERN.search(lower)))
    claims = [int(g) for m in CLAIM_PATTERN.finditer(lower) for g in m.groups() if g]
    if HALF_PRICE_PATTERN.search(lower):
        claims.append(50)
    claim = float(max(claims)) if claims else 0.0
    dollars_off, prices = 0.0, []
    for m in MONEY_PATTERN.finditer(lower):
        amount = float(m.group(2).replace(",", "."))
        if m.group(1) or m.group(3):
            dollars_off = max(dollars_off, amount)
        else:
            prices.append(amount)
    price_claim = min(prices) if prices else 0.0
    content = [t for t in tokens if t not in STOPWORDS]
    repetition = 0.0
    if len(content) >= 4:
        repetition = 1.0 - len(set(content)) / len(content)
    bigrams = list(zip(content, content[1:], strict=False))
    if len(bigrams) >= 3:
        repetition = max(repetition, 1.0 - len(set(bigrams)) / len(bigrams))
    oov = sum(not in_vocabulary(t, vocab) for t in tokens) / n
    junk = len(_JUNK.findall(text)) / max(len(text), 1)
    gibberish = min(1.0, oov + 2.0 * junk)
    letters = [c for c in text if c.isalpha()]
    caps_words = sum(len(w) for w in re.findall(r"\b[A-Z]{3,}\b", text))
    caps_share = caps_words / max(len(letters), 1)
    shouting = max(0.0, caps_share - 0.3) / 0.7 + 0.3 * max(0, text.count("!") - 1)
    stuffing = 0.0
    if n >= 5:
        stuffing = max(0.0, sum(t in _ALL_LEXICON for t in tokens) / n - 0.45) / 0.55
    mixed = max(0, sum(v > 0 for v in lex) - 3) / 4.0
    return (float(n), *lex, cta, benefit, claim, dollars_off, price_claim, repetition, gibberish, min(shouting, 2.0),
            stuffing, mixed, 1.0 if n < 3 else 0.0, 0.0)


def text_feature_matrix(texts: Sequence[str], vocab: frozenset[str], cache: dict | None = None) -> np.ndarray:
    """Features of each text, shape ``(len(texts), len(TEXT_FEATURES))``; ``cache`` maps text -> row."""
    cache = {} if cache is None else cache
    rows = []
    for text in texts:
        row = cache.get(text)
        if row is None:
            row = cache[text] = text_features(text, vocab)
        rows.append(row)
    return np.asarray(rows, dtype=np.float64).reshape(len(texts), len(TEXT_FEATURES))


def item_word_sets(title: str, brand: str, category: str, noun: str, key_attribute: str,
                   benefit: str, all_brands: frozenset[str] = frozenset(),
                   synonyms: tuple[str, ...] = ()) -> dict:
    """Stemmed word sets of one item that copy about it is expected to mention (and other brands).

    ``synonyms`` are phrases that count as mentioning the key attribute; each is kept as the set of
    its stemmed words (all must appear).
    """

    def words(text: str) -> frozenset[str]:
        return frozenset(stem(t) for t in tokenize(text) if t not in STOPWORDS)

    return {
        "noun": words(noun),
        "brand": words(brand),
        "title": words(title) - words(brand) - words(noun),
        "category": words(category.replace("_", " ")),
        "attribute": words(key_attribute),
        "benefit": words(benefit),
        "other_brands": frozenset(stem(b.lower()) for b in all_brands) - words(brand),
        "synonyms": tuple(w for w in (words(p) for p in synonyms) if w),
    }


def item_features(text: str, sets: dict[str, frozenset[str]]) -> tuple[float, ...]:
    """Relevance of one visible text to one item, in the order of ``ITEM_FEATURES``.

    relevance = min(1, 0.3 noun + 0.2 brand + 0.15 model name + 0.35 x share of key-attribute words
    (0.8 for a synonym phrase of the attribute) + 0.1 category word); off_topic = 1 when none of these words appears; other_brand = 1 when
    the copy names another brand of the catalog (a wrong or confusing claim).
    """
    toks = {stem(t) for t in tokenize(text)}
    noun = bool(toks & sets["noun"])
    brand = bool(toks & sets["brand"])
    title = bool(toks & sets["title"])
    category = bool(toks & sets["category"])
    attr = len(toks & sets["attribute"]) / max(len(sets["attribute"]), 1)
    if attr < 0.8 and any(phrase <= toks for phrase in sets.get("synonyms", ())):
        attr = 0.8  # said in other words ("keeps you dry" for "waterproof")
    benefit = len(toks & sets["benefit"]) / max(len(sets["benefit"]), 1)
    relevance = min(1.0, 0.3 * noun + 0.2 * brand + 0.15 * title + 0.35 * attr + 0.1 * category)
    off_topic = 0.0 if (noun or brand or title or category or attr > 0) else 1.0
    # only capitalized mentions: several brand names are also plain words ("basics", "stride")
    named = {stem(w.lower()) for w in _CAPITALIZED.findall(text)}
    other_brand = 1.0 if named & sets["other_brands"] else 0.0
    return relevance, off_topic, float(brand), 1.0 if benefit >= 0.5 else 0.0, other_brand


def catalog_words(titles: Iterable[str]) -> frozenset[str]:
    """Lowercase tokens of catalog strings (added to the vocabulary: brands and models are invented)."""
    out: set[str] = set()
    for title in titles:
        out.update(tokenize(title))
    return frozenset(out)
