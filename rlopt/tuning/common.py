"""Pieces every tuning method shares: LoRA config, prompt datasets, resume, and the output layout.

Output directory of a tuning run::

    OUT/adapter_config.json, adapter_model.safetensors, tokenizer files   (the tuned generator)
    OUT/tuning.json        method, generator (base spec), data, steps, seeds, metrics, config
    OUT/segments.json      segment descriptions used in the prompts (generation reuses them)
    OUT/curves.csv/.png    training curves (loss, reward, KL, ...)
    OUT/checkpoint-*/      Trainer checkpoints; a rerun with the same OUT resumes from the last
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from rlopt.generation.prompts import build_messages, catalog_index, max_chars_for, segment_description
from rlopt.io_utils import write_json_atomic


def lora_config(cfg):
    """PEFT ``LoraConfig`` from a tuning config's ``lora_*`` fields."""
    from peft import LoraConfig

    return LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=list(cfg.lora_target_modules), task_type="CAUSAL_LM", bias="none")


def prompt_messages(frame: pd.DataFrame, catalog: pd.DataFrame, placements: Mapping[str, Any],
                    segments: Mapping[str, Any] | None) -> list[list[dict[str, str]]]:
    """Chat prompts (system + user) for the ``item_id, segment, placement`` rows of ``frame``."""
    items = catalog_index(catalog)
    seg_col = frame["segment"] if "segment" in frame.columns else [""] * len(frame)
    return [build_messages(items[str(i)], segment_description(segments, s) if s else "all shoppers", p,
                           max_chars_for(placements, p))
            for i, s, p in zip(frame["item_id"].astype(str), seg_col, frame["placement"], strict=True)]


def training_contexts(logs: pd.DataFrame, max_contexts: int, seed: int) -> pd.DataFrame:
    """Distinct ``item_id, segment, placement`` contexts from the logs, at most ``max_contexts`` (seeded)."""
    cols = ["item_id", "segment", "placement"] if "segment" in logs.columns else ["item_id", "placement"]
    ctx = logs[cols].drop_duplicates().sort_values(cols).reset_index(drop=True)
    if "segment" not in ctx.columns:
        ctx["segment"] = ""
    if len(ctx) > max_contexts:
        ctx = ctx.sample(n=max_contexts, random_state=seed).reset_index(drop=True)
    return ctx


def last_checkpoint(out_dir: str | Path) -> Path | None:
    """The newest ``checkpoint-N`` directory under ``out_dir`` (None when there is none)."""
    out = Path(out_dir)
    if not out.is_dir():
        return None
    found = [(int(m.group(1)), p) for p in out.iterdir()
             if p.is_dir() and (m := re.fullmatch(r"checkpoint-(\d+)", p.name))]
    return max(found)[1] if found else None


def load_base(cfg):
    """Base model + tokenizer for tuning (trainable=False; TRL wraps it with the LoRA adapter)."""
    from rlopt.generation.models import resolve_generator

    model, tokenizer = resolve_generator(cfg.generator, device="cpu")  # Trainer moves it to its device
    model.train()
    return model, tokenizer


def train_resuming(trainer, cfg, out_dir: str | Path) -> tuple[str | None, bool]:
    """Run ``trainer.train``, resuming from the last ``out_dir/checkpoint-*`` when one exists.

    Returns the checkpoint resumed from (or None) and whether the compact LM head was in effect
    (``cfg.compact_lm_head``, :mod:`rlopt.tuning.lm_head`).
    """
    from rlopt.tuning.lm_head import compact_lm_head

    ckpt = last_checkpoint(out_dir)
    resumed_from = str(ckpt) if ckpt else None
    with compact_lm_head(cfg.compact_lm_head) as compact:
        trainer.train(resume_from_checkpoint=resumed_from)
    return resumed_from, compact


def config_dict(cfg) -> dict[str, Any]:
    """The config's fields as JSON-friendly values (for ``tuning.json``)."""
    out = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if isinstance(value, (str, int, float, bool, type(None))):
            out[f.name] = value
        elif isinstance(value, (list, tuple)) and all(isinstance(v, (str, int, float, bool)) for v in value):
            out[f.name] = list(value)
        elif isinstance(value, dict):
            out[f.name] = json.loads(json.dumps(value, default=str))
        else:
            out[f.name] = str(value)
    return out


def clock() -> tuple[float, float]:
    """(wall, process CPU) seconds: CPU time / threads estimates the wall time of an idle machine."""
    return time.time(), time.process_time()


def finish(trainer, cfg, method: str, out_dir: str | Path, data: dict[str, Any],
           segments: Mapping[str, Any] | None, started: tuple[float, float],
           resumed_from: str | None) -> dict[str, Any]:
    """Save adapter + tokenizer, curves, ``segments.json`` and ``tuning.json``; return the summary."""
    import torch

    from rlopt.tuning.curves import write_curves

    out = Path(out_dir)
    trainer.save_model(str(out))
    history = trainer.state.log_history
    curves = write_curves(history, out)
    final = [h for h in history if "train_runtime" in h]
    train_logs = [h for h in history if "loss" in h]
    metrics = {k: v for k, v in (final[-1] if final else {}).items() if isinstance(v, (int, float))}
    if train_logs:
        metrics.update({f"last_{k}": v for k, v in train_logs[-1].items() if isinstance(v, (int, float))})
    seg_text = {str(k): segment_description(segments, k) for k in (segments or {})}
    write_json_atomic(out / "segments.json", seg_text)
    summary = {
        "method": method,
        "generator": cfg.generator,
        "preset": cfg.preset,
        "out": str(out),
        "steps": int(trainer.state.global_step),
        "seed": int(cfg.seed),
        "data": data,
        "metrics": metrics,
        "curves": curves,
        "resumed_from": resumed_from,
        "wall_seconds": round(time.time() - started[0], 1),
        "cpu_seconds": round(time.process_time() - started[1], 1),
        "torch_threads": torch.get_num_threads(),
        "device": str(trainer.accelerator.device),
        "config": config_dict(cfg),
    }
    write_json_atomic(out / "tuning.json", summary)
    return summary
