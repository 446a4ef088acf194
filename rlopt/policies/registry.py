"""Build a policy from a spec string such as ``"linucb:alpha=1.0"`` (used by the CLI, OPE and A/B)."""

from __future__ import annotations

import inspect

from rlopt.errors import InputError
from rlopt.policies.base import Policy
from rlopt.policies.context_free import UCB1, BernoulliTS, EpsilonGreedy, UniformPolicy
from rlopt.policies.linear import LinearEpsilonGreedy, LinearTS, LinUCB
from rlopt.policies.logistic import LogisticTS
from rlopt.seeding import RNGLike

POLICIES: dict[str, type[Policy]] = {
    cls.name: cls
    for cls in (UniformPolicy, EpsilonGreedy, UCB1, BernoulliTS, LinUCB, LinearTS, LinearEpsilonGreedy,
                LogisticTS)
}
#: Aliases accepted by :func:`make_policy` (spelling variants people type).
ALIASES = {"random": "uniform", "egreedy": "epsilon-greedy", "epsilon_greedy": "epsilon-greedy",
           "ts": "bernoulli-ts", "thompson": "bernoulli-ts", "lints": "linear-ts", "lin-ts": "linear-ts",
           "linear_ts": "linear-ts", "linear-egreedy": "linear-epsilon-greedy"}
POLICY_NAMES: tuple[str, ...] = tuple(POLICIES)


def policy_params(name: str) -> dict[str, object]:
    """Hyperparameters of policy ``name`` with their defaults.

    >>> policy_params("epsilon-greedy")
    {'epsilon': 0.1, 'initial': 1.0}
    """
    sig = inspect.signature(POLICIES[name].__init__)
    skip = {"self", "n_actions", "dim", "rng"}
    return {k: p.default for k, p in sig.parameters.items() if k not in skip}


def parse_policy_spec(spec: str) -> tuple[str, dict[str, object]]:
    """Split ``"name:key=value,key=value"`` into the canonical name and typed keyword arguments.

    >>> parse_policy_spec("linucb:alpha=2,fit_intercept=false")
    ('linucb', {'alpha': 2.0, 'fit_intercept': False})
    """
    text = str(spec).strip()
    head, _, tail = text.partition(":")
    name = ALIASES.get(head.strip().lower(), head.strip().lower())
    if name not in POLICIES:
        raise InputError(
            f"unknown policy '{head}'; valid policies: {', '.join(POLICY_NAMES)} "
            "(optionally with parameters, e.g. 'linucb:alpha=1.0')",
            column="policy", rule="policy in POLICY_NAMES", value=text,
        )
    defaults = policy_params(name)
    kwargs: dict[str, object] = {}
    for part in filter(None, (p.strip() for p in tail.split(","))):
        key, eq, raw = part.partition("=")
        key = key.strip()
        if not eq or key not in defaults:
            valid = ", ".join(f"{k}={v!r}" for k, v in defaults.items()) or "none"
            raise InputError(
                f"policy '{name}' has no parameter '{part}'; valid parameters (with defaults): {valid}",
                column="policy", rule="key=value with a known key", value=text,
            )
        kwargs[key] = _coerce(raw.strip(), defaults[key], key, text)
    return name, kwargs


def make_policy(spec: str, n_actions: int, dim: int, rng: RNGLike = None) -> Policy:
    """Build the policy named by ``spec`` (see :data:`POLICY_NAMES`) for ``n_actions`` arms.

    Parameters
    ----------
    spec : str
        ``"name"`` or ``"name:key=value,..."``, e.g. ``"epsilon-greedy:epsilon=0.05"``.
    n_actions : int
        Number of actions ``K``.
    dim : int
        Context dimension ``d`` (ignored by context-free policies).
    rng : Generator, int or None
        Seed or generator for the policy's randomness.

    Examples
    --------
    >>> import numpy as np
    >>> p = make_policy("linucb:alpha=1.0", n_actions=3, dim=2, rng=0)
    >>> p.select_batch(np.zeros((4, 2))).shape
    (4,)
    """
    name, kwargs = parse_policy_spec(spec)
    return POLICIES[name](n_actions, dim, rng, **kwargs)


def _coerce(raw: str, default: object, key: str, spec: str) -> object:
    try:
        if isinstance(default, bool):
            low = raw.lower()
            if low not in {"true", "false", "1", "0", "yes", "no"}:
                raise ValueError(raw)
            return low in {"true", "1", "yes"}
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
    except ValueError:
        raise InputError(
            f"policy parameter '{key}' expects {type(default).__name__}, got '{raw}'",
            column="policy", rule=f"{key} is {type(default).__name__}", value=spec,
        ) from None
    return raw

