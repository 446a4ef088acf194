"""Mine DPO preference pairs from feedback logs.

Copies shown for the same item x segment x placement (falling back to item x placement when the
log has no ``segment``) are compared on observed value. Each copy's click rate and purchase rate
per impression get Beta posteriors with an empirical-Bayes prior centred on the placement's pooled
rate ``m0`` with ``prior_strength`` pseudo-impressions ``s0``,

    ctr ~ Beta(s0 m0 + clicks, s0 (1 - m0) + n_eff - clicks)      (purchases likewise)

(a flat Beta(1, 1) prior would put a copy seen 3 times at a 40% click rate when the market's
rate is 6%, and pairs would be mined from prior noise).

with ``n_eff = sum_i examination[placement][position_i]`` when placements are given (position bias:
an unexamined impression is no evidence against the copy) and ``n_eff = n`` otherwise. The value is
``ctr``, ``pr`` or ``ctr + purchase_weight * pr``, and

    confidence = P(value_a > value_b)

is estimated by Monte Carlo from ``n_draws`` seeded posterior draws (the normal approximation
``Phi((m_a - m_b) / sqrt(v_a + v_b))`` is badly off for the skewed posteriors of copies seen a few
times and would mine pairs from noise).

A pair (chosen = a, rejected = b) is kept when ``confidence >= min_confidence``; its weight is
``gain * confidence`` with ``gain = m_a - m_b`` (CTR-driven preference optimization, Chen et al.
2025, arXiv 2507.20227).

**Honesty pairs** (:func:`honesty_pairs`): logged data can make a misleading copy look good (a
claimed discount lifts clicks), so the logged pairs alone never teach the generator to stop
inventing discounts. For every logged copy that is misleading for its item (rlopt's rule,
:func:`rlopt.generation.compliance.check` with the list price), an honesty pair has the same
prompt context, chosen = :func:`rlopt.generation.compliance.repair` of that copy (when it can be
repaired) and rejected = the misleading original: the two differ only in the claim.
:func:`mix_pairs` draws a set share of the training pairs from them. Every pair frame has a
``source`` column, ``"logged"``, ``"honesty"`` or ``"reward_model"`` (generator samples ranked by
the reward model, :mod:`rlopt.tuning.ranked_pairs`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from rlopt.errors import InputError

PAIR_COLUMNS = ("item_id", "segment", "placement", "chosen", "rejected", "gain", "confidence", "weight",
                "n_chosen", "n_rejected", "source")
PAIR_SOURCES = ("logged", "honesty", "reward_model")


def _beta_moments(successes: np.ndarray, n: np.ndarray, prior_mean: np.ndarray,
                  prior_strength: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of Beta(s0 m0 + s, s0 (1 - m0) + n - s), shapes (k,)."""
    m0 = np.clip(prior_mean, 1e-4, 1 - 1e-4)
    a = prior_strength * m0 + successes
    b = prior_strength * (1.0 - m0) + np.maximum(n - successes, 0.0)
    mean = a / (a + b)
    var = a * b / ((a + b) ** 2 * (a + b + 1.0))
    return mean, var


