"""Bad input: each rule raises InputError naming the file, row, column or head concerned."""

from __future__ import annotations

import pandas as pd
import pytest

from reward_models import RewardModel, train_reward_model
from reward_models.model import CONFIG_NAME, WEIGHTS_NAME
from rlopt.errors import InputError


def _logs(synth, n=300):
    return synth.logs.iloc[:n].copy()


@pytest.mark.parametrize(
    ("mutate", "pattern", "column"),
    [
        (lambda df: df.assign(clicked=0, converted=0), r"no clicks.*click head", "clicked"),
        (lambda df: df.assign(converted=0), r"no purchases.*purchase head", "converted"),
        (lambda df: df.assign(clicked=1, converted=0), r"every impression was clicked", "clicked"),
        (lambda df: df.assign(converted=df["clicked"]), r"every click converted", "converted"),
        (lambda df: df.drop(columns=["clicked"]), r"lacks required column", "clicked"),
    ],
)
def test_untrainable_logs(synth, mutate, pattern, column):
    with pytest.raises(InputError, match=pattern) as info:
        train_reward_model(mutate(_logs(synth)), synth.catalog, encoder="unused", source="logs.csv")
    assert info.value.column == column
    assert info.value.file == "logs.csv"


def test_train_item_not_in_catalog(synth, tiny_encoder_dir):
    logs = _logs(synth, 2000)
    logs.iloc[1500, logs.columns.get_loc("item_id")] = "ghost-item"
    with pytest.raises(InputError, match="ghost-item") as info:
        train_reward_model(logs, synth.catalog, encoder=str(tiny_encoder_dir), source="logs.csv", progress=False)
    assert info.value.column == "item_id"


def test_bad_config_values(synth):
    with pytest.raises(InputError, match="mode"):
        train_reward_model(_logs(synth), synth.catalog, mode="half")
    with pytest.raises(InputError, match="ipw_clip"):
        train_reward_model(_logs(synth), synth.catalog, ipw_clip=2.0)


def test_ipw_without_propensity(synth, tiny_encoder_dir):
    logs = _logs(synth, 2000).drop(columns=["propensity"])
    with pytest.raises(InputError, match="propensity"):
        train_reward_model(logs, synth.catalog, encoder=str(tiny_encoder_dir), ipw_clip=0.1, progress=False)


def test_score_unknown_item_names_it(tiny_model, synth):
    frame = pd.DataFrame({"copy_text": ["great", "fine"], "item_id": [synth.catalog.item_id[0], "nope-42"],
                          "segment": ["parents"] * 2, "placement": ["sms"] * 2})
    with pytest.raises(InputError, match="nope-42") as info:
        tiny_model.score(frame, synth.catalog, source="copies.jsonl")
    assert (info.value.row, info.value.column, info.value.file) == (2, "item_id", "copies.jsonl")


def test_score_empty_copy_names_its_line(tiny_model, synth):
    frame = pd.DataFrame({"copy_text": ["great", "fine", "   "], "item_id": [synth.catalog.item_id[0]] * 3,
                          "segment": ["parents"] * 3, "placement": ["sms"] * 3})
    with pytest.raises(InputError, match="copy_text is empty") as info:
        tiny_model.score(frame, synth.catalog, source="copies.jsonl")
    assert (info.value.row, info.value.column) == (3, "copy_text")


@pytest.mark.parametrize("missing", [CONFIG_NAME, WEIGHTS_NAME])
def test_model_dir_missing_file(tiny_model, tmp_path, missing):
    tiny_model.save_pretrained(tmp_path)
    (tmp_path / missing).unlink()
    with pytest.raises(InputError, match=missing) as info:
        RewardModel.from_pretrained(tmp_path)
    assert info.value.file.endswith(missing)


def test_model_dir_absent(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        RewardModel.from_pretrained(tmp_path / "nothing-here")
