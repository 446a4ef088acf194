"""Discount-claim compliance: find the discount claims in copy, judge them, repair the wrong ones.

One job: given a piece of copy and the item's list ``price`` and real ``discount_pct``, say
whether the copy claims a discount the item does not have (:func:`check`) and, if so, rewrite it
so that it does not (:func:`repair`). Rewards, DPO pair mining, evaluation and generation all use
this one rule (:func:`rlopt.generation.postprocess.is_misleading` delegates here).

What counts as a claim (:func:`parse_claims`), each with the discount it implies:

============ ====================================================== =============================
kind         examples                                               implied discount (percent)
============ ====================================================== =============================
percent      "30% off", "save 30 percent", "-30%", "up to 30%"      30
half         "half price", "half off", "half-priced"                50
dollars_off  "$20 off", "save $20", "$20 discount", "discount of $20"   100 x 20 / price
price        "only $29.99", "now $29.99", a bare "$29.99"           100 x (1 - 29.99 / price)
reference    "was $49.99", "originally $49.99", "reg. $49.99"       (a list price; must be the real one)
sale         "on sale", "clearance", "discounted", "save 20"        (a discount with no number)
============ ====================================================== =============================

Amounts are read with a currency symbol or code before them ("$29.99", "USD 29.99", "C$29", "CHF 49")
or a currency symbol, word or code after them ("39,99 €", "29.99 dollars", "20 euros", "299 SEK":
:mod:`rlopt.generation.currency`); a bare amount with cents ("Vase - 144.88") is a claimed price too,
unless a unit follows it ("3.50 kg", "4.85 stars").

Sale wording that is denied ("no discounts", "no hidden discounts", "without a discount") is not a
claim.

Percentages that describe the product rather than its price ("100% cotton", "80% recycled",
"100% satisfaction") are not claims (see :data:`NOT_A_DISCOUNT`).

The item's ``currency`` (an ISO 4217 code, the catalog's optional ``currency`` column): an amount
written in another currency ("$29.99" or "29.99 dollars" on a euro item) is misleading whatever its
number, and the repair writes it in the item's currency ("€29.99"). Without it (None) every amount is
read as the catalog's currency, and a bare "$" matches any dollar currency.

The rule (:func:`check`), with ``tolerance`` in percentage points (default 1):

- an item with no discount (``discount_pct < 0.5``): any percent, half-price, dollars-off or sale
  claim is misleading, and so is a claimed price that is not the list price;
- a discounted item: a percent or half-price claim more than ``tolerance`` points from the real
  discount is misleading, and so is a dollars-off amount whose implied percent is; a claimed price
  must be the real net price or the list price (within 1%), a reference price the list price;
- without a ``price`` the dollar claims cannot be judged and are left alone, except that any
  dollars-off claim on an undiscounted item is misleading;
- with a ``currency``, any amount (price, amount off, reference price) written in another currency.

What :func:`repair` does to the misleading claims: on a discounted item each wrong claim is
replaced by the true one (the real percent; the real amount off; the real net price; the real list
price), keeping the original's wording and number format, in the item's currency; an amount whose
only fault is its currency keeps its number and gets the item's currency; on an undiscounted item
each other discount claim is removed with its glue words ("save", "up to", "get", "off", a trailing "!") and the
punctuation is tidied, and a claimed price becomes the real price. The result is capped to
``max_chars`` and checked again; copy that is still misleading, or left with fewer than three
words, is unrepairable (``None``).

Examples
--------
>>> check("Now 30% off!", price=50.0, discount_pct=10.0)
True
>>> repair("Now 30% off!", price=50.0, discount_pct=10.0, max_chars=60)
('Now 10% off!', 'corrected')
>>> repair("Trail shoes, save $20 today", price=80.0, discount_pct=0.0, max_chars=60)
('Trail shoes, today', 'removed')
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from rlopt.generation.currency import (
    AFTER_PATTERN,
    BEFORE_PATTERN,
    SYMBOL_CHARS,
    is_other_currency,
    money_text,
    normalize_code,
)
from rlopt.generation.fit import MIN_WORDS, cap_length

#: Claim kinds, in the order the parser looks for them.
CLAIM_KINDS = ("percent", "half", "dollars_off", "reference", "price", "sale")
#: Below this a discount counts as none.
NO_DISCOUNT = 0.5

_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:[.,]\d{1,2})?"
# An amount with its currency before it ("$20", "USD 20", "US$20", "€20") or a currency word or code
# after it ("20 dollars", "20 EUR"); rlopt.generation.currency says which currencies each can mean.
_MONEY = (rf"(?:(?P<cur>{BEFORE_PATTERN})\s?(?P<amt>{_NUM})(?![\d%])"
          rf"|(?<![\w.,{SYMBOL_CHARS}])(?P<wamt>{_NUM})(?P<wcur>\s?{AFTER_PATTERN}))")
# A bare amount with cents and no currency ("Vase - 144.88"): read as a price unless a unit follows it
# ("3.50 kg", "4.85 stars", "2.25x") or a word says it is not one ("rated 4.85", "size 10.50").
_UNITS = (r"%|[A-Za-z]|\s*(?:kg|g|lbs?|oz|ml|cl|l|litres?|liters?|cm|mm|m|km|in|inch(?:es)?|ft|hours?|hrs?|h"
          r"|min(?:ute)?s?|lumens?|w|watts?|v|volts?|mah|gb|tb|mb|mp|x|stars?|points?|pounds|miles?|mph)\b")
_BARE_PRICE = re.compile(
    rf"(?<![\w.,{SYMBOL_CHARS}/:-])(?P<amt>\d{{1,3}}(?:,\d{{3}})+\.\d{{2}}|\d+\.\d{{2}})(?![\d.,]\d|{_UNITS})",
    re.IGNORECASE)
_NOT_A_PRICE_BEFORE = re.compile(r"\b(?:rated|rating|size|model|version|v|no|nr|score|grade)\.?\s*#?$",
                                 re.IGNORECASE)
#: Words after a percent that make it a property of the product, not a discount.
NOT_A_DISCOUNT = frozenset((
    "cotton organic recycled recyclable natural pure eco sustainable sustainably biodegradable compostable "
    "vegan plant wool merino cashmere linen silk leather polyester nylon hemp bamboo waterproof satisfaction "
    "satisfied guaranteed guarantee fair cruelty plastic handmade authentic renewable reusable refillable "
    "traceable ethically ethical responsibly grown sourced made carbon cocoa arabica juice real genuine "
    "customer customers rated recommend recommended positive uv spf humidity battery charged juice"
).split())

_PROPERTY_PREFIXES = ("eco", "sustain", "recycl", "organic", "natural", "biodegrad", "compost", "plant", "vegan",
                      "renewab", "reusab", "handmade", "cotton", "wool")

_PERCENT = re.compile(
    r"(?P<upto>\bup\s+to\s+)?(?P<neg>(?<![\w.%])-\s?)?(?<![\d.,])(?P<num>\d{1,3}(?:\.\d+)?)"
    r"(?P<unit>\s*%|\s*\bpercent\b|\s*\bper\s+cent\b)"
    r"(?P<post>\s*(?:off|discount(?:ed)?|savings?|cheaper|less)\b)?",
    re.IGNORECASE)
_HALF = re.compile(r"\bhalf[- ](?:price[ds]?|off)\b|\b50/50\b", re.IGNORECASE)
_DOLLARS_OFF = re.compile(
    rf"(?P<save>\bsave\s+)(?P<upto>up\s+to\s+)?{_MONEY}(?P<post>\s*off\b)?"
    rf"|{_MONEY.replace('cur', 'cur2').replace('amt', 'amt2')}(?P<post2>\s*(?:off|discount|savings?|cheaper|less)\b)"
    rf"|(?P<pre3>\b(?:discount|savings?|reduction)\s+of\s+){_MONEY.replace('cur', 'cur3').replace('amt', 'amt3')}",
    re.IGNORECASE)
_REFERENCE = re.compile(
    rf"(?P<pre>\b(?:was|originally|orig\.|regularly|reg\.|list(?:\s+price)?|retail(?:\s+price)?|compare\s+at|msrp)"
    rf"\s*:?\s*){_MONEY}", re.IGNORECASE)
_PRICE = re.compile(_MONEY, re.IGNORECASE)
_SALE = re.compile(r"\b(?:on\s+sale|for\s+sale|sale|discount(?:ed|s)?|clearance|markdowns?|bogo|price\s+drop"
                   r"|reduced|save\s+\d+)\b", re.IGNORECASE)

# "no discounts", "no hidden discounts", "no-discount", "without a discount": sale wording denied, not claimed
_NEGATED = re.compile(r"\b(?:no|without(?:\s+an?)?)[\s-]+(?:[a-z]+\s+)?$", re.IGNORECASE)
# Words removed together with a claim on an undiscounted item.
_GLUE_BEFORE = re.compile(r"(?:^|(?<=\s))(?:save|get|enjoy|take|grab|with|at|for|a|an|extra|an\s+extra|only|now"
                          r"|just|up\s+to|and|plus|receive|offers?|offering|big|huge|flash|special|great|exclusive"
                          r"|limited|summer|winter|holiday|on)\s*$", re.IGNORECASE)
_GLUE_AFTER = re.compile(r"^\s*(?:(?:off|discount|savings?|sale)\b)?\s*!*", re.IGNORECASE)
_LEADING = re.compile(r"^(?:and|with|at|for|of|on|by|or|plus|but)\b\s*", re.IGNORECASE)
_TRAILING = re.compile(r"\s*\b(?:and|with|at|for|of|on|to|by|or|plus|but|a|an|the|your|get|save|now|only|no|not)$",
                       re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z0-9]+")


@dataclass(frozen=True)
class Claim:
    """One discount claim in a piece of copy.

    Attributes
    ----------
    kind : str
        One of :data:`CLAIM_KINDS`.
    start, end : int
        The claim's span in the text (``text[start:end]``).
    value : float or None
        The number as written: a percent, an amount off, a price; None for sale wording.
    implied_pct : float or None
        The discount the claim implies, in percent of the list price; None when it implies none
        (sale wording, a reference price) or needs a price that was not given.
    currency : str
        The currency the amount is written in, as written ("$", "€", "usd", "euros"); "" for none
        (percent, half-price and sale claims, a bare amount).
    """

    kind: str
    start: int
    end: int
    value: float | None
    implied_pct: float | None
    currency: str = ""

    def span(self, text: str) -> str:
        """The claim's text."""
        return text[self.start:self.end]