def copy_stats(logs: pd.DataFrame, placements: Mapping[str, Any] | None = None,
               value_metric: str = "combined", purchase_weight: float = 5.0,
               prior_strength: float = 20.0) -> pd.DataFrame:
    """Per (group, copy) impressions, clicks, purchases and the posterior mean/variance of its value.

    Returns
    -------
    DataFrame
        ``item_id, segment, placement, copy_text, n, n_eff, clicks, purchases, mean, var``; ``segment``
        is ``""`` when the log has none (the group is then item x placement).
    """
    for col in ("item_id", "placement", "copy_text", "clicked", "converted"):
        if col not in logs.columns:
            raise InputError(f"logs need column '{col}' to mine preference pairs", column=col,
                             rule="impression log contract")
    df = logs[["item_id", "placement", "copy_text", "clicked", "converted"]].copy()
    df["segment"] = logs["segment"].fillna("").astype(str) if "segment" in logs.columns else ""
    if placements is not None and "position" in logs.columns:
        exam = {name: np.asarray(p.examination, dtype=float) for name, p in placements.items()}
        pos = logs["position"].to_numpy()
        df["w"] = [exam[pl][min(int(k), len(exam[pl]) - 1)] if pl in exam else 1.0
                   for pl, k in zip(df["placement"], pos, strict=True)]
    else:
        df["w"] = 1.0
    g = df.groupby(["item_id", "segment", "placement", "copy_text"], sort=True).agg(
        n=("clicked", "size"), n_eff=("w", "sum"), clicks=("clicked", "sum"), purchases=("converted", "sum"))
    g = g.reset_index()
    n_eff = np.maximum(g["n_eff"].to_numpy(float), g["clicks"].to_numpy(float))
    pooled = g.groupby("placement")[["clicks", "purchases", "n_eff"]].transform("sum")
    m_c, v_c = _beta_moments(g["clicks"].to_numpy(float), n_eff,
                             (pooled["clicks"] / pooled["n_eff"]).to_numpy(), prior_strength)
    m_p, v_p = _beta_moments(g["purchases"].to_numpy(float), n_eff,
                             (pooled["purchases"] / pooled["n_eff"]).to_numpy(), prior_strength)
    if value_metric == "ctr":
        mean, var = m_c, v_c
    elif value_metric == "purchase":
        mean, var = m_p, v_p
    elif value_metric == "combined":
        # Clicks and purchases are positively correlated; treating them as independent makes the
        # variance (and so the confidence) conservative only when purchase_weight is small. Fine for
        # ranking; confidence thresholds are set against this approximation.
        mean, var = m_c + purchase_weight * m_p, v_c + purchase_weight**2 * v_p
    else:
        raise InputError(f"value_metric {value_metric!r} must be one of ctr, purchase, combined",
                         column="value_metric")
    g["mean"] = mean
    g["var"] = var
    for prefix, succ, m0 in (("click", "clicks", pooled["clicks"] / pooled["n_eff"]),
                             ("purchase", "purchases", pooled["purchases"] / pooled["n_eff"])):
        m0 = np.clip(m0.to_numpy(), 1e-4, 1 - 1e-4)
        g[f"{prefix}_a"] = prior_strength * m0 + g[succ].to_numpy(float)
        g[f"{prefix}_b"] = prior_strength * (1 - m0) + np.maximum(n_eff - g[succ].to_numpy(float), 0.0)
    return g


def mine_pairs(logs: pd.DataFrame, placements: Mapping[str, Any] | None = None, *,
               min_confidence: float = 0.9, value_metric: str = "combined", purchase_weight: float = 5.0,
               max_pairs_per_group: int = 20, min_impressions: int = 3,
               prior_strength: float = 20.0, n_draws: int = 4000, seed: int = 0) -> pd.DataFrame:
    """Preference pairs with confidence and weight, one row per (chosen, rejected).

    Parameters
    ----------
    logs : DataFrame, shape (n_impressions, ...)
        Contract impression log (``item_id, placement, copy_text, clicked, converted``; optional
        ``segment``, ``position``).
    placements : mapping name -> Placement, optional
        For position-bias correction via ``examination``.
    min_confidence : float
        Keep pairs with P(chosen > rejected) at least this.
    max_pairs_per_group : int
        Keep at most this many pairs per group, highest weight first.
    min_impressions : int
        Ignore copies shown fewer times than this.
    prior_strength : float
        Pseudo-impressions of the empirical-Bayes prior (see the module docstring).
    n_draws, seed : int
        Monte Carlo draws per copy for the confidence, and their seed.

    Returns
    -------
    DataFrame
        Columns :data:`PAIR_COLUMNS`, sorted by group then descending weight. Empty when nothing is
        confident enough.
    """
    stats = copy_stats(logs, placements, value_metric, purchase_weight, prior_strength)
    stats = stats[stats["n"] >= min_impressions]
    rng = np.random.default_rng(seed)
    rows = []
    for (item, seg, place), grp in stats.groupby(["item_id", "segment", "placement"], sort=True):
        if len(grp) < 2:
            continue
        mean = grp["mean"].to_numpy()
        n = grp["n"].to_numpy()
        text = grp["copy_text"].to_numpy()
        draws = _posterior_draws(grp, value_metric, purchase_weight, n_draws, rng)  # (k, n_draws)
        conf = (draws[:, None, :] > draws[None, :, :]).mean(axis=2)  # (k, k): P(row beats column)
        diff = mean[:, None] - mean[None, :]
        a, b = np.nonzero((conf >= min_confidence) & (diff > 0))
        if a.size == 0:
            continue
        weight = diff[a, b] * conf[a, b]
        keep = np.argsort(-weight, kind="stable")[:max_pairs_per_group]
        for k in keep:
            i, j = a[k], b[k]
            rows.append((item, seg, place, text[i], text[j], diff[i, j], conf[i, j], weight[k], n[i], n[j],
                         "logged"))
    return pd.DataFrame(rows, columns=list(PAIR_COLUMNS))


