"""experiments/tuning/compare.py reuses a tuned generator only when it was tuned with the asked settings."""

from __future__ import annotations

import pytest

from experiments.tuning.compare import config_overrides, same_settings
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
