"""What a TRL reward function reads: the dataset columns TRL passes and each completion as it would
be shown (cleaned and capped at its placement's limit).

Shared by the reward model's reward and the guards (:mod:`rlopt.tuning.rewards`) and the support
guard (:mod:`rlopt.tuning.support`), which :func:`rlopt.tuning.rewards.build_reward_funcs` builds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rlopt.completions import completion_text
from rlopt.generation.postprocess import clean_copy
from rlopt.generation.prompts import max_chars_for


def dataset_column(kwargs: dict[str, Any], name: str, n: int) -> list[Any]:
    """The dataset column ``name`` that TRL passes to a reward function, one value per completion."""
    values = kwargs.get(name)
    if values is None or len(values) != n:
        raise ValueError(f"reward needs the dataset column '{name}' with one value per completion")
    return list(values)


def shown_copies(completions: Sequence[Any], kwargs: dict[str, Any], placements: Mapping[str, Any]) -> list[str]:
    """Each completion as it would be shown: cleaned and capped at its placement's limit."""
    places = dataset_column(kwargs, "placement", len(completions))
    return [clean_copy(completion_text(c), max_chars_for(placements, p))
            for c, p in zip(completions, places, strict=True)]