def _money(m: re.Match, suffix: str = "") -> tuple[str, str, str]:
    """``(currency before, amount, currency after)`` of a :data:`_MONEY` match (group names + ``suffix``)."""
    if m.group("amt" + suffix) is not None:
        return m.group("cur" + suffix), m.group("amt" + suffix), ""
    return "", m.group("wamt" + suffix), m.group("wcur" + suffix)


def _amount(raw: str) -> float:
    """A written amount as a float: "1,299.99" -> 1299.99, "1,50" -> 1.5 (a decimal comma)."""
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?", raw):
        return float(raw.replace(",", ""))
    return float(raw.replace(",", "."))


def _free(taken: list[tuple[int, int]], start: int, end: int) -> bool:
    return all(end <= a or start >= b for a, b in taken)


def _is_property(text: str, end: int) -> bool:
    """True when the percent ending at ``end`` describes the product ("100% cotton", "80% recycled")."""
    m = re.match(r"[\s-]*([A-Za-z]+)", text[end:])
    if not m:
        return False
    word = m.group(1).lower()
    return word in NOT_A_DISCOUNT or word.startswith(_PROPERTY_PREFIXES)


def parse_claims(text: str, price: float | None = None) -> list[Claim]:
    """Every discount claim in ``text``, in order of position.

    Parameters
    ----------
    text : str
    price : float, optional
        The item's list price; without it dollar claims have no ``implied_pct``.

    Returns
    -------
    list of Claim

    Examples
    --------
    >>> [(c.kind, c.value, round(c.implied_pct, 2)) for c in parse_claims("Save $20 - now $59.99, 25% off!", 80.0)]
    [('dollars_off', 20.0, 25.0), ('price', 59.99, 25.01), ('percent', 25.0, 25.0)]
    >>> [c.kind for c in parse_claims("100% organic cotton, half price this week")]
    ['half']
    """
    claims: list[Claim] = []
    taken: list[tuple[int, int]] = []
    price = float(price) if price is not None and price > 0 else None

    def add(kind: str, start: int, end: int, value: float | None, implied: float | None, currency: str = "") -> None:
        claims.append(Claim(kind, start, end, value, implied, currency))
        taken.append((start, end))

    for m in _PERCENT.finditer(text):
        if not m.group("post") and not m.group("neg") and not m.group("upto") and _is_property(text, m.end()):
            continue
        value = float(m.group("num"))
        add("percent", m.start(), m.end(), value, value)
    for m in _HALF.finditer(text):
        if _free(taken, m.start(), m.end()):
            add("half", m.start(), m.end(), 50.0, 50.0)
    for m in _DOLLARS_OFF.finditer(text):
        suffix = next(s for s in ("", "2", "3") if m.group("amt" + s) is not None or m.group("wamt" + s) is not None)
        cur, amt, after = _money(m, suffix)
        start = (m.start("cur") if m.group("cur") is not None else m.start("wamt")) if m.group("save") else m.start()
        if m.group("upto"):
            start = m.start("upto")
        if _free(taken, start, m.end()):
            value = _amount(amt)
            add("dollars_off", start, m.end(), value, None if price is None else 100.0 * value / price,
                (cur or after).strip())
    for m in _REFERENCE.finditer(text):
        start = m.start("cur") if m.group("cur") is not None else m.start("wamt")
        if _free(taken, start, m.end()):
            cur, amt, after = _money(m)
            add("reference", start, m.end(), _amount(amt), None, (cur or after).strip())
    bare = [m for m in _BARE_PRICE.finditer(text) if not _NOT_A_PRICE_BEFORE.search(text[:m.start()])]
    for m in (*_PRICE.finditer(text), *bare):
        if _free(taken, m.start(), m.end()):
            cur, amt, after = ("", m.group("amt"), "") if m.re is _BARE_PRICE else _money(m)
            value = _amount(amt)
            add("price", m.start(), m.end(), value, None if price is None else 100.0 * (1.0 - value / price),
                (cur or after).strip())
    for m in _SALE.finditer(text):
        if _free(taken, m.start(), m.end()) and not _NEGATED.search(text[:m.start()]):
            add("sale", m.start(), m.end(), None, None)
    return sorted(claims, key=lambda c: c.start)


