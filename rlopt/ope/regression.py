"""Cross-fitted regression model ``q(x, a, pos) ~ E[r | x, a, pos]`` for DM and DR.

Each row's prediction comes from a model fitted on the *other* folds, so the residual
``r_i - q(x_i, a_i, pos_i)`` in DR is not shrunk by the model having seen ``r_i`` (cross-fitting,
Chernozhukov et al. 2018; used for OPE by Narita, Yasui, Yata 2021 and OBP's ``fit_predict``).

Features for one (row, action, position): ``[context_i, action features, one-hot(position)]``,
where action features are one-hot actions, ``action_context`` rows, or both; with
``interactions=True`` also ``context_i (x) one-hot(a)`` so each action gets its own slope on the
context (a linear model without it can only shift all actions' logits together per context).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold

from rlopt.errors import InputError
from rlopt.ope._validation import check_array
from rlopt.seeding import RNGLike, as_rng

__all__ = ["RegressionModel"]

_MAX_CELLS = 8_000_000  # design-matrix entries per prediction chunk (~64 MB)


@dataclass
class RegressionModel:
    """Reward regression producing ``estimated_rewards_by_reg_model`` (n_rounds, n_actions, len_list).

    Parameters
    ----------
    n_actions : int
    len_list : int, default 1
        Number of positions.
    base_model : sklearn estimator, optional
        Cloned per fold. Default: ``LogisticRegression(C=1.0)`` for 0/1 rewards (its
        ``predict_proba`` is used), ``Ridge(alpha=1.0)`` otherwise.
    action_context : ndarray of shape (n_actions, k) or (n_rounds, n_actions, k), optional
        Action features, shared by all rows or given per row (e.g. per-row candidate pools).
    action_features : {"onehot", "context", "both"}, default "onehot" (or "context" when
        ``action_context`` is per row, where a global one-hot would mean different things per row)
    interactions : bool, default False
        Add context x one-hot(action) features (``dim_context * n_actions`` more columns).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(400, 2)); a = rng.integers(0, 3, 400)
    >>> r = (rng.random(400) < np.where(a == 2, 0.8, 0.2)).astype(float)
    >>> q = RegressionModel(n_actions=3).fit_predict(x, a, r, n_folds=2, rng=0)
    >>> q.shape, bool(q[:, 2].mean() > q[:, 0].mean() + 0.4)
    ((400, 3, 1), True)
    """

    n_actions: int
    len_list: int = 1
    base_model: Any = None
    action_context: np.ndarray | None = None
    action_features: Literal["onehot", "context", "both"] | None = None
    interactions: bool = False
    models_: list[Any] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.n_actions, bool) or not isinstance(self.n_actions, (int, np.integer)) or self.n_actions < 1:
            raise InputError(f"`n_actions` must be a positive integer, got {self.n_actions!r}")
        if isinstance(self.len_list, bool) or not isinstance(self.len_list, (int, np.integer)) or self.len_list < 1:
            raise InputError(f"`len_list` must be a positive integer, got {self.len_list!r}")
        if self.action_context is not None:
            ac = self.action_context
            if not isinstance(ac, np.ndarray) or ac.ndim not in (2, 3) or ac.shape[-2] != self.n_actions:
                raise InputError(
                    f"`action_context` must have shape (n_actions, k) or (n_rounds, n_actions, k) with "
                    f"n_actions={self.n_actions}, got {getattr(ac, 'shape', type(ac).__name__)}"
                )
        if self.action_features is None:
            per_row = self.action_context is not None and self.action_context.ndim == 3
            self.action_features = "context" if per_row else "onehot"
        if self.action_features not in ("onehot", "context", "both"):
            raise InputError(f"`action_features` must be 'onehot', 'context' or 'both', got {self.action_features!r}")
        if self.action_features != "onehot" and self.action_context is None:
            raise InputError(f"`action_features={self.action_features!r}` needs `action_context`")

    # ---------------------------------------------------------------- design matrices
    def _action_block(self, rows: np.ndarray, actions: np.ndarray) -> np.ndarray:
        blocks = []
        if self.action_features in ("onehot", "both"):
            blocks.append(np.eye(self.n_actions)[actions])
        if self.action_features in ("context", "both"):
            ac = self.action_context
            blocks.append(ac[actions] if ac.ndim == 2 else ac[rows, actions])
        return np.hstack(blocks)

    def _design(self, context: np.ndarray, rows: np.ndarray, actions: np.ndarray, positions: np.ndarray):
        blocks = [context[rows], self._action_block(rows, actions), np.eye(self.len_list)[positions]]
        if self.interactions:
            onehot = np.eye(self.n_actions)[actions]
            blocks.append((context[rows][:, :, None] * onehot[:, None, :]).reshape(rows.shape[0], -1))
        return np.hstack(blocks)

    def _predict_rows(self, model: Any, context: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Predictions for every (action, position) of ``rows``: shape (len(rows), n_actions, len_list)."""
        out = np.empty((rows.shape[0], self.n_actions, self.len_list))
        cells = self.n_actions * self.len_list
        dim = context.shape[1] + self.n_actions + self.len_list + (
            0 if self.action_context is None else self.action_context.shape[-1]) + (
            context.shape[1] * self.n_actions if self.interactions else 0)
        step = max(1, _MAX_CELLS // max(cells * dim, 1))
        aa, pp = np.meshgrid(np.arange(self.n_actions), np.arange(self.len_list), indexing="ij")
        for start in range(0, rows.shape[0], step):
            chunk = rows[start:start + step]
            r = np.repeat(chunk, cells)
            x = self._design(context, r, np.tile(aa.ravel(), chunk.size), np.tile(pp.ravel(), chunk.size))
            out[start:start + step] = self._score(model, x).reshape(chunk.size, self.n_actions, self.len_list)
        return out

    @staticmethod
    def _score(model: Any, x: np.ndarray) -> np.ndarray:
        if isinstance(model, float):  # constant model: a fold whose rewards were all equal
            return np.full(x.shape[0], model)
        if hasattr(model, "predict_proba"):
            return model.predict_proba(x)[:, 1]
        return model.predict(x)

    def _fit_one(self, context, action, reward, position, rows) -> Any:
        y = reward[rows]
        if np.all(y == y[0]):
            return float(y[0])
        binary = bool(np.isin(reward, (0.0, 1.0)).all())
        model = self.base_model if self.base_model is not None else (
            LogisticRegression(C=1.0, max_iter=1000) if binary else Ridge(alpha=1.0))
        model = clone(model)
        model.fit(self._design(context, rows, action[rows], position[rows]), y)
        return model

    def _check(self, context, action, reward, position) -> np.ndarray:
        check_array(context, "context", 2)
        check_array(action, "action", 1)
        check_array(reward, "reward", 1)
        n = context.shape[0]
        position = np.zeros(n, dtype=np.int64) if position is None else position
        check_array(position, "position", 1)
        for name, arr, size in (("action", action, self.n_actions), ("position", position, self.len_list)):
            if arr.shape[0] != n:
                raise InputError(f"`{name}` and `context` must have the same number of rows, got {arr.shape[0]} and {n}")
            bad = (arr < 0) | (arr >= size) | (arr != np.round(arr))
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise InputError(f"`{name}` must hold integers in [0, {size})", row=i + 1, column=name,
                                 value=arr[i].item())
        if reward.shape[0] != n:
            raise InputError(f"`reward` and `context` must have the same number of rows, got {reward.shape[0]} and {n}")
        if self.action_context is not None and self.action_context.ndim == 3 and self.action_context.shape[0] != n:
            raise InputError("per-row `action_context` and `context` must have the same number of rows")
        return position.astype(np.int64)

    # ---------------------------------------------------------------- public
    def fit_predict(
        self,
        context: np.ndarray,
        action: np.ndarray,
        reward: np.ndarray,
        position: np.ndarray | None = None,
        *,
        n_folds: int = 5,
        rng: RNGLike = None,
    ) -> np.ndarray:
        """Cross-fitted predictions: each row scored by the model trained on the other folds.

        Parameters
        ----------
        context : ndarray of shape (n_rounds, dim_context)
        action, reward, position : ndarray of shape (n_rounds,)
        n_folds : int, default 5
            ``1`` fits and predicts on all rows (no cross-fitting).
        rng : Generator, int or None
            Fold assignment.

        Returns
        -------
        ndarray of shape (n_rounds, n_actions, len_list)
        """
        position = self._check(context, action, reward, position)
        n = context.shape[0]
        if isinstance(n_folds, bool) or not isinstance(n_folds, (int, np.integer)) or not 1 <= n_folds <= n:
            raise InputError(f"`n_folds` must be an integer in [1, n_rounds={n}], got {n_folds!r}")
        out = np.empty((n, self.n_actions, self.len_list))
        action = action.astype(np.int64)
        self.models_ = []
        if n_folds == 1:
            splits = [(np.arange(n), np.arange(n))]
        else:
            seed = int(as_rng(rng).integers(0, 2**31 - 1))
            splits = KFold(n_splits=n_folds, shuffle=True, random_state=seed).split(context)
        for train, test in splits:
            model = self._fit_one(context, action, reward, position, train)
            self.models_.append(model)
            out[test] = self._predict_rows(model, context, test)
        return out
