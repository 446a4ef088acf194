"""One entry point for tuning from files: read and validate inputs, build the config, dispatch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rlopt.errors import InputError
from rlopt.tuning.config import METHODS, make_config


def tune_generator(method: str, *, logs: str | Path, catalog: str | Path, out: str | Path,
                   reward_model: str | Path | None = None, generator: str = "default",
                   placements: str | Path | None = None, preset: str = "quick", max_steps: int | None = None,
                   seed: int = 0, **overrides: Any) -> dict[str, Any]:
    """Tune ``generator`` with ``method`` on ``logs``; write ``out``; return the ``tuning.json`` summary.

    ``overrides`` are config fields (e.g. ``learning_rate=1e-4``, ``min_confidence=0.8``).
    """
    from rlopt.data import read_catalog, read_logs
    from rlopt.generation.inputs import find_placements, find_segments

    if method not in METHODS:
        raise InputError(f"unknown --method {method!r}; valid methods: {', '.join(METHODS)}",
                         column="method", value=method)
    cfg = make_config(method, preset, generator=generator, max_steps=max_steps, seed=seed, **overrides)
    if reward_model is not None and not Path(reward_model).is_dir():
        raise InputError("reward model directory does not exist", file=str(reward_model))
    places, places_src = find_placements(placements, logs)
    cat = read_catalog(catalog)
    frame = read_logs(logs, cat, places)
    segments = find_segments(logs)
    data = {"logs": str(logs), "catalog": str(catalog), "placements": places_src,
            "reward_model": None if reward_model is None else str(reward_model)}
    reward = None
    if reward_model is not None:  # loaded lazily: DPO without reward_pairs never reads it
        from reward_models import RewardFunction

        reward = RewardFunction(reward_model, cat)
    if method == "dpo":
        from rlopt.tuning.dpo import train_dpo

        return train_dpo(frame, cat, places, cfg, out, segments, data_info=data, reward_model=reward)
    from rlopt.tuning.online import train_online

    return train_online(method, frame, cat, places, cfg, out, reward, segments, data_info=data)
