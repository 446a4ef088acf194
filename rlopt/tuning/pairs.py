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

**Pooled per item** (``pair_scope="item"``, :func:`item_copy_stats`): on a small shop's logs the
item x segment x placement groups hold a handful of impressions each, too few to confirm anything.
When a copy's effect is the same in every context and the logging policy picks copies per item,
an item's copies can be compared over all its impressions — but the traffic mix must not confound
them (a copy shown mostly where shoppers click more would win for its placement, not its text).
So each impression counts by its *expected* clicks (clicks over expected clicks, COEC, as in ad CTR
estimation):

    exposure_i = examination[placement_i][position_i] * r(segment_i, placement_i) / r_all

with ``r(s, p)`` the click rate (clicks per examined impression) of segment x placement over all
items and ``r_all`` the overall one (purchases likewise with purchase rates), so ``n_eff`` is in
"average-context impressions" and the prior is centred on the pooled rate. Without a ``segment``
column the context is the placement; without examinations an impression counts 1 before the rate
ratio. A pooled pair is emitted once for each context (segment, placement) in which the chosen copy
was shown, its weight split evenly over those rows (an item pair's total weight is unchanged);
``max_pairs_per_group`` then caps the distinct item pairs per item.

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
PAIR_SCOPES = ("context", "item")


def _beta_moments(successes: np.ndarray, n: np.ndarray, prior_mean: np.ndarray,
                  prior_strength: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of Beta(s0 m0 + s, s0 (1 - m0) + n - s), shapes (k,)."""
    m0 = np.clip(prior_mean, 1e-4, 1 - 1e-4)
    a = prior_strength * m0 + successes
    b = prior_strength * (1.0 - m0) + np.maximum(n - successes, 0.0)
    mean = a / (a + b)
    var = a * b / ((a + b) ** 2 * (a + b + 1.0))
    return mean, var


def _check_columns(logs: pd.DataFrame, what: str) -> None:
    for col in ("item_id", "placement", "copy_text", "clicked", "converted"):
        if col not in logs.columns:
            raise InputError(f"logs need column '{col}' to {what}", column=col, rule="impression log contract")


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
    _check_columns(logs, "mine preference pairs")
    df = logs[["item_id", "placement", "copy_text", "clicked", "converted"]].copy()
    df["segment"] = logs["segment"].fillna("").astype(str) if "segment" in logs.columns else ""
    df["w"] = _examination(logs, placements)
    g = df.groupby(["item_id", "segment", "placement", "copy_text"], sort=True).agg(
        n=("clicked", "size"), n_eff=("w", "sum"), clicks=("clicked", "sum"), purchases=("converted", "sum"))
    g = g.reset_index()
    n_eff = np.maximum(g["n_eff"].to_numpy(float), g["clicks"].to_numpy(float))
    pooled = g.groupby("placement")[["clicks", "purchases", "n_eff"]].transform("sum")
    return _with_posteriors(g, n_eff, n_eff, (pooled["clicks"] / pooled["n_eff"]).to_numpy(),
                            (pooled["purchases"] / pooled["n_eff"]).to_numpy(), value_metric, purchase_weight,
                            prior_strength)


def _with_posteriors(g: pd.DataFrame, n_click: np.ndarray, n_purchase: np.ndarray, m0_click: np.ndarray,
                     m0_purchase: np.ndarray, value_metric: str, purchase_weight: float,
                     prior_strength: float) -> pd.DataFrame:
    """``g`` (with ``clicks, purchases``) plus ``mean, var`` of the value and the Beta parameters
    ``click_a, click_b, purchase_a, purchase_b``, from the effective impressions and prior means given."""
    m_c, v_c = _beta_moments(g["clicks"].to_numpy(float), n_click, m0_click, prior_strength)
    m_p, v_p = _beta_moments(g["purchases"].to_numpy(float), n_purchase, m0_purchase, prior_strength)
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
    for prefix, succ, m0, n_eff in (("click", "clicks", m0_click, n_click),
                                    ("purchase", "purchases", m0_purchase, n_purchase)):
        m0 = np.clip(m0, 1e-4, 1 - 1e-4)
        g[f"{prefix}_a"] = prior_strength * m0 + g[succ].to_numpy(float)
        g[f"{prefix}_b"] = prior_strength * (1 - m0) + np.maximum(n_eff - g[succ].to_numpy(float), 0.0)
    return g


def _examination(logs: pd.DataFrame, placements: Mapping[str, Any] | None) -> np.ndarray:
    """Each impression's examination probability (1 without placements or positions), shape (n,)."""
    if placements is None or "position" not in logs.columns:
        return np.ones(len(logs))
    exam = {name: np.asarray(p.examination, dtype=float) for name, p in placements.items()}
    return np.array([exam[pl][min(int(k), len(exam[pl]) - 1)] if pl in exam else 1.0
                     for pl, k in zip(logs["placement"], logs["position"].to_numpy(), strict=True)], dtype=float)


def context_exposure(logs: pd.DataFrame, placements: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Each impression's expected clicks and purchases in average-context units (COEC), shape (n, 2).

    ``click_exposure = examination * r(segment, placement) / r_all`` with ``r`` the clicks per examined
    impression of the context over all items and ``r_all`` the overall rate; ``purchase_exposure``
    likewise with purchases. The context is the placement when the log has no ``segment``; a rate of
    zero overall leaves the examination as it is.

    >>> logs = pd.DataFrame({"placement": ["hi"] * 2 + ["lo"] * 2, "clicked": [1, 1, 1, 0],
    ...                      "converted": [1, 0, 0, 0]})
    >>> context_exposure(logs).round(3).to_dict("list")
    {'click_exposure': [1.333, 1.333, 0.667, 0.667], 'purchase_exposure': [2.0, 2.0, 0.0, 0.0]}
    """
    exam = _examination(logs, placements)
    keys = [logs["segment"].fillna("").astype(str)] if "segment" in logs.columns else []
    keys.append(logs["placement"].astype(str))
    frame = pd.DataFrame({"w": exam, "clicked": logs["clicked"].to_numpy(float),
                          "converted": logs["converted"].to_numpy(float)})
    ctx = frame.groupby([k.to_numpy() for k in keys], sort=False)
    out = {}
    for name, col in (("click_exposure", "clicked"), ("purchase_exposure", "converted")):
        total = frame[col].sum() / max(frame["w"].sum(), 1e-12)
        if total <= 0:
            out[name] = exam
            continue
        rate = ctx[col].transform("sum") / ctx["w"].transform("sum").clip(lower=1e-12)
        out[name] = exam * (rate.to_numpy() / total)
    return pd.DataFrame(out, index=logs.index)


def item_copy_stats(logs: pd.DataFrame, placements: Mapping[str, Any] | None = None,
                    value_metric: str = "combined", purchase_weight: float = 5.0,
                    prior_strength: float = 20.0) -> pd.DataFrame:
    """Per (item, copy) over all the item's contexts: impressions, COEC exposures and value posteriors.

    Returns
    -------
    DataFrame
        ``item_id, copy_text, n, n_eff, n_eff_purchase, clicks, purchases, mean, var`` and the Beta
        parameters; ``n_eff`` (``n_eff_purchase``) is the summed click (purchase) exposure of
        :func:`context_exposure`, and the prior is centred on the pooled rate of all impressions.
    """
    _check_columns(logs, "mine preference pairs")
    exposure = context_exposure(logs, placements)
    df = pd.DataFrame({"item_id": logs["item_id"].to_numpy(), "copy_text": logs["copy_text"].to_numpy(),
                       "clicked": logs["clicked"].to_numpy(), "converted": logs["converted"].to_numpy(),
                       "wc": exposure["click_exposure"].to_numpy(), "wp": exposure["purchase_exposure"].to_numpy()})
    g = df.groupby(["item_id", "copy_text"], sort=True).agg(
        n=("clicked", "size"), n_eff=("wc", "sum"), n_eff_purchase=("wp", "sum"), clicks=("clicked", "sum"),
        purchases=("converted", "sum")).reset_index()
    n_click = np.maximum(g["n_eff"].to_numpy(float), g["clicks"].to_numpy(float))
    n_buy = np.maximum(g["n_eff_purchase"].to_numpy(float), g["purchases"].to_numpy(float))
    m0_click = np.full(len(g), g["clicks"].sum() / max(g["n_eff"].sum(), 1e-12))
    m0_buy = np.full(len(g), g["purchases"].sum() / max(g["n_eff_purchase"].sum(), 1e-12))
    return _with_posteriors(g, n_click, n_buy, m0_click, m0_buy, value_metric, purchase_weight, prior_strength)


def mine_pairs(logs: pd.DataFrame, placements: Mapping[str, Any] | None = None, *,
               min_confidence: float = 0.9, value_metric: str = "combined", purchase_weight: float = 5.0,
               max_pairs_per_group: int = 20, min_impressions: int = 3,
               prior_strength: float = 20.0, n_draws: int = 4000, seed: int = 0,
               pair_scope: str = "context") -> pd.DataFrame:
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
        Keep at most this many pairs per group, highest weight first (per item, counting distinct
        item pairs, in the item scope).
    min_impressions : int
        Ignore copies shown fewer times than this (in their group; in the item scope, in all).
    prior_strength : float
        Pseudo-impressions of the empirical-Bayes prior (see the module docstring).
    n_draws, seed : int
        Monte Carlo draws per copy for the confidence, and their seed.
    pair_scope : {"context", "item"}
        Compare copies per item x segment x placement, or per item over all its impressions with
        COEC exposures (module docstring); ``"context"`` is the default.

    Returns
    -------
    DataFrame
        Columns :data:`PAIR_COLUMNS`, sorted by group then descending weight. Empty when nothing is
        confident enough.
    """
    if pair_scope not in PAIR_SCOPES:
        raise InputError(f"pair_scope ({pair_scope!r}) must be one of {', '.join(PAIR_SCOPES)}", column="pair_scope")
    if pair_scope == "item":
        return _mine_item_pairs(logs, placements, min_confidence, value_metric, purchase_weight,
                                max_pairs_per_group, min_impressions, prior_strength, n_draws, seed)
    stats = copy_stats(logs, placements, value_metric, purchase_weight, prior_strength)
    stats = stats[stats["n"] >= min_impressions]
    rng = np.random.default_rng(seed)
    rows = []
    for (item, seg, place), grp in stats.groupby(["item_id", "segment", "placement"], sort=True):
        text, n = grp["copy_text"].to_numpy(), grp["n"].to_numpy()
        for i, j, gain, conf, weight in _compare(grp, value_metric, purchase_weight, n_draws, rng,
                                                 min_confidence, max_pairs_per_group):
            rows.append((item, seg, place, text[i], text[j], gain, conf, weight, n[i], n[j], "logged"))
    return pd.DataFrame(rows, columns=list(PAIR_COLUMNS))


def _compare(grp: pd.DataFrame, value_metric: str, purchase_weight: float, n_draws: int,
             rng: np.random.Generator, min_confidence: float, cap: int) -> list[tuple]:
    """``(i, j, gain, confidence, weight)`` of the confident pairs among ``grp``'s copies, best ``cap``."""
    if len(grp) < 2:
        return []
    mean = grp["mean"].to_numpy()
    draws = _posterior_draws(grp, value_metric, purchase_weight, n_draws, rng)  # (k, n_draws)
    conf = (draws[:, None, :] > draws[None, :, :]).mean(axis=2)  # (k, k): P(row beats column)
    diff = mean[:, None] - mean[None, :]
    a, b = np.nonzero((conf >= min_confidence) & (diff > 0))
    if a.size == 0:
        return []
    weight = diff[a, b] * conf[a, b]
    keep = np.argsort(-weight, kind="stable")[:cap]
    return [(a[k], b[k], diff[a[k], b[k]], conf[a[k], b[k]], weight[k]) for k in keep]


def _mine_item_pairs(logs: pd.DataFrame, placements: Mapping[str, Any] | None, min_confidence: float,
                     value_metric: str, purchase_weight: float, cap: int, min_impressions: int,
                     prior_strength: float, n_draws: int, seed: int) -> pd.DataFrame:
    """:func:`mine_pairs` with ``pair_scope="item"``: item pairs, one row per context of the chosen copy."""
    stats = item_copy_stats(logs, placements, value_metric, purchase_weight, prior_strength)
    stats = stats[stats["n"] >= min_impressions]
    seg = logs["segment"].fillna("").astype(str) if "segment" in logs.columns else pd.Series("", index=logs.index)
    shown = pd.DataFrame({"item_id": logs["item_id"].to_numpy(), "copy_text": logs["copy_text"].to_numpy(),
                          "segment": seg.to_numpy(), "placement": logs["placement"].to_numpy()})
    shown = shown.drop_duplicates().sort_values(["item_id", "copy_text", "segment", "placement"])
    contexts = {key: list(zip(g["segment"], g["placement"], strict=True))
                for key, g in shown.groupby(["item_id", "copy_text"], sort=False)}
    rng = np.random.default_rng(seed)
    rows = []
    for item, grp in stats.groupby("item_id", sort=True):
        text, n = grp["copy_text"].to_numpy(), grp["n"].to_numpy()
        for i, j, gain, conf, weight in _compare(grp, value_metric, purchase_weight, n_draws, rng,
                                                 min_confidence, cap):
            where = contexts[(item, text[i])]
            rows += [(item, s, p, text[i], text[j], gain, conf, weight / len(where), n[i], n[j], "logged")
                     for s, p in where]
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
    from rlopt.generation.compliance import price_terms
    from rlopt.generation.prompts import max_chars_for

    for col in ("item_id", "placement", "copy_text"):
        if col not in logs.columns:
            raise InputError(f"logs need column '{col}' to build honesty pairs", column=col,
                             rule="impression log contract")
    terms = price_terms(catalog)
    df = logs[["item_id", "placement", "copy_text"]].astype({"item_id": str, "copy_text": str})
    df["segment"] = logs["segment"].fillna("").astype(str) if "segment" in logs.columns else ""
    counts = (df.groupby(["item_id", "segment", "placement", "copy_text"], sort=True).size()
              .rename("n").reset_index())
    rows = []
    for (item, seg, place), grp in counts.groupby(["item_id", "segment", "placement"], sort=True):
        if item not in terms:
            continue
        found = 0
        for text, n in sorted(zip(grp["copy_text"], grp["n"], strict=True), key=lambda x: (-x[1], x[0])):
            if found >= max_pairs_per_group or not terms[item].misleading(text, tolerance):
                continue
            fixed, _ = terms[item].repair(text, max_chars_for(placements, place), tolerance)
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


def _candidates(logs: pd.DataFrame, placements, cfg, value_metric: str, guard,
                pair_scope: str = "context") -> pd.DataFrame:
    """Every pair with confidence >= 0.5 (uncapped), with ``kept`` = passes the guard.

    The Monte Carlo confidences do not depend on the threshold (same seed, same groups), so the
    pairs at any ``min_confidence`` are this frame's rows above it, capped per group.
    """
    pairs = mine_pairs(logs, placements, min_confidence=0.5, value_metric=value_metric,
                       purchase_weight=cfg.purchase_weight, max_pairs_per_group=np.iinfo(np.int32).max,
                       min_impressions=cfg.min_impressions, prior_strength=cfg.prior_strength, seed=cfg.seed,
                       pair_scope=pair_scope)
    pairs["kept"] = True
    pairs.attrs["pair_scope"] = pair_scope
    if guard is not None and len(pairs):
        kept = guard(pairs.assign(_row=np.arange(len(pairs))))
        pairs["kept"] = np.isin(np.arange(len(pairs)), kept["_row"].to_numpy())
    return pairs


def _count(candidates: pd.DataFrame, min_confidence: float, max_pairs_per_group: int) -> int:
    """Pairs that pass ``min_confidence``, at most ``max_pairs_per_group`` per group, then the guard.

    In the item scope a group is an item and the cap counts distinct item pairs (each may have a row
    per context of its chosen copy).
    """
    above = candidates[candidates["confidence"] >= min_confidence]
    if above.empty:
        return 0
    if candidates.attrs.get("pair_scope", "context") == "item":
        key = ["item_id", "chosen", "rejected"]
        first = above.drop_duplicates(key)  # candidates come in weight order within each item
        order = first.assign(_rank=first.groupby("item_id", sort=False).cumcount())[[*key, "_rank"]]
        rank = above[key].merge(order, on=key, how="left")["_rank"].to_numpy()
    else:
        rank = above.groupby(["item_id", "segment", "placement"], sort=False).cumcount().to_numpy()  # weight order
    return int((above["kept"].to_numpy() & (rank < max_pairs_per_group)).sum())


def group_counts(logs: pd.DataFrame, min_impressions: int, pair_scope: str = "context") -> tuple[int, int, str]:
    """``(groups, comparable groups, what a group is)`` as :func:`mine_pairs` forms them.

    A group is item x segment x placement (item x placement when the log has no ``segment``), or the
    item in the item scope; it is comparable when at least two of its copies were shown
    ``min_impressions`` times or more.
    """
    if pair_scope == "item":
        keys = ["item_id"]
    else:
        keys = ["item_id", "segment", "placement"] if "segment" in logs.columns else ["item_id", "placement"]
    shown = logs.groupby([*keys, "copy_text"], sort=False).size()
    per_group = (shown >= min_impressions).groupby(level=list(range(len(keys)))).sum()
    return int(len(per_group)), int((per_group >= 2).sum()), " x ".join(k.removesuffix("_id") for k in keys)


def relax_ladder(min_confidence: float, value_metric: str, pair_scope: str) -> list[tuple[float, str, str]]:
    """The ``(min_confidence, value_metric, pair_scope)`` steps ``auto_relax`` tries, in order.

    From the context scope, the item scope at the configured threshold comes first (pooled pairs at
    0.9 are cleaner than per-context pairs at 0.6), then lower thresholds there, then ``ctr`` as the
    value; the context scope's own lower thresholds and ``ctr`` come last (the per-item cap can
    make the item scope give fewer).

    >>> relax_ladder(0.9, "combined", "context")[:3]
    [(0.9, 'combined', 'item'), (0.85, 'combined', 'item'), (0.8, 'combined', 'item')]
    """
    lower = [c for c in (min_confidence, *RELAX_CONFIDENCES) if c <= min_confidence]
    metrics = [value_metric] + ([] if value_metric == "ctr" else ["ctr"])
    scopes = ["item", "context"] if pair_scope == "context" else ["item"]
    steps = [(c, m, sc) for sc in scopes for m in metrics for c in lower]
    return [s for s in steps if s != (min_confidence, value_metric, pair_scope)]


def mine_enough_pairs(logs: pd.DataFrame, placements: Mapping[str, Any] | None, cfg,
                      guard=None) -> tuple[pd.DataFrame, int, dict[str, Any]]:
    """Mine pairs with ``cfg``'s knobs; with fewer than ``cfg.min_pairs``, relax or say what would work.

    Parameters
    ----------
    logs, placements
        As :func:`mine_pairs`.
    cfg : RloptDPOConfig
        ``min_confidence, value_metric, pair_scope, purchase_weight, max_pairs_per_group,
        min_impressions, prior_strength, min_pairs, auto_relax, seed``.
    guard : callable, optional
        ``pairs -> kept pairs`` (drops pairs whose chosen copy breaks a guard).

    Returns
    -------
    pairs : DataFrame
        The kept pairs (columns :data:`PAIR_COLUMNS`).
    n_guarded : int
        Pairs the guard dropped.
    mining : dict
        The values used (``min_confidence``, ``value_metric``, ``pair_scope``) and, after relaxing,
        ``relaxed_from``.

    Raises
    ------
    InputError
        Too few pairs and ``auto_relax`` off (or nothing reaches ``min_pairs``): the message gives the
        pair counts that other values of the knobs give on these logs, never the value in use.
    """
    scope = getattr(cfg, "pair_scope", "context")

    def mine(confidence: float, metric: str, pair_scope: str) -> tuple[pd.DataFrame, int]:
        pairs = mine_pairs(logs, placements, min_confidence=confidence, value_metric=metric,
                           purchase_weight=cfg.purchase_weight, max_pairs_per_group=cfg.max_pairs_per_group,
                           min_impressions=cfg.min_impressions, prior_strength=cfg.prior_strength, seed=cfg.seed,
                           pair_scope=pair_scope)
        kept = guard(pairs) if guard is not None else pairs
        return kept, len(pairs) - len(kept)

    used = {"min_confidence": cfg.min_confidence, "value_metric": cfg.value_metric, "pair_scope": scope}
    pairs, n_guarded = mine(cfg.min_confidence, cfg.value_metric, scope)
    if len(pairs) >= cfg.min_pairs:
        return pairs, n_guarded, used
    # What other values give on these logs: the item scope, lower thresholds, the click rate as the value.
    ladder = relax_ladder(cfg.min_confidence, cfg.value_metric, scope)
    kinds = dict.fromkeys((m, sc) for _, m, sc in ladder)
    cands = {(m, sc): _candidates(logs, placements, cfg, m, guard, sc) for m, sc in kinds}
    found = {step: _count(cands[step[1:]], step[0], cfg.max_pairs_per_group) for step in ladder}
    enough = [step for step in ladder if found[step] >= cfg.min_pairs]
    if cfg.auto_relax and enough:
        c, m, sc = enough[0]
        import warnings

        warnings.warn(f"auto_relax: {len(pairs)} pairs at min_confidence={cfg.min_confidence}, value_metric="
                      f"{cfg.value_metric!r}, pair_scope={scope!r} (need min_pairs={cfg.min_pairs}); mining with "
                      f"min_confidence={c}, value_metric={m!r}, pair_scope={sc!r} instead ({found[(c, m, sc)]} "
                      "pairs)", UserWarning, stacklevel=2)
        pairs, n_guarded = mine(c, m, sc)
        return pairs, n_guarded, {"min_confidence": c, "value_metric": m, "pair_scope": sc, "relaxed_from": used}
    n_groups, n_comparable, what = group_counts(logs, cfg.min_impressions, scope)

    def down_to_enough(metric: str, pair_scope: str) -> list[tuple[float, int]]:
        out = []
        for c, m, sc in ladder:  # down to the first threshold that is enough
            if (m, sc) == (metric, pair_scope):
                out.append((c, found[(c, m, sc)]))
                if out[-1][1] >= cfg.min_pairs:
                    break
        return out

    options = []
    same = down_to_enough(cfg.value_metric, scope)
    if same:
        options.append("min_confidence " + ", ".join(f"{c} would give {n}" for c, n in same))
    if scope == "context":
        pooled = down_to_enough(cfg.value_metric, "item")
        options.append("pair_scope 'item' (an item's copies compared over all its impressions) would give "
                       + ", ".join(f"{n} at min_confidence {c}" for c, n in pooled))
    if cfg.value_metric != "ctr":
        ctr = [f"{found[(c, 'ctr', scope)]} at min_confidence {c}" for c, m, sc in ladder
               if (m, sc) == ("ctr", scope)][:3]
        options.append("value_metric 'ctr' (clicks are more frequent than purchases) would give " + ", ".join(ctr))
    if len(pairs) >= 1:
        options.append(f"min_pairs {len(pairs)} would accept these {len(pairs)}")
    tried = " (auto_relax tried every step)" if cfg.auto_relax else \
        "; or set auto_relax (--auto-relax) to try the item scope and lower thresholds step by step"
    raise InputError(
        f"only {len(pairs)} confident preference pairs (need min_pairs={cfg.min_pairs}) from {len(logs)} "
        f"impressions in {n_groups} {what} groups ({n_comparable} with two or more copies shown at least "
        f"min_impressions={cfg.min_impressions} times) at min_confidence={cfg.min_confidence}, "
        f"value_metric={cfg.value_metric!r}, pair_scope={scope!r}. On these logs: "
        f"{'; '.join(options) or 'no lower setting helps'}. "
        "Log more impressions per copy and more copies per item, or change these knobs (rlopt tune "
        f"--min-confidence/--value-metric/--pair-scope/--min-pairs, or the same [tuning] keys){tried}",
        key="min_pairs", rule="enough confident pairs for DPO", value=len(pairs))