def _near(a: float, b: float, rel: float = 0.01) -> bool:
    return abs(a - b) <= rel * abs(b) + 0.005


def is_wrong(claim: Claim, price: float | None, discount_pct: float, tolerance: float = 1.0,
             currency: str | None = None) -> bool:
    """True when ``claim`` misstates the item's discount or currency (the rule in the module docstring)."""
    return is_other_currency(claim.currency, currency) or _wrong_amount(claim, price, discount_pct, tolerance)


def _wrong_amount(claim: Claim, price: float | None, discount_pct: float, tolerance: float) -> bool:
    """True when ``claim``'s number (or sale wording) misstates the item's discount."""
    disc = float(discount_pct)
    none = disc < NO_DISCOUNT
    if claim.kind in ("percent", "half", "sale"):
        return none or (claim.kind != "sale" and abs(float(claim.value) - disc) > tolerance)
    if claim.kind == "dollars_off":
        if none:
            return True
        return claim.implied_pct is not None and abs(claim.implied_pct - disc) > tolerance
    if price is None or price <= 0:
        return False
    if claim.kind == "reference":
        return not _near(claim.value, price)
    net = price * (1.0 - disc / 100.0)
    return not (_near(claim.value, net) or _near(claim.value, price))


def misleading_claims(text: str, price: float | None, discount_pct: float,
                      tolerance: float = 1.0, currency: str | None = None) -> list[Claim]:
    """The claims in ``text`` that misstate the item's discount or currency (empty when the copy is honest)."""
    return [c for c in parse_claims(text, price) if is_wrong(c, price, discount_pct, tolerance, currency)]


