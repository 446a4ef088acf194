"""One entry point for tuning: read and validate inputs (files or frames), build the config, dispatch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from reward_models import RewardFunction
from rlopt.data import read_catalog, read_logs
from rlopt.errors import InputError
from rlopt.generation.inputs import find_placements, find_segments
from rlopt.threads import threads_for
from rlopt.tuning.config import METHODS, make_config
from rlopt.tuning.dpo import train_dpo
from rlopt.tuning.online import train_online


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


def tune_generator(method: str, *, logs: str | Path | pd.DataFrame, catalog: str | Path | pd.DataFrame,
                   out: str | Path, reward_model: str | Path | Sequence[str | Path] | None = None,
                   generator: str | None = None, placements: str | Path | Mapping[str, Any] | None = None,
                   preset: str = "quick", max_steps: int | None = None, seed: int | None = None,
                   segments: Mapping[str, Any] | None = None, config: Any = None, threads: int = 0,
                   **overrides: Any) -> dict[str, Any]:
    """Tune ``generator`` with ``method`` on ``logs``; write ``out``; return the ``tuning.json`` summary.

    Parameters
    ----------
    method : {"dpo", "grpo", "rloo"}
    logs, catalog : path or DataFrame
        A path is read and validated against the catalog (:func:`rlopt.data.read_logs`); a DataFrame
        is taken as already validated (the pipeline's ``validate`` stage).
    out : path
        Output directory (adapter, ``tuning.json``, curves); an existing run there is resumed.
    reward_model : path or list of paths, optional
        One reward-model directory or several (an ensemble, combined per copy by the online config's
        ``reward_ensemble``: "mean" or the pessimistic "min"); needed by grpo/rloo and DPO's
        ``reward_pairs``.
    placements : path or mapping, optional
        Default: found next to ``logs``, else the packaged market's.
    segments : mapping, optional
        Segment name -> description for the prompts; default: found next to ``logs`` (``{}`` = none).
    config : RloptDPOConfig / RloptGRPOConfig / RloptRLOOConfig, optional
        A config already built (:func:`rlopt.tuning.config.make_config`); then ``preset``,
        ``generator``, ``max_steps``, ``seed`` and ``overrides`` must not be given.
    preset, generator, max_steps, seed, **overrides
        Otherwise the config is ``make_config(method, preset, ...)``: the preset, then these fields
        (e.g. ``learning_rate=1e-4``, ``min_confidence=0.8``); ``None`` keeps the preset's.
    threads : int, default 0
        torch CPU threads while training; 0 chooses them from the cores free when training starts
        (:func:`rlopt.threads.choose_threads`), a positive count is used as it is. The adapter does
        not depend on it.
    """
    if method not in METHODS:
        raise InputError(f"unknown --method {method!r}; valid methods: {', '.join(METHODS)}",
                         key="method", value=method)
    if config is None:
        config = make_config(method, preset, generator=generator, max_steps=max_steps, seed=seed, **overrides)
    elif any(v is not None for v in (generator, max_steps, seed, *overrides.values())):
        raise InputError("give either config or its fields (generator, max_steps, seed, ...), not both",
                         key="config")
    model_dirs = reward_model_dirs(reward_model)
    if isinstance(placements, Mapping):
        places, places_src = dict(placements), "given"
    else:
        places, places_src = find_placements(placements, None if isinstance(logs, pd.DataFrame) else logs)
    cat = catalog if isinstance(catalog, pd.DataFrame) else read_catalog(catalog)
    frame = logs if isinstance(logs, pd.DataFrame) else read_logs(logs, cat, places)
    if segments is None:
        segments = {} if isinstance(logs, pd.DataFrame) else find_segments(logs)
    data = {"logs": "<DataFrame>" if isinstance(logs, pd.DataFrame) else str(logs),
            "catalog": "<DataFrame>" if isinstance(catalog, pd.DataFrame) else str(catalog),
            "placements": places_src,
            "reward_model": model_dirs[0] if len(model_dirs) == 1 else (model_dirs or None)}
    reward = None
    if model_dirs:  # DPO without reward_pairs never reads it
        members = [RewardFunction(d, cat) for d in model_dirs]
        reward = members[0] if len(members) == 1 else members
    import torch

    with threads_for("train", threads, device="cuda" if torch.cuda.is_available() else "cpu"):
        if method == "dpo":
            return train_dpo(frame, cat, places, config, out, segments, data_info=data, reward_model=reward)
        return train_online(method, frame, cat, places, config, out, reward, segments, data_info=data)
