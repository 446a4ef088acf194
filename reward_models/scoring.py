"""The TRL-compatible reward function: a saved reward model's scalar reward
(:class:`reward_models.weights.RewardWeights`) for each generated copy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reward_models.model import RewardModel
from reward_models.onnx_runtime import check_runtime
from reward_models.weights import RewardWeights
from rlopt.completions import completion_text
from rlopt.errors import InputError


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
    runtime : {"torch", "onnx", "onnx-int8"}, optional
        Overrides the encoder runtime saved with the model (:mod:`reward_models.onnx_runtime`).
    """

    __name__ = "reward_model"  # TRL logs rewards/reward_model/mean; the tuning reward of the shown copy
    # (rlopt.tuning.rewards.ShownCopyReward) is "rlopt_reward", so the two never share a metric key

    def __init__(self, model_dir: str | Path, catalog: pd.DataFrame | str | Path, weights=None,
                 empty_reward: float = 0.0, runtime: str | None = None):
        if runtime is not None:
            check_runtime(runtime)  # a bad value fails here, not at the first (lazy) model load
        self.model_dir = str(model_dir)
        self.runtime = runtime
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
            self._model = RewardModel.from_pretrained(self.model_dir, runtime=self.runtime)
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
