"""Reward weights and the TRL-compatible reward function.

The scalar reward of a copy in context is

    reward = w_click * p_click + w_purchase * p_purchase + w_revenue * expected_revenue / price_scale

with ``price_scale`` the median effective price of the training catalog rows (so the revenue term
is on the same order as a probability). The default weights favour purchases (``w_click=0.2,
w_purchase=1.0, w_revenue=0.0``): copy that earns clicks without purchases (clickbait) gains little.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rlopt.errors import InputError


@dataclass(frozen=True)
class RewardWeights:
    """Weights of the scalar reward (see the module docstring)."""

    click: float = 0.2
    purchase: float = 1.0
    revenue: float = 0.0

    def combine(self, p_click: np.ndarray, p_purchase: np.ndarray, revenue: np.ndarray,
                price_scale: float) -> np.ndarray:
        return self.click * p_click + self.purchase * p_purchase + self.revenue * revenue / max(price_scale, 1e-9)

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def completion_text(completion: Any) -> str:
    """A TRL completion as text: a string (standard) or a list of chat messages (conversational)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return str(completion.get("content", ""))
    if isinstance(completion, Sequence):
        parts = [m.get("content", "") for m in completion if isinstance(m, dict) and m.get("role") == "assistant"]
        if not parts:
            parts = [m.get("content", "") if isinstance(m, dict) else str(m) for m in completion]
        return "".join(str(p) for p in parts)
    return str(completion)


class RewardFunction:
    """A TRL reward function backed by a saved :class:`~reward_models.model.RewardModel`.

    ``__call__(prompts, completions, **kwargs) -> list[float]`` reads ``item_id``, ``placement``
    and (optionally) ``segment`` and ``user_features`` from ``kwargs`` -- TRL passes every extra
    dataset column as a list aligned with ``completions``. The model is loaded lazily and dropped
    when pickled (``__getstate__``), so the object pickles small and works in worker processes.

    Empty completions get ``empty_reward`` (default 0.0) instead of an error, because a generator
    under training does produce them and should be pushed away from them.

    Parameters
    ----------
    model_dir : str or Path
        A directory written by ``RewardModel.save_pretrained``.
    catalog : DataFrame or path
        The contract catalog (a path is read with ``rlopt.data.read_catalog``).
    weights : RewardWeights or dict, optional
        Defaults to the weights saved with the model.
    """

    __name__ = "rlopt_reward"

    def __init__(self, model_dir: str | Path, catalog: pd.DataFrame | str | Path, weights=None,
                 empty_reward: float = 0.0):
        self.model_dir = str(model_dir)
        if not isinstance(catalog, pd.DataFrame):
            from rlopt.data import read_catalog

            catalog = read_catalog(catalog)
        self.catalog = catalog
        self.weights = RewardWeights(**weights) if isinstance(weights, dict) else weights
        self.empty_reward = float(empty_reward)
        self._model = None

    @property
    def model(self):
        if self._model is None:
            from reward_models.model import RewardModel

            self._model = RewardModel.from_pretrained(self.model_dir)
        return self._model

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_model"] = None
        return state

    def __call__(self, prompts: list[Any] | None = None, completions: list[Any] | None = None,
                 **kwargs: Any) -> list[float]:
        if completions is None:
            raise InputError("the reward function needs `completions`")
        texts = [completion_text(c).strip() for c in completions]
        n = len(texts)
        frame: dict[str, Any] = {"copy_text": texts}
        for column in ("item_id", "placement", "segment", "user_features"):
            values = kwargs.get(column)
            if values is None:
                if column in ("item_id", "placement"):
                    raise InputError(f"the reward function needs the dataset column '{column}' "
                                     "(TRL passes extra dataset columns as keyword arguments)", column=column)
                continue
            if len(values) != n:
                raise InputError(f"column '{column}' has {len(values)} values for {n} completions", column=column)
            frame[column] = list(values)
        df = pd.DataFrame(frame)
        out = np.full(n, self.empty_reward, dtype=np.float64)
        keep = np.array([bool(t) for t in texts])
        if keep.any():
            scored = self.model.score(df.loc[keep].reset_index(drop=True), self.catalog, weights=self.weights)
            out[keep] = scored["reward"].to_numpy()
        return out.tolist()
