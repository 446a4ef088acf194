"""One OPEConfig (rlopt.ope.config): the flags of `rlopt ope`, the keys of [ope] and Python share its names."""

from __future__ import annotations

import dataclasses

import click
import pytest
import typer

from rlopt.cli import app
from rlopt.cli.ope_cmds import INPUT_OPTIONS
from rlopt.errors import InputError
from rlopt.ope.config import OPEConfig
from rlopt.pipeline.config import config_from_dict


def _ope_command() -> click.Command:
    group = typer.main.get_command(app)
    return group.commands["ope"]  # type: ignore[attr-defined]


def test_every_field_is_a_flag_and_every_flag_a_field_or_an_input():
    params = {p.name for p in _ope_command().params}
    fields = {f.name for f in dataclasses.fields(OPEConfig)}
    assert params - set(INPUT_OPTIONS) == fields


def test_every_field_is_an_ope_key_with_the_cli_defaults():
    cfg = config_from_dict({})
    assert cfg.ope == OPEConfig()  # one set of defaults
    options = {p.name: p for p in _ope_command().params}
    for f in dataclasses.fields(OPEConfig):
        default = options[f.name].default
        expected = getattr(OPEConfig(), f.name)
        if f.name == "estimators":  # comma-separated on the command line
            default = default.split(",")
        if f.name == "policy":  # required on the command line (no run reward model there)
            continue
        assert default == expected, f.name


@pytest.mark.parametrize(("kwargs", "key"), [
    ({"alpha": 0.0}, "alpha"), ({"n_bootstrap_samples": 0}, "n_bootstrap_samples"), ({"n_folds": 1}, "n_folds"),
    ({"interval": "bootstrap-t"}, "interval"), ({"q_model": "forest"}, "q_model"), ({"estimators": ["ipw", "x"]}, "estimators"),
    ({"reward": "bought"}, "reward"), ({"lambda_": -1.0}, "lambda_"),
])
def test_bad_values_name_the_field(kwargs, key):
    with pytest.raises(InputError) as err:
        OPEConfig(**kwargs)
    assert err.value.key == key
