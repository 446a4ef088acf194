"""The generated copy against the shop's own logged copy, for the same contexts.

A shop compares a tuned generator with the copy it already shows, not only with the untuned
model. For each generation context ``c = (item, segment, placement)`` the logged copies of its
item x placement are the options ``j`` with logged shares ``w_cj`` (impressions showing copy ``j``
over the pool's impressions). With a scorer ``s`` (the oracle's true P(click) on simulated data,
the reward model's predicted P(click) on the user's logs), all at the first slot::

    tuned_c       = mean_k s(tuned copy k of c)        base_c = the same for the base copies
    mean_logged_c = sum_j w_cj s(j, c)                 best_logged_c = max_j s(j, c)

Ratios are of means over contexts (``sum_c tuned_c / sum_c mean_logged_c``) with a paired
bootstrap interval over contexts (:func:`rlopt.tuning.evaluate.paired_ratio`). Contexts whose
item x placement has no logged copy are left out and counted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from rlopt.tuning.evaluate import CONTEXT_KEYS, paired_ratio

#: (numerator, denominator) pairs reported, in order.
RATIOS = (("tuned", "base"), ("tuned", "mean_logged"), ("tuned", "best_logged"), ("base", "mean_logged"))

Scorer = Callable[[pd.DataFrame], np.ndarray]


def logged_options(logs: pd.DataFrame, contexts: pd.DataFrame) -> pd.DataFrame:
    """Every copy logged for each context's item x placement, with its share of that pool's impressions.

    Parameters
    ----------
    logs : DataFrame
        Validated impressions (``item_id, placement, copy_text``).
    contexts : DataFrame, n contexts
        ``item_id, segment, placement`` (duplicates are dropped).

    Returns
    -------
    DataFrame
        ``item_id, segment, placement, copy_text, weight``; ``weight`` sums to 1 per context.
    """
    counts = (logs.assign(item_id=logs["item_id"].astype(str), copy_text=logs["copy_text"].astype(str))
              .groupby(["item_id", "placement", "copy_text"]).size().rename("n").reset_index())
    ctx = contexts[CONTEXT_KEYS].astype(str).drop_duplicates()
    options = ctx.merge(counts, on=["item_id", "placement"], how="inner")
    options["weight"] = options["n"] / options.groupby(CONTEXT_KEYS)["n"].transform("sum")
    return options.drop(columns="n").reset_index(drop=True)


def context_values(copies: Mapping[str, pd.DataFrame], options: pd.DataFrame, score: Scorer) -> pd.DataFrame:
    """Per context: the mean score of each generator's copies, the logged mix and the best logged copy.

    Parameters
    ----------
    copies : mapping name -> DataFrame
        Generated copies (``item_id, segment, placement, copy_text``), e.g. ``{"base": ..., "tuned": ...}``.
    options : DataFrame
        :func:`logged_options` for the same contexts.
    score : callable
        ``score(frame) -> (n,)`` P(click) at the first slot for ``item_id, segment, placement, copy_text`` rows.

    Returns
    -------
    DataFrame indexed by ``item_id, segment, placement`` (contexts with logged copies only)
        One column per generator plus ``mean_logged`` and ``best_logged``.
    """
    scored = options.assign(p=score(options[[*CONTEXT_KEYS, "copy_text"]]))
    by_ctx = scored.assign(wp=scored["weight"] * scored["p"]).groupby(CONTEXT_KEYS)
    out = pd.DataFrame({"mean_logged": by_ctx["wp"].sum(), "best_logged": by_ctx["p"].max()})
    for name, frame in copies.items():
        rows = frame[[*CONTEXT_KEYS, "copy_text"]].astype(str).reset_index(drop=True)
        out[name] = rows.assign(p=score(rows)).groupby(CONTEXT_KEYS)["p"].mean()
    return out.dropna()


def compare(values: pd.DataFrame, seed: int, n_boot: int = 2000) -> dict[str, Any]:
    """Means per column and the :data:`RATIOS` with 95% paired bootstrap intervals over contexts.

    Returns ``{"n_contexts", "means": {column: mean}, "ratios": {"tuned / mean_logged": {"ratio",
    "low", "high", "n_contexts"}, ...}}``.
    """
    frames = {c: values[[c]].rename(columns={c: "v"}).reset_index() for c in values.columns}
    ratios = {}
    for i, (num, den) in enumerate(RATIOS):
        if num in frames and den in frames and len(values):
            ratios[f"{num} / {den}"] = paired_ratio(frames[den], frames[num], "v", n_boot=n_boot, seed=seed + i)
    return {"n_contexts": int(len(values)), "means": {c: float(values[c].mean()) for c in values.columns},
            "ratios": ratios}


def lift_and_sample_size(comparison: Mapping[str, Any], base_ctr: float, impressions: int,
                         versus: str = "mean_logged") -> dict[str, Any]:
    """The predicted relative CTR lift of the tuned copy over ``versus`` (``ratio - 1`` with its
    interval) and the A/B users per arm to confirm it (:func:`reward_models.health.traffic_power`,
    80% power, alpha 0.05, at the logs' click rate ``base_ctr``); ``ab_sample_size_per_arm`` is None
    when the predicted lift is not positive."""
    from reward_models.health import traffic_power

    r = comparison["ratios"].get(f"tuned / {versus}")
    if r is None:
        return {"versus": versus, "lift": None}
    lift = r["ratio"] - 1.0
    power = traffic_power(base_ctr, impressions, lift)
    return {"versus": versus, "lift": lift, "low": r["low"] - 1.0, "high": r["high"] - 1.0,
            "n_contexts": r["n_contexts"], "base_ctr": float(base_ctr),
            "ab_sample_size_per_arm": power["ab_sample_size_per_arm"],
            "min_detectable_lift": power["min_detectable_lift"], "impressions": int(impressions)}
