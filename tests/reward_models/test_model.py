"""Training, scoring invariants, persistence and reproducibility of the reward model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reward_models import RewardModel, train_reward_model
from reward_models.model import CONFIG_NAME, WEIGHTS_NAME


def _contexts(synth, n=40):
    logs = synth.logs.iloc[:n]
    return logs[["copy_text", "item_id", "segment", "placement", "user_features"]].reset_index(drop=True)


def test_tiny_model_learns(tiny_model):
    holdout = tiny_model.config["metrics"]["holdout"]
    assert holdout["click_auc"] > 0.6
    assert holdout["purchase_auc"] > 0.6
    assert holdout["slot_term_included"] is True
    assert tiny_model.config["metrics"]["best_epoch"] >= 1


def test_score_columns_and_purchase_below_click(tiny_model, synth):
    scored = tiny_model.score(_contexts(synth, 200), synth.catalog)
    assert list(scored.columns) == ["p_click", "p_purchase", "expected_revenue", "reward"]
    assert ((scored["p_click"] > 0) & (scored["p_click"] < 1)).all()
    assert (scored["p_purchase"] <= scored["p_click"]).all()
    assert (scored["expected_revenue"] >= 0).all()
    w = tiny_model.weights
    expected = w.click * scored["p_click"] + w.purchase * scored["p_purchase"]
    np.testing.assert_allclose(scored["reward"], expected, rtol=1e-12)


def test_same_copy_in_two_slots_scores_the_same(tiny_model, synth):
    frame = pd.concat([_contexts(synth, 10)] * 2, ignore_index=True)
    frame["position"] = [0] * 10 + [1] * 10
    scored = tiny_model.score(frame, synth.catalog)
    np.testing.assert_array_equal(scored["reward"].to_numpy()[:10], scored["reward"].to_numpy()[10:])
    # ...while on logged rows the slot term does change the click probability
    p_logged, _, _ = tiny_model.predict(frame, synth.catalog, with_slot=True)
    assert not np.allclose(p_logged[:10], p_logged[10:])


def test_save_load_round_trip_identical(tiny_model, synth, tmp_path):
    tiny_model.save_pretrained(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([CONFIG_NAME, WEIGHTS_NAME])
    loaded = RewardModel.from_pretrained(tmp_path)
    frame = _contexts(synth, 100)
    tiny_model.encoder.clear_cache()
    pd.testing.assert_frame_equal(tiny_model.score(frame, synth.catalog), loaded.score(frame, synth.catalog))


def test_same_seed_same_model(tiny_encoder_dir, synth, synth_split):
    train, _ = synth_split
    kw = dict(encoder=str(tiny_encoder_dir), max_epochs=2, progress=False, seed=3)
    a = train_reward_model(train.iloc[:2000], synth.catalog, **kw)
    b = train_reward_model(train.iloc[:2000], synth.catalog, **kw)
    for (ka, va), (kb, vb) in zip(a.net.state_dict().items(), b.net.state_dict().items(), strict=True):
        assert ka == kb and np.array_equal(va.numpy(), vb.numpy())


def test_unknown_category_and_segment_score(tiny_model, synth):
    catalog = synth.catalog.copy()
    catalog.loc[0, "category"] = "never-seen-category"
    frame = pd.DataFrame({"copy_text": ["brand new thing"], "item_id": [catalog.loc[0, "item_id"]],
                          "segment": ["martians"], "placement": ["carrier_pigeon"]})
    scored = tiny_model.score(frame, catalog)
    assert np.isfinite(scored.to_numpy()).all()


@pytest.mark.parametrize("mode", ["lora", "full"])
def test_trainable_encoder_modes(tiny_encoder_dir, synth, synth_split, tmp_path, mode):
    train, _ = synth_split
    model = train_reward_model(train.iloc[:400], synth.catalog, encoder=str(tiny_encoder_dir), mode=mode,
                               max_epochs=1, progress=False, batch_size=64)
    model.save_pretrained(tmp_path)
    loaded = RewardModel.from_pretrained(tmp_path)
    # the fine-tuned encoder weights travel in model.safetensors and differ from the base encoder
    from safetensors.torch import load_file
    from transformers import AutoModel

    saved = load_file(str(tmp_path / WEIGHTS_NAME))
    base_model = AutoModel.from_pretrained(str(tiny_encoder_dir))
    name = "encoder.encoder.layer.0.attention.self.query.weight"
    assert name in saved
    assert not np.allclose(saved[name].numpy(), base_model.state_dict()[name[len("encoder."):]].numpy())
    frame = _contexts(synth, 20)
    model.encoder.clear_cache()
    pd.testing.assert_frame_equal(model.score(frame, synth.catalog), loaded.score(frame, synth.catalog))


def test_ipw_weights_change_the_fit(tiny_encoder_dir, synth, synth_split):
    train, _ = synth_split
    train = train.iloc[:1500].copy()
    train["propensity"] = np.where(train["clicked"] > 0, 0.02, 0.5)
    kw = dict(encoder=str(tiny_encoder_dir), max_epochs=1, progress=False)
    plain = train_reward_model(train, synth.catalog, **kw)
    ipw = train_reward_model(train, synth.catalog, ipw_clip=0.1, **kw)
    assert not np.allclose(plain.net.ctx_in.weight.detach().numpy(), ipw.net.ctx_in.weight.detach().numpy())
