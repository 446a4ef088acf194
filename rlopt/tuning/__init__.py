"""Tune a copy generator on feedback logs: DPO on pairs mined from the logs, GRPO / RLOO against the
reward model plus guards (TRL trainers, LoRA adapters).

Public API (imported on first use, see :mod:`rlopt.lazy`):

- :func:`tune_generator` — read logs, build the config, tune, write the adapter (what ``rlopt tune`` runs).
- :func:`make_config`, :class:`RloptDPOConfig`, :class:`RloptGRPOConfig`, :class:`RloptRLOOConfig`,
  ``METHODS``, ``PRESETS`` — the one config of the area (flags of ``rlopt tune``, keys of ``[tuning]``).
- :func:`train_dpo`, :func:`train_online` — the trainers on already-read frames.
- :func:`mine_pairs`, :func:`mine_enough_pairs`, :func:`honesty_pairs` — DPO preference pairs.

Evaluation (true oracle value vs reward-model proxy of generated copy) lives in
:mod:`rlopt.tuning.evaluate` and is deliberately not re-exported here: the package the trainers
belong to must not reach the oracle, even lazily (``tests/market/test_oracle_boundary.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rlopt.lazy import lazy_exports

_EXPORTS = {
    "tune_generator": "api", "make_config": "config", "RloptDPOConfig": "config", "RloptGRPOConfig": "config",
    "RloptRLOOConfig": "config", "METHODS": "config", "PRESETS": "config", "train_dpo": "dpo",
    "train_online": "online", "mine_pairs": "pairs", "mine_enough_pairs": "pairs", "honesty_pairs": "pairs",
}

if TYPE_CHECKING:
    from rlopt.tuning.api import tune_generator
    from rlopt.tuning.config import (
        METHODS,
        PRESETS,
        RloptDPOConfig,
        RloptGRPOConfig,
        RloptRLOOConfig,
        make_config,
    )
    from rlopt.tuning.dpo import train_dpo
    from rlopt.tuning.online import train_online
    from rlopt.tuning.pairs import honesty_pairs, mine_enough_pairs, mine_pairs

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "METHODS",
    "PRESETS",
    "RloptDPOConfig",
    "RloptGRPOConfig",
    "RloptRLOOConfig",
    "honesty_pairs",
    "make_config",
    "mine_enough_pairs",
    "mine_pairs",
    "train_dpo",
    "train_online",
    "tune_generator",
]
