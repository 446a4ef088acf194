"""Clean raw model output into one line of copy that fits its placement, repair it, and check its claims.

:func:`clean_copy` keeps the first non-empty line, strips wrapping quotes, markdown, hashtags,
emoji and "Subject:"-style labels, collapses whitespace, drops empty template slots (a run of
separators, a trailing dash or colon) and caps the text to ``max_chars`` at a
word boundary (backing off a dangling "that are" / "for the" the cut leaves). :func:`repair_quality`
repairs the defects of :mod:`rlopt.generation.quality` it safely can (removes links, contacts and
leaked instructions, collapses empty slots and doubled words, trims a dangling tail) and rejects
copy it cannot. :func:`claimed_discounts` / :func:`is_misleading` read the discount a copy claims
(through :mod:`rlopt.generation.compliance`, which also repairs it) so rewards, pair mining and
evaluation apply one rule.
"""

from __future__ import annotations

import re

from rlopt.generation.compliance import check, parse_claims, tidy
from rlopt.generation.fit import MIN_WORDS, TRAIL_PUNCT, cap_length, trim_dangling
from rlopt.generation.quality import INVENTED_URL, LEAKED_INSTRUCTIONS, copy_defects

_LABEL = re.compile(r"^\s*(subject( line)?|headline|banner|push( notification)?|copy|title|text|answer)\s*:\s*",
                    re.IGNORECASE)
_MARKDOWN = re.compile(r"(\*\*|__|\*|`|~~|^#+\s*|^\s*[-•>]\s+|^\s*\d+[.)]\s+)", re.MULTILINE)
_HASHTAG = re.compile(r"(^|\s)#\w+")
# Pictographs, dingbats, variation selectors, zero-width joiners, box-drawing/symbol junk.
_JUNK = re.compile("[\U0001F000-\U0001FFFF\u2600-\u27BF\u2B00-\u2BFF\uFE0F\u200D\u23E9-\u23FA\u2190-\u21FF]")
_QUOTES = "\"'“”‘’«»`"
_SPACE = re.compile(r"\s+")
# Two or more separators in a row ("Kettle - 10% off - - -"): a template slot the model left empty.
_SEPARATOR_RUN = re.compile(r"\s[-–—|]+(?:\s+[-–—|]+)+(?=\s|$)")

def first_line(text: str) -> str:
    """The first line with any letters or digits in it ('' when none)."""
    for line in text.splitlines():
        if re.search(r"\w", line):
            return line
    return ""




_QUALITY_ACTIONS = ("ok", "repaired", "rejected")
_GLUE = r"(?:\b(?:visit|see|at|on|via|from|in|through|follow(?:\s+us)?(?:\s+on)?|dm(?:\s+us)?|call(?:\s+us)?(?:\s+at)?"
_GLUE += r"|e-?mail(?:\s+us)?(?:\s+at)?|contact(?:\s+us)?(?:\s+at)?|go\s+to|find\s+us\s+(?:at|on)|buy\s+(?:it\s+)?on)\s+)?"
_CLAUSE = re.compile(r"(?<=[.!?:])\s+")
_LABEL_LEAK = re.compile(r"(?:^|(?<=[\s.;,!(]))(?:(?:your|the|our)\s+)?(?:product|brand|category|price|discount"
                         r"|key feature)\s*:\s*", re.IGNORECASE)
_DOUBLED = re.compile(r"\b([A-Za-z]{2,})(?:\s+\1\b)+", re.IGNORECASE)


