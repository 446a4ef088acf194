"""Fit copy into a placement's character limit without leaving a dangling tail.

:func:`cap_length` cuts at a word boundary and :func:`trim_dangling` backs off a tail the cut (or the
model) left unfinished ("... earphones that are"). A module of its own because the cleaning
(:mod:`rlopt.generation.postprocess`) and the claim repair (:mod:`rlopt.generation.compliance`) both
cap copy, and the cleaning also reads claims through the repair module.
"""

from __future__ import annotations

import re

from rlopt.generation.quality import INCOMPLETE

#: Characters stripped from the end of a cut (a separator or an opening bracket left hanging).
TRAIL_PUNCT = " ,;:-–—/&(["
#: Fewer words than this after a repair is not copy any more (the cleaning's and the claim repair's rule).
MIN_WORDS = 3
_BOUNDARY = re.compile(r"[,;]\s|\s[-–—]\s|[.!?]\s")
_PARTICLE_END = re.compile(r"(?<![\w'’-])(?:in|on|up|out|off|over|down)$", re.IGNORECASE)


def cap_length(text: str, max_chars: int) -> str:
    """Cut ``text`` to at most ``max_chars`` characters, at a word boundary where one exists.

    >>> cap_length("Fresh running shoes for your morning miles", 20)
    'Fresh running shoes'
    >>> cap_length("Sweat resistant earphones that are built for your runs", 36)  # no dangling "that are"
    'Sweat resistant earphones'
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
    head = head.rstrip(TRAIL_PUNCT)[:max_chars]
    # A cut mid-sentence leaves a dangling "... that are" / "for the": back off to the last whole phrase.
    return trim_dangling(head) or head


def trim_dangling(text: str) -> str:
    """Drop a dangling tail (:func:`rlopt.generation.quality.is_incomplete`) back to the last whole phrase.

    Backs off to the last clause boundary (``, ; . ! ?`` or a spaced dash) when at least
    :data:`MIN_WORDS` words stand before it; otherwise strips the dangling word or separator
    repeatedly ("... earphones that are" loses "are", then "that"; a particle left at the end by
    that, "in" of "in a", goes too); "offer only" goes as a pair; an unclosed parenthesis goes
    with what follows it.
    Returns '' when nothing whole is left.

    >>> trim_dangling("Sweat resistant earphones that are")
    'Sweat resistant earphones'
    >>> trim_dangling("Verve wireless earbuds offer only"), trim_dangling("Trail shoes that grip.")
    ('Verve wireless earbuds', 'Trail shoes that grip.')
    >>> trim_dangling("A must-buy for your skin, and it's for")  # back to the last whole clause
    'A must-buy for your skin'

    """
    m = INCOMPLETE.search(text)
    if not m:
        return text
    # back off to the last clause boundary when a whole clause is left ("..., and it's for")
    head = text[:m.start()]
    bounds = [b.start() for b in _BOUNDARY.finditer(head)]
    if bounds and len(re.findall(r"[A-Za-z0-9]+", head[:bounds[-1]])) >= MIN_WORDS:
        return trim_dangling(head[:bounds[-1]].rstrip(TRAIL_PUNCT))
    prev = None
    while prev != text and text:
        prev = text
        m = INCOMPLETE.search(text) or _PARTICLE_END.search(text)  # "promote it in a" -> "promote it"
        if m:
            text = text[:m.start()].rstrip(TRAIL_PUNCT + ".…")
    return text
