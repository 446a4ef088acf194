"""Extra DPO pairs from the generator's own samples, ranked by the reward model (optional).

Logged pairs can only teach the generator to prefer copies the shop already wrote; the best logged
copy bounds what DPO learns from them. Reward-ranked pairs close part of that gap offline, in one
round (best-of-K ranking as in RAFT, Dong et al. 2023, and self-rewarding/iterative DPO): for each of
``n_contexts`` training contexts the base generator writes ``num`` copies, each copy gets the online
methods' reward (:func:`rlopt.tuning.rewards.build_reward_funcs`, the GRPO/RLOO default weights)

    score = log R(shown copy) - 1[misleading discount] - 1[unsupported number] - over-limit share
            - 0.5 repeated-bigram share - defects,

and the pair is (chosen = the best-scoring copy that passes every guard, rejected = the worst copy)
when ``gain = score_chosen - score_rejected >= min_gain``. On the log scale ``gain = log 2`` means
the reward model values the chosen copy twice as much. The chosen copy is never misleading, never
states a number its item's facts and logged copy do not back, never over the
limit, repetitive or defective (:mod:`rlopt.generation.quality`), so DPO is never taught a
guard-breaking copy; a misleading sample often ends up rejected, which teaches honesty as the
honesty pairs do.

These pairs trust the reward model where the logged pairs trust observed clicks: they inherit its
errors (over-optimization is the risk GRPO runs too, in one round instead of many). ``weight = gain``
(confidence 1: the reward model gives no posterior), ``source = "reward_model"``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from rlopt.tuning.pairs import PAIR_COLUMNS
from rlopt.tuning.rewards import RewardFunc, ShownCopyReward, build_reward_funcs

RANKED_SOURCE = "reward_model"
_REWARD_WEIGHT_FIELDS = ("reward_model_weight", "reward_model_scale", "discount_penalty", "claim_penalty",
                         "length_penalty", "repetition_penalty_weight", "quality_penalty")


def online_reward_weights() -> SimpleNamespace:
    """The online methods' default reward terms (``OnlineFields`` defaults), so both rank copy alike."""
    from rlopt.tuning.config import OnlineFields

    defaults = {f.name: f.default for f in dataclasses.fields(OnlineFields)}
    return SimpleNamespace(**{k: defaults[k] for k in _REWARD_WEIGHT_FIELDS})


def score_copies(copies: pd.DataFrame, reward_model: RewardFunc, catalog: pd.DataFrame,
                 placements: Mapping[str, Any], logs: pd.DataFrame | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The online reward of each copy and its guard part.

    Parameters
    ----------
    copies : DataFrame, shape (n, ...)
        ``item_id, segment, placement, raw_copy_text`` (the model's cleaned text).
    logs : DataFrame, optional
        The training logs: their copy backs the numbers a copy states (the claim guard), with the catalog.

    Returns
    -------
    score, guards : ndarray, shape (n,)
        ``score`` = weighted sum of all terms; ``guards`` = the weighted sum of the guard terms alone
        (0 when the copy passes every guard, negative otherwise).
    """
    funcs, weights = build_reward_funcs(reward_model, catalog, placements, online_reward_weights(), logs)
    texts = copies["raw_copy_text"].astype(str).tolist()
    cols = {c: copies[c].astype(str).tolist() for c in ("item_id", "segment", "placement")}
    score = np.zeros(len(copies))
    guards = np.zeros(len(copies))
    for func, w in zip(funcs, weights, strict=True):
        part = w * np.asarray(func(prompts=[""] * len(texts), completions=texts, **cols), dtype=float)
        score += part
        if not isinstance(func, ShownCopyReward):  # every other term is a guard
            guards += part
    return score, guards


def rank_pairs(copies: pd.DataFrame, score: np.ndarray, guards: np.ndarray, min_gain: float) -> pd.DataFrame:
    """One pair per context: best guard-passing copy over the worst copy, when the gain is large enough.

    Parameters
    ----------
    copies : DataFrame, shape (n, ...)
        ``item_id, segment, placement, raw_copy_text``; rows of one context share the three keys.
    score, guards : ndarray, shape (n,)
        From :func:`score_copies`.
    min_gain : float
        Least ``score_chosen - score_rejected`` (log-reward units) for a pair.

    Returns
    -------
    DataFrame
        Columns :data:`rlopt.tuning.pairs.PAIR_COLUMNS`, ``source = "reward_model"``.

    >>> copies = pd.DataFrame({"item_id": ["a"] * 3, "segment": ["s"] * 3, "placement": ["p"] * 3,
    ...                        "raw_copy_text": ["good", "50% off!", "fine"]})
    >>> rank_pairs(copies, np.array([-3.0, -2.0, -3.5]), np.array([0.0, -1.0, 0.0]), 0.2)[
    ...     ["chosen", "rejected", "gain"]]
      chosen rejected  gain
    0   good     fine   0.5
    """
    frame = copies[["item_id", "segment", "placement", "raw_copy_text"]].astype(str).reset_index(drop=True)
    frame["score"], frame["passes"] = score, guards >= 0
    rows = []
    for (item, seg, place), grp in frame[frame["raw_copy_text"].str.strip() != ""].groupby(
            ["item_id", "segment", "placement"], sort=True):
        ok = grp[grp["passes"]]
        if ok.empty:
            continue
        best = ok.loc[ok["score"].idxmax()]
        worst = grp.loc[grp["score"].idxmin()]
        gain = float(best["score"] - worst["score"])
        if gain < min_gain or best["raw_copy_text"] == worst["raw_copy_text"]:
            continue
        rows.append((item, seg, place, best["raw_copy_text"], worst["raw_copy_text"], gain, 1.0, gain, 0, 0,
                     RANKED_SOURCE))
    return pd.DataFrame(rows, columns=list(PAIR_COLUMNS))


def reward_ranked_pairs(model, tokenizer, contexts: pd.DataFrame, catalog: pd.DataFrame,
                        placements: Mapping[str, Any], segments: Mapping[str, Any] | None,
                        reward_model: RewardFunc, *, num: int = 4, min_gain: float = 0.25,
                        temperature: float = 0.9, seed: int = 0,
                        logs: pd.DataFrame | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Sample ``num`` copies per context from ``model``, rank them with the reward, return the pairs.

    ``logs`` (the training logs) back the numbers a sample states, as in GRPO's claim guard.

    Returns the pairs (:func:`rank_pairs`) and a summary for ``tuning.json``: contexts, samples,
    samples failing a guard, pairs, mean gain.
    """
    from rlopt.generation.sample import generate_copies

    copies = generate_copies(model, tokenizer, contexts, catalog, placements, segments, num=num, seed=seed,
                             temperature=temperature, compliance=False, generator_name="tuning-base")
    score, guards = score_copies(copies, reward_model, catalog, placements, logs)
    pairs = rank_pairs(copies, score, guards, min_gain)
    info = {"contexts": int(len(contexts)), "samples": int(len(copies)),
            "samples_failing_a_guard": int((guards < 0).sum()), "pairs": int(len(pairs)),
            "mean_gain": float(pairs["gain"].mean()) if len(pairs) else 0.0, "min_gain": float(min_gain)}
    return pairs, info
