"""Calibration: its own time slice, the auto choice by cross-validated log-loss, and bad values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from reward_models import train_reward_model
from reward_models.calibration import AUTO_CANDIDATES, METHODS, Calibrator, select_calibrator
from reward_models.train import split_training_logs
from rlopt.errors import InputError


def _rows(n=20_000, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(-1.5, 1.0, n)
    zv = rng.normal(-0.5, 1.0, n)
    clicked = (rng.random(n) < expit(z)).astype(int)
    converted = clicked * (rng.random(n) < expit(zv))
    return z, np.zeros(n), zv, clicked, converted


def test_split_is_disjoint_and_in_time_order(synth):
    logs = synth.logs.sample(frac=1.0, random_state=0)  # row order is not time order
    fit, valid, calib = split_training_logs(logs, 0.1, 0.1)
    assert len(fit) + len(valid) + len(calib) == len(logs)
    assert not (set(fit.index) & set(valid.index) or set(valid.index) & set(calib.index))
    assert fit["timestamp"].max() <= valid["timestamp"].min()
    assert valid["timestamp"].max() <= calib["timestamp"].min()
    assert len(calib) == pytest.approx(0.1 * len(logs), abs=1)


def test_auto_fixes_a_wrong_base_rate():
    z, b, zv, c, v = _rows()
    cal, report = select_calibrator(z + 1.0, b, zv, c, v)  # logits one nat too high
    assert cal.method == "platt"
    assert set(report["cv_logloss"]) == set(AUTO_CANDIDATES)
    assert report["cv_logloss"]["platt"] < report["cv_logloss"]["none"]
    p_click, _ = cal.transform(z + 1.0, b, zv)
    assert abs(p_click.mean() - c.mean()) < 0.005


def test_auto_is_deterministic_and_refits_on_all_rows():
    z, b, zv, c, v = _rows(4000, seed=1)
    a, ra = select_calibrator(2 * z, b, zv, c, v, seed=3)
    b2, rb = select_calibrator(2 * z, b, zv, c, v, seed=3)
    assert ra == rb and a.to_dict() == b2.to_dict()
    refit = Calibrator(a.method).fit(2 * z, b, zv, c, v)
    assert refit.to_dict() == a.to_dict()


def test_training_calibrates_on_its_own_slice(tiny_model):
    metrics = tiny_model.config["metrics"]
    assert metrics["n_calib"] > 0 and metrics["n_valid"] > 0
    assert metrics["calibration_method"] in METHODS
    assert tiny_model.calibrator.method == metrics["calibration_method"] == tiny_model.config["calibration_method"]
    assert tiny_model.config["calibration"] == "auto"
    assert set(metrics["calibration_selection"]["cv_logloss"]) == set(AUTO_CANDIDATES)
    assert metrics["calib"]["n"] == metrics["n_calib"]


def test_explicit_method_skips_selection(tiny_encoder_dir, synth, synth_split):
    train, _ = synth_split
    model = train_reward_model(train.iloc[:1500], synth.catalog, encoder=str(tiny_encoder_dir), max_epochs=1,
                               progress=False, calibration="temperature")
    assert model.calibrator.method == "temperature"
    assert "calibration_selection" not in model.config["metrics"]


@pytest.mark.parametrize(("overrides", "key"), [
    ({"calibration": "beta"}, "calibration"),
    ({"calibration_fraction": 0.0}, "calibration_fraction"),
    ({"valid_fraction": 0.3, "calibration_fraction": 0.3}, "calibration_fraction"),
])
def test_bad_calibration_settings(synth, overrides, key):
    with pytest.raises(InputError) as info:
        train_reward_model(synth.logs.iloc[:300], synth.catalog, encoder="unused", **overrides)
    assert info.value.key == key  # a config field: named as a key, not a data column
    if key == "calibration":
        assert "auto, platt, temperature, isotonic, none" in str(info.value)
