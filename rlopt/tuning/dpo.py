"""DPO from feedback logs: mine confident pairs (+ honesty pairs), resample by weight, train a LoRA adapter with TRL."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from rlopt.errors import InputError
from rlopt.generation.compliance import price_terms
from rlopt.generation.prompts import max_chars_for
from rlopt.io_utils import write_text_atomic
from rlopt.seeding import seed_everything
from rlopt.tracking import log_trainer_run, trackers
from rlopt.tuning.common import (
    clock,
    finish,
    load_base,
    lora_config,
    prompt_messages,
    training_contexts,
)
from rlopt.tuning.export import publish_tuned_dir
from rlopt.tuning.pairs import honesty_pairs, mine_enough_pairs, mix_pairs
from rlopt.tuning.progress import train_with_progress
from rlopt.tuning.ranked_pairs import RANKED_SOURCE, reward_ranked_pairs
from rlopt.tuning.rewards import RewardFunc


def guard_pairs(pairs: pd.DataFrame, catalog: pd.DataFrame, placements: Mapping[str, Any]) -> pd.DataFrame:
    """Drop pairs whose chosen copy breaks a guard: a wrong discount claim, over the placement's limit,
    or a copy defect (:func:`rlopt.generation.quality.copy_defects`: incomplete, leaked instructions,
    invented URL / contact, punctuation junk, repetition).

    Logged data can make a misleading copy look good (a claimed discount lifts clicks); DPO must not
    learn to prefer it. The same rules as the online guard rewards.
    """
    from rlopt.generation.quality import defect_frame

    if pairs.empty:
        return pairs
    terms = price_terms(catalog)
    bad = [terms[str(i)].misleading(t) or len(t) > max_chars_for(placements, p)
           for t, i, p in zip(pairs["chosen"], pairs["item_id"], pairs["placement"], strict=True)]
    bad = pd.Series(bad, index=pairs.index) | defect_frame(pairs["chosen"]).any(axis=1)
    return pairs[~bad].reset_index(drop=True)


def pairs_for(logs: pd.DataFrame, placements: Mapping[str, Any], cfg,
              catalog: pd.DataFrame | None = None) -> tuple[pd.DataFrame, int]:
    """Mine pairs with the config's knobs (guarded when a catalog is given); too few: relax or error
    (:func:`rlopt.tuning.pairs.mine_enough_pairs`). The values used end up in ``cfg``.

    Returns the pairs and how many the guard dropped.
    """
    guard = None
    if catalog is not None and getattr(cfg, "guard_pairs", True):
        def guard(pairs: pd.DataFrame) -> pd.DataFrame:
            return guard_pairs(pairs, catalog, placements)
    pairs, n_guarded, used = mine_enough_pairs(logs, placements, cfg, guard)
    cfg.min_confidence, cfg.value_metric = used["min_confidence"], used["value_metric"]  # tuning.json records them
    cfg.pair_scope = used["pair_scope"]
    return pairs, n_guarded


def dpo_dataset(pairs: pd.DataFrame, catalog: pd.DataFrame, placements: Mapping[str, Any],
                segments: Mapping[str, Any] | None, n: int, seed: int, honesty: pd.DataFrame | None = None,
                honesty_share: float = 0.0):
    """Conversational DPO dataset: ``prompt`` (system+user), ``chosen``/``rejected`` (assistant).

    ``n`` pairs are drawn by :func:`rlopt.tuning.pairs.mix_pairs`: ``honesty_share`` of them from
    ``honesty`` (honesty pairs), the rest from ``pairs`` with probability proportional to weight.
    """
    return pairs_dataset(mix_pairs(pairs, honesty, n, honesty_share, seed), catalog, placements, segments)


def pairs_dataset(drawn: pd.DataFrame, catalog: pd.DataFrame, placements: Mapping[str, Any],
                  segments: Mapping[str, Any] | None):
    """The conversational dataset of already drawn pairs (one row per pair, in order)."""
    from datasets import Dataset

    prompts = prompt_messages(drawn, catalog, placements, segments)
    return Dataset.from_dict({
        "prompt": prompts,
        "chosen": [[{"role": "assistant", "content": t}] for t in drawn["chosen"]],
        "rejected": [[{"role": "assistant", "content": t}] for t in drawn["rejected"]],
    })


def train_dpo(logs: pd.DataFrame, catalog: pd.DataFrame, placements: Mapping[str, Any], cfg,
              out_dir: str | Path, segments: Mapping[str, Any] | None = None,
              data_info: dict[str, Any] | None = None, reward_model: RewardFunc | None = None) -> dict[str, Any]:
    """Tune ``cfg.generator`` with DPO + LoRA on pairs mined from ``logs``; write ``out_dir``.

    With ``cfg.reward_pairs > 0``, ``reward_model`` ranks the base generator's own samples into extra
    pairs (:mod:`rlopt.tuning.ranked_pairs`). Resumes from the last ``out_dir/checkpoint-*`` when one
    exists. Returns the ``tuning.json`` summary.
    """
    from trl import DPOTrainer

    started = clock()
    trackers(cfg.report_to)  # an unknown or uninstalled tracker fails before the model loads
    ranked_share = float(getattr(cfg, "reward_pairs", 0.0))
    if ranked_share > 0 and reward_model is None:
        raise InputError(f"reward_pairs={ranked_share} ranks the generator's samples with a reward model: "
                         "pass one (--reward-model DIR) or set reward_pairs to 0", column="reward_pairs")
    pairs, n_guarded = pairs_for(logs, placements, cfg, catalog)
    share = float(getattr(cfg, "honesty_pairs", 0.0))
    honest = guard_pairs(honesty_pairs(logs, catalog, placements, max_pairs_per_group=cfg.max_pairs_per_group),
                         catalog, placements) if share > 0 else None  # a repaired chosen copy may keep a defect
    seed_everything(cfg.seed)
    model, tokenizer = load_base(cfg)
    ranked, ranked_info = None, None
    if ranked_share > 0:  # the base model's samples, before any adapter: same pairs on a resumed run
        ranked, ranked_info = reward_ranked_pairs(
            model, tokenizer, training_contexts(logs, cfg.reward_pairs_contexts, cfg.seed), catalog, placements,
            segments, reward_model, num=cfg.reward_pairs_samples, min_gain=cfg.reward_pairs_min_gain,
            seed=cfg.seed, logs=logs)
    drawn = mix_pairs(pairs, honest, cfg.num_train_pairs, share, cfg.seed, ranked=ranked, ranked_share=ranked_share)
    dataset = pairs_dataset(drawn, catalog, placements, segments)
    out_path = Path(out_dir)
    out_path.mkdir(parents=True, exist_ok=True)  # the drawn training pairs, with their source, for audit
    write_text_atomic(out_path / "train_pairs.jsonl", drawn.to_json(orient="records", lines=True))
    cfg.output_dir = str(out_dir)
    trainer = DPOTrainer(model=model, args=cfg, train_dataset=dataset, processing_class=tokenizer,
                         peft_config=lora_config(cfg))
    resumed_from, compact = train_with_progress(trainer, cfg, out_dir, "tune dpo")
    data = {**(data_info or {}), "compact_lm_head": compact, "impressions": len(logs), "pairs": len(pairs),
            "pairs_dropped_by_guard": n_guarded,
            "train_pairs": len(dataset),
            "honesty_pairs": 0 if honest is None else len(honest),
            "train_pairs_honesty": int((drawn["source"] == "honesty").sum()),
            "reward_ranked": ranked_info,
            "train_pairs_reward_model": int((drawn["source"] == RANKED_SOURCE).sum()),
            "pair_scope": cfg.pair_scope,
            "pair_groups": int(pairs.groupby(["item_id", "segment", "placement"]).ngroups),
            "mean_pair_confidence": float(pairs["confidence"].mean()),
            "mean_pair_gain": float(pairs["gain"].mean())}
    summary = finish(trainer, cfg, "dpo", out_dir, data, segments, started, resumed_from)
    log_trainer_run(trainer, {"tuning": summary["data"]}, step=summary["steps"])
    return publish_tuned_dir(trainer, summary)
