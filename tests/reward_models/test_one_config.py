"""One reward config (issue 21 item 2): ``[reward]`` keys are the fields of ``TrainConfig``, which are
the options of ``rlopt reward train``, and the reverse; the quickstart's effective config is pinned."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from reward_models.train import TrainConfig
from rlopt.cli.reward_cmds import TRAIN_ALIASES, TRAIN_INPUTS, train_parser
from rlopt.errors import InputError
from rlopt.pipeline.config import RewardSection, config_from_dict, load_config

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
PIPELINE_ONLY = {"max_rows", "allow_weak"}  # the run's keys (subsample its logs, gate tuning), not the trainer's
_FLAG_ARGS = ["--logs", "l.csv", "--catalog", "c.csv", "--out", "o"]


def _options():
    parser = train_parser()
    return parser, {a.dest for a in parser._actions if a.option_strings} - {"help"}


def test_every_flag_is_a_reward_key_and_the_reverse():
    parser, dests = _options()
    trainer = {f.name for f in dataclasses.fields(TrainConfig)}
    keys = {f.name for f in dataclasses.fields(RewardSection)}
    assert len(trainer) > 20  # the fields were read
    assert dests - set(TRAIN_INPUTS) == trainer == keys - PIPELINE_ONLY
    assert set(TRAIN_INPUTS) <= dests
    flags = {s for a in parser._actions for s in a.option_strings}
    for name in trainer:
        assert f"--{name}" in flags and f"--{name.replace('_', '-')}" in flags, name
    for name in trainer:  # every field is a [reward] key: a wrong type names the key, so the key is known
        with pytest.raises(InputError) as err:
            config_from_dict({"reward": {name: [{"not": "a value"}]}})
        assert "unknown key" not in str(err.value) and f"reward.{name}" in str(err.value), name


def test_old_flag_spellings_still_work():
    parser, _ = _options()
    old = vars(parser.parse_args([*_FLAG_ARGS, "--epochs", "4", "--no-item-text", "--ipw-clip", "0.05",
                                  "--encoder", "e", "--mode", "lora", "--calibration", "platt", "--precision",
                                  "fp32", "--seed", "3", "--on-error", "quarantine", "--json"]))
    assert {k: old.pop(k) for k in TRAIN_INPUTS} == {"logs": "l.csv", "catalog": "c.csv", "out": "o", "holdout": None,
                                                     "placements": None, "on_error": "quarantine", "max_rows": None,
                                                     "json": True}
    assert old == {"max_epochs": 4, "use_item_text": False, "ipw_clip": 0.05, "encoder": "e", "mode": "lora",
                   "calibration": "platt", "precision": "fp32", "seed": 3}
    assert set(TRAIN_ALIASES) == {"--max-epochs", "--no-use-item-text"}


def test_flags_and_keys_build_the_same_trainer_config():
    parser, _ = _options()
    given = vars(parser.parse_args([*_FLAG_ARGS, "--max-epochs", "7", "--lr", "0.01", "--batch_size", "64",
                                    "--weights", '{"click": 1.0, "purchase": 0.5, "revenue": 0.0}',
                                    "--encoder-lr", "0.001"]))
    for key in TRAIN_INPUTS:
        given.pop(key)
    from_flags = TrainConfig(**given, seed=5, progress=False)
    section = config_from_dict({"reward": {"max_epochs": 7, "lr": 0.01, "batch_size": 64, "encoder_lr": 0.001,
                                           "weights": {"click": 1.0, "purchase": 0.5, "revenue": 0.0}}}).reward
    assert section.train_config(seed=5, progress=False) == from_flags
    assert from_flags.weights == {"click": 1.0, "purchase": 0.5, "revenue": 0.0}


def test_explicit_seed_wins_over_the_run_seed():
    section = config_from_dict({"reward": {"seed": 11}}).reward
    assert section.train_config(seed=3, progress=False).seed == 11
    assert config_from_dict({}).reward.train_config(seed=3, progress=False).seed == 3


def test_quickstart_effective_reward_config_is_pinned():
    """What the quickstart's reward stage trains with (before issue 21 too: [reward] gave encoder, mode,
    max_epochs; the trainer's defaults the rest)."""
    section = load_config(EXPERIMENTS / "quickstart.toml").reward
    assert (section.max_rows, section.allow_weak) == (0, False)
    got = dataclasses.asdict(section.train_config(seed=123, progress=False))
    assert got == dataclasses.asdict(TrainConfig(encoder="default", mode="frozen", max_epochs=10, seed=123,
                                                 progress=False))
    assert (got["batch_size"], got["lr"], got["patience"], got["calibration"]) == (1024, 2e-3, 3, "auto")


@pytest.mark.parametrize(("args", "pattern"), [
    (["--max-epoch", "3"], r"unknown option --max-epoch; did you mean --max-epochs"),
    (["--mode", "finetune"], r"training mode must be one of frozen, lora, full"),
    (["--weights", "click"], r"not a JSON object"),
    (["--patience", "-1"], r"patience must be >= 0"),
])
def test_bad_options_are_one_paragraph(args, pattern, tmp_path):
    from typer.testing import CliRunner

    from rlopt.cli import app

    result = CliRunner().invoke(app, ["reward", "train", "--logs", "l.csv", "--catalog", "c.csv",
                                      "--out", str(tmp_path / "o"), *args])
    assert isinstance(result.exception, InputError), result.output
    assert re.search(pattern, str(result.exception)), str(result.exception)
    assert not (tmp_path / "o").exists()


def test_help_lists_every_field():
    from typer.testing import CliRunner

    from rlopt.cli import app

    result = CliRunner().invoke(app, ["reward", "train", "--help"])
    assert result.exit_code == 0 and "Examples" in result.output
    for f in dataclasses.fields(TrainConfig):
        assert f"--{f.name}" in result.output, f.name
