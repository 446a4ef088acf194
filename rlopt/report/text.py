r"""Make user-provided strings inert in the report: Markdown and HTML escaping, control characters out.

Catalog titles, segment and placement names, ``[run] name``, ``[report] title``, generated copy and
error messages all reach ``report.md`` and ``report.html``. A CommonMark renderer obeys raw HTML
(``<script>``), links and images (``[x](javascript:...)``), emphasis and, at the start of a line,
headings, lists and quotes; a ``\r`` or ``\n`` inside a name would start such a line. So every
string from the data goes through one of these functions and only rlopt's own markup stays live:

- :func:`md_inline` -- for table cells and text inside a line: control characters removed
  (:func:`rlopt.errors.strip_controls`), ``& < >`` as HTML entities, and Markdown punctuation
  backslash-escaped (CommonMark allows a backslash before any ASCII punctuation);
- :func:`md_block` -- for a string that starts a line (a paragraph): also neutralizes a leading
  list, quote, heading or thematic-break marker;
- :func:`html_text` -- for HTML text and attribute values.

``_`` between two letters or digits is left alone (``purchase_rate``): CommonMark never makes
emphasis of an intraword underscore, and the raw Markdown stays readable.
"""

from __future__ import annotations

import html
import re
from typing import Any

from rlopt.errors import strip_controls

# Always special inline: backslash, code, emphasis, links/images, tables, strikethrough, headings.
_MD_PUNCT = re.compile(r"[\\`*\[\]|~#]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
_MD_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_ENTITY = re.compile(r"[&<>]")
# A line that starts a block: list bullet, ordered-list number, quote (already an entity), setext
# underline or thematic break, fenced code.
_BLOCK_START = re.compile(r"^([-+=])|^(\d{1,9})([.)])")


def md_inline(value: Any) -> str:
    r"""``value`` as Markdown text that renders as itself.

    >>> md_inline("<script>alert(1)</script> [x](javascript:y) *hi* a_b _c_ |")
    '&lt;script&gt;alert(1)&lt;/script&gt; \\[x\\](javascript:y) \\*hi\\* a_b \\_c\\_ \\|'
    >>> md_inline("Shoe\r# injected")
    'Shoe \\# injected'
    """
    text = strip_controls(str(value))
    text = _ENTITY.sub(lambda m: _MD_ENTITIES[m.group()], text)
    return _MD_PUNCT.sub(lambda m: "\\" + m.group(), text)


def md_block(value: Any) -> str:
    r"""``value`` as a Markdown paragraph that renders as itself (no list, quote or heading).

    >>> md_block("- not a list")
    '\\- not a list'
    >>> md_block("1. not a list either")
    '1\\. not a list either'
    """
    text = md_inline(value).lstrip()  # four leading spaces would make a code block
    return _BLOCK_START.sub(lambda m: "\\" + m.group(1) if m.group(1) else m.group(2) + "\\" + m.group(3), text)


def html_text(value: Any) -> str:
    """``value`` escaped for HTML text or a quoted attribute, control characters removed.

    >>> html_text('a "b" <c>\\x1b[31m')
    'a &quot;b&quot; &lt;c&gt;'
    """
    return html.escape(strip_controls(str(value)))
