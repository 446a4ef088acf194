"""The reward stage of ``rlopt run`` writes the reward model's card (README.md) as ``rlopt reward train``
does, through the same call (``reward_models.card.save_with_card``): tiny encoder, small market."""

from __future__ import annotations

import json

import pandas as pd

import rlopt
from reward_models import RewardModel
from reward_models.card import CARD_NAME, data_summary, model_card
from rlopt.pipeline.config import config_from_dict
from rlopt.pipeline.runner import run_stages
from rlopt.pipeline.stages import build_stages
from rlopt.testing import write_small_market


def test_the_reward_stage_writes_the_model_card(tmp_path, tiny_encoder_dir):
    market = write_small_market(tmp_path / "market.toml", n_users=300)
    cfg = config_from_dict({"run": {"out_dir": "run"}, "data": {"market": str(market), "impressions": 3000},
                            "reward": {"encoder": str(tiny_encoder_dir), "max_epochs": 1}}, base_dir=tmp_path)
    stages = [s for s in build_stages(cfg) if s.name in ("data", "validate", "reward")]
    result = run_stages(cfg, stages, log=lambda _: None)
    assert result.statuses() == {"data": "ran", "validate": "ran", "reward": "ran"}

    model_dir = tmp_path / "run" / "reward" / "model"
    card = (model_dir / CARD_NAME).read_text(encoding="utf-8")
    train = pd.read_parquet(tmp_path / "run" / "validate" / "train.parquet")
    catalog = pd.read_parquet(tmp_path / "run" / "validate" / "catalog.parquet")
    assert "Trained by the reward stage of `rlopt run`" in card and f"rlopt {rlopt.__version__}" in card
    assert f"| training logs from simulated market market.toml | validate/train.parquet | {len(train)} | " in card
    assert f"| catalog | validate/catalog.parquet | {len(catalog)} |" in card
    assert f"**Encoder:** `{tiny_encoder_dir}`" in card and "## How to load" in card
    assert str(tmp_path) not in card.replace(str(tiny_encoder_dir), "")  # no absolute path of the run
    # the card is model_card of the saved config and the stage's inputs, nothing else (same bytes)
    config = json.loads((model_dir / "reward_config.json").read_text())
    rows = data_summary([("training logs from simulated market market.toml", "validate/train.parquet", train),
                         ("catalog", "validate/catalog.parquet", catalog)])
    assert card == model_card(config, rows, rlopt_version=rlopt.__version__,
                              trained_by="the reward stage of `rlopt run`")
    # and the directory loads as the card says
    scores = RewardModel.from_pretrained(model_dir).score(train.head(3), catalog)
    assert list(scores.columns) == ["p_click", "p_purchase", "expected_revenue", "reward"] and len(scores) == 3
