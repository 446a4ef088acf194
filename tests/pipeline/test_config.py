"""Experiment configs: strict keys, types, paths resolved against the file, shipped configs valid."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlopt.errors import InputError
from rlopt.pipeline.config import SECTIONS, config_from_dict, describe_fields, load_config

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


@pytest.mark.parametrize("name", ["quickstart.toml", "full.toml"])
def test_shipped_configs_load(name):
    cfg = load_config(EXPERIMENTS / name)
    assert cfg.run.out_dir == str((EXPERIMENTS.parent / "runs" / name.removesuffix(".toml")).resolve())
    assert cfg.data.market == "default" and cfg.tuning.generator == "default"


def test_quickstart_uses_the_cpu_budget_choices():
    cfg = load_config(EXPERIMENTS / "quickstart.toml")
    assert (cfg.reward.mode, cfg.tuning.method, cfg.tuning.preset) == ("frozen", "dpo", "quick")


def test_experiments_readme_lists_every_key():
    readme = (EXPERIMENTS / "README.md").read_text()
    assert describe_fields() in readme, "regenerate the key tables with rlopt.pipeline.config.describe_fields()"


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
        ({"reward": {"epochs": 3}}, None, r"unknown key 'epochs' in section 'reward'; valid keys: encoder, mode, max_epochs"),
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
    ],
)
def test_bad_values_raise_input_error(tmp_path, data, exc_column, pattern):
    with pytest.raises(InputError, match=pattern) as info:
        config_from_dict(data, source="exp.toml", base_dir=tmp_path)
    assert info.value.file == "exp.toml"
    assert info.value.column == exc_column


def test_logs_need_a_catalog(tmp_path):
    (tmp_path / "logs.csv").write_text("x")
    with pytest.raises(InputError, match="data.catalog is not"):
        config_from_dict({"data": {"logs": "logs.csv"}}, base_dir=tmp_path)
