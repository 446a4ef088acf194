"""Evaluation of generated copy: the simulator's truth next to the reward model's proxy.

This is the ONE module under ``rlopt/tuning`` allowed to touch the oracle (it receives one; it
never imports ``rlopt.market.oracle``, so tuning stays blind to the truth). Over-optimization shows
up as the proxy rising while the oracle's CTR or purchase rate falls.

Per-context means are averaged first (K samples per context), then a t-interval over contexts gives
the 95% CI, so contexts — not samples — are the unit of replication.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from rlopt.generation.compliance import price_terms
from rlopt.generation.diversity import diversity
from rlopt.generation.prompts import max_chars_for
from rlopt.generation.quality import DEFECTS, defect_frame, defect_rates
from rlopt.tuning.rewards import RepetitionPenalty

CONTEXT_KEYS = ["item_id", "segment", "placement"]
REPETITIVE_BELOW = 0.8
"""A copy is *repetitive* when fewer than this share of its word bigrams are distinct."""


def mean_ci(values: np.ndarray, confidence: float = 0.95) -> dict[str, float]:
    """Mean and t-interval of ``values`` (shape (n,)): ``{"mean", "low", "high", "n"}``."""
    values = np.asarray(values, dtype=float)
    n = values.size
    mean = float(values.mean()) if n else float("nan")
    if n < 2:
        return {"mean": mean, "low": mean, "high": mean, "n": int(n)}
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * values.std(ddof=1) / np.sqrt(n))
    return {"mean": mean, "low": mean - half, "high": mean + half, "n": int(n)}


def evaluate_copies(copies: pd.DataFrame, oracle, reward_model=None, catalog: pd.DataFrame | None = None,
                    placements: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """True CTR / purchase rate (oracle), predicted value (reward model), and guard rates.

    Parameters
    ----------
    copies : DataFrame, shape (n_contexts * K, ...)
        ``item_id, segment, placement, copy_text`` (from :func:`generate_copies`). Evaluated at
        position 0 unless a ``position`` column is given.
    oracle : rlopt.market.oracle.Oracle
        ``oracle.evaluate(df)`` adds ``p_click, p_purchase, expected_revenue``.
    reward_model : reward_models.RewardModel, optional
        ``reward_model.score(df, catalog)`` adds ``reward`` (the proxy); needs ``catalog``.
    catalog, placements : optional
        For the misleading-discount rate and the over-limit rate.

    Returns
    -------
    dict
        ``ctr``, ``purchase_rate``, ``revenue`` (and ``proxy_reward`` when a reward model is given):
        each ``{"mean", "low", "high", "n"}`` over contexts; over copies: ``over_limit_rate``,
        ``misleading_rate`` (rlopt's rule, :func:`rlopt.generation.compliance.check` with the list
        price, on the shown ``copy_text``), ``misleading_rate_raw`` (the same on ``raw_copy_text``,
        what the model wrote before the compliance repair, when the frame has it),
        ``compliance_changed_rate`` / ``compliance_changed`` / ``compliance_actions`` (when it has
        ``compliance_action``), and ``overclaim_rate_truth`` (``_raw``): the share the oracle's own
        parser reads as claiming more than the real discount + 2 points (an independent check);
        ``repetitive_rate``: the share of shown copies with fewer than ``REPETITIVE_BELOW`` of their
        word bigrams distinct (the GRPO repetition guard's measure; reward hacking by repeating a
        phrase the truth likes shows here); ``distinct_per_context``: the mean over contexts of distinct
        shown copies / copies (1.0 when all K samples differ, 1/K when they are one text) and
        ``distinct_share``: distinct shown copies / all copies — mode collapse (one safe copy written
        everywhere) shows here; ``defect_rates``: per defect of :mod:`rlopt.generation.quality`
        (``incomplete, leaked_instructions, invented_url, junk, repetition``) and ``any``, the share
        of shown copies with it (``defect_rates_raw``: the same on ``raw_copy_text``, before the
        repairs; ``quality_actions``: count per ``quality_action`` when the frame has it; the frame
        gets a ``defect_<name>`` column each); ``n_copies``, ``n_contexts``. Also returns the per-copy
        frame under ``"frame"``.
    """
    df = copies.reset_index(drop=True).copy()
    truth = oracle.evaluate(df)
    df["p_click"] = np.asarray(truth["p_click"], dtype=float)
    df["p_purchase"] = np.asarray(truth["p_purchase"], dtype=float)
    df["expected_revenue"] = np.asarray(truth["expected_revenue"], dtype=float)
    metrics = {"p_click": "ctr", "p_purchase": "purchase_rate", "expected_revenue": "revenue"}
    if reward_model is not None:
        scored = reward_model.score(df[[c for c in (*CONTEXT_KEYS, "copy_text", "user_features")
                                        if c in df.columns]], catalog)
        df["proxy_reward"] = np.asarray(scored["reward"], dtype=float)
        df["proxy_p_click"] = np.asarray(scored["p_click"], dtype=float)
        metrics.update({"proxy_reward": "proxy_reward", "proxy_p_click": "proxy_ctr"})
    per_ctx = df.groupby(CONTEXT_KEYS, sort=True)[list(metrics)].mean()
    out: dict[str, Any] = {name: mean_ci(per_ctx[col].to_numpy()) for col, name in metrics.items()}
    if catalog is not None:
        terms = price_terms(catalog)

        def misleading(column: str) -> list[bool]:
            return [terms[str(i)].misleading(str(t))
                    for t, i in zip(df[column], df["item_id"], strict=True)]

        df["misleading"] = misleading("copy_text")
        out["misleading_rate"] = float(df["misleading"].mean())
        if "raw_copy_text" in df.columns:
            df["misleading_raw"] = misleading("raw_copy_text")
            out["misleading_rate_raw"] = float(df["misleading_raw"].mean())
    if "compliance_action" in df.columns:
        changed = df["compliance_action"].isin(["corrected", "removed", "unrepairable"])
        out["compliance_changed_rate"] = float(changed.mean())
        out["compliance_changed"] = int(changed.sum())
        out["compliance_actions"] = {str(k): int(v) for k, v in df["compliance_action"].value_counts().items()}
    if hasattr(oracle, "overclaims"):  # the truth's own parser: an independent check of rlopt's rule
        df["overclaim_truth"] = np.asarray(oracle.overclaims(df), dtype=bool)
        out["overclaim_rate_truth"] = float(df["overclaim_truth"].mean())
        if "raw_copy_text" in df.columns:
            raw = df.assign(copy_text=df["raw_copy_text"].astype(str))
            df["overclaim_truth_raw"] = np.asarray(oracle.overclaims(raw), dtype=bool)
            out["overclaim_rate_truth_raw"] = float(df["overclaim_truth_raw"].mean())
    if placements is not None:
        df["over_limit"] = [len(t) > max_chars_for(placements, p) for t, p in zip(df["copy_text"], df["placement"],
                                                                             strict=True)]
        out["over_limit_rate"] = float(df["over_limit"].mean())
    # the guard's value is (distinct bigrams / bigrams) - 1
    distinct = 1.0 + np.asarray(RepetitionPenalty(ngram_size=2)(None, df["copy_text"].astype(str).tolist()))
    df["repetitive"] = distinct < REPETITIVE_BELOW
    out["repetitive_rate"] = float(df["repetitive"].mean())
    # what a marketer would not ship (rlopt.generation.quality), on the shown copy and on what the model wrote
    defects = defect_frame(df["copy_text"])
    for name in DEFECTS:
        df[f"defect_{name}"] = defects[name].to_numpy()
    out["defect_rates"] = {k: v for k, v in defect_rates(df["copy_text"]).items() if k != "n"}
    if "raw_copy_text" in df.columns:
        out["defect_rates_raw"] = {k: v for k, v in defect_rates(df["raw_copy_text"]).items() if k != "n"}
    if "quality_action" in df.columns:
        out["quality_actions"] = {str(k): int(v) for k, v in df["quality_action"].value_counts().items()}
    # collapse (a policy that found one safe copy and writes it everywhere) shows here, not in the CTR
    spread = diversity(df)
    out["distinct_per_context"], out["distinct_share"] = spread["distinct_per_context"], spread["distinct_share"]
    out["mean_chars"] = float(df["copy_text"].str.len().mean())
    out["n_copies"] = int(len(df))
    out["n_contexts"] = int(len(per_ctx))
    out["frame"] = df
    return out


def paired_ratio(base: pd.DataFrame, tuned: pd.DataFrame, column: str = "p_click",
                 confidence: float = 0.95, n_boot: int = 2000, seed: int = 0) -> dict[str, float]:
    """Ratio of per-context means ``tuned / base`` with a paired bootstrap CI over contexts.

    ``base`` and ``tuned`` are the ``"frame"`` outputs of :func:`evaluate_copies` on the same contexts.
    """
    a = base.groupby(CONTEXT_KEYS, sort=True)[column].mean()
    b = tuned.groupby(CONTEXT_KEYS, sort=True)[column].mean()
    a, b = a.align(b, join="inner")
    a, b = a.to_numpy(), b.to_numpy()
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, a.size, size=(n_boot, a.size))
    ratios = b[idx].mean(axis=1) / np.maximum(a[idx].mean(axis=1), 1e-12)
    lo, hi = np.quantile(ratios, [(1 - confidence) / 2, (1 + confidence) / 2])
    return {"ratio": float(b.mean() / max(a.mean(), 1e-12)), "low": float(lo), "high": float(hi),
            "n_contexts": int(a.size)}