def repair_quality(text: str, max_chars: int) -> tuple[str | None, str]:
    """Repair the defects of :mod:`rlopt.generation.quality` that can be repaired; reject the rest.

    Steps: drop the prompt's fact labels ("Product:", "Discount:"); drop every sentence or label clause (split after ``. ! ? :``) that leaks the prompt or
    talks like an assistant ("Sure! Here is a push notification: ..." keeps what follows the
    colon); remove links, contacts, @handles and other stores with their glue words ("visit",
    "at", "on", "call us at"); tidy the punctuation left behind and the empty slots
    (:func:`rlopt.generation.compliance.tidy`); say a doubled word once; trim a dangling tail
    (:func:`trim_dangling`). The result is capped to ``max_chars`` and checked again.

    Returns
    -------
    (str or None, str)
        ``(text, "ok")`` when there was no defect (``text`` unchanged), ``(repaired, "repaired")``,
        or ``(None, "rejected")`` when a defect remains (a label chain, a placeholder, a repeated
        phrase) or fewer than :data:`MIN_WORDS` words are left. Idempotent: a repaired copy
        repairs to itself with ``"ok"``.

    Examples
    --------
    >>> repair_quality("Trail shoes that grip. Built for mud.", 60)
    ('Trail shoes that grip. Built for mud.', 'ok')
    >>> repair_quality("Sure! Here is a push notification: Fresh kettles, 20% off", 60)
    ('Fresh kettles, 20% off', 'repaired')
    >>> repair_quality("Norda trail shoes - shop now at www.nordwind.com/sale", 60)
    ('Norda trail shoes - shop now', 'repaired')
    >>> repair_quality("For 160 characters, focus on the real.", 60)
    (None, 'rejected')
    """

    if not copy_defects(text):
        return text, "ok"
    out = _LABEL_LEAK.sub(" ", text)  # the prompt's fact labels go, the facts stay ("Product: Brewly Core ...")
    out = " ".join(c for c in _CLAUSE.split(out) if not LEAKED_INSTRUCTIONS.search(c))
    out = re.sub(_GLUE + r"(?:" + INVENTED_URL.pattern + r")\S*", " ", out, flags=re.IGNORECASE)
    out = _DOUBLED.sub(r"\1", out)
    out = tidy(out, lead=True, trail=False)
    out = trim_dangling(cap_length(out, max_chars))
    if not out or len(re.findall(r"[A-Za-z0-9]+", out)) < MIN_WORDS or copy_defects(out):
        return None, "rejected"
    return out, "repaired"


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
    text = _SEPARATOR_RUN.sub(" -", text).rstrip(TRAIL_PUNCT)
    return cap_length(text, max_chars)


def claimed_discounts(text: str) -> list[float]:
    """Percent discounts a copy claims (``"30% off"``, ``"30 percent"``; half price counts as 50).

    The percent and half-price claims of :func:`rlopt.generation.compliance.parse_claims`.

    >>> claimed_discounts("Save 30% today, up to 40 percent on extras")
    [30.0, 40.0]
    """

    return [c.value for c in parse_claims(text) if c.kind in ("percent", "half")]


def is_misleading(text: str, discount_pct: float, tolerance: float = 1.0, price: float | None = None,
                  currency: str | None = None) -> bool:
    """True when ``text`` claims a discount the item does not have.

    Delegates to :func:`rlopt.generation.compliance.check`, the one rule that rewards, pair mining,
    generation and evaluation share. A percent claim is misleading when it differs from the real
    ``discount_pct`` by more than ``tolerance`` points; for an item with no discount (< 0.5%) any
    percent claim, amount off or sale wording ("on sale", "discounted", "$10 off", ...) is
    misleading. With the list ``price``, amounts off ("$20 off", "save $20") and claimed prices
    ("only $29.99") are judged too; pass it wherever the catalog is at hand. With the item's
    ``currency`` (ISO code), an amount written in another currency is misleading too.

    >>> is_misleading("Now 20% off!", 20.0), is_misleading("Now 50% off!", 20.0)
    (False, True)
    >>> is_misleading("On sale this week", 0.0)
    True
    >>> is_misleading("Now only $19!", 20.0), is_misleading("Now only $19!", 20.0, price=80.0)
    (False, True)
    """

    return check(text, price, discount_pct, tolerance, currency)
