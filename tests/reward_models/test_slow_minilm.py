"""Real default encoder (packaged all-MiniLM-L6-v2): frozen training, scoring and a LoRA step."""

from __future__ import annotations

import numpy as np
import pytest

from reward_models import RewardModel, train_reward_model

pytestmark = pytest.mark.slow


def test_default_encoder_frozen_train_and_score(synth, synth_split, tmp_path):
    train, holdout = synth_split
    model = train_reward_model(train, synth.catalog, holdout=holdout, max_epochs=10, progress=False)
    assert model.encoder.dim == 384
    from sklearn.metrics import roc_auc_score

    truth_auc = roc_auc_score(holdout["clicked"], synth.truth.loc[holdout.index, "p_click"])
    assert model.config["metrics"]["holdout"]["click_auc"] > max(0.6, 0.8 * truth_auc)  # 4.5k rows; 0.98x at 48k (benchmark)
    model.save_pretrained(tmp_path)
    loaded = RewardModel.from_pretrained(tmp_path)
    frame = holdout[["copy_text", "item_id", "segment", "placement"]].head(50)
    model.encoder.clear_cache()
    np.testing.assert_array_equal(model.score(frame, synth.catalog).to_numpy(),
                                  loaded.score(frame, synth.catalog).to_numpy())


def test_default_encoder_lora_one_epoch(synth, synth_split):
    train, _ = synth_split
    model = train_reward_model(train.iloc[:300], synth.catalog, mode="lora", max_epochs=1, progress=False)
    assert np.isfinite(model.config["metrics"]["valid"]["click_logloss"])
