"""Config checks name the field and fix; guard rewards follow TRL's signature and pickle."""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pytest

from rlopt.errors import InputError
from rlopt.tuning.config import make_config
from rlopt.tuning.rewards import (
    DiscountHonestyPenalty,
    LengthLimitPenalty,
    RepetitionPenalty,
    ShownCopyReward,
)
from tests.tuning.tuning_data import CATALOG, PLACEMENTS


@pytest.mark.parametrize("method, kwargs, pattern", [
    ("ppo", {}, "valid methods: dpo, grpo, rloo"),
    ("dpo", {"min_confidence": 0.3}, "min_confidence"),
    ("dpo", {"value_metric": "revenue"}, "value_metric"),
    ("dpo", {"nonsense_field": 1}, "unknown dpo config field 'nonsense_field'"),
    ("grpo", {"max_contexts": 0}, "max_contexts"),
    ("rloo", {"lora_target_modules": []}, "lora_target_modules"),
])
def test_config_errors(method, kwargs, pattern):
    with pytest.raises(InputError, match=pattern):
        make_config(method, "quick", **kwargs)


def test_unknown_preset():
    with pytest.raises(InputError, match="valid presets: quick, standard, full"):
        make_config("dpo", "huge")


def test_presets_expose_ppo_knobs():
    cfg = make_config("grpo", "quick", num_iterations=2, epsilon=0.1, beta=0.05)
    assert (cfg.num_iterations, cfg.epsilon, cfg.beta) == (2, 0.1, 0.05)
    assert make_config("dpo", "full").max_steps > make_config("dpo", "quick").max_steps


def test_standard_preset_is_quick_with_more_dpo_data_and_more_online_prompts():
    for method in ("dpo", "grpo", "rloo"):
        quick, standard = (dataclasses.asdict(make_config(method, p)) for p in ("quick", "standard"))
        changed = {k for k in quick if quick[k] != standard[k]} - {"preset"}
        # TRL derives generation_batch_size from per_device_train_batch_size
        online = {"per_device_train_batch_size", "generation_batch_size"}
        # DPO: more pairs and steps, at the smaller step its recorded runs used (quick's larger step
        # makes up for its 40 steps)
        assert changed == ({"max_steps", "num_train_pairs", "learning_rate"} if method == "dpo" else online)
    assert make_config("dpo", "standard").max_steps == 120
    assert make_config("dpo", "quick").learning_rate == 5e-4 and make_config("dpo", "standard").learning_rate == 2e-4
    # one epoch over the drawn pairs, as in quick
    dpo = make_config("dpo", "standard")
    assert dpo.max_steps * dpo.per_device_train_batch_size == dpo.num_train_pairs
    # online: same steps and group size, twice the prompts per generated batch
    for method in ("grpo", "rloo"):
        quick, standard = make_config(method, "quick"), make_config(method, "standard")
        assert standard.max_steps == quick.max_steps
        assert standard.per_device_train_batch_size // standard.num_generations == 4
        assert quick.per_device_train_batch_size // quick.num_generations == 2


KW = {"item_id": ["i1", "i1", "i2", "i2"], "placement": ["push", "push", "home_banner", "home_banner"],
      "segment": ["bargain"] * 4}


def test_discount_honesty():
    completions = ["Now 20% off trail shoes", "Now 50% off trail shoes", "Fresh coffee set", "Coffee set on sale"]
    assert DiscountHonestyPenalty(CATALOG)(None, completions, **KW) == [0.0, -1.0, 0.0, -1.0]


def test_length_limit_on_conversational_completions():
    completions = [[{"role": "assistant", "content": "x" * 40}], [{"role": "assistant", "content": "x" * 60}],
                   [{"role": "assistant", "content": "ok"}], [{"role": "assistant", "content": "  "}]]
    assert LengthLimitPenalty(PLACEMENTS)(None, completions, **KW) == [0.0, -0.5, 0.0, -1.0]


def test_shown_copy_reward_scores_cleaned_capped_text():
    seen = []

    def inner(prompts, completions, **kwargs):
        seen.extend(completions)
        return [len(c) for c in completions]

    reward = ShownCopyReward(inner, PLACEMENTS, scale="linear")
    out = reward(None, ['"' + "word " * 20 + '"\nmore', "ok", "fine", "good"], **KW)
    assert max(len(s) for s in seen[:2]) <= 40 and out[0] <= 40
    assert reward.__name__ == "rlopt_reward"
    from reward_models import RewardFunction

    assert RewardFunction.__dict__["__name__"] == "reward_model" != reward.__name__  # distinct TRL metric keys


def test_shown_copy_reward_log_scale_is_relative_and_floored():
    values = iter([[0.01, 0.02, 0.04, 0.0]])
    out = ShownCopyReward(lambda prompts, completions, **kw: next(values), PLACEMENTS)(
        None, ["a", "b", "c", "d"], **KW)
    assert out[1] - out[0] == pytest.approx(np.log(2)) and out[2] - out[1] == pytest.approx(np.log(2))
    assert out[3] == pytest.approx(np.log(1e-6))  # a zero value is floored, not -inf
    with pytest.raises(ValueError, match="scale"):
        ShownCopyReward(lambda *a, **k: [], PLACEMENTS, scale="sqrt")


def test_ensemble_mean_is_the_members_mean_log_and_min_the_worst_member():
    members = [lambda prompts, completions, **kw: [0.01, 0.04, 0.02, 0.02],
               lambda prompts, completions, **kw: [0.04, 0.01, 0.02, 0.08]]
    logged = []
    texts = ["a", "b", "c", "d"]
    mean = ShownCopyReward(members, PLACEMENTS, reduce="mean")(None, texts, log_metric=lambda *a: logged.append(a), **KW)
    low = ShownCopyReward(members, PLACEMENTS, reduce="min")(None, texts, **KW)
    assert mean == pytest.approx(np.log([0.02, 0.02, 0.02, 0.04]))  # geometric means
    assert low == pytest.approx(np.log([0.01, 0.01, 0.02, 0.02]))
    # spread = mean over copies of (max - min) member log score: (log 4 + log 4 + 0 + log 4) / 4
    assert logged == [("reward_model/spread", pytest.approx(3 * np.log(4) / 4))]
    one = ShownCopyReward(members[:1], PLACEMENTS, reduce="min")(None, texts, log_metric=logged.append, **KW)
    assert one == pytest.approx(np.log([0.01, 0.04, 0.02, 0.02])) and len(logged) == 1  # no spread for one
    with pytest.raises(ValueError, match="reduce"):
        ShownCopyReward(members, PLACEMENTS, reduce="median")


def test_online_config_rejects_unknown_reward_ensemble():
    with pytest.raises(InputError, match="reward_ensemble.*mean, min"):
        make_config("rloo", "quick", reward_ensemble="max")


def test_online_config_rejects_unknown_reward_scale():
    with pytest.raises(InputError, match="reward_model_scale"):
        make_config("grpo", "quick", reward_model_scale="exp")


@pytest.mark.parametrize("func", [DiscountHonestyPenalty(CATALOG), LengthLimitPenalty(PLACEMENTS),
                                  RepetitionPenalty(3)])
def test_guards_pickle_with_stable_names(func):
    clone = pickle.loads(pickle.dumps(func))
    assert clone.__name__ == func.__name__
    assert clone(None, ["Now 20% off", "a b", "c", "d"], **KW) == func(None, ["Now 20% off", "a b", "c", "d"], **KW)


def test_missing_column_is_explicit():
    with pytest.raises(ValueError, match="item_id"):
        DiscountHonestyPenalty(CATALOG)(None, ["x"], placement=["push"])
