"""Pieces every tuning method shares: LoRA config, prompt datasets, resume, and the output layout.

Output directory of a tuning run::

    OUT/adapter_config.json, adapter_model.safetensors, tokenizer files   (the tuned generator)
    OUT/tuning.json        method, generator (base spec), data, steps, seeds, metrics, config
    OUT/segments.json      segment descriptions used in the prompts (generation reuses them)
    OUT/curves.csv/.png    training curves (loss, reward, KL, ...)
    OUT/checkpoint-*/      Trainer checkpoints; a rerun with the same OUT resumes from the last good one

Resume (:func:`train_resuming`) survives a crash at any point, including a kill in the middle of
writing a checkpoint or a full disk: each ``checkpoint-N`` is checked (:func:`checkpoint_problem`:
a parseable ``trainer_state.json`` at step N, complete weight, optimizer, scheduler and RNG files)
newest first; a bad one is removed with a :class:`CheckpointWarning` and the previous good one is
used, or training starts clean. A checkpoint that is already at ``max_steps`` is restored, not
trained on (the Trainer would take one step more), so a resumed run ends with the same step count,
adapter and ``curves.csv`` as an uninterrupted one. ``adapter_config.json`` lists
``target_modules`` sorted (PEFT keeps a set, whose order changes between processes), so identical
runs write identical files.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import struct
import time
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from rlopt.generation.prompts import build_messages, catalog_index, max_chars_for, segment_description
from rlopt.io_utils import write_json_atomic

TRAINER_STATE = "trainer_state.json"
WEIGHT_FILES = ("adapter_model.safetensors", "model.safetensors")  # a LoRA adapter, or a full model
TORCH_STATE_FILES = ("optimizer.pt", "scheduler.pt", "rng_state.pth")  # needed for an exact resume


class CheckpointWarning(UserWarning):
    """A checkpoint was incomplete or corrupt and was removed; training resumed from an earlier one."""


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


def checkpoints(out_dir: str | Path) -> list[tuple[int, Path]]:
    """``(N, path)`` of every ``checkpoint-N`` directory under ``out_dir``, newest first."""
    out = Path(out_dir)
    if not out.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in out.iterdir()
             if p.is_dir() and (m := re.fullmatch(r"checkpoint-(\d+)", p.name))]
    return sorted(found, reverse=True)


def last_checkpoint(out_dir: str | Path) -> Path | None:
    """The newest ``checkpoint-N`` directory under ``out_dir`` (None when there is none), good or not."""
    found = checkpoints(out_dir)
    return found[0][1] if found else None


def _safetensors_problem(path: Path) -> str | None:
    """Why ``path`` is not a complete safetensors file, or None.

    The format is ``u64 header length | JSON header | data``; the header gives every tensor's
    ``data_offsets``, so a complete file is exactly ``8 + header length + max end offset`` bytes.
    """
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            (n,) = struct.unpack("<Q", fh.read(8))
            if n > size - 8:
                return f"{path.name} is cut short (header of {n} bytes, file of {size})"
            header = json.loads(fh.read(n))
    except (OSError, struct.error, ValueError) as err:
        return f"{path.name} is unreadable ({type(err).__name__})"
    ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"]
    if 8 + n + max(ends, default=0) != size:
        return f"{path.name} is cut short ({size} bytes, its header describes {8 + n + max(ends, default=0)})"
    return None


def checkpoint_problem(ckpt: Path, step: int) -> str | None:
    """Why the Trainer checkpoint ``ckpt`` (``checkpoint-<step>``) cannot be resumed exactly, or None.

    Checks: ``trainer_state.json`` parses and says ``global_step == step``; a weights file is a
    complete safetensors file; ``optimizer.pt``, ``scheduler.pt`` and ``rng_state.pth`` are
    complete zip archives (``torch.save``'s format; a cut-off file loses its central directory).
    Without the optimizer or RNG state the Trainer would silently resume differently.
    """
    try:
        state = json.loads((ckpt / TRAINER_STATE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"{TRAINER_STATE} is missing"
    except (OSError, ValueError) as err:
        return f"{TRAINER_STATE} is unreadable ({type(err).__name__})"
    if not isinstance(state, dict) or state.get("global_step") != step:
        return f"{TRAINER_STATE} does not say global_step {step}"
    weights = [ckpt / w for w in WEIGHT_FILES if (ckpt / w).is_file()]
    if not weights:
        return f"no weights ({' or '.join(WEIGHT_FILES)})"
    problem = _safetensors_problem(weights[0])
    if problem:
        return problem
    for name in TORCH_STATE_FILES:
        path = ckpt / name
        if not path.is_file():
            return f"{name} is missing"
        try:
            with zipfile.ZipFile(path) as archive:
                archive.infolist()
        except (OSError, zipfile.BadZipFile):
            return f"{name} is cut short or corrupt"
    return None


def last_good_checkpoint(out_dir: str | Path) -> tuple[Path, int] | None:
    """The newest checkpoint that :func:`checkpoint_problem` accepts, and its step.

    Newer checkpoints that fail the check (a crash or a full disk while the Trainer wrote them) are
    removed, each with a :class:`CheckpointWarning`: left in place, the Trainer would later save
    into the same folder over half-written files.
    """
    for step, ckpt in checkpoints(out_dir):
        problem = checkpoint_problem(ckpt, step)
        if problem is None:
            return ckpt, step
        warnings.warn(f"{ckpt} is incomplete ({problem}); removed it, resuming from the previous good "
                      "checkpoint or from the start", CheckpointWarning, stacklevel=2)
        shutil.rmtree(ckpt)
    return None


def _restore_finished(trainer, ckpt: Path) -> None:
    """Load a checkpoint taken at ``max_steps`` into ``trainer`` without training.

    ``Trainer.train(resume_from_checkpoint=...)`` always takes one more optimizer step before it
    checks ``max_steps``, so resuming from the final checkpoint would train ``max_steps + 1``
    steps. The adapter weights and the state (step, log history) are all there is left to restore.
    """
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file
    from transformers import TrainerState

    weights = next(ckpt / w for w in WEIGHT_FILES if (ckpt / w).is_file())
    if weights.name == "adapter_model.safetensors":
        set_peft_model_state_dict(trainer.model, load_file(str(weights)))
    else:
        trainer.model.load_state_dict(load_file(str(weights)), strict=False)
    trainer.state = TrainerState.load_from_json(str(ckpt / TRAINER_STATE))


def load_base(cfg):
    """Base model + tokenizer for tuning (trainable=False; TRL wraps it with the LoRA adapter)."""
    from rlopt.generation.models import resolve_generator

    model, tokenizer = resolve_generator(cfg.generator, device="cpu")  # Trainer moves it to its device
    model.train()
    return model, tokenizer


def train_resuming(trainer, cfg, out_dir: str | Path) -> tuple[str | None, bool]:
    """Run ``trainer.train``, resuming from the last good ``out_dir/checkpoint-*`` when one exists.

    See :func:`last_good_checkpoint` (bad checkpoints are removed) and :func:`_restore_finished`
    (a checkpoint already at ``max_steps`` is loaded, not trained on).

    Returns the checkpoint resumed from (or None) and whether the compact LM head was in effect
    (``cfg.compact_lm_head``, :mod:`rlopt.tuning.lm_head`).
    """
    from rlopt.tuning.lm_head import compact_lm_head

    good = last_good_checkpoint(out_dir)
    resumed_from = str(good[0]) if good else None
    with compact_lm_head(cfg.compact_lm_head) as compact:
        if good is not None and 0 < trainer.args.max_steps <= good[1]:
            _restore_finished(trainer, good[0])
        else:
            if good is not None:
                _restore_token_count(trainer, good[0])
            trainer.train(resume_from_checkpoint=resumed_from)
    return resumed_from, compact


def _restore_token_count(trainer, ckpt: Path) -> None:
    """Carry TRL's running ``num_tokens`` over a resume.

    TRL's DPO trainer counts the tokens it trained on in ``_total_train_tokens`` (logged as
    ``num_tokens``) from 0 in each process; a resumed run would log a count that restarts, and its
    ``curves.csv`` would differ from an uninterrupted run's. The checkpoint's last logged count is
    where the uninterrupted run stood. (GRPO/RLOO log the Trainer's own restored counter.)
    """
    if not hasattr(trainer, "_total_train_tokens"):
        return
    history = json.loads((ckpt / TRAINER_STATE).read_text(encoding="utf-8")).get("log_history", [])
    counts = [h["num_tokens"] for h in history if isinstance(h, dict) and "num_tokens" in h]
    if counts:
        trainer._total_train_tokens = int(counts[-1])


def sort_adapter_config(out_dir: str | Path) -> None:
    """Rewrite ``out_dir/adapter_config.json`` with ``target_modules`` sorted (PEFT stores a set,
    so its order follows the process's string hashing and differs between identical runs)."""
    path = Path(out_dir) / "adapter_config.json"
    if not path.is_file():
        return
    config = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(config.get("target_modules"), list):
        config["target_modules"] = sorted(config["target_modules"])
        write_json_atomic(path, config)


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
    sort_adapter_config(out)
    history = trainer.state.log_history
    curves = write_curves(history, out)
    final = [h for h in history if "train_runtime" in h]
    train_logs = [h for h in history if "loss" in h]
    metrics = {k: v for k, v in (final[-1] if final else {}).items() if isinstance(v, (int, float))}
    # From the state, not the final log entry, which a run restored from its last checkpoint lacks.
    metrics.update(step=int(trainer.state.global_step), total_flos=float(trainer.state.total_flos))
    if trainer.state.epoch is not None:  # the final log entry carries it only when this call trained
        metrics["epoch"] = float(trainer.state.epoch)
    if train_logs:
        metrics.update({f"last_{k}": v for k, v in train_logs[-1].items() if isinstance(v, (int, float))})
        # The Trainer's train_loss averages the last train() call only: after a resume, only the
        # resumed steps. The mean of every logged loss is the same number whether or not it resumed.
        metrics["train_loss"] = sum(h["loss"] for h in train_logs) / len(train_logs)
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
    write_json_atomic(out / "tuning.json", portable_summary(summary))
    return summary


def portable_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """``summary`` with its paths inside the output directory made relative to it.

    The directory is written as ``<stage>.tmp`` and renamed, or copied to another machine: an
    absolute path recorded while training would point at a folder that no longer exists.

    >>> portable_summary({"out": "/r/tuning.tmp/adapter", "curves": {"csv": "/r/tuning.tmp/adapter/curves.csv"},
    ...                   "resumed_from": None, "config": {"output_dir": "/r/tuning.tmp/adapter"}})["curves"]
    {'csv': 'curves.csv'}
    """
    out = Path(summary["out"])

    def inside(value):
        path = Path(value)
        return path.relative_to(out).as_posix() if path.is_absolute() and path.is_relative_to(out) else value

    return {**summary, "out": ".",
            "curves": {k: inside(v) for k, v in (summary.get("curves") or {}).items()},
            "resumed_from": inside(summary["resumed_from"]) if summary.get("resumed_from") else None,
            "config": {**summary.get("config", {}), "output_dir": "."}}
