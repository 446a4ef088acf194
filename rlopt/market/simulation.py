"""``simulate``: logged impressions with clicks and purchases drawn from the ground truth.

The copy is logged as written (``copy_text`` may be longer than the placement allows); the truth
applies the cut-off when it scores it, as a real placement would truncate the display.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.special import expit

from rlopt.data import copy_id_for, write_jsonl, write_placements, write_table
from rlopt.data.split import split_logs
from rlopt.io_utils import write_json_atomic, write_text_atomic
from rlopt.market._columns import take_strings
from rlopt.market.summary import oracle_summary, sample_contexts
from rlopt.seeding import as_rng

if TYPE_CHECKING:
    from rlopt.market.marketplace import Marketplace

LOG_COLUMNS = ("event_id", "timestamp", "user_id", "segment", "user_features", "item_id", "placement",
               "position", "copy_id", "copy_text", "propensity", "clicked", "converted", "revenue")


@dataclass
class Simulation:
    """The result of :func:`simulate`.

    Attributes
    ----------
    catalog : DataFrame          contract catalog
    logs : DataFrame             all impressions (contract columns, time-ordered)
    train, holdout : DataFrame   split by time: the last ``holdout_fraction`` of impressions is holdout
    contexts : DataFrame         held-out generation contexts ``item_id, segment, placement, user_features``
    placements : dict[str, Placement]
    oracle_summary : dict        what ``oracle.json`` holds (see :func:`rlopt.market.summary.oracle_summary`)
    market_toml : str            the market config used (so evaluators can rebuild the oracle)
    """

    catalog: pd.DataFrame
    logs: pd.DataFrame
    train: pd.DataFrame
    holdout: pd.DataFrame
    contexts: pd.DataFrame
    placements: dict
    oracle_summary: dict[str, Any] = field(default_factory=dict)
    market_toml: str = ""

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """Write every output atomically into ``out_dir``; returns name -> path.

        Files: ``catalog.parquet, train.parquet, holdout.parquet, logs.parquet, placements.json,
        contexts.jsonl, oracle.json, market.toml``.
        """
        out = Path(out_dir)
        if out.exists() and not out.is_dir():
            from rlopt.errors import InputError

            raise InputError("--out must be a directory, not an existing file", file=str(out),
                             rule="output directory")
        out.mkdir(parents=True, exist_ok=True)
        paths = {name: out / name for name in (
            "catalog.parquet", "train.parquet", "holdout.parquet", "logs.parquet", "placements.json",
            "contexts.jsonl", "oracle.json", "market.toml")}
        write_table(self.catalog, paths["catalog.parquet"])
        for name, frame in (("logs.parquet", self.logs), ("train.parquet", self.train),
                            ("holdout.parquet", self.holdout)):
            write_table(_encode_shared_dicts(frame, "user_features"), paths[name])
        write_placements(self.placements, paths["placements.json"])
        write_jsonl(self.contexts, paths["contexts.jsonl"])
        write_json_atomic(paths["oracle.json"], self.oracle_summary)
        write_text_atomic(paths["market.toml"], self.market_toml)
        return paths


def _encode_shared_dicts(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """``column`` as JSON strings, encoding each distinct dict object once.

    Simulated logs share one dict per user, so this turns a million ``json.dumps`` calls (most of
    the write time) into a few thousand; the strings are what ``write_table`` would write.
    """
    if column not in frame.columns:
        return frame
    values = frame[column].to_numpy(dtype=object)
    codes, uniques = pd.factorize(np.fromiter(map(id, values), dtype=np.int64, count=len(values)))
    first = np.zeros(len(uniques), dtype=np.int64)
    first[codes[::-1]] = np.arange(len(values))[::-1]
    encoded = np.array([None if values[i] is None else json.dumps(values[i], ensure_ascii=False)
                        for i in first], dtype=object)
    return frame.assign(**{column: encoded[codes]})


def simulate(market: Marketplace, n_impressions: int, seed: int = 0, progress=None) -> Simulation:
    """Simulate logged impressions from ``market``.

    Steps (all vectorized): sample shoppers in slots (:meth:`Marketplace.sample_impressions`), let
    the logging policy pick a pool copy (propensity logged), score it with the ground truth
    (copy cut at the placement's ``max_chars``), draw ``clicked ~ Bernoulli(examination[position] *
    attractiveness)``, ``converted ~ Bernoulli(P(purchase | click))`` if clicked, and
    ``revenue = price * (1 - discount_pct / 100)`` if converted.

    Parameters
    ----------
    market : Marketplace
    n_impressions : int, > 0
    seed : int
        Seeds everything random in this call; the same seed gives identical outputs.
    progress : callable(str) or None
        Called with a stage name as work proceeds (the CLI drives a progress bar with it).

    Returns
    -------
    Simulation
    """
    from rlopt.errors import InputError

    if int(n_impressions) < 10:
        raise InputError("--impressions must be at least 10", column="impressions", rule="n >= 10",
                         value=n_impressions)
    step = progress or (lambda stage: None)
    rng = as_rng(seed)
    n = int(n_impressions)
    step("sampling shoppers")
    codes = market.sample_codes(n, rng)
    step("choosing copy")
    policy = market.logging_policy
    rows = policy.rows_from_index(codes["item"], codes["placement"])
    pool_index, propensity = policy.choose_rows(rows, rng)
    pool_texts = market.pool_text_array  # (n_contexts, K), distinct texts per context
    text_code = rows * market.pool_size + pool_index
    step("scoring with the ground truth")
    users = market.user_feature_matrix[codes["user"]]
    z = market.truth.logits_coded(text_code, pool_texts.reshape(-1), codes["item"], codes["segment"],
                                  codes["placement"], users, codes["position"])
    p_click = expit(z["click_logit"]) * z["examination"]
    p_buy = expit(z["purchase_logit"])
    step("drawing responses")
    clicked = rng.random(n) < p_click
    converted = clicked & (rng.random(n) < p_buy)
    cat = market.catalog
    net_price = (cat["price"] * (1.0 - cat["discount_pct"] / 100.0)).round(2).to_numpy()
    revenue = np.where(converted, net_price[codes["item"]], 0.0)
    flat = pool_texts.reshape(-1)
    ids = np.array([copy_id_for(t) for t in flat], dtype=object)
    logs = market.impressions_frame(codes).assign(
        copy_id=take_strings(ids, text_code), copy_text=take_strings(flat, text_code), propensity=propensity,
        clicked=clicked.astype(np.int64), converted=converted.astype(np.int64), revenue=revenue,
    )[list(LOG_COLUMNS)]
    # timestamps strictly increase, so the time split's holdout is the last rows (positions cut:)
    cut = len(split_logs(logs, market.config.simulation.holdout_fraction)[0])
    train = logs.iloc[:cut].reset_index(drop=True)
    holdout = logs.iloc[cut:].reset_index(drop=True)
    step("sampling generation contexts")
    contexts = sample_contexts(market, holdout, rng)
    step("summarizing the truth")
    hold_codes = {k: v[cut:] for k, v in codes.items()}
    summary = oracle_summary(market, holdout, hold_codes, contexts, p_click[cut:], p_buy[cut:])
    summary.update(seed=int(seed), n_impressions=n, n_train=len(train), n_holdout=len(holdout),
                   n_contexts=len(contexts), market=market.config.name,
                   observed_ctr=float(clicked.mean()), observed_purchase_rate=float(converted.mean()),
                   observed_conversion_given_click=float(converted.sum() / max(clicked.sum(), 1)))
    return Simulation(catalog=market.catalog, logs=logs, train=train, holdout=holdout, contexts=contexts,
                      placements=market.placements, oracle_summary=summary,
                      market_toml=market.config.to_toml())
