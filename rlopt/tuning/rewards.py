"""Reward functions for GRPO/RLOO: the reward model's value of the *shown* copy plus guards.

Every reward follows TRL's signature ``(prompts, completions, **kwargs) -> list[float]``;
``kwargs`` carries the dataset columns (``item_id``, ``segment``, ``placement``). Completions may be
plain strings or conversational (``[{"role": "assistant", "content": ...}]``). Parameterized rewards
are picklable callable classes with a stable ``__name__`` so TRL's metric keys
(``rewards/<name>/mean``) stay stable.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from rlopt.completions import completion_text
from rlopt.generation.claims import ClaimSupport
from rlopt.generation.compliance import price_terms
from rlopt.generation.postprocess import first_line
from rlopt.generation.prompts import max_chars_for
from rlopt.tuning.shown import dataset_column, shown_copies
from rlopt.tuning.support import LoggedSupportPenalty

RewardFunc = Callable[..., list[float | None]]


REWARD_SCALES = ("log", "linear")
LOG_FLOOR = 1e-6  # log(0) guard: the reward model's value is a positive probability mix, ~1e-3..1e-1


ENSEMBLE_REDUCTIONS = ("mean", "min")


class ShownCopyReward:
    """Score the copy as it would be shown (cleaned and capped) with one reward model or an ensemble.

    Parameters
    ----------
    inner : RewardFunc or sequence of RewardFunc
        E.g. ``reward_models.RewardFunction`` — scores strings given ``item_id, segment, placement``.
        Several (an ensemble of M reward models trained with other seeds) are combined per copy.
    placements : mapping name -> Placement
        Character limits for the cleanup.
    scale : {"log", "linear"}, default "log"
        ``"log"`` returns ``log(max(r, 1e-6))``. GRPO and RLOO compare completions of the *same*
        prompt, so only within-prompt differences matter: on the log scale a copy with twice the
        predicted value gains ``log 2 = 0.69`` whatever the context's base rate (the targets are CTR
        *ratios*), and that lands on the guards' scale (penalties in [-1, 0]). Linear differences
        are ~1e-3, so the guards drown them out unless the weight is tuned per market.
    reduce : {"mean", "min"}, default "mean"
        How an ensemble's member scores ``s_m`` (on ``scale``) combine: ``mean_m s_m``, or the
        pessimistic ``min_m s_m`` (worst-case optimization, Coste et al. 2024, arXiv 2310.02743):
        a copy scores high only if every member agrees, so the policy gains little from one
        member's errors — what over-optimization exploits. With one member both are that member.

    Notes
    -----
    With M >= 2 members and TRL's ``log_metric`` keyword (GRPO/RLOO), each batch logs
    ``reward_model/spread`` = mean over copies of ``max_m s_m - min_m s_m``: the members' disagreement,
    which grows when the generator drifts to copy only one member likes.

    >>> from types import SimpleNamespace
    >>> inner = lambda prompts, completions, **kw: [0.01, 0.02]
    >>> places = {"push": SimpleNamespace(max_chars=40)}
    >>> r = ShownCopyReward(inner, places, scale="log")(None, ["a", "b"], placement=["push", "push"])
    >>> round(r[1] - r[0], 4)  # twice the value: +log 2
    0.6931
    >>> other = lambda prompts, completions, **kw: [0.04, 0.01]
    >>> r = ShownCopyReward([inner, other], places, reduce="min")(None, ["a", "b"], placement=["push"] * 2)
    >>> [round(float(np.exp(v)), 3) for v in r]  # each copy's lower member score
    [0.01, 0.01]
    """

    __name__ = "rlopt_reward"

    def __init__(self, inner: RewardFunc | Sequence[RewardFunc], placements: Mapping[str, Any],
                 scale: str = "log", reduce: str = "mean"):
        if scale not in REWARD_SCALES:
            raise ValueError(f"scale {scale!r} must be one of {', '.join(REWARD_SCALES)}")
        if reduce not in ENSEMBLE_REDUCTIONS:
            raise ValueError(f"reduce {reduce!r} must be one of {', '.join(ENSEMBLE_REDUCTIONS)}")
        self.members = list(inner) if isinstance(inner, Sequence) else [inner]
        if not self.members:
            raise ValueError("ShownCopyReward needs at least one reward function")
        self.placements = dict(placements)
        self.scale = scale
        self.reduce = reduce

    def __call__(self, prompts, completions, **kwargs) -> list[float]:
        shown = shown_copies(completions, kwargs, self.placements)
        log_metric = kwargs.pop("log_metric", None)
        scores = np.array([[float(r) for r in member(prompts=prompts, completions=shown, **kwargs)]
                           for member in self.members])  # (M, n)
        if self.scale == "log":
            scores = np.log(np.maximum(scores, LOG_FLOOR))
        if len(self.members) > 1 and callable(log_metric) and scores.shape[1]:
            log_metric("reward_model/spread", float((scores.max(axis=0) - scores.min(axis=0)).mean()))
        combined = scores.mean(axis=0) if self.reduce == "mean" else scores.min(axis=0)
        return [float(v) for v in combined]


class DiscountHonestyPenalty:
    """``-1`` for copy that claims a discount the item does not have, else ``0``.

    Uses rlopt's one rule (:func:`rlopt.generation.compliance.check`) on the first line of the
    completion, with the item's list price and currency, so "$20 off" and "only $29.99" (and "$29.99"
    on a euro item) are judged as well as percent claims.
    """

    __name__ = "discount_honesty"

    def __init__(self, catalog: pd.DataFrame):
        self.terms = price_terms(catalog)

    def __call__(self, prompts, completions, **kwargs) -> list[float]:
        items = dataset_column(kwargs, "item_id", len(completions))
        return [-1.0 if self.terms[str(i)].misleading(first_line(completion_text(c))) else 0.0
                for c, i in zip(completions, items, strict=True)]


class ClaimSupportPenalty:
    """``-1`` for copy that states a claim (a number or a fact phrase) its item's facts do not back, else ``0``.

    Uses :class:`rlopt.generation.claims.ClaimSupport` (the item's catalog row and the copy logged
    for it) on the first line of the completion, so a phrase that earns clicks for one item ("Loved
    by 10,000+ shoppers", "hot for 12 hours", "free shipping this week") is not worth writing for an
    item it is not true of.
    Numbers in discount and price claims are :class:`DiscountHonestyPenalty`'s.
    """

    __name__ = "claim_support"

    def __init__(self, catalog: pd.DataFrame, logs: pd.DataFrame | None):
        self.support = ClaimSupport(catalog, logs)

    def __call__(self, prompts, completions, **kwargs) -> list[float]:
        items = dataset_column(kwargs, "item_id", len(completions))
        return [-1.0 if self.support.unsupported(first_line(completion_text(c)), str(i)) else 0.0
                for c, i in zip(completions, items, strict=True)]


class LengthLimitPenalty:
    """Penalty for exceeding the placement's character limit, and for an empty first line.

    ``r = -min(1, (len - max_chars) / max_chars)`` when over the limit (len of the first line, before
    capping: the cap would cut the copy mid-thought), ``-1`` when empty, else ``0``.
    """

    __name__ = "length_limit"

    def __init__(self, placements: Mapping[str, Any]):
        self.placements = dict(placements)

    def __call__(self, prompts, completions, **kwargs) -> list[float]:
        places = dataset_column(kwargs, "placement", len(completions))
        out = []
        for c, p in zip(completions, places, strict=True):
            text = first_line(completion_text(c)).strip()
            limit = max_chars_for(self.placements, p)
            if not text:
                out.append(-1.0)
            elif len(text) > limit:
                out.append(-min(1.0, (len(text) - limit) / limit))
            else:
                out.append(0.0)
        return out


class RepetitionPenalty:
    """Minus the fraction of repeated word n-grams: ``-(1 - unique_ngrams / total_ngrams)``.

    As TRL's ``get_repetition_penalty_reward`` (Yeo et al. 2025), as a picklable class.

    >>> RepetitionPenalty(ngram_size=2)(None, ["buy now buy now buy now", "fresh shoes today"])
    [-0.6, 0.0]
    """

    __name__ = "repetition"

    def __init__(self, ngram_size: int = 2):
        self.ngram_size = ngram_size

    def __call__(self, prompts, completions, **kwargs) -> list[float]:
        out = []
        for c in completions:
            words = re.findall(r"\w+", completion_text(c).lower())
            grams = [tuple(words[i: i + self.ngram_size]) for i in range(len(words) - self.ngram_size + 1)]
            out.append(0.0 if not grams else (len(set(grams)) / len(grams)) - 1.0)
        return out


class CopyQualityPenalty:
    """Minus the number of copy defects of the shown copy: ``r = -len(copy_defects(shown))``.

    The defects of :func:`rlopt.generation.quality.copy_defects` (incomplete, leaked instructions,
    invented URL / contact, punctuation junk, repetition), each ``-1``, on the completion as it
    would be shown (cleaned and capped at its placement's limit, :func:`shown_copies`), so a
    policy that learns to write a link or a dangling "that are" pays for each. Generation repairs
    or rejects such copy anyway; the penalty teaches the policy not to write it.

    >>> from types import SimpleNamespace
    >>> places = {"push": SimpleNamespace(max_chars=60)}
    >>> CopyQualityPenalty(places)(None, ["Trail shoes that grip", "@stride: , , shop www.stride.com"],
    ...                            placement=["push", "push"])
    [0.0, -2.0]
    """

    __name__ = "copy_quality"

    def __init__(self, placements: Mapping[str, Any]):
        self.placements = dict(placements)

    def __call__(self, prompts, completions, **kwargs) -> list[float]:
        from rlopt.generation.quality import copy_defects

        return [0.0 - len(copy_defects(text)) for text in shown_copies(completions, kwargs, self.placements)]


def build_reward_funcs(reward_model: RewardFunc | Sequence[RewardFunc] | None, catalog: pd.DataFrame,
                       placements: Mapping[str, Any], cfg,
                       logs: pd.DataFrame | None = None) -> tuple[list[RewardFunc], list[float]]:
    """The reward functions and their weights for an online config.

    ``reward_model`` may be None, one reward function, or a list of them (an ensemble, combined by
    ``cfg.reward_ensemble``; "mean" for configs without that field). ``logs`` (the training logs) feed
    the support guard when ``cfg.support_penalty > 0`` and back the numbers of
    :class:`ClaimSupportPenalty` (``cfg.claim_penalty``; without logs only the catalog backs them).
    ``cfg.quality_penalty`` weighs :class:`CopyQualityPenalty` (0 for configs without that field).
    """
    funcs: list[RewardFunc] = []
    weights: list[float] = []
    if reward_model is not None and cfg.reward_model_weight > 0:
        funcs.append(ShownCopyReward(reward_model, placements, scale=cfg.reward_model_scale,
                                     reduce=getattr(cfg, "reward_ensemble", "mean")))
        weights.append(cfg.reward_model_weight)
    claim = getattr(cfg, "claim_penalty", 0.0)
    for func, w in ((DiscountHonestyPenalty(catalog), cfg.discount_penalty),
                    (ClaimSupportPenalty(catalog, logs) if claim > 0 else None, claim),
                    (LengthLimitPenalty(placements), cfg.length_penalty),
                    (RepetitionPenalty(), cfg.repetition_penalty_weight),
                    (CopyQualityPenalty(placements), getattr(cfg, "quality_penalty", 0.0))):
        if w > 0:
            funcs.append(func)
            weights.append(w)
    support = getattr(cfg, "support_penalty", 0.0)
    if support > 0:
        if logs is None:
            raise ValueError("the support guard (support_penalty > 0) needs the training logs")
        funcs.append(LoggedSupportPenalty(logs, placements, quantile=cfg.support_quantile,
                                          top_share=getattr(cfg, "support_top_share", 1.0), catalog=catalog))
        weights.append(support)
    return funcs, weights
