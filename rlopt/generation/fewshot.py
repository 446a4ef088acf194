"""Few-shot prompts from the shop's own logs: each context's best logged copies as examples.

For a context ``c = (item, segment, placement)`` the candidates are the distinct copies logged for
the item in that placement (every placement of the item when that one has none), less copy that
claims a wrong discount (:meth:`rlopt.generation.compliance.PriceTerms.misleading`) or has a defect
(:func:`rlopt.generation.quality.copy_defects`): examples are imitated, so they must be copy the
shop may show. They are ranked by

- a scorer (``score(frame) -> (n,)``, e.g. a reward model's P(click) at the first slot, in the
  context's own segment), or without one
- the observed click rate shrunk to the pool's rate, ``(clicks + a * ctr_pool) / (shown + a)``
  with ``a = prior_strength``, over copies shown at least ``min_impressions`` times,

and the top ``k`` (best first) go into the prompt (:func:`rlopt.generation.prompts.build_messages`).
A small model asked for "a new one" may still repeat an example: :func:`mark_verbatim` flags such
copies (``verbatim_example``) so reranking never picks them (:mod:`rlopt.generation.rerank`) and
:func:`verbatim_rate` reports how often it happened.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pandas as pd

from rlopt.generation.compliance import price_terms
from rlopt.generation.prompts import example_list
from rlopt.generation.quality import copy_defects

Scorer = Callable[[pd.DataFrame], np.ndarray]
CONTEXT_KEYS = ["item_id", "segment", "placement"]
_NON_WORD = re.compile(r"[^a-z0-9%$]+")


def normalize(text: str) -> str:
    """Lower case, every run of other characters one space (``"Save 20%!"`` -> ``"save 20%"``).

    >>> normalize("  Loved by 10,000+  SHOPPERS! ")
    'loved by 10 000 shoppers'
    """
    return _NON_WORD.sub(" ", str(text).lower()).strip()


def logged_candidates(logs: pd.DataFrame, catalog: pd.DataFrame) -> pd.DataFrame:
    """Distinct logged copies per item x placement with impressions and clicks, fit to be examples.

    Returns
    -------
    DataFrame
        ``item_id, placement, copy_text, shown, clicks``: copies with no defect and no misleading
        discount claim (against the catalog's price and real discount).
    """
    stats = (logs.assign(item_id=logs["item_id"].astype(str), copy_text=logs["copy_text"].astype(str))
             .groupby(["item_id", "placement", "copy_text"], sort=True)["clicked"].agg(shown="size", clicks="sum")
             .reset_index())
    terms = price_terms(catalog)
    fit = [not copy_defects(t) and not terms[i].misleading(t)
           for i, t in zip(stats["item_id"], stats["copy_text"], strict=True)]
    return stats[np.asarray(fit, dtype=bool)].reset_index(drop=True)


def add_examples(contexts: pd.DataFrame, logs: pd.DataFrame, catalog: pd.DataFrame, k: int = 3,
                 scorer: Scorer | None = None, min_impressions: int = 30,
                 prior_strength: float = 20.0) -> pd.DataFrame:
    """``contexts`` with an ``examples`` column: each row's ``k`` best logged copies, best first.

    Parameters
    ----------
    contexts : DataFrame, n rows
        ``item_id, segment, placement``.
    logs : DataFrame
        The shop's impressions (``item_id, placement, copy_text, clicked``) to draw examples from;
        pass the training logs only when the same contexts are evaluated on later logs.
    catalog : DataFrame
        Contract catalog (price and real discount, to drop misleading examples).
    k : int
        Examples per context (fewer when the item has fewer fit copies; ``[]`` when none).
    scorer : callable, optional
        ``scorer(frame) -> (n,)`` for ``item_id, segment, placement, copy_text`` rows, higher is
        better (e.g. :func:`rlopt.generation.rerank.reward_model_scorer`). Without it, the shrunk
        observed click rate over copies shown at least ``min_impressions`` times.
    min_impressions, prior_strength
        The rule without a scorer (see the module docstring).

    Returns
    -------
    DataFrame, n rows
        ``contexts`` (index reset) + ``examples`` (list of str per row).
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    out = contexts.reset_index(drop=True).copy()
    if k == 0 or len(out) == 0:
        out["examples"] = [[] for _ in range(len(out))]
        return out
    cand = logged_candidates(logs, catalog)
    # each context meets its pool: the item in its placement, else the item in any placement
    ctx = out[CONTEXT_KEYS].astype(str).assign(_row=np.arange(len(out)))
    same = ctx.merge(cand, on=["item_id", "placement"], how="inner")
    missing = ctx[~ctx["_row"].isin(same["_row"])]
    other = (missing.merge(cand.drop(columns="placement"), on="item_id", how="inner")
             .groupby(["_row", "copy_text"], as_index=False)
             .agg({**{c: "first" for c in CONTEXT_KEYS}, "shown": "sum", "clicks": "sum"}))
    pool = pd.concat([same, other], ignore_index=True)
    if scorer is not None:
        pool["value"] = np.asarray(scorer(pool[[*CONTEXT_KEYS, "copy_text"]].reset_index(drop=True)), dtype=float)
    else:
        pool = pool[pool["shown"] >= min_impressions].copy()
        rate = pool.groupby("_row")["clicks"].transform("sum") / pool.groupby("_row")["shown"].transform("sum")
        pool["value"] = (pool["clicks"] + prior_strength * rate) / (pool["shown"] + prior_strength)
    # ties broken by the text so the same logs always give the same examples
    top = pool.sort_values(["_row", "value", "copy_text"], ascending=[True, False, True]).groupby("_row").head(k)
    by_row = top.groupby("_row")["copy_text"].agg(list)
    out["examples"] = [list(by_row.get(r, [])) for r in range(len(out))]
    return out


def is_verbatim(copy: str, examples: list[str], cover: float = 0.8) -> bool:
    """True when ``copy`` repeats an example: equal after :func:`normalize`, or the example makes up
    at least ``cover`` of the copy's characters (an example with a word or two added).

    >>> is_verbatim("Loved by 10,000+ shoppers!", ["loved by 10 000 shoppers"])
    True
    >>> is_verbatim("Loved by 10,000+ shoppers today", ["Loved by 10,000+ shoppers"])
    True
    >>> is_verbatim("A quiet kettle for slow mornings", ["Loved by 10,000+ shoppers"])
    False
    """
    text = normalize(copy)
    if not text:
        return False
    for example in examples:
        ex = normalize(example)
        if ex and (ex == text or (ex in text and len(ex) >= cover * len(text))):
            return True
    return False


def mark_verbatim(copies: pd.DataFrame) -> pd.DataFrame:
    """``copies`` with ``verbatim_example`` (bool): the shown copy repeats one of its row's ``examples``
    (:func:`is_verbatim`; False where the row has no examples or there is no ``examples`` column)."""
    out = copies.copy()
    examples = out["examples"] if "examples" in out.columns else [None] * len(out)
    out["verbatim_example"] = [is_verbatim(t, example_list(e)) for t, e in
                               zip(out["copy_text"].astype(str), examples, strict=True)]
    return out


def verbatim_rate(copies: pd.DataFrame) -> float:
    """Share of copies with examples in their prompt that repeat one (NaN when none had examples)."""
    marked = copies if "verbatim_example" in copies.columns else mark_verbatim(copies)
    if "examples" not in marked.columns:
        return float("nan")
    had = np.array([bool(example_list(e)) for e in marked["examples"]], dtype=bool)
    return float(marked["verbatim_example"].to_numpy(bool)[had].mean()) if had.any() else float("nan")