def _posterior_draws(grp: pd.DataFrame, value_metric: str, purchase_weight: float, n_draws: int,
                     rng: np.random.Generator) -> np.ndarray:
    """Draws of each copy's value, shape (k, n_draws), from the Beta posteriors in ``grp``."""
    def draw(prefix: str) -> np.ndarray:
        a, b = grp[f"{prefix}_a"].to_numpy(), grp[f"{prefix}_b"].to_numpy()
        return rng.beta(a[:, None], b[:, None], size=(len(grp), n_draws))

    if value_metric == "ctr":
        return draw("click")
    if value_metric == "purchase":
        return draw("purchase")
    return draw("click") + purchase_weight * draw("purchase")


def sample_pairs(pairs: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """Draw ``n`` pairs with replacement, P(pair) proportional to ``weight`` (``n <= 0``: len(pairs)).

    This is how pair weights reach TRL's DPOTrainer, which has no per-example loss weight: the
    expected DPO gradient over the resampled set equals the weight-averaged gradient over the pairs.
    """
    if pairs.empty:
        return pairs
    n = len(pairs) if n <= 0 else n
    w = pairs["weight"].to_numpy(float)
    p = w / w.sum()
    idx = np.random.default_rng(seed).choice(len(pairs), size=n, replace=True, p=p)
    return pairs.iloc[idx].reset_index(drop=True)


def honesty_pairs(logs: pd.DataFrame, catalog: pd.DataFrame, placements: Mapping[str, Any], *,
                  max_pairs_per_group: int = 20, tolerance: float = 1.0) -> pd.DataFrame:
    """Pairs that teach honesty: chosen = the repaired copy, rejected = a misleading logged copy.

    Parameters
    ----------
    logs : DataFrame
        Impression log (``item_id, placement, copy_text``; optional ``segment``).
    catalog : DataFrame
        ``item_id, price, discount_pct`` (the truth about each item's discount).
    placements : mapping name -> Placement
        Character limits: the chosen copy fits its placement.
    max_pairs_per_group : int
        At most this many per item x segment x placement (the most shown misleading copies first).
    tolerance : float
        Percentage points a percent claim may differ from the real discount.

    Returns
    -------
    DataFrame
        Columns :data:`PAIR_COLUMNS` with ``source = "honesty"``, ``gain = 0``, ``confidence =
        weight = 1``, ``n_chosen = 0`` and ``n_rejected`` = impressions of the misleading copy.
        Misleading copies that cannot be repaired (too little left) give no pair.

    Examples
    --------
    >>> from rlopt.data.schema import Placement
    >>> cat = pd.DataFrame({"item_id": ["a"], "price": [80.0], "discount_pct": [20.0]})
    >>> logs = pd.DataFrame({"item_id": ["a"] * 3, "segment": ["s"] * 3, "placement": ["push"] * 3,
    ...                      "copy_text": ["Trail shoes, 50% off today", "Trail shoes, 50% off today",
    ...                                    "Trail shoes, 20% off today"]})
    >>> honesty_pairs(logs, cat, {"push": Placement("push", 40, 1, (1.0,))})[["chosen", "rejected", "n_rejected"]]
                           chosen                    rejected  n_rejected
    0  Trail shoes, 20% off today  Trail shoes, 50% off today           2
    """
    from rlopt.generation.compliance import check, repair
    from rlopt.generation.prompts import max_chars_for

    for col in ("item_id", "placement", "copy_text"):
        if col not in logs.columns:
            raise InputError(f"logs need column '{col}' to build honesty pairs", column=col,
                             rule="impression log contract")
    ids = catalog["item_id"].astype(str)
    price = dict(zip(ids, catalog["price"].astype(float), strict=True))
    disc = dict(zip(ids, catalog["discount_pct"].astype(float), strict=True))
    df = logs[["item_id", "placement", "copy_text"]].astype({"item_id": str, "copy_text": str})
    df["segment"] = logs["segment"].fillna("").astype(str) if "segment" in logs.columns else ""
    counts = (df.groupby(["item_id", "segment", "placement", "copy_text"], sort=True).size()
              .rename("n").reset_index())
    rows = []
    for (item, seg, place), grp in counts.groupby(["item_id", "segment", "placement"], sort=True):
        if item not in disc:
            continue
        found = 0
        for text, n in sorted(zip(grp["copy_text"], grp["n"], strict=True), key=lambda x: (-x[1], x[0])):
            if found >= max_pairs_per_group or not check(text, price[item], disc[item], tolerance):
                continue
            fixed, _ = repair(text, price[item], disc[item], max_chars_for(placements, place), tolerance)
            if fixed is None or fixed == text:
                continue
            rows.append((item, seg, place, fixed, text, 0.0, 1.0, 1.0, 0, int(n), "honesty"))
            found += 1
    return pd.DataFrame(rows, columns=list(PAIR_COLUMNS))


def mix_pairs(pairs: pd.DataFrame, honesty: pd.DataFrame | None, n: int, honesty_share: float,
              seed: int = 0, ranked: pd.DataFrame | None = None, ranked_share: float = 0.0) -> pd.DataFrame:
    """The training pairs: ``honesty_share`` of ``n`` from ``honesty``, ``ranked_share`` from ``ranked``,
    the rest from ``pairs`` by weight.

    ``n <= 0`` means ``len(pairs)``. Logged and reward-ranked pairs are drawn with
    :func:`sample_pairs` (probability proportional to weight); honesty pairs uniformly, without
    replacement while there are enough. Without honesty or ranked pairs (or shares of 0) this is
    :func:`sample_pairs`. The result is shuffled (seeded) and keeps the ``source`` column.

    >>> logged = pd.DataFrame({"chosen": ["a", "b"], "rejected": ["c", "d"], "weight": [1.0, 1.0],
    ...                        "source": "logged"})
    >>> honest = pd.DataFrame({"chosen": ["e"], "rejected": ["f"], "weight": [1.0], "source": "honesty"})
    >>> mix_pairs(logged, honest, 8, 0.25, seed=0)["source"].value_counts().to_dict()
    {'logged': 6, 'honesty': 2}
    """
    n = len(pairs) if n <= 0 else n
    n_honest = 0 if honesty is None or honesty.empty else int(round(honesty_share * n))
    n_ranked = 0 if ranked is None or ranked.empty else int(round(ranked_share * n))
    if n_honest == 0 and n_ranked == 0:
        return sample_pairs(pairs, n, seed=seed)
    n_logged = n - n_honest - n_ranked
    parts = [sample_pairs(pairs, n_logged, seed=seed) if n_logged > 0 else pairs.iloc[:0]]
    rng = np.random.default_rng([seed, 1])
    if n_honest:
        idx = rng.choice(len(honesty), size=n_honest, replace=len(honesty) < n_honest)
        parts.append(honesty.iloc[idx])
    if n_ranked:
        parts.append(sample_pairs(ranked, n_ranked, seed=seed + 2))
    mixed = pd.concat(parts, ignore_index=True)
    return mixed.iloc[rng.permutation(len(mixed))].reset_index(drop=True)


# Thresholds tried, in this order, below the configured min_confidence (auto_relax and the error's
# suggestions); 0.5 is the floor: below it "chosen" is no more likely to beat "rejected" than not.
RELAX_CONFIDENCES = (0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55)


def _candidates(logs: pd.DataFrame, placements, cfg, value_metric: str, guard) -> pd.DataFrame:
    """Every pair with confidence >= 0.5 (uncapped), with ``kept`` = passes the guard.

    The Monte Carlo confidences do not depend on the threshold (same seed, same groups), so the
    pairs at any ``min_confidence`` are this frame's rows above it, capped per group.
    """
    pairs = mine_pairs(logs, placements, min_confidence=0.5, value_metric=value_metric,
                       purchase_weight=cfg.purchase_weight, max_pairs_per_group=np.iinfo(np.int32).max,
                       min_impressions=cfg.min_impressions, prior_strength=cfg.prior_strength, seed=cfg.seed)
    pairs["kept"] = True
    if guard is not None and len(pairs):
        kept = guard(pairs.assign(_row=np.arange(len(pairs))))
        pairs["kept"] = np.isin(np.arange(len(pairs)), kept["_row"].to_numpy())
    return pairs


def _count(candidates: pd.DataFrame, min_confidence: float, max_pairs_per_group: int) -> int:
    """Pairs that pass ``min_confidence``, at most ``max_pairs_per_group`` per group, then the guard."""
    above = candidates[candidates["confidence"] >= min_confidence]
    if above.empty:
        return 0
    rank = above.groupby(["item_id", "segment", "placement"], sort=False).cumcount()  # weight order
    return int((above["kept"] & (rank < max_pairs_per_group)).sum())


def group_counts(logs: pd.DataFrame, min_impressions: int) -> tuple[int, int, str]:
    """``(groups, comparable groups, what a group is)`` as :func:`mine_pairs` forms them.

    A group is item x segment x placement (item x placement when the log has no ``segment``); it is
    comparable when at least two of its copies were shown ``min_impressions`` times or more.
    """
    keys = ["item_id", "segment", "placement"] if "segment" in logs.columns else ["item_id", "placement"]
    shown = logs.groupby([*keys, "copy_text"], sort=False).size()
    per_group = (shown >= min_impressions).groupby(level=list(range(len(keys)))).sum()
    return int(len(per_group)), int((per_group >= 2).sum()), " x ".join(k.removesuffix("_id") for k in keys)


def mine_enough_pairs(logs: pd.DataFrame, placements: Mapping[str, Any] | None, cfg,
                      guard=None) -> tuple[pd.DataFrame, int, dict[str, Any]]:
    """Mine pairs with ``cfg``'s knobs; with fewer than ``cfg.min_pairs``, relax or say what would work.

    Parameters
    ----------
    logs, placements
        As :func:`mine_pairs`.
    cfg : RloptDPOConfig
        ``min_confidence, value_metric, purchase_weight, max_pairs_per_group, min_impressions,
        prior_strength, min_pairs, auto_relax, seed``.
    guard : callable, optional
        ``pairs -> kept pairs`` (drops pairs whose chosen copy breaks a guard).

    Returns
    -------
    pairs : DataFrame
        The kept pairs (columns :data:`PAIR_COLUMNS`).
    n_guarded : int
        Pairs the guard dropped.
    mining : dict
        The values used (``min_confidence``, ``value_metric``) and, after relaxing, ``relaxed_from``.

    Raises
    ------
    InputError
        Too few pairs and ``auto_relax`` off (or nothing reaches ``min_pairs``): the message gives the
        pair counts that other values of the knobs give on these logs, never the value in use.
    """
    def mine(confidence: float, metric: str) -> tuple[pd.DataFrame, int]:
        pairs = mine_pairs(logs, placements, min_confidence=confidence, value_metric=metric,
                           purchase_weight=cfg.purchase_weight, max_pairs_per_group=cfg.max_pairs_per_group,
                           min_impressions=cfg.min_impressions, prior_strength=cfg.prior_strength, seed=cfg.seed)
        kept = guard(pairs) if guard is not None else pairs
        return kept, len(pairs) - len(kept)

    used = {"min_confidence": cfg.min_confidence, "value_metric": cfg.value_metric}
    pairs, n_guarded = mine(cfg.min_confidence, cfg.value_metric)
    if len(pairs) >= cfg.min_pairs:
        return pairs, n_guarded, used
    # What other values give on these logs: lower thresholds, then the click rate as the value.
    metrics = [cfg.value_metric] + ([] if cfg.value_metric == "ctr" else ["ctr"])
    ladder = [(c, m) for m in metrics for c in (cfg.min_confidence, *RELAX_CONFIDENCES)
              if c <= cfg.min_confidence and (c, m) != (cfg.min_confidence, cfg.value_metric)]
    found: dict[tuple[float, str], int] = {}
    cands = {m: _candidates(logs, placements, cfg, m, guard) for m in metrics}
    for c, m in ladder:
        found[(c, m)] = _count(cands[m], c, cfg.max_pairs_per_group)
    enough = [(c, m) for c, m in ladder if found[(c, m)] >= cfg.min_pairs]
    if cfg.auto_relax and enough:
        c, m = enough[0]
        import warnings

        warnings.warn(f"auto_relax: {len(pairs)} pairs at min_confidence={cfg.min_confidence}, value_metric="
                      f"{cfg.value_metric!r} (need min_pairs={cfg.min_pairs}); mining with min_confidence={c}, "
                      f"value_metric={m!r} instead ({found[(c, m)]} pairs)", UserWarning, stacklevel=2)
        pairs, n_guarded = mine(c, m)
        return pairs, n_guarded, {"min_confidence": c, "value_metric": m, "relaxed_from": used}
    n_groups, n_comparable, what = group_counts(logs, cfg.min_impressions)
    options = []
    same = []
    for c, m in ladder:  # down to the first threshold that is enough
        if m == cfg.value_metric:
            same.append(f"{c} would give {found[(c, m)]}")
            if found[(c, m)] >= cfg.min_pairs:
                break
    if same:
        options.append("min_confidence " + ", ".join(same))
    if cfg.value_metric != "ctr":
        ctr = [f"{found[(c, 'ctr')]} at min_confidence {c}" for c, m in ladder if m == "ctr"][:3]
        options.append("value_metric 'ctr' (clicks are more frequent than purchases) would give " + ", ".join(ctr))
    if len(pairs) >= 1:
        options.append(f"min_pairs {len(pairs)} would accept these {len(pairs)}")
    tried = " (auto_relax tried every step)" if cfg.auto_relax else \
        "; or set auto_relax (--auto-relax) to lower them step by step"
    raise InputError(
        f"only {len(pairs)} confident preference pairs (need min_pairs={cfg.min_pairs}) from {len(logs)} "
        f"impressions in {n_groups} {what} groups ({n_comparable} with two or more copies shown at least "
        f"min_impressions={cfg.min_impressions} times) at min_confidence={cfg.min_confidence}, "
        f"value_metric={cfg.value_metric!r}. On these logs: {'; '.join(options) or 'no lower setting helps'}. "
        "Log more impressions per copy and more copies per item, or change these knobs (rlopt tune "
        f"--min-confidence/--value-metric/--min-pairs, or the same [tuning] keys){tried}",
        key="min_pairs", rule="enough confident pairs for DPO", value=len(pairs))