def check(text: str, price: float | None, discount_pct: float, tolerance: float = 1.0,
          currency: str | None = None) -> bool:
    """True when ``text`` claims a discount the item does not have, or a price in another currency (misleading).

    Examples
    --------
    >>> check("20% off trail shoes", 90.0, 20.0), check("20% off trail shoes", 90.0, 10.0)
    (False, True)
    >>> check("Only $72.00 today", 90.0, 20.0), check("Only $45 today", 90.0, 20.0)
    (False, True)
    >>> check("On sale this week", 90.0, 0.0), check("100% organic cotton tee", 90.0, 0.0)
    (True, False)
    >>> check("Only $72.00 today", 90.0, 20.0, currency="EUR"), check("Only €72.00 today", 90.0, 20.0, currency="EUR")
    (True, False)
    """
    return bool(misleading_claims(text, price, discount_pct, tolerance, currency))


def _fmt_pct(disc: float, written: str) -> str:
    """The real percent, with decimals only where the item's discount has them."""
    if abs(disc - round(disc)) < 0.05:
        return str(int(round(disc)))
    decimals = len(written.split(".")[1]) if "." in written else 0
    return f"{disc:.{max(decimals, 1)}f}"


def _fmt_money(amount: float, written: str, ok) -> str:
    """``amount`` formatted like ``written`` (cents only when it had them or whole units would be wrong)."""
    whole = str(int(round(amount)))
    if not re.search(r"[.,]\d{1,2}$", written) and ok(float(whole)):
        return whole
    return f"{amount:.2f}"


