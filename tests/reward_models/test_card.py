"""``rlopt reward train`` writes a model card (README.md): model, data, held-out metrics with the health
status, intended use and the loading path; the same seed and inputs give the same bytes."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from typer.testing import CliRunner

from reward_models.card import CARD_NAME, data_summary, model_card
from rlopt.cli import app


@pytest.fixture(scope="module")
def sim_dir(tmp_path_factory):
    from rlopt.market import DEFAULT_MARKET, Marketplace, simulate

    out = tmp_path_factory.mktemp("sim")
    simulate(Marketplace.from_toml(DEFAULT_MARKET), 6000, seed=1).write(out)
    return out


def _train(sim_dir, encoder, out):
    result = CliRunner().invoke(app, [
        "reward", "train", "--logs", str(sim_dir / "train.parquet"), "--catalog", str(sim_dir / "catalog.parquet"),
        "--holdout", str(sim_dir / "holdout.parquet"), "--out", str(out), "--encoder", str(encoder),
        "--epochs", "2", "--precision", "fp32", "--seed", "3", "--json"])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def model_dir(sim_dir, tiny_encoder_dir, tmp_path_factory):
    return _train(sim_dir, tiny_encoder_dir, tmp_path_factory.mktemp("cards") / "a")


def test_card_says_what_the_model_is_what_it_saw_and_how_it_did(model_dir, sim_dir, tiny_encoder_dir):
    card = (model_dir / CARD_NAME).read_text(encoding="utf-8")
    config = json.loads((model_dir / "reward_config.json").read_text())
    assert f"**Encoder:** `{tiny_encoder_dir}`" in card and "ESMM" in card
    train = pd.read_parquet(sim_dir / "train.parquet")
    first = pd.to_datetime(train["timestamp"].min(), unit="ms", utc=True).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f"| training logs | {sim_dir / 'train.parquet'} | {len(train)} | {first} |" in card
    assert f"| holdout logs | {sim_dir / 'holdout.parquet'} | " in card and "| catalog | " in card
    assert f"**Health: {config['health']['status']}** — click AUC {config['health']['auc']:.3f}" in card
    holdout_auc = config["metrics"]["holdout"]["click_auc"]
    assert re.search(rf"\| click_auc \| [\d.]+ \| {holdout_auc:.4g} \|", card)
    assert "## Intended use" in card and "Not a measurement" in card
    assert 'RewardModel.from_pretrained("path/to/this/directory")' in card and "rlopt reward score --model" in card
    assert "No pickle" in card and str(model_dir) not in card  # no absolute path of where it was written


@pytest.mark.slow  # a second training; by default test_same_seed_same_model (the config) and
# tests/pipeline/test_reward_card.py (the card is model_card of that config and the inputs) cover it
def test_same_seed_same_card(model_dir, sim_dir, tiny_encoder_dir, tmp_path):
    again = _train(sim_dir, tiny_encoder_dir, tmp_path / "b")
    assert (model_dir / CARD_NAME).read_bytes() == (again / CARD_NAME).read_bytes()


def test_the_documented_loading_path_works(model_dir, sim_dir):
    card = (model_dir / CARD_NAME).read_text(encoding="utf-8")
    code = card.split("```python\n", 1)[1].split("```", 1)[0].replace("path/to/this/directory", str(model_dir))
    catalog = pd.read_parquet(sim_dir / "catalog.parquet")
    copies = pd.read_parquet(sim_dir / "holdout.parquet").head(5)[["copy_text", "item_id", "placement", "segment"]]
    scope = {"copies": copies, "catalog": catalog}
    exec(compile(code, "README.md", "exec"), scope)  # the card's own snippet, as a reader would paste it
    assert list(scope["scores"].columns) == ["p_click", "p_purchase", "expected_revenue", "reward"]
    assert len(scope["scores"]) == 5


def test_card_without_holdout_or_health_still_renders():
    card = model_card({"encoder": "default", "mode": "frozen", "metrics": {"valid": {"n": 10, "click_auc": float("nan")}}},
                      data_summary([("training logs", "logs.csv", pd.DataFrame({"x": [1, 2]}))]))
    assert "| training logs | logs.csv | 2 |  |  |" in card and "| click_auc | n/a |" in card
    assert "Health" not in card
