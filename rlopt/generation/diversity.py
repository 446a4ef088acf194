"""How varied a set of shown copies is: mode collapse shows here, not in the CTR.

A generator tuned against a reward model may find one phrase the model (or the truth) likes and
write it for every item: "<title> - Loved by 10,000+ shoppers" everywhere. Each copy is then
distinct (the titles differ), so ``distinct_share`` alone misses it; the *template* of a copy — the
copy with its item's title taken out — does not.

Examples
--------
>>> import pandas as pd
>>> copies = pd.DataFrame({"item_id": ["a", "b", "c", "c"],
...                        "copy_text": ["Kettle - loved by many", "Lamp - Loved by many", "Rug: soft", "Rug - loved by many"]})
>>> d = diversity(copies, {"a": "Kettle", "b": "Lamp", "c": "Rug"})
>>> d["distinct_share"], d["top_template_share"], d["top_template"]
(1.0, 0.75, '{title} - loved by many')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

CONTEXT_KEYS = ("item_id", "segment", "placement")
#: Every key :func:`diversity` may return (which ones depends on the columns and ``titles`` given).
DIVERSITY_KEYS = ("distinct_share", "distinct_per_context", "top_template_share", "top_template", "distinct_templates")


def copy_template(text: str, title: str) -> str:
    """``text`` lower-cased, spaces collapsed, with the item's ``title`` (case-insensitive) as ``{title}``."""
    norm = " ".join(str(text).lower().split())
    name = " ".join(str(title).lower().split())
    return norm.replace(name, "{title}") if name else norm


def item_titles(catalog: pd.DataFrame) -> dict[str, str]:
    """``item_id -> title`` of a contract catalog (ids as strings), the ``titles`` :func:`diversity` takes."""
    return dict(zip(catalog["item_id"].astype(str), catalog["title"].astype(str), strict=True))


def diversity(copies: pd.DataFrame, titles: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Distinct shares of ``copies`` (``copy_text`` and, where present, ``item_id, segment, placement``).

    Parameters
    ----------
    copies : DataFrame, n rows
        Shown copies: ``copy_text``; ``item_id`` for templates; the context keys for the per-context share.
    titles : mapping item_id -> title, optional
        Item titles, taken out of each copy to find its template.

    Returns
    -------
    dict
        ``distinct_share`` = distinct copies / n; ``distinct_per_context`` = mean over contexts of
        distinct / copies (1.0 when every sample of a context differs; only with all context keys);
        with ``titles``: ``top_template_share`` = the share of copies whose template
        (:func:`copy_template`) is the most common one, ``top_template`` that template, and
        ``distinct_templates`` = distinct templates / n. ``nan`` / ``None`` for no copies.
    """
    shown = copies["copy_text"].astype(str)
    n = len(shown)
    out: dict[str, Any] = {"distinct_share": float(shown.nunique() / n) if n else float("nan")}
    if all(k in copies.columns for k in CONTEXT_KEYS):
        per_context = shown.groupby([copies[k] for k in CONTEXT_KEYS]).agg(["nunique", "size"])
        out["distinct_per_context"] = float((per_context["nunique"] / per_context["size"]).mean()) if n else float("nan")
    if titles is not None and "item_id" in copies.columns:
        templates = pd.Series([copy_template(t, titles.get(str(i), "")) for t, i in zip(shown, copies["item_id"],
                                                                                      strict=True)], dtype=object)
        counts = templates.value_counts()
        # ties broken by the template's text, so the same copies always name the same template
        counts = counts.iloc[sorted(range(len(counts)), key=lambda j: (-counts.iloc[j], counts.index[j]))]
        out["top_template_share"] = float(counts.iloc[0] / n) if n else float("nan")
        out["top_template"] = str(counts.index[0]) if n else None
        out["distinct_templates"] = float(len(counts) / n) if n else float("nan")
    return out


__all__ = ["DIVERSITY_KEYS", "copy_template", "diversity", "item_titles"]
