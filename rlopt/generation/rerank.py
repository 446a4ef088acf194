"""Best-of-n: sample ``n`` copies per context, show the one a scorer (the reward model) rates highest.

For context ``c`` with candidates ``y_1 .. y_n`` (one group of ``n`` consecutive samples of
:func:`rlopt.generation.sample.generate_copies`, after its compliance and quality post-processing)
the shown copy is

    y* = argmax_{j in E_c} s(y_j, c)        E_c = the eligible candidates

with ``s`` the reward model's score of the configured metric (:func:`reward_model_scorer`:
``reward``, ``p_click``, ``p_purchase`` or ``expected_revenue``). A candidate is *eligible* unless
its sample was rejected or empty (``quality_action``), its claim unrepairable or empty
(``compliance_action``; both show the title fallback), it still has a defect
(:func:`rlopt.generation.quality.copy_defects`) or it repeats a few-shot example
(``verbatim_example``, :func:`rlopt.generation.fewshot.mark_verbatim`). When no candidate of a
group is eligible, :func:`best_of_n` samples that context again (``retries`` rounds, new seeds);
a group still without one shows its highest-scoring candidate with ``rerank_eligible`` 0, so a
caller can count such contexts. Ties go to the earlier sample. The choice depends only on the samples (seeded)
and the scores (deterministic), so the same seed gives the same copies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from rlopt.generation.quality import copy_defects
from rlopt.generation.sample import RESAMPLE_SEED_STEP

Scorer = Callable[[pd.DataFrame], np.ndarray]
#: Columns of :meth:`reward_models.RewardModel.score` a reranker may maximize.
METRICS = ("reward", "p_click", "p_purchase", "expected_revenue")
SCORED_COLUMNS = ["item_id", "segment", "placement", "copy_text"]
_FALLBACK_QUALITY = ("rejected", "empty")
_FALLBACK_COMPLIANCE = ("unrepairable", "empty")


def reward_model_scorer(model, catalog: pd.DataFrame, metric: str = "reward") -> Scorer:
    """``score(frame) -> (n,)``: ``model.score(frame, catalog)[metric]`` (one batched call per frame).

    Parameters
    ----------
    model : reward_models.RewardModel
        A trained reward model (``RewardModel.from_pretrained``).
    metric : {"reward", "p_click", "p_purchase", "expected_revenue"}
        ``reward`` is the model's weighted sum (its saved :class:`reward_models.RewardWeights`).
    """
    if metric not in METRICS:
        raise ValueError(f"unknown rerank metric {metric!r}; valid: {', '.join(METRICS)}")

    def score(frame: pd.DataFrame) -> np.ndarray:
        cols = [c for c in SCORED_COLUMNS if c in frame.columns]
        return model.score(frame[cols].reset_index(drop=True), catalog)[metric].to_numpy(float)

    return score


def eligible(copies: pd.DataFrame) -> np.ndarray:
    """Bool per row: the copy may be picked (see the module docstring)."""
    ok = np.array([not copy_defects(str(t)) for t in copies["copy_text"]], dtype=bool)
    if "quality_action" in copies.columns:
        ok &= ~copies["quality_action"].isin(_FALLBACK_QUALITY).to_numpy()
    if "compliance_action" in copies.columns:
        ok &= ~copies["compliance_action"].isin(_FALLBACK_COMPLIANCE).to_numpy()
    if "verbatim_example" in copies.columns:
        ok &= ~copies["verbatim_example"].to_numpy(bool)
    return ok


def select_best(copies: pd.DataFrame, scores: np.ndarray, n: int) -> pd.DataFrame:
    """Keep the best eligible copy of every group of ``n`` consecutive rows.

    Parameters
    ----------
    copies : DataFrame, shape (m * n, ...)
        Candidates in groups of ``n`` consecutive rows, as :func:`generate_copies` writes ``num``
        samples per context (with ``num = n * k``, each context gives ``k`` groups).
    scores : array, shape (m * n,)
        Higher is better.
    n : int
        Candidates per shown copy.

    Returns
    -------
    DataFrame, shape (m, ...)
        The picked rows (index reset) + ``rerank_score`` (its score), ``rerank_eligible`` (eligible
        candidates in its group), ``best_of`` (= n) and ``rerank_pick`` (the picked row's
        ``sample_idx``); ``sample_idx`` becomes the group's number within its context.
        ``attrs["rerank"]``: ``{"n", "groups", "no_eligible"}``.

    Examples
    --------
    >>> copies = pd.DataFrame({"copy_text": ["Bright lamp", "Warm lamp light", "Lamp for reading", "Desk lamp"],
    ...                        "sample_idx": [0, 1, 0, 1]})
    >>> select_best(copies, np.array([0.1, 0.3, 0.2, 0.1]), 2)["copy_text"].tolist()
    ['Warm lamp light', 'Lamp for reading']
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    scores = np.asarray(scores, dtype=float)
    if len(copies) % n or len(scores) != len(copies):
        raise ValueError(f"{len(copies)} copies and {len(scores)} scores do not form groups of {n}")
    m = len(copies) // n
    ok = eligible(copies).reshape(m, n)
    grid = scores.reshape(m, n)
    masked = np.where(ok, grid, -np.inf)
    any_ok = ok.any(axis=1)
    # NaN scores never win; np.argmax returns the first maximum, so ties go to the earlier sample
    best = np.where(any_ok, np.argmax(np.nan_to_num(masked, nan=-np.inf), axis=1),
                    np.argmax(np.nan_to_num(grid, nan=-np.inf), axis=1))
    rows = np.arange(m) * n + best
    out = copies.iloc[rows].reset_index(drop=True)
    out["rerank_score"] = grid[np.arange(m), best]
    out["rerank_eligible"] = ok.sum(axis=1)
    out["best_of"] = n
    if "sample_idx" in out.columns:
        out["rerank_pick"] = out["sample_idx"].to_numpy()
        per_context = (copies["sample_idx"].to_numpy().reshape(m, n)[:, 0] // n) if len(copies) else []
        out["sample_idx"] = np.asarray(per_context, dtype=int)
    out.attrs = {**copies.attrs, "rerank": {"n": int(n), "groups": int(m), "no_eligible": int((~any_ok).sum())}}
    return out


def best_of_n(model, tokenizer, contexts: pd.DataFrame, catalog: pd.DataFrame, placements: Mapping[str, Any],
              segments: Mapping[str, Any] | None = None, *, n: int = 4, scorer: Scorer, num: int = 1,
              seed: int = 0, retries: int = 1, **generate_kwargs: Any) -> pd.DataFrame:
    """Generate ``num`` copies per context, each the best of ``n`` samples by ``scorer``.

    Parameters
    ----------
    model, tokenizer, contexts, catalog, placements, segments
        As :func:`rlopt.generation.sample.generate_copies` (a context ``examples`` column gives
        few-shot prompts; copies repeating an example are not picked).
    n : int
        Samples per shown copy (``n = 1`` shows every sample, scored).
    scorer : callable
        ``scorer(frame) -> (rows,)`` for ``item_id, segment, placement, copy_text`` rows, e.g.
        :func:`reward_model_scorer`.
    num : int
        Shown copies per context.
    seed : int
        Sampling seed (:func:`generate_copies`); the scores are deterministic.
    retries : int, default 1
        Rounds of fresh samples (seed ``seed + r * RESAMPLE_SEED_STEP``) for the contexts with a group
        that had no eligible sample; a group takes the new pick only when it is eligible.
    **generate_kwargs
        Passed to :func:`generate_copies` (``batch_size``, ``temperature``, ``compliance``, ...).

    Returns
    -------
    DataFrame, shape (len(contexts) * num, ...)
        The generated-copies contract + the columns of :func:`select_best`; ``attrs`` keeps the
        first round's compliance / quality counts and adds ``rerank`` (``no_eligible`` after the
        retries, ``resampled_contexts``).
    """
    contexts = contexts.reset_index(drop=True)
    picked = _pick(model, tokenizer, contexts, catalog, placements, segments, n, scorer, num, seed, generate_kwargs)
    resampled = 0
    for r in range(1, retries + 1):
        bad = np.flatnonzero(picked["rerank_eligible"].to_numpy() == 0)
        if not len(bad):
            break
        rows = np.unique(bad // num)
        resampled += len(rows)
        again = _pick(model, tokenizer, contexts.iloc[rows].reset_index(drop=True), catalog, placements, segments,
                      n, scorer, num, seed + r * RESAMPLE_SEED_STEP, generate_kwargs)
        new_pos = {int(c) * num + g: t * num + g for t, c in enumerate(rows) for g in range(num)}
        take = {int(i) for i in bad if again["rerank_eligible"].iat[new_pos[int(i)]] > 0}
        if take:
            parts = [again.iloc[[new_pos[i]]] if i in take else picked.iloc[[i]] for i in range(len(picked))]
            attrs = picked.attrs
            picked = pd.concat(parts, ignore_index=True)
            picked.attrs = attrs
    picked.attrs["rerank"] = {**picked.attrs.get("rerank", {}), "resampled_contexts": int(resampled),
                              "no_eligible": int((picked["rerank_eligible"] == 0).sum())}
    return picked


def _pick(model, tokenizer, contexts, catalog, placements, segments, n, scorer, num, seed, generate_kwargs):
    """One round of :func:`best_of_n`: sample ``num * n`` per context, mark verbatim repeats, select."""
    from rlopt.generation.fewshot import mark_verbatim
    from rlopt.generation.sample import generate_copies

    candidates = generate_copies(model, tokenizer, contexts, catalog, placements, segments, num=num * n, seed=seed,
                                 **generate_kwargs)
    if "examples" in candidates.columns:
        candidates = mark_verbatim(candidates)  # a copy with the column added: attrs kept
    return select_best(candidates, scorer(candidates), n)
