"""One entry point for tuning from files: read and validate inputs, build the config, dispatch."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rlopt.errors import InputError
from rlopt.tuning.config import METHODS, make_config


def reward_model_dirs(reward_model: str | Path | Sequence[str | Path] | None) -> list[str]:
    """One reward-model directory, several (an ensemble) or none, as a list; each must exist, once."""
    if reward_model is None:
        return []
    dirs = [str(reward_model)] if isinstance(reward_model, str | Path) else [str(d) for d in reward_model]
    for d in dirs:
        if not Path(d).is_dir():
            raise InputError("reward model directory does not exist", file=d)
    repeated = sorted({d for d in dirs if dirs.count(d) > 1})
    if repeated:
        raise InputError(f"reward model directory given more than once ({', '.join(repeated)}); an ensemble "
                         "needs distinct members (train them with other --seed values)", file=repeated[0])
    return dirs


def tune_generator(method: str, *, logs: str | Path, catalog: str | Path, out: str | Path,
                   reward_model: str | Path | Sequence[str | Path] | None = None, generator: str = "default",
                   placements: str | Path | None = None, preset: str = "quick", max_steps: int | None = None,
                   seed: int = 0, **overrides: Any) -> dict[str, Any]:
    """Tune ``generator`` with ``method`` on ``logs``; write ``out``; return the ``tuning.json`` summary.

    ``overrides`` are config fields (e.g. ``learning_rate=1e-4``, ``min_confidence=0.8``).
    ``reward_model`` is one reward-model directory or several (an ensemble, combined per copy by the
    online config's ``reward_ensemble``: "mean" or the pessimistic "min").
    """
    from rlopt.data import read_catalog, read_logs
    from rlopt.generation.inputs import find_placements, find_segments

    if method not in METHODS:
        raise InputError(f"unknown --method {method!r}; valid methods: {', '.join(METHODS)}",
                         column="method", value=method)
    cfg = make_config(method, preset, generator=generator, max_steps=max_steps, seed=seed, **overrides)
    model_dirs = reward_model_dirs(reward_model)
    places, places_src = find_placements(placements, logs)
    cat = read_catalog(catalog)
    frame = read_logs(logs, cat, places)
    segments = find_segments(logs)
    data = {"logs": str(logs), "catalog": str(catalog), "placements": places_src,
            "reward_model": model_dirs[0] if len(model_dirs) == 1 else (model_dirs or None)}
    reward = None
    if model_dirs:  # loaded lazily: DPO without reward_pairs never reads it
        from reward_models import RewardFunction

        members = [RewardFunction(d, cat) for d in model_dirs]
        reward = members[0] if len(members) == 1 else members
    if method == "dpo":
        from rlopt.tuning.dpo import train_dpo

        return train_dpo(frame, cat, places, cfg, out, segments, data_info=data, reward_model=reward)
    from rlopt.tuning.online import train_online

    return train_online(method, frame, cat, places, cfg, out, reward, segments, data_info=data)
