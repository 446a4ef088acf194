"""Currencies in copy: which currencies a written amount can be in, and how the catalog's is written.

One job: turn the currency a piece of copy writes ("$", "€", "USD", "euros", "C$") into the ISO 4217
codes it can mean (:func:`codes_written`), and write an amount in an item's currency for prompts and
repairs (:func:`money_text`). The discount rule (:mod:`rlopt.generation.compliance`) uses both: with a
catalog ``currency`` column, "$29.99" on a euro item states a price the shop does not charge.

A bare ``$`` means any dollar currency (:data:`DOLLAR_CODES`: a Canadian shop writes "$29.99" too),
``¥`` yen or yuan; prefixed dollars ("US$", "C$", "A$") and three-letter codes mean one currency.

Examples
--------
>>> sorted(codes_written("€")), sorted(codes_written("USD")), "CAD" in codes_written("$")
(['EUR'], ['USD'], True)
>>> money_text(29.99, "EUR"), money_text(29.99, "CHF"), money_text(3000, "JPY"), money_text(29.99, None)
('€29.99', 'CHF 29.99', '¥3000', '$29.99')
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

#: Currencies whose own symbol is a bare "$".
DOLLAR_CODES = frozenset(("USD", "CAD", "AUD", "NZD", "HKD", "SGD", "MXN"))
#: Symbols (and prefixed dollars) read before an amount -> the codes they can mean.
SYMBOLS: dict[str, frozenset[str]] = {
    "$": DOLLAR_CODES, "us$": frozenset({"USD"}), "c$": frozenset({"CAD"}), "ca$": frozenset({"CAD"}),
    "a$": frozenset({"AUD"}), "au$": frozenset({"AUD"}), "nz$": frozenset({"NZD"}), "hk$": frozenset({"HKD"}),
    "s$": frozenset({"SGD"}), "£": frozenset({"GBP"}), "€": frozenset({"EUR"}), "¥": frozenset({"JPY", "CNY"}),
    "₹": frozenset({"INR"}), "₩": frozenset({"KRW"}),
}
#: Three-letter codes read before ("CHF 49") or after ("49 CHF") an amount.
CODES = ("USD", "EUR", "GBP", "CAD", "AUD", "NZD", "CHF", "JPY", "CNY", "INR", "SEK", "NOK", "DKK", "PLN", "HKD",
         "SGD", "MXN", "BRL", "KRW", "ZAR")
#: Currency words after an amount ("14.88 dollars"); "pounds" is left out (a weight as often as a price).
WORDS: dict[str, frozenset[str]] = {
    "dollars": DOLLAR_CODES, "dollar": DOLLAR_CODES, "bucks": DOLLAR_CODES,
    "euros": frozenset({"EUR"}), "euro": frozenset({"EUR"}),
}
#: How an amount in each code is written in a prompt or a repaired claim (codes not here: "CHF 49.00").
DISPLAY = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CNY": "¥", "INR": "₹", "KRW": "₩", "CAD": "C$",
           "AUD": "A$", "NZD": "NZ$", "HKD": "HK$", "SGD": "S$", "MXN": "MX$"}
#: Codes written without cents.
NO_CENTS = frozenset(("JPY", "KRW"))
#: What the catalog's ``currency`` column must hold.
CODE_PATTERN = re.compile(r"[A-Za-z]{3}")

# Regex pieces for rlopt.generation.compliance: symbols / prefixed dollars / codes before an amount, and
# symbols / words / codes after one ("39,99 €", "20 $" as much of Europe and Quebec write them; all
# matched case-insensitively).
_PREFIXED = r"\b(?:US|CA|C|AU|A|NZ|HK|S)\$"
SYMBOL_CHARS = "$£€¥₹₩"
BEFORE_PATTERN = rf"[{SYMBOL_CHARS}]|{_PREFIXED}|\b(?:{'|'.join(CODES)})\b"
AFTER_PATTERN = rf"(?:[{SYMBOL_CHARS}]|(?:{'|'.join((*WORDS, *(c.lower() for c in CODES)))})\b)"


def codes_written(token: str | None) -> frozenset[str]:
    """ISO codes the currency ``token`` can mean ("$", "€", "USD", "euros", "C$"); empty for none.

    An unknown token (or none: a bare amount) gives the empty set, which matches every currency.
    """
    t = (token or "").strip().lower()
    if not t:
        return frozenset()
    if t in SYMBOLS:
        return SYMBOLS[t]
    if t in WORDS:
        return WORDS[t]
    return frozenset({t.upper()}) if t.upper() in CODES else frozenset()


def is_other_currency(token: str | None, currency: str | None) -> bool:
    """True when the written currency ``token`` cannot be ``currency`` (an ISO code; None: not stated)."""
    if not currency:
        return False
    written = codes_written(token)
    return bool(written) and currency.upper() not in written


def normalize_code(value: Any) -> str | None:
    """A catalog ``currency`` cell as an upper-case code; None for a blank cell (not stated)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):  # None, NaN, pd.NA
        return None
    text = str(value).strip()
    return text.upper() if text else None


def money_text(amount: float, currency: str | None, written: str | None = None) -> str:
    """``amount`` written in ``currency`` ("€29.99", "CHF 29.99", "¥3000"); "$" when not stated.

    ``written``: the number as the copy wrote it, kept as is (a symbol fix keeps "29,99" or "30").
    """
    code = (currency or "USD").upper()
    number = written if written is not None else (
        str(int(round(amount))) if code in NO_CENTS else f"{float(amount):.2f}")
    symbol = DISPLAY.get(code)
    return f"{symbol}{number}" if symbol else f"{code} {number}"


__all__ = ["CODES", "CODE_PATTERN", "DISPLAY", "DOLLAR_CODES", "SYMBOLS", "WORDS", "codes_written",
           "is_other_currency", "money_text", "normalize_code"]