def _replacement(claim: Claim, text: str, price: float | None, disc: float, tolerance: float,
                 currency: str | None = None) -> str:
    """The true claim to put in place of a wrong one on a discounted item (or of a right amount in
    another currency)."""
    span = claim.span(text)
    if claim.kind == "percent":
        m = _PERCENT.fullmatch(span)
        neg = (m.group("neg") or "") if m else ""
        unit = m.group("unit") if m else "%"
        post = (m.group("post") or "") if m else ""
        return f"{neg}{_fmt_pct(disc, m.group('num') if m else '')}{unit}{post}"
    if claim.kind == "half":
        return f"{_fmt_pct(disc, '')}% off"
    m = re.search(_MONEY, span, re.IGNORECASE)
    if m is None:  # a bare amount ("Vase - 144.88"): the real net price, bare too
        net = price * (1.0 - disc / 100.0)
        return _fmt_money(net, span, lambda a: _near(a, net))
    cur, written, after = _money(m)
    if is_other_currency(claim.currency, currency):  # the item's own currency, written its own way
        def money(number: str) -> str:
            return money_text(0.0, currency, written=number)
    else:
        def money(number: str) -> str:
            return f"{cur}{number}{after}"
    if not _wrong_amount(claim, price, disc, tolerance):  # only the currency was wrong: keep the number
        return span[:m.start()] + money(written) + span[m.end():]
    if claim.kind == "dollars_off":
        num = _fmt_money(price * disc / 100.0, written,
                         lambda a: abs(100.0 * a / price - disc) <= tolerance)
        rest = span[m.end():]
        if (m.start() == 0 or span.lower().startswith("up to")) and re.fullmatch(r"(\s*off)?", rest, re.I):
            return f"{money(num)}{rest}"  # "$20 off", and "$20" / "up to $20" after "save"
        return f"{money(num)} off"  # "$20 discount", "discount of $20": "$X off" is how amounts off read
    if claim.kind == "reference":
        return money(_fmt_money(price, written, lambda a: _near(a, price)))
    net = price * (1.0 - disc / 100.0)
    return money(_fmt_money(net, written, lambda a: _near(a, net)))


