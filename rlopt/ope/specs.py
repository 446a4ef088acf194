"""Evaluation-policy specs for ``rlopt ope --policy SPEC``: parse, then build ``action_dist``.

A spec is ``NAME[:ARG][:key=value ...]``:

- ``uniform`` (alias ``random``): uniform over each row's candidates.
- ``logged-best[:epsilon=E]``: greedy on the cross-fitted empirical CTR of each candidate
  (fitted on the other folds, so a row's own click does not pick its action), mixed with
  ``E`` of uniform.
- ``reward-model:DIR[:epsilon=E]``: greedy on ``reward_models.RewardModel`` scores (contract logs).
- ``bts:PATH[:method=posterior|frequency][:n_sim=N]``: the OBD Bernoulli-TS policy fitted on the
  OBD log at ``PATH`` (OBD logs).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rlopt.errors import InputError

__all__ = ["PolicySpec", "VALID_SPECS", "greedy_dist", "parse_spec"]

VALID_SPECS = ("uniform", "random", "logged-best[:epsilon=E]", "reward-model:DIR[:epsilon=E]",
               "bts:PATH[:method=posterior|frequency] (OBD)")
_NAMES = {"uniform", "random", "logged-best", "reward-model", "bts"}
_OPTIONS = {"epsilon": float, "method": str, "n_sim": int, "prior_strength": float}


@dataclass(frozen=True)
class PolicySpec:
    """A parsed spec: ``name``, optional positional ``arg`` and keyword ``options``."""

    name: str
    arg: str | None = None
    options: dict[str, object] = field(default_factory=dict)

    @property
    def epsilon(self) -> float:
        return float(self.options.get("epsilon", 0.0))


def parse_spec(spec: str) -> PolicySpec:
    """Parse ``NAME[:ARG][:key=value ...]``.

    >>> parse_spec("reward-model:runs/rm:epsilon=0.1")
    PolicySpec(name='reward-model', arg='runs/rm', options={'epsilon': 0.1})
    >>> parse_spec("greedy")
    Traceback (most recent call last):
    ...
    rlopt.errors.InputError: unknown policy spec 'greedy'; valid: uniform, random, logged-best[:epsilon=E], reward-model:DIR[:epsilon=E], bts:PATH[:method=posterior|frequency] (OBD) (rule: --policy SPEC)
    """
    parts = spec.split(":")
    name, rest = parts[0].strip(), parts[1:]
    if name not in _NAMES:
        raise InputError(f"unknown policy spec {spec!r}; valid: {', '.join(VALID_SPECS)}", rule="--policy SPEC")
    arg, options = None, {}
    for part in rest:
        key, eq, value = part.partition("=")
        if not eq:
            if arg is not None:
                raise InputError(f"policy spec {spec!r} has more than one argument", rule="--policy SPEC")
            arg = part
            continue
        if key not in _OPTIONS:
            raise InputError(f"unknown option {key!r} in policy spec {spec!r}; valid: {sorted(_OPTIONS)}",
                             rule="--policy SPEC")
        try:
            options[key] = _OPTIONS[key](value)
        except ValueError:
            raise InputError(f"option {key!r} in policy spec {spec!r} must be {_OPTIONS[key].__name__}, got {value!r}",
                             rule="--policy SPEC") from None
    if name in ("reward-model", "bts") and not arg:
        raise InputError(f"policy spec {name!r} needs a path: {name}:PATH", rule="--policy SPEC")
    eps = options.get("epsilon", 0.0)
    if not 0.0 <= eps <= 1.0:
        raise InputError(f"`epsilon` must be in [0, 1], got {eps}", rule="--policy SPEC")
    return PolicySpec(name=name, arg=arg, options=options)


def greedy_dist(scores: np.ndarray, valid: np.ndarray, epsilon: float = 0.0) -> np.ndarray:
    """``(1 - eps) * one-hot(argmax over valid) + eps * uniform(valid)``, shape (n, n_actions).

    >>> greedy_dist(np.array([[0.1, 0.5, 0.9]]), np.array([[True, True, False]]), 0.2)
    array([[0.1, 0.9, 0. ]])
    """
    masked = np.where(valid, scores, -np.inf)
    best = masked.argmax(axis=1)
    uniform = valid / valid.sum(axis=1, keepdims=True)
    dist = (1.0 - epsilon) * np.eye(scores.shape[1])[best] + epsilon * uniform
    return dist


def reward_model_scores(model_dir: str, feedback, catalog: pd.DataFrame | None) -> np.ndarray:
    """Score every (row, candidate copy) with a trained reward model: shape (n_rounds, n_actions)."""
    try:
        from reward_models import RewardModel
    except ImportError as err:  # pragma: no cover - depends on the reward_models package landing
        raise InputError(f"`reward-model:` policies need the reward_models package ({err})") from None
    if catalog is None:
        raise InputError("`reward-model:` policies need the catalog: pass --catalog F")
    model = RewardModel.from_pretrained(model_dir)
    frame = feedback.frame
    rows, acts = np.nonzero(feedback.valid)
    texts = [feedback.pool_texts[g][a] for g, a in zip(feedback.group[rows], acts, strict=True)]
    cols = [c for c in ("item_id", "segment", "placement", "user_features") if c in frame]
    pairs = frame.iloc[rows][cols].reset_index(drop=True).assign(copy_text=texts)
    scores = np.full(feedback.valid.shape, -np.inf)
    scores[rows, acts] = model.score(pairs, catalog)["reward"].to_numpy(dtype=float)
    return scores
