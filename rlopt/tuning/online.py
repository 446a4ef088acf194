"""GRPO and RLOO: sample copies for logged contexts, reward them, update a LoRA adapter (thin TRL wrappers).

TRL removed ``PPOTrainer``; GRPO carries the PPO objective — the clipped surrogate
``min(r A, clip(r, 1-epsilon, 1+epsilon) A)`` with ``num_iterations`` PPO epochs per generated batch and
a ``beta``-weighted KL penalty to the reference (the base model: the adapter switched off) — with a
group-mean baseline in place of a value head. RLOO is REINFORCE with a leave-one-out baseline.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from rlopt.errors import InputError
from rlopt.generation.decode import end_token_ids, line_break_token_ids
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
from rlopt.tuning.progress import train_with_progress
from rlopt.tuning.rewards import RewardFunc, build_reward_funcs
from rlopt.tuning.sampling import with_rlopt_sampling


def online_dataset(contexts: pd.DataFrame, catalog: pd.DataFrame, placements: Mapping[str, Any],
                   segments: Mapping[str, Any] | None):
    """Conversational prompt dataset; ``item_id, segment, placement`` columns reach the rewards."""
    from datasets import Dataset

    return Dataset.from_dict({
        "prompt": prompt_messages(contexts, catalog, placements, segments),
        "item_id": contexts["item_id"].astype(str).tolist(),
        "segment": contexts["segment"].astype(str).tolist(),
        "placement": contexts["placement"].astype(str).tolist(),
    })


def stop_at_line_break(model, tokenizer) -> None:
    """Make sampling end at the first line break as well as at EOS.

    TRL's GRPO/RLOO trainers take their stop ids from ``model.generation_config.eos_token_id`` and
    mask every completion token after the first of them, so the loss sees only the first line.
    """
    eos = end_token_ids(model, tokenizer)
    model.generation_config.eos_token_id = eos + [i for i in line_break_token_ids(tokenizer) if i not in eos]


def train_online(method: str, logs: pd.DataFrame, catalog: pd.DataFrame, placements: Mapping[str, Any], cfg,
                 out_dir: str | Path, reward_model: RewardFunc | None, segments: Mapping[str, Any] | None = None,
                 data_info: dict[str, Any] | None = None) -> dict[str, Any]:
    """Tune with ``method`` in {"grpo", "rloo"}; resumes from ``out_dir/checkpoint-*`` when present."""
    from trl import GRPOTrainer, RLOOTrainer

    trainer_cls = {"grpo": GRPOTrainer, "rloo": RLOOTrainer}.get(method)
    if trainer_cls is None:
        raise InputError(f"unknown online method {method!r}; valid: grpo, rloo", column="method")
    if cfg.rlopt_sampling:
        trainer_cls = with_rlopt_sampling(trainer_cls)
    started = clock()
    trackers(cfg.report_to)  # an unknown or uninstalled tracker fails before the model loads
    contexts = training_contexts(logs, cfg.max_contexts, cfg.seed)
    funcs, weights = build_reward_funcs(reward_model, catalog, placements, cfg, logs)
    if reward_model is None:
        raise InputError(f"{method} needs a reward model (--reward-model DIR); the guards alone only "
                         "teach the generator what not to write", column="reward_model")
    cfg.reward_weights = weights
    cfg.output_dir = str(out_dir)
    seed_everything(cfg.seed)
    dataset = online_dataset(contexts, catalog, placements, segments)
    model, tokenizer = load_base(cfg)
    if cfg.stop_at_newline:
        stop_at_line_break(model, tokenizer)
    trainer = trainer_cls(model=model, reward_funcs=funcs, args=cfg, train_dataset=dataset,
                          processing_class=tokenizer, peft_config=lora_config(cfg))
    resumed_from, compact = train_with_progress(trainer, cfg, out_dir, f"tune {method}")
    data = {**(data_info or {}), "compact_lm_head": compact, "impressions": len(logs),
            "contexts": len(contexts),
            "rlopt_sampled_batches": getattr(trainer, "rlopt_sampled_batches", 0),
            "rewards": [getattr(f, "__name__", type(f).__name__) for f in funcs], "reward_weights": weights}
    summary = finish(trainer, cfg, method, out_dir, data, segments, started, resumed_from)
    log_trainer_run(trainer, {"tuning": summary["data"]}, step=summary["steps"])
    return publish_tuned_dir(trainer, summary)