def _removal_span(text: str, claim: Claim) -> tuple[int, int]:
    """The claim's span widened over its glue words on both sides."""
    start, end = claim.start, claim.end
    while True:
        m = _GLUE_BEFORE.search(text[:start])
        if not m or m.start() == start:
            break
        start = m.start()
    m = _GLUE_AFTER.match(text[end:])
    if m:
        end += m.end()
    return start, end


def tidy(text: str, lead: bool = True, trail: bool = True) -> str:
    """Clean up spacing and punctuation left behind by removing words.

    ``lead`` / ``trail``: also drop a dangling connector ("and", "with", "for", ...) at the start /
    end (where a removal left one).

    >>> tidy("Shoes ,  for  your runs , . ")
    'Shoes, for your runs.'
    >>> tidy(" - : on Trail shoes - and")
    'Trail shoes'
    """
    prev = None
    while prev != text:
        prev = text
        text = re.sub(r"\s+", " ", text)
        text = re.sub(r"\s+([,.;:!?)])", r"\1", text)
        text = re.sub(r"\(\s*\)|\[\s*\]", "", text)
        text = re.sub(r"([,;:\-–—/&])\s*([,.;:!?])", r"\2", text)
        text = re.sub(r"([.!?])[.,;:]+", r"\1", text)
        text = re.sub(r"\s[-–—/&]\s*$", "", text)
        text = text.strip().lstrip(",.;:!?-–—/&) ").rstrip(",;:-–—/&( ")
        if lead:
            text = _LEADING.sub("", text)
        if trail:
            text = _TRAILING.sub("", text)
    return text


def _n_words(text: str) -> int:
    return len(_WORD.findall(text))


def _capitalize_like(new: str, old: str) -> str:
    if new and old[:1].isupper() and new[:1].islower():
        return new[0].upper() + new[1:]
    return new


def repair(text: str, price: float | None, discount_pct: float, max_chars: int,
           tolerance: float = 1.0, currency: str | None = None) -> tuple[str | None, str]:
    """Make ``text`` honest about the item's discount and currency; ``(new_text or None, action)``.

    Parameters
    ----------
    text : str
        One line of copy (e.g. from :func:`rlopt.generation.postprocess.clean_copy`).
    price : float or None
        The item's list price (None: dollar claims are left alone).
    discount_pct : float
        The item's real discount in percent.
    max_chars : int
        The placement's character limit; the result always fits it.
    tolerance : float
        Percentage points a percent claim may differ from the real discount.
    currency : str, optional
        The item's ISO 4217 code; an amount written in another currency is rewritten in it. None:
        every amount is read as the item's currency.

    Returns
    -------
    (str or None, str)
        The text to show and what was done: ``"ok"`` (no misleading claim; the text is returned
        as is, capped to ``max_chars``), ``"corrected"`` (wrong claims replaced by true ones),
        ``"removed"`` (claims removed from an undiscounted item's copy), or ``"unrepairable"``
        (``None``: still misleading, or fewer than three words left). ``repair`` is idempotent:
        repairing its output again returns it unchanged with ``"ok"``.

    Examples
    --------
    >>> repair("Save up to 40% on Stride runners", 89.0, 20.0, 60)
    ('Save 20% on Stride runners', 'corrected')
    >>> repair("Half price Stride runners, only $19", 89.0, 20.0, 60)
    ('20% off Stride runners, only $71', 'corrected')
    >>> repair("Brewly kettle: 30% off, pour like a barista!", 39.0, 0.0, 60)
    ('Brewly kettle, pour like a barista!', 'removed')
    >>> repair("Big sale!", 39.0, 0.0, 60)
    (None, 'unrepairable')
    >>> repair("Brewly kettle, only $39 this week", 39.0, 0.0, 60, currency="EUR")
    ('Brewly kettle, only €39 this week', 'corrected')
    """
    disc = float(discount_pct)
    text = cap_length(text, max_chars)
    wrong = misleading_claims(text, price, disc, tolerance, currency)
    if not wrong:
        return text, "ok"
    none = disc < NO_DISCOUNT
    edits: list[tuple[int, int, str]] = []
    removed = False
    for claim in wrong:
        if none and claim.kind != "price" and _wrong_amount(claim, price, disc, tolerance):
            start, end = _removal_span(text, claim)
            edits.append((start, end, " "))
            removed = True
        else:
            new = _replacement(claim, text, price, disc, tolerance, currency)
            start = claim.start
            article = re.search(r"\b(?:a|an)\s+$", text[:start], re.IGNORECASE)
            if claim.kind == "dollars_off" and article and not re.search(r"off$", claim.span(text), re.I):
                start = article.start()  # "a $20 discount" -> "$16 off", not "a $16 off"
            edits.append((start, claim.end, new))
    # merge overlapping removal spans (glue can reach into a neighbouring claim), apply right to left
    edits.sort()
    merged: list[list] = []
    for start, end, new in edits:
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
            merged[-1][2] = " " if new == " " or merged[-1][2] == " " else merged[-1][2] + new
        else:
            merged.append([start, end, new])
    out = text
    for start, end, new in reversed(merged):
        out = out[:start] + new + out[end:]
    if removed:
        gone = [(a, b) for a, b, new in merged if new == " "]
        out = tidy(out, lead=not text[:gone[0][0]].strip(), trail=not text[gone[-1][1]:].strip(" .!?"))
    else:
        out = re.sub(r"\s+", " ", out).strip()
    out = _capitalize_like(out, text)
    out = cap_length(out, max_chars)
    if _n_words(out) < MIN_WORDS or check(out, price, disc, tolerance, currency):
        return None, "unrepairable"
    return out, "removed" if removed else "corrected"


