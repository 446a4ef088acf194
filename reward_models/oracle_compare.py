"""EVALUATION ONLY: the simulator's oracle on the same rows, for ``rlopt reward eval``.

This is the one module of ``reward_models`` allowed to import ``rlopt.market.oracle`` (the ground
truth). Training and scoring code never import it; the boundary test allow-lists this file only.
It is imported lazily by the eval command when the logs sit next to a simulator's ``market.toml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reward_models.evaluate import prediction_metrics


def find_market_dir(logs_path: str | Path) -> Path | None:
    """The simulator output directory holding ``logs_path``, if it has a ``market.toml``."""
    parent = Path(logs_path).resolve().parent
    return parent if (parent / "market.toml").is_file() else None


def oracle_probabilities(sim_dir: str | Path, logs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """True ``(p_click, p_purchase)`` of logged rows (slot included), from the rebuilt oracle."""
    from rlopt.market.oracle import Oracle

    oracle = Oracle.from_dir(sim_dir)
    segment = logs["segment"].to_numpy() if "segment" in logs else np.full(len(logs), None)
    user_features = logs["user_features"].tolist() if "user_features" in logs else None
    args = (logs["copy_text"].to_numpy(), logs["item_id"].to_numpy(), segment, logs["placement"].to_numpy())
    p_click = np.asarray(oracle.click_prob(*args, logs["position"].to_numpy(), user_features=user_features))
    p_cvr = np.asarray(oracle.purchase_prob(*args, user_features=user_features))
    return p_click, p_click * p_cvr


def compare_with_oracle(sim_dir: str | Path, logs: pd.DataFrame, model_metrics: dict[str, Any]) -> dict[str, Any]:
    """Oracle metrics on the same rows and the model/oracle AUC ratios."""
    p_click, p_purchase = oracle_probabilities(sim_dir, logs)
    oracle = prediction_metrics(logs["clicked"].to_numpy(), logs["converted"].to_numpy(), p_click, p_purchase)
    out = {f"oracle_{k}": v for k, v in oracle.items() if k != "n"}
    for head in ("click", "purchase"):
        out[f"{head}_auc_ratio"] = float(model_metrics[f"{head}_auc"] / oracle[f"{head}_auc"])
    out["oracle_dir"] = str(sim_dir)
    return out
