"""Clean raw model output into one line of copy that fits its placement, and check its claims.

:func:`clean_copy` keeps the first non-empty line, strips wrapping quotes, markdown, hashtags,
emoji and "Subject:"-style labels, collapses whitespace, drops empty template slots (a run of
separators, a trailing dash or colon) and caps the text to ``max_chars`` at a
word boundary. :func:`claimed_discounts` / :func:`is_misleading` read the discount a copy claims
(through :mod:`rlopt.generation.compliance`, which also repairs it) so rewards, pair mining and
evaluation apply one rule.
"""

from __future__ import annotations

import re

_LABEL = re.compile(r"^\s*(subject( line)?|headline|banner|push( notification)?|copy|title|text|answer)\s*:\s*",
                    re.IGNORECASE)
_MARKDOWN = re.compile(r"(\*\*|__|\*|`|~~|^#+\s*|^\s*[-•>]\s+|^\s*\d+[.)]\s+)", re.MULTILINE)
_HASHTAG = re.compile(r"(^|\s)#\w+")
# Pictographs, dingbats, variation selectors, zero-width joiners, box-drawing/symbol junk.
_JUNK = re.compile("[\U0001F000-\U0001FFFF\u2600-\u27BF\u2B00-\u2BFF\uFE0F\u200D\u23E9-\u23FA\u2190-\u21FF]")
_QUOTES = "\"'“”‘’«»`"
_SPACE = re.compile(r"\s+")
_TRAIL_PUNCT = " ,;:-–—/&(["
# Two or more separators in a row ("Kettle - 10% off - - -"): a template slot the model left empty.
_SEPARATOR_RUN = re.compile(r"\s[-–—|]+(?:\s+[-–—|]+)+(?=\s|$)")

def first_line(text: str) -> str:
    """The first line with any letters or digits in it ('' when none)."""
    for line in text.splitlines():
        if re.search(r"\w", line):
            return line
    return ""


def cap_length(text: str, max_chars: int) -> str:
    """Cut ``text`` to at most ``max_chars`` characters, at a word boundary where one exists.

    >>> cap_length("Fresh running shoes for your morning miles", 20)
    'Fresh running shoes'
    >>> len(cap_length("x" * 50, 10))
    10
    """
    if max_chars <= 0:
        return ""
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars + 1]
    space = cut.rfind(" ")
    # Prefer a word boundary unless it throws away more than half the budget.
    head = cut[:space] if space >= max_chars // 2 else text[:max_chars]
    return head.rstrip(_TRAIL_PUNCT)[:max_chars]


def clean_copy(raw: str, max_chars: int) -> str:
    """Turn raw generator output into one clean line no longer than ``max_chars``.

    >>> clean_copy('**"Big savings on Nike Air!"** #deal 🔥\\nSecond line', 30)
    'Big savings on Nike Air!'
    >>> clean_copy("Subject: Your new favourite mug is here", 100)
    'Your new favourite mug is here'
    >>> clean_copy("Stainless Kettle - 10% off - - -", 100)  # empty template slots, dangling separator
    'Stainless Kettle - 10% off'
    """
    text = first_line(raw)
    text = _JUNK.sub("", text)
    text = _MARKDOWN.sub("", text)
    text = _HASHTAG.sub(" ", text)
    text = _SPACE.sub(" ", text).strip()
    text = _LABEL.sub("", text)
    # Strip wrapping quotes (possibly nested, e.g. '"..."'), and stray unmatched ones at the ends.
    prev = None
    while prev != text:
        prev = text
        text = text.strip().strip(_QUOTES).strip()
    # Copy never ends on a separator or colon, and never repeats one: those are slots left empty.
    text = _SEPARATOR_RUN.sub(" -", text).rstrip(_TRAIL_PUNCT)
    return cap_length(text, max_chars)


def claimed_discounts(text: str) -> list[float]:
    """Percent discounts a copy claims (``"30% off"``, ``"30 percent"``; half price counts as 50).

    The percent and half-price claims of :func:`rlopt.generation.compliance.parse_claims`.

    >>> claimed_discounts("Save 30% today, up to 40 percent on extras")
    [30.0, 40.0]
    """
    from rlopt.generation.compliance import parse_claims

    return [c.value for c in parse_claims(text) if c.kind in ("percent", "half")]


def is_misleading(text: str, discount_pct: float, tolerance: float = 1.0, price: float | None = None) -> bool:
    """True when ``text`` claims a discount the item does not have.

    Delegates to :func:`rlopt.generation.compliance.check`, the one rule that rewards, pair mining,
    generation and evaluation share. A percent claim is misleading when it differs from the real
    ``discount_pct`` by more than ``tolerance`` points; for an item with no discount (< 0.5%) any
    percent claim, amount off or sale wording ("on sale", "discounted", "$10 off", ...) is
    misleading. With the list ``price``, amounts off ("$20 off", "save $20") and claimed prices
    ("only $29.99") are judged too; pass it wherever the catalog is at hand.

    >>> is_misleading("Now 20% off!", 20.0), is_misleading("Now 50% off!", 20.0)
    (False, True)
    >>> is_misleading("On sale this week", 0.0)
    True
    >>> is_misleading("Now only $19!", 20.0), is_misleading("Now only $19!", 20.0, price=80.0)
    (False, True)
    """
    from rlopt.generation.compliance import check

    return check(text, price, discount_pct, tolerance)
