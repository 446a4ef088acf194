"""Post-processing: one clean line that never exceeds the placement's limit; discount claims."""

from __future__ import annotations

import pytest

from rlopt.generation.postprocess import cap_length, claimed_discounts, clean_copy, is_misleading


@pytest.mark.parametrize("raw, limit, expected", [
    ('"Run further, 20% off today"', 100, "Run further, 20% off today"),
    ("**Bold claim** here\nsecond line", 100, "Bold claim here"),
    ("\n\n  Subject: Fresh beans are in #coffee #deal", 100, "Fresh beans are in"),
    ("- Cozy socks for cold days 🧦🔥", 100, "Cozy socks for cold days"),
    ("Trail shoes with grip for every muddy morning run", 20, "Trail shoes"),  # no dangling "with"
    ("Supercalifragilisticexpialidocious", 10, "Supercalif"),
    # empty template slots and dangling separators go; hyphenated words and ranges stay
    ("Coffee Grinder - - - -", 100, "Coffee Grinder"),
    ("Power Bank - Shop - Get it - 20% off -", 100, "Power Bank - Shop - Get it - 20% off"),
    ("Warmer - - Shop now", 100, "Warmer - Shop now"),
    ("Here is the copy:", 100, "Here is the copy"),
    ("Noise-Cancelling Headset - 10-20% off", 100, "Noise-Cancelling Headset - 10-20% off"),
    ("- -", 100, ""),
])
def test_clean_copy(raw, limit, expected):
    assert clean_copy(raw, limit) == expected


@pytest.mark.parametrize("limit", [1, 5, 17, 40, 80])
def test_clean_copy_never_exceeds_limit(limit):
    raw = "A very long line of marketing copy, with commas, words and more words " * 5
    out = clean_copy(raw, limit)
    assert 0 < len(out) <= limit


def test_cap_length_keeps_short_text():
    assert cap_length("short", 10) == "short"
    assert cap_length("anything", 0) == ""


def test_claims_and_misleading():
    assert claimed_discounts("Save 30% now, half price extras") == [30.0, 50.0]
    assert not is_misleading("Now 20% off", 20.0)
    assert not is_misleading("Now 21% off", 20.4)
    assert is_misleading("Now 40% off", 20.0)
    assert is_misleading("Big sale on mugs", 0.0)
    assert not is_misleading("Handmade mugs, free shipping", 0.0)
