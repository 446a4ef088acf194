"""Encoder precision (auto | fp32 | bf16): agreement, resolution, persistence and bad values."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from reward_models import RewardModel, train_reward_model
from reward_models.encoder import TextEncoder, bf16_native, resolve_precision
from reward_models.model import CONFIG_NAME
from rlopt.errors import InputError

TEXTS = ["Half price this week on the garden hose", "Crafted to last: oak chair", "Free delivery!",
         "you will not believe this toaster, act now or miss out", "x"]


def test_fp32_and_bf16_embeddings_agree(tiny_encoder_dir):
    fp32 = TextEncoder(str(tiny_encoder_dir), precision="fp32").encode(TEXTS, use_cache=False)
    bf16 = TextEncoder(str(tiny_encoder_dir), precision="bf16").encode(TEXTS, use_cache=False)
    assert fp32.dtype == bf16.dtype == np.float32
    cos = (fp32 * bf16).sum(1) / (np.linalg.norm(fp32, axis=1) * np.linalg.norm(bf16, axis=1))
    assert cos.min() > 0.999
    assert not np.array_equal(fp32, bf16)  # bf16 really ran


def test_batched_encoding_matches_one_text_at_a_time(tiny_encoder_dir):
    enc = TextEncoder(str(tiny_encoder_dir), precision="fp32", batch_size=2)
    batched = enc.encode(TEXTS + TEXTS[:2], use_cache=False)
    with torch.inference_mode():
        single = np.stack([enc.forward([t]).numpy()[0] for t in TEXTS + TEXTS[:2]])
    np.testing.assert_allclose(batched, single, atol=1e-5)


@pytest.mark.parametrize(("native", "expected"), [(True, "bf16"), (False, "fp32")])
def test_auto_follows_the_hardware(tiny_encoder_dir, monkeypatch, native, expected):
    """auto = bf16 exactly where the device does bf16 natively; the embeddings are computed in it."""
    monkeypatch.setattr("reward_models.encoder.bf16_native", lambda device="cpu": native)
    enc = TextEncoder(str(tiny_encoder_dir))
    assert enc.precision == "auto" and enc.compute_precision == expected
    same = TextEncoder(str(tiny_encoder_dir), precision=expected).encode(TEXTS, use_cache=False)
    np.testing.assert_array_equal(enc.encode(TEXTS, use_cache=False), same)  # auto ran as that precision
    assert resolve_precision("bf16") == "bf16" and resolve_precision("fp32") == "fp32"  # explicit ones stay


def test_bf16_check_failure_means_fp32(monkeypatch):
    def boom():
        raise RuntimeError("no mkldnn")

    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", boom, raising=False)
    assert bf16_native("cpu") is False
    assert resolve_precision("auto", "cpu") == "fp32"


@pytest.mark.parametrize("make", [
    lambda d: TextEncoder(str(d), precision="fp16"),
    lambda d: resolve_precision("half"),
])
def test_invalid_precision_names_the_valid_values(tiny_encoder_dir, make):
    with pytest.raises(InputError, match="auto, fp32, bf16") as info:
        make(tiny_encoder_dir)
    assert info.value.column == "precision"


def test_invalid_precision_in_training_fails_before_loading(synth):
    with pytest.raises(InputError, match="auto, fp32, bf16"):
        train_reward_model(synth.logs.iloc[:300], synth.catalog, encoder="unused", precision="int8")


@pytest.mark.parametrize(("precision", "computed"), [("auto", "fp32"), ("fp32", "fp32"), ("bf16", "bf16")])
def test_precision_round_trips_through_save_and_load(tiny_encoder_dir, synth, synth_split, tmp_path, monkeypatch,
                                                     precision, computed):
    monkeypatch.setattr("reward_models.encoder.bf16_native", lambda device="cpu": False)  # a CPU without bf16
    train, _ = synth_split
    model = train_reward_model(train.iloc[:1500], synth.catalog, encoder=str(tiny_encoder_dir), max_epochs=1,
                               progress=False, precision=precision)
    assert model.config["precision"] == precision
    assert model.config["encoder_precision"] == computed  # what ran, not what was asked
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / CONFIG_NAME).read_text())["precision"] == precision
    loaded = RewardModel.from_pretrained(tmp_path)
    assert loaded.encoder.precision == precision
    frame = synth.logs.iloc[:50][["copy_text", "item_id", "segment", "placement"]].reset_index(drop=True)
    model.encoder.clear_cache()
    pd.testing.assert_frame_equal(model.score(frame, synth.catalog), loaded.score(frame, synth.catalog))
    assert RewardModel.from_pretrained(tmp_path, precision="fp32").encoder.precision == "fp32"


def test_checkpoint_without_precision_loads_as_fp32(tiny_model, tmp_path):
    tiny_model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / CONFIG_NAME).read_text())
    config.pop("precision")
    config.pop("encoder_precision")
    (tmp_path / CONFIG_NAME).write_text(json.dumps(config))
    assert RewardModel.from_pretrained(tmp_path).encoder.precision == "fp32"
