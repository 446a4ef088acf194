"""Evaluation on logged impressions: AUC, log-loss and ECE for both heads.

On logged rows the click prediction INCLUDES the slot term (the impression happened in a slot):

    p_click_logged    = P(click | copy, context, placement, position)
    p_purchase_logged = p_click_logged * P(purchase | click)     vs. ``converted`` (ESMM's CTCVR)

Scores from ``RewardModel.score`` drop the slot term; these metrics are about logged rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import log_loss, roc_auc_score

from reward_models.calibration import expected_calibration_error


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    return float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else float("nan")


def _logloss(y: np.ndarray, p: np.ndarray) -> float:
    return float(log_loss(y, np.clip(p, 1e-7, 1 - 1e-7), labels=[0, 1]))


def binary_metrics(y: np.ndarray, p: np.ndarray, prefix: str) -> dict[str, float]:
    """``{prefix}_auc, {prefix}_logloss, {prefix}_ece, {prefix}_rate, {prefix}_mean_pred``."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    return {
        f"{prefix}_auc": _auc(y, p),
        f"{prefix}_logloss": _logloss(y, p),
        f"{prefix}_ece": expected_calibration_error(y, p),
        f"{prefix}_rate": float(y.mean()),
        f"{prefix}_mean_pred": float(p.mean()),
    }


def prediction_metrics(clicked, converted, p_click, p_purchase) -> dict[str, float]:
    """Metrics of logged-row predictions for click and purchase (over all impressions)."""
    out: dict[str, Any] = {"n": int(len(clicked))}
    out.update(binary_metrics(clicked, p_click, "click"))
    out.update(binary_metrics(converted, p_purchase, "purchase"))
    return out


def evaluate_reward_model(model, logs: pd.DataFrame, catalog: pd.DataFrame, source: str | None = None,
                          component: str | None = None) -> tuple[dict[str, float], pd.DataFrame]:
    """Evaluate ``model`` on logged rows (``component``: ``encoder | baseline | blend``, default the chosen).

    Returns
    -------
    metrics : dict
        ``n, click_auc, click_logloss, click_ece, purchase_auc, ...`` (slot term included).
    predictions : DataFrame, len(logs) rows
        ``p_click`` and ``p_purchase`` per logged row (slot term included).
    """
    p_click, p_cvr, _ = model.predict(logs, catalog, with_slot=True, source=source, component=component)
    p_purchase = p_click * p_cvr
    metrics = prediction_metrics(logs["clicked"].to_numpy(), logs["converted"].to_numpy(), p_click, p_purchase)
    metrics["slot_term_included"] = True
    return metrics, pd.DataFrame({"p_click": p_click, "p_purchase": p_purchase}, index=logs.index)
