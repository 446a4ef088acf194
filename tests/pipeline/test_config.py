"""Experiment configs: strict keys, types, paths resolved against the file, shipped configs valid."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlopt.errors import InputError
from rlopt.pipeline.config import SECTIONS, config_from_dict, describe_fields, load_config

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


@pytest.mark.parametrize("name", sorted(p.name for p in EXPERIMENTS.glob("*.toml")))
def test_shipped_configs_load(name):
    cfg = load_config(EXPERIMENTS / name)
    assert cfg.run.out_dir == str((EXPERIMENTS.parent / "runs" / name.removesuffix(".toml")).resolve())
    assert cfg.data.market == "default" and cfg.tuning.generator == "default"


def test_quickstart_uses_the_cpu_budget_choices():
    cfg = load_config(EXPERIMENTS / "quickstart.toml")
    assert (cfg.reward.mode, cfg.tuning.method, cfg.tuning.preset) == ("frozen", "dpo", "quick")


def test_every_key_is_documented_by_the_generated_reference(monkeypatch):
    # The docs build writes the reference from the dataclasses (scripts/docs_hooks.py); the experiments
    # README points at it instead of keeping a copy that would go stale.
    monkeypatch.syspath_prepend(str(EXPERIMENTS.parent / "scripts"))  # as mkdocs loads its hooks
    from docs_hooks import config_reference

    reference = config_reference()
    assert describe_fields() in reference
    assert "`tuning`" in reference or "[tuning]" in reference
    assert "docs/guides/config-reference.md" in (EXPERIMENTS / "README.md").read_text()


def test_relative_paths_resolve_against_the_config_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "logs.csv").write_text("x")
    (tmp_path / "sub" / "cat.csv").write_text("x")
    cfg_file = tmp_path / "sub" / "exp.toml"
    cfg_file.write_text('[run]\nout_dir = "out"\n[data]\nlogs = "logs.csv"\ncatalog = "cat.csv"\n')
    cfg = load_config(cfg_file)
    assert cfg.data.logs == str(tmp_path / "sub" / "logs.csv")
    assert cfg.run.out_dir == str(tmp_path / "sub" / "out")
    assert load_config(cfg_file, out_dir=tmp_path / "elsewhere").run.out_dir == str(tmp_path / "elsewhere")


def test_hub_ids_pass_but_missing_local_paths_fail(tmp_path):
    cfg = config_from_dict({"tuning": {"generator": "HuggingFaceTB/SmolLM2-360M-Instruct"}}, base_dir=tmp_path)
    assert cfg.tuning.generator == "HuggingFaceTB/SmolLM2-360M-Instruct"
    with pytest.raises(InputError, match=r"tuning\.generator does not exist: .*models/mine"):
        config_from_dict({"tuning": {"generator": "./models/mine"}}, base_dir=tmp_path)


@pytest.mark.parametrize(
    ("data", "exc_column", "pattern"),
    [
        ({"reward": {"colour": 3}}, "reward.colour", r"unknown key 'colour' in section 'reward'; valid keys: encoder, mode, use_item_text"),
        ({"reward": {"max_epoch": 3}}, "reward.max_epoch", r"did you mean max_epochs\? valid keys: encoder"),
        ({"extra": {}}, None, r"unknown section 'extra'; valid sections: " + ", ".join(SECTIONS)),
        ({"run": {"seed": 1.5}}, "run.seed", r"expected int, got float"),
        ({"run": {"seed": True}}, "run.seed", r"expected int, got bool"),
        ({"bandit": {"policies": "linucb"}}, "bandit.policies", r"expected list of str, got str"),
        ({"bandit": {"policies": []}}, "bandit.policies", r"list at least one policy"),
        ({"ab": {"alpha": 1.5}}, "ab.alpha", r"must be in \(0, 1\)"),
        ({"generation": {"num_samples": 0}}, "generation.num_samples", r"must be >= 1"),
        ({"reward": {"mode": "finetune"}}, "reward.mode", r"must be one of frozen, lora, full"),
        ({"data": {"catalog": "x"}}, "data.catalog", r"does not exist"),
        ({"run": "oops"}, "run", r"must be a table"),
        ({"generation": {"temperature": 0.0}}, "generation.temperature", r"must be >= 0.01"),
        # issue 20 item 7: what a later stage would refuse fails at load, with the stage's message
        ({"bandit": {"policies": ["ucb1", "linucbb"]}}, "bandit.policies", r"unknown policy 'linucbb'; valid policies"),
        ({"bandit": {"policies": ["linucb:alpah=1"]}}, "bandit.policies", r"policy 'linucb' has no parameter 'alpah=1'"),
        ({"ope": {"policy": "greedy"}}, "ope.policy", r"unknown policy spec 'greedy'"),
        ({"ope": {"policy": "logged-best:eps=0.1"}}, "ope.policy", r"unknown option 'eps'"),
        ({"ope": {"estimators": ["ipw", "dr2"]}}, "ope.estimators", r"unknown estimator\(s\) \['dr2'\]"),
        ({"ope": {"estimators": []}}, "ope.estimators", r"unknown estimator"),
        ({"ope": {"alpha": 1.5}}, "ope.alpha", r"alpha must be in \(0, 1\)"),
        ({"ope": {"confidence_level": 0.9}}, "ope.confidence_level", r"unknown key 'confidence_level'"),
        # [tuning]: exactly the fields of the method's config
        ({"tuning": {"min_confidance": 0.8}}, "tuning.min_confidance", r"did you mean min_confidence\?.*rlopt tune --method dpo --help"),
        ({"tuning": {"min_confidence": 0.3}}, "tuning.min_confidence", r"must be in \[0.5, 1\)"),
        ({"tuning": {"lora_r": 0}}, "tuning.lora_r", r"lora_r \(0\) must be >= 1"),
        ({"tuning": {"learning_rate": "fast"}}, "tuning.learning_rate", r"expected float, got str"),
        ({"tuning": {"method": "grpo", "min_confidence": 0.8}}, "tuning.min_confidence", r"valid keys: method, preset and every field of RloptGRPOConfig"),
        ({"tuning": {"method": "ppo"}}, "tuning.method", r"must be one of dpo, grpo, rloo"),
        ({"tuning": {"output_dir": "x"}}, "tuning.output_dir", r"set by the run"),
    ],
)
def test_bad_values_raise_input_error(tmp_path, data, exc_column, pattern):
    with pytest.raises(InputError, match=pattern) as info:
        config_from_dict(data, source="exp.toml", base_dir=tmp_path)
    assert info.value.file == "exp.toml"
    assert info.value.key == exc_column and info.value.column is None
    if exc_column:
        assert f"key '{exc_column}'" in str(info.value) and "column" not in str(info.value)


def test_logs_need_a_catalog(tmp_path):
    (tmp_path / "logs.csv").write_text("x")
    with pytest.raises(InputError, match="data.catalog is not"):
        config_from_dict({"data": {"logs": "logs.csv"}}, base_dir=tmp_path)


def test_quickstart_tuning_is_the_quick_dpo_preset_with_26_steps():
    """Pins the effective DPO config of the quickstart: behaviour unchanged by one-config-per-area."""
    from rlopt.tuning.config import PRESET_VALUES, make_config

    cfg = load_config(EXPERIMENTS / "quickstart.toml")
    built = cfg.tuning.build(seed=7)
    assert type(built).__name__ == "RloptDPOConfig"
    assert built.max_steps == 26 and built.seed == 7 and built.generator == "default"
    quick = PRESET_VALUES["dpo"]["quick"]
    for key in ("learning_rate", "num_train_pairs", "beta", "per_device_train_batch_size", "max_length",
                "honesty_pairs", "save_steps", "loss_type", "loss_weights", "logging_steps"):
        assert getattr(built, key) == quick[key], key
    assert (built.learning_rate, built.num_train_pairs, built.beta, built.per_device_train_batch_size,
            built.max_length, built.honesty_pairs) == (5e-4, 160, 0.1, 4, 160, 0.25)
    assert (built.min_confidence, built.value_metric, built.min_pairs, built.auto_relax) == (0.9, "combined", 16, False)
    # what the pipeline built before [tuning] took the method's fields: the same values, field by field
    before = make_config("dpo", "quick", generator="default", seed=7, max_steps=26)
    assert built.to_dict() == before.to_dict()


def test_tuning_takes_any_field_and_explicit_values_win_over_the_preset():
    cfg = config_from_dict({"tuning": {"preset": "standard", "learning_rate": 1e-4, "min_confidence": 0.7,
                                       "value_metric": "ctr", "auto_relax": True, "lora_r": 8}})
    built = cfg.tuning.build(seed=0)
    assert (built.learning_rate, built.max_steps, built.num_train_pairs) == (1e-4, 120, 480)  # preset fills the rest
    assert (built.min_confidence, built.value_metric, built.auto_relax, built.lora_r) == (0.7, "ctr", True, 8)
    assert cfg.section("tuning")["learning_rate"] == 1e-4  # in the stage's fingerprint
    online = config_from_dict({"tuning": {"method": "rloo", "support_penalty": 1.0, "max_contexts": 64}})
    assert online.tuning.build().max_contexts == 64 and online.tuning.needs_reward_model
    assert config_from_dict({"tuning": {"reward_pairs": 0.3}}).tuning.needs_reward_model


def test_ope_section_is_the_ope_config():
    from rlopt.ope.config import OPEConfig

    cfg = config_from_dict({"ope": {"interval": "bca", "lambda_": 10.0, "q_model": "ctr"}})
    assert isinstance(cfg.ope, OPEConfig) and (cfg.ope.interval, cfg.ope.lambda_, cfg.ope.q_model) == ("bca", 10.0, "ctr")


def test_set_overrides_one_key_checked_like_the_file(tmp_path):
    from rlopt.pipeline.config import parse_overrides

    exp = EXPERIMENTS / "quickstart.toml"
    cfg = load_config(exp, overrides=["tuning.learning_rate=1e-4", "bandit.policies=['ucb1']", "tuning.preset=standard"])
    assert cfg.tuning.fields["learning_rate"] == 1e-4 and cfg.tuning.preset == "standard"
    assert cfg.tuning.fields["max_steps"] == 26 and cfg.bandit.policies == ["ucb1"]
    with pytest.raises(InputError, match=r"with --set, key 'tuning.learning_rat'.*did you mean learning_rate"):
        load_config(exp, overrides=["tuning.learning_rat=1e-4"])
    with pytest.raises(InputError, match=r"key 'generation.temperature'.*must be >= 0.01"):
        load_config(exp, overrides=["generation.temperature=0"])
    with pytest.raises(InputError, match=r"section.key=value"):
        parse_overrides(["learning_rate=1e-4"])
    with pytest.raises(InputError, match=r"unknown section 'tunning'; did you mean tuning"):
        load_config(exp, overrides=["tunning.max_steps=3"])
