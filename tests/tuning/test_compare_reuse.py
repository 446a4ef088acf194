"""experiments/tuning/compare.py reuses a tuned generator only when it was tuned with the asked settings."""

from __future__ import annotations

import pytest

from experiments.tuning.compare import Args, config_overrides, different_run_args, same_settings
from rlopt.tuning.common import config_dict
from rlopt.tuning.config import make_config


def test_overrides_are_json_or_strings():
    assert config_overrides(["num_train_pairs=480", "loss_type=[\"sigmoid\"]", "generator=runs/x"]) == {
        "num_train_pairs": 480, "loss_type": ["sigmoid"], "generator": "runs/x"}
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        config_overrides(["reward_pairs"])


def test_same_settings_sees_overrides_both_ways():
    plain = config_dict(make_config("dpo", "quick"))
    ranked = config_dict(make_config("dpo", "quick", reward_pairs=0.5))
    assert same_settings(plain, "dpo", "quick", {})
    assert not same_settings(plain, "dpo", "quick", {"reward_pairs": 0.5})
    assert not same_settings(ranked, "dpo", "quick", {})  # an earlier override is not this run's default
    assert same_settings(ranked, "dpo", "quick", {"reward_pairs": 0.5})
    older = {k: v for k, v in plain.items() if k != "reward_pairs"}  # written before the field existed
    assert same_settings(older, "dpo", "quick", {}) and not same_settings(older, "dpo", "quick", {"reward_pairs": 0.5})
    online = config_dict(make_config("grpo", "quick"))
    assert not same_settings(online, "grpo", "quick", {"discount_penalty": 2.0})
    assert not same_settings(online, "grpo", "full", {})


def test_different_run_args_names_what_differs():
    import dataclasses

    recorded = dataclasses.asdict(Args())
    assert different_run_args(recorded, recorded) == []
    one_off = {**recorded, "seed": 1, "online_set": ["per_device_train_batch_size=16"]}
    assert different_run_args(recorded, one_off) == ["seed", "online_set"]
    older = {k: v for k, v in recorded.items() if k != "online_set"}  # written before the key existed
    assert different_run_args(older, recorded) == []
    assert different_run_args(older, one_off) == ["seed", "online_set"]
    # the methods run and the output folder are not settings: a rerun of some methods still merges
    assert different_run_args(recorded, {**recorded, "methods": ["grpo"], "out": "runs/x"}) == []
