"""Copy defects a marketer would not ship: one detector per defect, each one regular-expression rule.

=========================  =====================================================================
defect                     what it flags
=========================  =====================================================================
``incomplete``             ends mid-phrase: a dangling function word ("... earphones that are",
                           "... offer only", "for the"), a dangling comma / dash / ampersand,
                           an opened and never closed parenthesis
``leaked_instructions``    the prompt or the assistant talking: character counts ("For 160
                           characters"), "focus on the real ...", "Sure! Here is a push
                           notification", "As an AI", the prompt's fact labels ("Brand:",
                           "Discount:") and instruction words ("one line", "no hashtags",
                           "here's a new one", "not repeating")
``invented_url``           links the shop never gave: URLs and domains, emails, phone numbers,
                           @handles, other stores ("Amazon UK", "eBay")
``junk``                   punctuation junk: runs of separators (", , ,", ": -"), a leading
                           separator, a colon with nothing after it, a chain of two labels
                           ("SKIP SIGN-ON: Kinetic Pulse: 40% OFF"), empty brackets, template
                           placeholders ("[Product]"), the Unicode replacement character; number
                           junk: the same number said twice ("Corvo, 107.33: Fav. No 107.33"), a
                           bare number standing as a fragment of its own ("Kettle - 90 - Product")
``repetition``             a word said twice in a row, a word pair said twice, a word of four or
                           more letters said three times, a run-on repeat ("wovenwovenwoven")
=========================  =====================================================================

Every detector is a compiled pattern (:data:`PATTERNS`), so :func:`copy_defects` (one copy) and
:func:`defect_frame` / :func:`defect_rates` (a column of copies, through pandas' vectorized
``str.contains``) apply the same rule. Generation repairs or rejects defective copy
(:func:`rlopt.generation.postprocess.repair_quality`), GRPO/RLOO pay a penalty per defect
(:class:`rlopt.tuning.rewards.CopyQualityPenalty`), DPO never chooses it, evaluation reports the
rates, and the simulator's truth (``copy_defect`` in the market's ``[truth]``) lowers the click
logit per defect.

Examples
--------
>>> copy_defects("@Ridgeline: , , , : Ridgeline Edge L")
['invented_url', 'junk']
>>> copy_defects("Trail shoes that grip. Built for mud.")
[]
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable

import pandas as pd

from rlopt.generation.currency import SYMBOL_CHARS

#: The defects, in the order :func:`copy_defects` reports them.
DEFECTS: tuple[str, ...] = ("incomplete", "leaked_instructions", "invented_url", "junk", "repetition")

# Words that cannot end a phrase: articles, conjunctions, prepositions, auxiliaries, determiners.
# Particles that end phrasal verbs ("level up", "game on", "20% off") are left out on purpose.
DANGLING_WORDS: tuple[str, ...] = tuple("""
a an the and or but nor plus of for with to at by from into onto about than via per as without within
between among toward towards upon is are was were be been being am has have had will would can could
should shall may might must that which who whom whose your our their its my this these those every
each some any no not very such whether while because if unless although though since until""".split())
#: Verbs and connectors before a closing "only" that leave it dangling ("earbuds offer only" vs "members only").
_ONLY_AFTER = "offers?|is|are|was|were|costs?|priced|just|now|at|for|from|get|gets|pay|by|with|and|but|the|your"
_WORDS = "|".join(DANGLING_WORDS)
_END = r"[\s.…!?\"'”’]*$"

INCOMPLETE = re.compile(
    rf"(?:\b(?:{_ONLY_AFTER})\s+only|(?<![\w'’-])(?:{_WORDS})|[,;&/(\-–—]"
    r"|\b(?:do|does|did|can|could|will|would|should)\s+(?:you|we|they|i)"  # "not only do you"
    rf"){_END}|\([^)]*$", re.IGNORECASE)

_PROMPT_LABELS = "product|brand|category|price|discount|key feature|segment|placement|audience|tone|cta"
LEAKED_INSTRUCTIONS = re.compile(
    r"\b\d+\s*(?:characters?|chars?)\b"
    r"|\bcharacters?\s+(?:limit|max(?:imum)?|count|or\s+(?:less|fewer))\b|\b(?:word|character)\s+(?:limit|count)\b"
    r"|\bfocus(?:ing)?\s+on\s+the\s+(?:real|key|actual|product|discount|price|benefits?|features?|copy|segment"
    r"|shoppers?|message)\b"
    r"|^\W*(?:sure|certainly|of\s+course|okay|ok)\b\W|^\W*(?:hello|greetings|dear)\b"
    r"|^\W*I(?:'m|’m|'d|’d|'ll|’ll|\s+am|\s+would|\s+will|\s+love|\s+have)?\s"
    r"|\bI(?:'m|’m|'d|’d|'ll|’ll|'ve|’ve)\s|\bI\s+(?:know|think|hope|understand|believe|can|will|would|am|need)\b"
    r"|\byou(?:'re|’re|\s+are)\s+(?:talking|asking)\b"
    r"|\byour\s+(?:product|brand|shop|store|business|customers|audience|campaign)\b"
    r"|\bhere(?:'s|’s|\s+is|\s+are)\s+(?:a|an|the|your|some|my|one)\b(?:[\s,]+[\w-]+){0,4}?\s+(?:copy|copies"
    r"|headlines?|subject|line|notification|push|banner|tagline|slogan|options?|versions?|ideas?|examples?|text"
    r"|caption|alternatives?|suggestions?|drafts?|rewrite|email|post)\b"
    r"|\bplease\s+(?:avoid|note|keep|make|write|use|ensure)\b|\bpromotional\s+content\b|^\W*sell\s"
    r"|\b(?:promote|market)\s+(?:a|the|this|your)\s+product\b"
    r"|\bas\s+an\s+ai\b|\blanguage\s+model\b|\bi\s+(?:can(?:no|'|’)t|cannot|am\s+unable|'m\s+unable|'m\s+sorry"
    r"|hope)\b|\blet\s+me\s+know\b|\bfeel\s+free\s+to\b|\bhappy\s+to\s+help\b"
    r"|\b(?:push\s+notification|home-page\s+banner|email\s+subject\s+line|product-page\s+headline|subject\s+line"
    r"|marketing\s+copy|call\s+to\s+action|caption\s+for\s+a\s+product\s+listing|add-on\s+offer\s+shown"
    r"|line\s+of\s+ad\s+copy|one-line\s+(?:caption|add-on|ad|offer))\b"
    rf"|(?:^|[\s.;,!(])(?:{_PROMPT_LABELS})\s*:"
    r"|\b(?:mention\s+only|reply\s+with|one[\s-]+line|no\s+(?:need\s+for\s+)?quotes|no\s+hashtags|no\s+emojis?|shoppers\s+who\s+are"
    r"|the\s+real\s+discount)\b"
    # the few-shot request (rlopt.generation.prompts.EXAMPLES_HEADER / EXAMPLES_REQUEST) said back
    r"|\b(?:here(?:'s|’s|\s+is)|write)\s+a\s+new\s+one\b|\bword\s+for\s+word\b|\bcopies\s+that\s+worked\b"
    r"|\bnot\s+repeat(?:ing)?\b|\bdon['’]t\s+repeat\b",
    re.IGNORECASE)

_TLD = "com|net|org|co|io|shop|store|uk|de|fr|es|it|nl|eu|us|ca|au|info|biz|app|online|site|xyz"
STORES: tuple[str, ...] = ("amazon", "ebay", "walmart", "etsy", "aliexpress", "alibaba", "temu", "shein",
                           "zalando", "argos", r"best\s+buy")
INVENTED_URL = re.compile(
    rf"https?://|\bwww\.|\b[\w-]+(?:\.[\w-]+)*\.(?:{_TLD})\b(?!\.\w)"
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
    r"|(?<![\w.])@[A-Za-z_]\w*"
    rf"|(?<![\w{SYMBOL_CHARS}.,])(?:\+\d{{1,3}}[\s.-]?)?\(?\d{{3}}\)?[\s.-]\d{{3}}[\s.-]?\d{{4}}(?!\w)|\b1-8\d\d-\w+"
    rf"|\b(?:{'|'.join(STORES)})\b(?:\s+(?:uk|us|usa|de|fr|es|it|ca|au|prime)\b)?",
    re.IGNORECASE)

_SEP = r"[,;:|/&–—-]"
# A number of two or more digits, or with decimals ("107.33", "10,000"), not part of a longer one.
_NUMBER = r"(?<![\d.,])(?P<n>\d[\d,]*\d(?:\.\d+)?|\d+\.\d+)(?!\d|[.,]\d)"
# A number with no currency, percent, unit or word attached (what "Corvo, 107.33" shows).
_BARE = rf"(?<![{SYMBOL_CHARS}\w.,])\d+(?:[.,]\d+)*(?![\w%+{SYMBOL_CHARS}]|[.,]\d|\s*(?:[{SYMBOL_CHARS}%+]|[A-Za-z]))"
JUNK = re.compile(
    rf"(?!://)(?<!:)(?<!:/){_SEP}(?:\s*{_SEP})+"  # a run of separators (not a URL's "://"): an empty slot
    rf"|^\s*(?:{_SEP}|[.!?)\]])"  # copy that starts with a separator
    r"|:\s*$"  # a label with nothing after it
    r"|(?<!\d):(?!\d)[^:]*(?<!\d):(?!\d)"  # two labels in one line (not a time like 10:30)
    r"|\(\s*\)|\[\s*\]|\{\s*\}"
    r"|\[[A-Za-z _]+\]|\{[A-Za-z _]+\}|<[A-Za-z _]+>|\bX{2,}\b"
    "|\ufffd"
    rf"|{_NUMBER.replace('(?P<n>', '(?P<num>')}.*(?<![\d.,])(?P=num)(?!\d|[.,]\d)"  # the same number said twice
    rf"|(?:^|{_SEP}\s*|\s[-–—]\s)(?:no\.?\s*|#\s*)?(?!(?:19|20)\d\d\b){_BARE}\s*(?:$|[,;:|.!?]|\s[-–—]\s)",  # a bare number as a fragment
    re.IGNORECASE)

REPETITION = re.compile(
    r"\b([A-Za-z]{2,})\b\W{1,3}\1\b"  # "the the", "Sale, sale"
    r"|\b([A-Za-z]+\s+[A-Za-z]+)\b.*\b\2\b"  # a word pair twice
    r"|\b([A-Za-z]{4,})\b(?:.*\b\3\b){2}"  # a longer word three times
    r"|([A-Za-z]{3,})\4{2,}",  # a run-on word ("handwovenhandwovenhandwoven"), which the rules above miss
    re.IGNORECASE)

#: defect name -> its rule.
PATTERNS: dict[str, re.Pattern[str]] = {
    "incomplete": INCOMPLETE,
    "leaked_instructions": LEAKED_INSTRUCTIONS,
    "invented_url": INVENTED_URL,
    "junk": JUNK,
    "repetition": REPETITION,
}


def is_incomplete(text: str) -> bool:
    """True when ``text`` ends mid-phrase.

    Rule: the last word (before closing punctuation) is one of :data:`DANGLING_WORDS` (articles,
    conjunctions, prepositions, auxiliaries, determiners: "... earphones that are"), or "only"
    after a verb or connector ("earbuds offer only"; not "members only"), or an inverted
    auxiliary with no verb ("not only do you"); or the copy ends on a
    comma, semicolon, dash, slash or ampersand; or it opens a parenthesis it never closes. What a
    cut at the character limit leaves behind (:func:`rlopt.generation.postprocess.cap_length`
    trims it).

    >>> is_incomplete("Verve wireless earbuds offer only"), is_incomplete("For members only")
    (True, False)
    >>> is_incomplete("Sweat resistant earphones that are"), is_incomplete("Stainless Kettle - 20% off")
    (True, False)
    """
    return bool(INCOMPLETE.search(text))


def has_leaked_instructions(text: str) -> bool:
    """True when ``text`` repeats the prompt or talks like an assistant.

    Rule: a character count or limit ("For 160 characters"), "focus on the real/key/product ...",
    an assistant's opener ("Sure,", "Certainly!"), "Here is a/your ... copy/headline/notification",
    "As an AI", "I can't", "let me know", the prompt's placement words ("push notification",
    "email subject line", "marketing copy"), its fact labels ("Brand:", "Discount:", "Key
    feature:", see :func:`rlopt.generation.prompts.build_messages`) or instruction words ("one
    line", "no hashtags", "mention only", "the real discount", "please avoid", "promote a
    product", "Sell ..." opening the copy), the few-shot request said back ("Here's a new one",
    "not repeating", "word for word"); a letter's salutation ("Hello", "Dear") or the
    assistant's first person ("I'm thrilled to ...", "now I know you're talking about"), or the
    copy addressing the seller ("your product", "your customers").

    >>> has_leaked_instructions("For 160 characters, focus on the real.")
    True
    >>> has_leaked_instructions("Sure! Here is a push notification: new kettles")
    True
    >>> has_leaked_instructions("Focus on your run, not your feet")
    False
    """
    return bool(LEAKED_INSTRUCTIONS.search(text))


def has_invented_url(text: str) -> bool:
    """True when ``text`` sends the shopper somewhere the shop did not say: a link or a contact.

    Rule: a URL (``http://``, ``www.``, a domain such as ``nordwind.com``), an email address, a
    phone number (``555-123-4567``, ``+44 20 ...``, ``1-800-...``), an @handle, or another store
    (:data:`STORES`: "Amazon UK", "eBay").

    >>> has_invented_url("Shop now at www.nordwind.com/sale"), has_invented_url("Purchase: Amazon UK")
    (True, True)
    >>> has_invented_url("Loved by 10,000+ runners"), has_invented_url("Now only $1,299.99")
    (False, False)
    """
    return bool(INVENTED_URL.search(text))


def has_junk(text: str) -> bool:
    """True when ``text`` carries punctuation junk: a template slot the model left empty.

    Rule: two separators (``, ; : | / & - – —``) with nothing but spaces between them, copy
    that starts with a separator, a colon with nothing after it, two label colons in one line
    (not a time such as 10:30), empty brackets, a placeholder (``[Product]``, ``{name}``, ``XX``)
    or the Unicode replacement character; the same number (two or more digits, or with decimals)
    said twice; a bare number (no currency, percent, unit or word with it; not a year such as
    2025) standing alone between separators or at an end ("Corvo, 107.33", "Kettle - 90 - Product").

    >>> has_junk("SKIP SIGN-ON: Kinetic Pulse Trail Runners: 40% OFF"), has_junk("Deals: ends 10:30 tonight")
    (True, False)
    >>> has_junk("Corvo, 107.33: Fav. No 107.33"), has_junk("Kettle - 90 - Product"), has_junk("Kettle, now $90")
    (True, True, False)
    """
    return bool(JUNK.search(text))


def is_repetitive(text: str) -> bool:
    """True when ``text`` repeats itself.

    Rule: a word of two or more letters twice in a row ("the the", "Sale, sale"), a pair of
    words said twice anywhere, a word of four or more letters said three times, or three or more
    letters repeated three times without a break ("handwovenhandwovenhandwoven").

    >>> is_repetitive("Comfy comfy slippers"), is_repetitive("Run more, run faster")
    (True, False)
    """
    return bool(REPETITION.search(text))


_DETECTORS = {"incomplete": is_incomplete, "leaked_instructions": has_leaked_instructions,
              "invented_url": has_invented_url, "junk": has_junk, "repetition": is_repetitive}


def copy_defects(text: str) -> list[str]:
    """The defects of one copy, in :data:`DEFECTS` order (empty for copy a marketer would ship).

    >>> copy_defects("SKIP SIGN-ON: Kinetic Pulse Trail Runners: 40% OFF")
    ['junk']
    >>> copy_defects("Loved by 10,000+ runners")
    []
    """
    text = str(text)
    return [name for name in DEFECTS if _DETECTORS[name](text)]


def defect_frame(texts: Iterable[str]) -> pd.DataFrame:
    """One boolean column per defect for a column of copies.

    Parameters
    ----------
    texts : iterable of str, length n (a Series keeps its index)

    Returns
    -------
    DataFrame, shape (n, len(DEFECTS))
        ``frame[d][i]`` is True when copy ``i`` has defect ``d``; the same rules as :func:`copy_defects`.
    """
    series = texts.astype(str) if isinstance(texts, pd.Series) else pd.Series(list(texts), dtype=object).astype(str)
    with warnings.catch_warnings():  # the repetition rule's groups are back-references, not columns to extract
        warnings.filterwarnings("ignore", message="This pattern .* has match groups")
        columns = {name: series.str.contains(PATTERNS[name], regex=True) for name in DEFECTS}
    return pd.DataFrame(columns, index=series.index).astype(bool)


def defect_rates(texts: Iterable[str]) -> dict[str, float]:
    """Share of copies with each defect, and with any: ``{defect: rate, ..., "any": rate, "n": n}``.

    Rates are over copies (``nan`` for none).

    >>> defect_rates(["Stainless Kettle - 20% off", "www.nordwind.com/sale"])["invented_url"]
    0.5
    """
    frame = defect_frame(texts)
    n = len(frame)
    out = {name: float(frame[name].mean()) if n else float("nan") for name in DEFECTS}
    out["any"] = float(frame.any(axis=1).mean()) if n else float("nan")
    out["n"] = n
    return out
