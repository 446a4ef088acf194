"""Input checks for the OPE estimators, in one place, called once per public entry point.

Every message quotes the argument name (``\\`pscore\\```), says the expected and the actual value,
and, for per-row rules, the first offending row (1-based) and how many rows break the rule.
All checks raise :class:`rlopt.errors.InputError` and return ``None``.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

from rlopt.errors import InputError

_SUM_TOL = 1e-6


def require_ndarray(array: object, name: str) -> None:
    """Check that ``array`` is a numpy ndarray (any shape or dtype)."""
    if not isinstance(array, np.ndarray):
        raise InputError(f"`{name}` must be a numpy.ndarray, got {type(array).__name__}")


def resolve_position(action_dist: object, position: np.ndarray | None) -> np.ndarray | None:
    """``position``, or all-zero slots when it is None and ``action_dist`` is 3-dimensional.

    ``action_dist`` must be an ndarray (checked here; the full checks are :func:`check_ope_inputs`).

    >>> resolve_position(np.full((2, 3, 1), 1 / 3), None)
    array([0, 0])
    """
    require_ndarray(action_dist, "action_dist")
    if position is None and action_dist.ndim == 3:
        return np.zeros(action_dist.shape[0], dtype=np.int64)
    return position


def check_array(array: object, name: str, expected_dim: int) -> None:
    """Check that ``array`` is a finite numeric ndarray with ``expected_dim`` dimensions.

    >>> check_array(np.zeros(3), "reward", 1)
    >>> check_array(np.zeros((3, 2)), "reward", 1)
    Traceback (most recent call last):
    ...
    rlopt.errors.InputError: `reward` must be 1-dimensional, got shape (3, 2)
    """
    require_ndarray(array, name)
    if array.ndim != expected_dim:
        raise InputError(f"`{name}` must be {expected_dim}-dimensional, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.number) and array.dtype != bool:
        raise InputError(f"`{name}` must be numeric, got dtype {array.dtype}")
    bad = ~np.isfinite(array)
    if bad.any():
        row = int(np.argwhere(bad)[0][0]) + 1
        raise InputError(
            f"`{name}` has {int(bad.any(axis=tuple(range(1, array.ndim))).sum()) if array.ndim > 1 else int(bad.sum())}"
            " missing or non-finite row(s)",
            row=row, column=name, rule="finite values",
        )


def check_scalar_hyperparameter(value: object, name: str, *, low: float = 0.0, allow_inf: bool = True) -> None:
    """Check a real hyperparameter: not bool, not NaN, ``>= low`` (``inf`` allowed unless told).

    >>> check_scalar_hyperparameter(-1.0, "lambda_")
    Traceback (most recent call last):
    ...
    rlopt.errors.InputError: `lambda_` must be >= 0.0, got -1.0
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        raise InputError(f"`{name}` must be a real number, got {type(value).__name__} {value!r}")
    if np.isnan(value):
        raise InputError(f"`{name}` must not be NaN")
    if value < low:
        raise InputError(f"`{name}` must be >= {low}, got {value!r}")
    if not allow_inf and np.isinf(value):
        raise InputError(f"`{name}` must be finite, got {value!r}")


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def check_ope_inputs(
    action_dist: np.ndarray,
    position: np.ndarray | None = None,
    action: np.ndarray | None = None,
    reward: np.ndarray | None = None,
    pscore: np.ndarray | None = None,
    estimated_rewards_by_reg_model: np.ndarray | None = None,
) -> None:
    """Check the OPE inputs that are given (``None`` ones are skipped).

    Parameters
    ----------
    action_dist : ndarray of shape (n_rounds, n_actions, len_list)
        Evaluation policy's probabilities; must be >= 0 and sum to 1 over actions for every
        (row, position).
    position : ndarray of int, shape (n_rounds,), optional
        Slots in ``[0, len_list)``.
    action : ndarray of int, shape (n_rounds,), optional
        Logged actions in ``[0, n_actions)``.
    reward : ndarray of shape (n_rounds,), optional
    pscore : ndarray of shape (n_rounds,), optional
        Logging propensities, all > 0 (a zero or missing one cannot be reweighted).
    estimated_rewards_by_reg_model : ndarray of shape (n_rounds, n_actions, len_list), optional

    Examples
    --------
    >>> dist = np.full((2, 2, 1), 0.5)
    >>> check_ope_inputs(dist, action=np.array([0, 1]), pscore=np.array([0.5, 0.0]))
    Traceback (most recent call last):
    ...
    rlopt.errors.InputError: row 2, column 'pscore': `pscore` must be positive; 1 row(s) are <= 0 (rule: pscore > 0; value: 0.0)
    """
    check_array(action_dist, "action_dist", 3)
    n_rounds, n_actions, len_list = action_dist.shape
    if (action_dist < 0).any():
        row = int(np.argwhere(action_dist < 0)[0][0]) + 1
        raise InputError("`action_dist` must be non-negative", row=row, column="action_dist",
                         rule="probabilities >= 0")
    sums = action_dist.sum(axis=1)  # (n_rounds, len_list)
    bad = np.abs(sums - 1.0) > _SUM_TOL
    if bad.any():
        row, pos = (int(v) for v in np.argwhere(bad)[0])
        raise InputError(
            f"`action_dist` must sum to 1 over actions for every (row, position); "
            f"{int(bad.any(axis=1).sum())} row(s) do not, first at position {pos}",
            row=row + 1, column="action_dist", rule="sum over actions == 1", value=float(sums[row, pos]),
        )
    given = {"position": position, "action": action, "reward": reward, "pscore": pscore}
    for name, arr in given.items():
        if arr is None:
            continue
        check_array(arr, name, 1)
        if arr.shape[0] != n_rounds:
            raise InputError(
                f"`{name}` and `action_dist` must have the same number of rows, got {arr.shape[0]} and {n_rounds}"
            )
    for name, arr, size in (("action", action, n_actions), ("position", position, len_list)):
        if arr is None:
            continue
        bad = (arr != np.round(arr)) | (arr < 0) | (arr >= size)
        if bad.any():
            i = _first(bad)
            raise InputError(
                f"`{name}` must hold integers in [0, {size}) (`action_dist` has {size}); "
                f"{int(bad.sum())} row(s) do not",
                row=i + 1, column=name, rule=f"integer in [0, {size})", value=arr[i].item(),
            )
    if pscore is not None:
        bad = pscore <= 0
        if bad.any():
            i = _first(bad)
            raise InputError(
                f"`pscore` must be positive; {int(bad.sum())} row(s) are <= 0",
                row=i + 1, column="pscore", rule="pscore > 0", value=pscore[i].item(),
            )
    if estimated_rewards_by_reg_model is not None:
        check_array(estimated_rewards_by_reg_model, "estimated_rewards_by_reg_model", 3)
        if estimated_rewards_by_reg_model.shape != action_dist.shape:
            raise InputError(
                "`estimated_rewards_by_reg_model` and `action_dist` must have the same shape, got "
                f"{estimated_rewards_by_reg_model.shape} and {action_dist.shape}"
            )


def check_bootstrap_args(alpha: object, n_bootstrap_samples: object, method: object = "percentile") -> None:
    """Check ``alpha`` in (0, 1), ``n_bootstrap_samples`` a positive integer and ``method`` an interval kind."""
    if isinstance(alpha, bool) or not isinstance(alpha, Real) or not 0 < alpha < 1:
        raise InputError(f"`alpha` must be in (0, 1), got {alpha!r}")
    if isinstance(n_bootstrap_samples, bool) or not isinstance(n_bootstrap_samples, Integral) or n_bootstrap_samples < 1:
        raise InputError(f"`n_bootstrap_samples` must be a positive integer, got {n_bootstrap_samples!r}")
    if method not in ("percentile", "bca"):
        raise InputError(f"`method` must be 'percentile' or 'bca', got {method!r}")
