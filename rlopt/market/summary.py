"""Generation contexts and ``oracle.json``: what the truth says about a simulation.

``oracle.json`` lets later parts say how close they get to the truth:

- ``holdout_click_auc`` / ``holdout_purchase_auc``: ROC AUC of the true P(click) (examination x
  attractiveness at the logged position) and true P(purchase) against the sampled outcomes on the
  holdout rows. No learned model can beat these on average: they are the ceiling for reward models.
- ``logging_policy``: the logging policy's true CTR, purchase rate and revenue per impression on the
  holdout rows, in expectation over its own pool choice (sum_k pi_k * p_k), not the sampled outcomes.
- ``contexts`` / ``best_pool``: per held-out generation context (segment-mean user features,
  top slot, position 0), the best pool copy by true CTR (its CTR and purchase rate), the best pool
  copy by true purchase rate, the logging policy's expected CTR and purchase rate, the worst pool
  copy's CTR, and their means (generators should beat ``mean_logging_ctr`` and approach or beat
  ``mean_best_ctr``; ``mean_best_purchase_rate`` is the purchase rate of the CTR-best copies, which
  may be misleading ones, ``mean_max_purchase_rate`` the best any pool copy reaches).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.special import expit

from rlopt.market.names import USER_FEATURE_NAMES

if TYPE_CHECKING:
    from rlopt.market.marketplace import Marketplace


def sample_contexts(market: Marketplace, holdout: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """A seeded sample of ``simulation.n_contexts`` distinct held-out (item, segment, placement).

    Returns
    -------
    DataFrame ``item_id, segment, placement, user_features`` (segment-mean features, dicts)
    """
    distinct = (holdout[["item_id", "segment", "placement"]].drop_duplicates()
                .sort_values(["item_id", "segment", "placement"]).reset_index(drop=True))
    k = min(market.config.simulation.n_contexts, len(distinct))
    pick = np.sort(rng.choice(len(distinct), size=k, replace=False))
    contexts = distinct.iloc[pick].reset_index(drop=True)
    contexts["user_features"] = [market.segment_mean_features(s) for s in contexts["segment"]]
    return contexts


def _auc(y: np.ndarray, score: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score  # imported here: sklearn takes a second to import

    return float(roc_auc_score(y, score)) if 0 < y.sum() < len(y) else None


def oracle_summary(market: Marketplace, holdout: pd.DataFrame, codes: dict[str, np.ndarray],
                   contexts: pd.DataFrame, p_click: np.ndarray, p_buy_given_click: np.ndarray) -> dict[str, Any]:
    """The contents of ``oracle.json`` (see the module docstring).

    Parameters
    ----------
    market : Marketplace
    holdout : DataFrame, n rows (the held-out impressions)
    codes : dict of int arrays (n,) from :meth:`Marketplace.sample_codes` for the holdout rows
    contexts : DataFrame from :func:`sample_contexts`
    p_click, p_buy_given_click : arrays (n,), the truth for the logged copy
    """
    truth, policy, k = market.truth, market.logging_policy, market.pool_size
    p_buy = p_click * p_buy_given_click
    out: dict[str, Any] = {
        "holdout_click_auc": _auc(holdout["clicked"].to_numpy(), p_click),
        "holdout_purchase_auc": _auc(holdout["converted"].to_numpy(), p_buy),
    }
    # The logging policy in expectation over its pool choice: every holdout row x every pool copy.
    rows = policy.rows_from_index(codes["item"], codes["placement"])
    pi = policy.probs[rows]  # (n, K)
    pool_texts = market.pool_text_array
    rep = np.repeat(np.arange(len(rows)), k)
    text_code = (rows[:, None] * k + np.arange(k)[None, :]).reshape(-1)
    z = truth.logits_coded(text_code, pool_texts.reshape(-1), codes["item"][rep], codes["segment"][rep],
                           codes["placement"][rep], market.user_feature_matrix[codes["user"]][rep],
                           codes["position"][rep])
    pc = (expit(z["click_logit"]) * z["examination"]).reshape(-1, k)
    pb = pc * expit(z["purchase_logit"]).reshape(-1, k)
    cat = market.catalog
    net = (cat["price"] * (1 - cat["discount_pct"] / 100)).to_numpy()[codes["item"]]
    out["logging_policy"] = {
        "true_ctr": float((pi * pc).sum(axis=1).mean()),
        "true_purchase_rate": float((pi * pb).sum(axis=1).mean()),
        "true_revenue_per_impression": float(((pi * pb).sum(axis=1) * net).mean()),
        "true_ctr_of_logged_copy": float(p_click.mean()),
    }
    # Per generation context: every pool copy at position 0 with segment-mean features.
    n_ctx = len(contexts)
    crow = policy.rows(contexts["item_id"], contexts["placement"])
    crep = np.repeat(np.arange(n_ctx), k)
    cprobs = truth.probabilities(pool_texts[crow].reshape(-1), contexts["item_id"].to_numpy()[crep],
                                 contexts["segment"].to_numpy()[crep], contexts["placement"].to_numpy()[crep],
                                 np.array([[f[n] for n in USER_FEATURE_NAMES] for f in contexts["user_features"]],
                                          dtype=float).reshape(n_ctx, -1)[crep],
                                 np.zeros(n_ctx * k, dtype=np.int64))
    cc = cprobs["p_click"].reshape(n_ctx, k)
    cpb = cc * cprobs["p_purchase_given_click"].reshape(n_ctx, k)
    best = cc.argmax(axis=1)
    best_buy = cpb.argmax(axis=1)
    pi_ctx = policy.probs[crow]
    logging_ctr = (pi_ctx * cc).sum(axis=1)
    logging_buy = (pi_ctx * cpb).sum(axis=1)
    records = []
    for i, ctx in enumerate(contexts[["item_id", "segment", "placement"]].itertuples(index=False)):
        records.append({
            "item_id": ctx.item_id, "segment": ctx.segment, "placement": ctx.placement,
            "best_pool_index": int(best[i]), "best_copy_text": str(pool_texts[crow[i], best[i]]),
            "best_true_ctr": float(cc[i, best[i]]), "best_true_purchase_rate": float(cpb[i, best[i]]),
            "best_purchase_pool_index": int(best_buy[i]),
            "max_true_purchase_rate": float(cpb[i, best_buy[i]]),
            "logging_true_ctr": float(logging_ctr[i]), "logging_true_purchase_rate": float(logging_buy[i]),
            "worst_true_ctr": float(cc[i].min()),
        })

    def mean(x: np.ndarray) -> float | None:
        return float(x.mean()) if n_ctx else None

    out["best_pool"] = {
        "mean_best_ctr": mean(cc.max(axis=1)),
        "mean_logging_ctr": mean(logging_ctr),
        "mean_worst_ctr": mean(cc.min(axis=1)),
        "mean_best_purchase_rate": mean(cpb[np.arange(n_ctx), best]),
        "mean_max_purchase_rate": mean(cpb.max(axis=1)),
        "mean_logging_purchase_rate": mean(logging_buy),
        "position": 0,
        "user_features": "segment mean",
    }
    out["contexts"] = records
    return out
