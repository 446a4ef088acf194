"""The one config of off-policy evaluation: :class:`OPEConfig` (``rlopt ope`` flags, ``[ope]`` keys,
Python), kept free of heavy imports so the CLI can build its options from it at start-up."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from rlopt.errors import InputError

ESTIMATORS = ("ipw", "snipw", "dm", "dr", "sndr", "switch-dr", "dr-os")


def check_estimators(names) -> list[str]:
    """``names`` as a list, each one of :data:`ESTIMATORS` (InputError naming the valid ones otherwise)."""
    names = list(names)
    unknown = [n for n in names if n not in ESTIMATORS]
    if unknown or not names:
        raise InputError(f"unknown estimator(s) {unknown}; valid: {', '.join(ESTIMATORS)}", rule="--estimators",
                         key="estimators")
    return names


INTERVALS = ("percentile", "bca")
FORMATS = ("contract", "obd")
Q_MODELS = ("text", "ctr")
REWARDS = ("clicked", "converted", "revenue")


def _f(default: Any, help: str, **meta: Any):
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"help": help, **meta})
    return field(default=default, metadata={"help": help, **meta})


@dataclass
class OPEConfig:
    """How a policy is evaluated off-policy: the one config of ``rlopt ope`` (one flag per field),
    the ``[ope]`` table of an experiment (one key per field) and Python callers of :func:`run_ope`.

    What is evaluated on (the log file, its catalog and format, the seed) is given to :func:`run_ope`
    or comes from the run; everything else is here.
    """

    policy: str = _f("reward-model", "Policy to evaluate: uniform | logged-best[:epsilon=E] | reward-model:DIR"
                     "[:epsilon=E] | bts:PATH (OBD); in `rlopt run`, 'reward-model[:epsilon=E]' without DIR is "
                     "greedy on that run's reward model.")
    estimators: list[str] = _f(list(ESTIMATORS), "Estimators (OBP names: ipw, snipw, dm, dr, sndr, switch-dr, "
                               "dr-os).")
    alpha: float = _f(0.05, "1 - the confidence level of the bootstrap intervals.")
    n_bootstrap_samples: int = _f(1000, "Bootstrap resamples per estimator.")
    interval: str = _f("percentile", "Bootstrap interval: percentile or bca (bias-corrected and accelerated; "
                       "better with heavy weights).", choices=INTERVALS)
    n_folds: int = _f(5, "Cross-fitting folds of the reward regression used by DM/DR.")
    q_model: str = _f("text", "Contract logs' reward regression for DM/DR: text (logistic on context + copy "
                      "words) or ctr (empirical CTR per copy).", choices=Q_MODELS)
    lambda_: float = _f(100.0, "lambda_ of switch-dr and dr-os (OBP's name).")
    reward: str = _f("clicked", "Contract logs: the reward, clicked, converted or revenue.", choices=REWARDS)
    fallback_dm: bool = _f(False, "If propensities are missing or zero, use the direct method alone (and say "
                           "so) instead of failing.")
    max_eval_rows: int = _f(0, "Evaluate on at most this many log rows (a seeded random subset); 0 = all.")

    def __post_init__(self) -> None:
        self.estimators = check_estimators(self.estimators)
        for name in ("interval", "q_model", "reward"):
            choices = next(f for f in fields(self) if f.name == name).metadata["choices"]
            if getattr(self, name) not in choices:
                raise InputError(f"{name} must be one of {', '.join(choices)}, got {getattr(self, name)!r}",
                                 key=name, value=getattr(self, name))
        if not 0.0 < self.alpha < 1.0:
            raise InputError(f"alpha must be in (0, 1), got {self.alpha!r}", key="alpha", value=self.alpha)
        for name, low in (("n_bootstrap_samples", 1), ("n_folds", 2), ("max_eval_rows", 0)):
            if getattr(self, name) < low:
                raise InputError(f"{name} must be >= {low}", key=name, value=getattr(self, name))
        if self.lambda_ < 0:
            raise InputError("lambda_ must be >= 0", key="lambda_", value=self.lambda_)