@dataclass(frozen=True)
class PriceTerms:
    """What copy may say of one item's price: its list ``price``, real ``discount_pct`` and ``currency``.

    The arguments of :func:`check` and :func:`repair` for one item, so the callers that judge copy
    of many items (generation, pair mining, rewards, evaluation, ``rlopt check``) look them up once
    (:func:`price_terms`).
    """

    price: float | None
    discount_pct: float
    currency: str | None = None

    def misleading(self, text: str, tolerance: float = 1.0) -> bool:
        """:func:`check` of ``text`` for this item."""
        return check(text, self.price, self.discount_pct, tolerance, self.currency)

    def wrong_claims(self, text: str, tolerance: float = 1.0) -> list[Claim]:
        """:func:`misleading_claims` of ``text`` for this item."""
        return misleading_claims(text, self.price, self.discount_pct, tolerance, self.currency)

    def repair(self, text: str, max_chars: int, tolerance: float = 1.0) -> tuple[str | None, str]:
        """:func:`repair` of ``text`` for this item."""
        return repair(text, self.price, self.discount_pct, max_chars, tolerance, self.currency)


def price_terms(catalog: pd.DataFrame) -> dict[str, PriceTerms]:
    """``item_id`` (as str) -> :class:`PriceTerms` from the catalog's ``price``, ``discount_pct`` and
    optional ``currency`` columns (a blank price: None; a blank discount: 0; a blank currency: not stated).

    >>> cat = pd.DataFrame({"item_id": [1], "price": [80.0], "discount_pct": [20.0], "currency": ["eur"]})
    >>> price_terms(cat)["1"]
    PriceTerms(price=80.0, discount_pct=20.0, currency='EUR')
    """
    prices = pd.to_numeric(catalog["price"], errors="coerce").to_numpy(float)
    discounts = pd.to_numeric(catalog["discount_pct"], errors="coerce").fillna(0.0).to_numpy(float)
    currencies = catalog["currency"] if "currency" in catalog.columns else [None] * len(catalog)
    return {str(i): PriceTerms(None if not p > 0 else float(p), float(d), normalize_code(c))
            for i, p, d, c in zip(catalog["item_id"], prices, discounts, currencies, strict=True)}


def implied_discount(text: str, price: float | None) -> float:
    """The largest discount ``text`` claims, in percent (0 when it claims none with a number).

    >>> implied_discount("Save $20 on these, 10% off", 80.0)
    25.0
    """
    values = [c.implied_pct for c in parse_claims(text, price) if c.implied_pct is not None]
    return float(max(values)) if values else 0.0
