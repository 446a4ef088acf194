"""Issue 19: the scorer chosen on the user's logs, the calibration floor, the health gate, small shops."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from experiments.markets.small_shop import make_small_shop
from reward_models.baseline import HashedNgramBaseline
from reward_models.calibration import Calibrator, select_calibrator
from reward_models.health import assess, data_warnings, delong_auc, require_usable, traffic_power
from reward_models.stacking import select_combiner
from rlopt.cli import app
from rlopt.errors import InputError


@pytest.fixture(scope="module")
def shop():
    return make_small_shop(3000, 1500, seed=0)


@pytest.fixture(scope="module")
def shop_model(shop, tiny_encoder_dir):
    """The small shop trained with the tiny random BERT: an encoder with next to no signal."""
    from reward_models import train_reward_model

    return train_reward_model(shop.train, shop.catalog, holdout=shop.holdout, encoder=str(tiny_encoder_dir),
                              max_epochs=4, precision="fp32", progress=False, seed=0)


# ------------------------------------------------------------------ the small shop
def test_small_shop_is_seeded_contract_logs_with_known_ctrs(shop, tmp_path):
    from rlopt.data import read_catalog, read_logs

    again = make_small_shop(3000, 1500, seed=0)
    pd.testing.assert_frame_equal(shop.train, again.train)
    assert not shop.train.equals(make_small_shop(3000, 1500, seed=1).train)
    assert shop.copies.groupby("item_id").size().between(3, 4).all() and len(shop.catalog) == 30
    out = shop.write(tmp_path)
    cat = read_catalog(out / "catalog.csv")
    logs = read_logs(out / "train.csv", cat)  # the contract reader accepts the hand-written shop
    assert len(logs) == 3000 and logs["segment"].nunique() == 3 and logs["placement"].nunique() == 3
    truth_auc = roc_auc_score(shop.holdout["clicked"], shop.truth_holdout["p_click"])
    assert truth_auc > 0.57  # the truth separates clicks: there is signal to find


# ------------------------------------------------------------------ baseline persistence
def test_baseline_round_trips_through_tensors_and_json(shop):
    base = HashedNgramBaseline().fit(shop.train, shop.catalog)
    tensors, config = base.state()
    json.dumps(config)  # JSON-able: no pickles
    again = HashedNgramBaseline.from_state(tensors, json.loads(json.dumps(config)))
    for with_slot in (True, False):
        np.testing.assert_allclose(again.predict(shop.holdout, shop.catalog, with_slot),
                                   base.predict(shop.holdout, shop.catalog, with_slot))
    p_click, _ = base.predict(shop.holdout, shop.catalog)
    assert roc_auc_score(shop.holdout["clicked"], p_click) > 0.55


# ------------------------------------------------------------------ calibration floor
def test_calibration_refuses_a_platt_fit_that_flattens_the_scores():
    rng = np.random.default_rng(0)
    n = 2000
    z = rng.normal(-2.5, 1.0, n)  # scores unrelated to the outcomes
    clicked = (rng.random(n) < 0.06).astype(float)
    converted = clicked * (rng.random(n) < 0.3)
    platt = Calibrator("platt").fit(z, np.zeros(n), z, clicked, converted)
    assert platt.click[0] < 0.05  # what the issue saw: the log-loss optimum is a constant
    cal, report = select_calibrator(z, np.zeros(n), z, clicked, converted, candidates=("platt",))
    assert cal.method == "none" and report["rejected"][0]["method"] == "platt"
    assert "slope" in report["rejected"][0]["reason"]
    p_click, _ = cal.transform(z, 0.0, z)
    assert np.std(p_click) / np.mean(p_click) > 0.1


# ------------------------------------------------------------------ scorer selection
def test_blend_wins_when_both_models_carry_different_signal():
    rng = np.random.default_rng(1)
    n = 6000
    a, b = rng.normal(0, 1, n), rng.normal(0, 1, n)
    truth = expit(-2.5 + 0.8 * a + 0.8 * b)
    clicked = (rng.random(n) < truth).astype(float)
    converted = clicked * (rng.random(n) < 0.3)
    enc, base = expit(-2.5 + 0.8 * a), expit(-2.5 + 0.8 * b)
    comb, report, oof = select_combiner((enc, enc * 0.3), (enc, enc * 0.3), (base, base * 0.3), clicked, converted)
    assert comb.choice == "blend" and comb.click[0] > 0.3 and comb.click[1] > 0.3
    assert report["cv_logloss"]["blend"] < min(report["cv_logloss"]["encoder"], report["cv_logloss"]["baseline"])
    p_click, p_purchase = comb.blend((enc, enc * 0.3), (base, base * 0.3))
    assert (p_purchase <= p_click).all() and roc_auc_score(clicked, p_click) > roc_auc_score(clicked, enc)


def test_trained_model_scores_with_the_chosen_scorer_everywhere(shop, shop_model, tmp_path):
    from reward_models import RewardFunction, RewardModel

    metrics = shop_model.config["metrics"]
    losses = metrics["scorer_selection"]["cv_logloss"]
    assert losses[shop_model.combiner.choice] <= losses["baseline"]  # never worse than the baseline
    assert {"holdout_encoder", "holdout_baseline"} <= set(metrics)
    shop_model.save_pretrained(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors", "reward_config.json"]
    loaded = RewardModel.from_pretrained(tmp_path)
    assert loaded.combiner == shop_model.combiner
    frame = shop.holdout.head(200)
    np.testing.assert_allclose(loaded.score(frame, shop.catalog)["reward"], shop_model.score(frame, shop.catalog)["reward"],
                               rtol=1e-5, atol=1e-7)
    base_pc, _ = loaded.baseline.predict(frame, shop.catalog, with_slot=False)
    np.testing.assert_allclose(loaded.predict(frame, shop.catalog, component="baseline")[0], base_pc)
    reward = RewardFunction(tmp_path, shop.catalog)(
        completions=frame["copy_text"].tolist(), item_id=frame["item_id"].tolist(),
        placement=frame["placement"].tolist(), segment=frame["segment"].tolist())
    np.testing.assert_allclose(reward, loaded.score(frame, shop.catalog)["reward"], rtol=1e-5, atol=1e-7)


# ------------------------------------------------------------------ health
def test_delong_auc_matches_sklearn_and_has_a_sane_interval():
    rng = np.random.default_rng(2)
    y = (rng.random(3000) < 0.1).astype(int)
    p = rng.normal(0, 1, 3000) + 0.5 * y
    auc, se = delong_auc(y, p)
    assert auc == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert 0.005 < se < 0.05


def test_health_flags_constant_scores_and_passes_informative_ones():
    rng = np.random.default_rng(3)
    n = 4000
    items = rng.integers(0, 40, n)
    copy = rng.integers(0, 3, n)
    truth = expit(-2.7 + 0.5 * copy)
    y = (rng.random(n) < truth).astype(int)
    scores = pd.DataFrame({"item_id": items, "copy_text": copy.astype(str), "p_click": truth})
    good = assess(y, truth, truth, scores, rows="test")
    assert good["status"] == "ok" and good["auc_low"] > 0.5 and good["reasons"] == []
    flat = assess(y, np.full(n, y.mean()), truth, scores.assign(p_click=y.mean()), rows="test")
    assert flat["status"] == "no_signal"
    assert any("same score" in r for r in flat["reasons"]) and any("more impressions" in r for r in flat["reasons"])


def test_traffic_power_uses_the_ab_power_functions():
    from rlopt.ab.power import mde_proportions, sample_size_proportions

    out = traffic_power(0.065, 3000, 0.2)
    assert out["min_detectable_lift"] == pytest.approx(mde_proportions(0.065, 1500) / 0.065)
    assert out["ab_sample_size_per_arm"] == sample_size_proportions(0.065, 0.2, relative=True)
    assert traffic_power(0.065, 300_000)["min_detectable_lift"] < out["min_detectable_lift"]


def test_health_is_saved_and_reports_the_traffic(shop_model):
    health = shop_model.config["health"]
    assert health["status"] in ("ok", "weak", "no_signal")
    for key in ("auc", "auc_low", "auc_high", "baseline_auc", "score_std", "calibration_slope", "reasons"):
        assert key in health
    assert health["auc_low"] < health["auc"] < health["auc_high"]
    assert 0 < health["min_detectable_lift"] < 1 and health["traffic"]["impressions"] == 3000
    json.dumps(health, allow_nan=False)


def _model_dir(tmp_path, health):
    (tmp_path / "reward_config.json").write_text(json.dumps({"health": health}))
    return tmp_path


HEALTH = {"auc": 0.51, "auc_low": 0.46, "auc_high": 0.56, "baseline_auc": 0.6, "score_std": 0.0,
          "calibration_slope": 0.0, "reasons": ["click AUC 0.510 [0.460, 0.560] is not clearly above 0.5"]}


def test_require_usable_refuses_no_signal_unless_allowed(tmp_path):
    model_dir = _model_dir(tmp_path, {**HEALTH, "status": "no_signal"})
    with pytest.raises(InputError, match="no_signal.*0.510.*allow-weak-reward-model"):
        require_usable(model_dir)
    with pytest.warns(UserWarning, match="no_signal"):
        require_usable(model_dir, allow_weak=True)


def test_require_usable_warns_on_weak_and_passes_old_models(tmp_path):
    with pytest.warns(UserWarning, match="weak"):
        require_usable(_model_dir(tmp_path, {**HEALTH, "status": "weak"}))
    (tmp_path / "reward_config.json").write_text("{}")
    assert require_usable(tmp_path) is None


def test_tune_grpo_stops_with_exit_2_on_a_no_signal_reward_model(tmp_path):
    (tmp_path / "rm").mkdir()
    model_dir = _model_dir(tmp_path / "rm", {**HEALTH, "status": "no_signal"})
    args = ["tune", "--method", "grpo", "--logs", str(tmp_path / "l.csv"), "--catalog", str(tmp_path / "c.csv"),
            "--reward-model", str(model_dir), "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(app, args)
    assert isinstance(result.exception, InputError)  # the CLI's main() maps it to exit 2
    assert "no_signal" in str(result.exception) and "allow-weak-reward-model" in str(result.exception)
    allowed = CliRunner().invoke(app, [*args, "--allow-weak-reward-model"])
    assert "allow-weak-reward-model" not in str(allowed.exception)  # past the gate (then the missing logs)
    assert "no_signal" in allowed.stderr  # but said so


# ------------------------------------------------------------------ bad input
def test_data_warnings_name_what_the_logs_lack(shop):
    logs = shop.train
    assert data_warnings(logs) == []
    one_copy = logs.drop_duplicates("item_id").merge(logs[["item_id"]], on="item_id")
    lacking = one_copy.drop(columns=["propensity"]).assign(segment="all")
    text = " ".join(data_warnings(lacking))
    assert "one logged copy" in text and "no propensity" in text and "one segment" in text


def test_one_copy_per_item_trains_but_is_no_signal(shop, tiny_encoder_dir):
    from reward_models import train_reward_model

    first = shop.train.groupby("item_id")["copy_text"].transform("first")
    logs = shop.train[shop.train["copy_text"] == first]
    model = train_reward_model(logs, shop.catalog, encoder=str(tiny_encoder_dir), max_epochs=2, precision="fp32",
                               progress=False)
    health = model.config["health"]
    assert health["status"] == "no_signal"
    assert any("single logged copy" in r for r in health["reasons"])
    assert any("one logged copy" in w for w in health["warnings"])


def test_logs_without_clicks_exit_2(shop, tmp_path):
    out = shop.write(tmp_path / "shop")
    logs = pd.read_csv(out / "train.csv").assign(clicked=0, converted=0, revenue=0.0)
    logs.to_csv(out / "train.csv", index=False)
    result = CliRunner().invoke(app, ["reward", "train", "--logs", str(out / "train.csv"), "--catalog",
                                      str(out / "catalog.csv"), "--out", str(tmp_path / "rm")])
    assert isinstance(result.exception, InputError) and "no clicks" in str(result.exception)


def test_saved_model_ranks_the_shops_best_copy_above_the_bland_one(shop, shop_model):
    """The issue's complaint: ``reward score`` put the bland title above "Loved by 10,000+ shoppers"."""
    copies = shop.copies.assign(segment="regulars", placement="shop_home")
    scored = copies.assign(p=shop_model.score(copies, shop.catalog)["p_click"].to_numpy())
    by = {t: scored[scored["template"] == t].set_index("item_id")["p"] for t in ("bland", "social_proof")}
    both = by["bland"].index.intersection(by["social_proof"].index)
    assert len(both) >= 5
    assert (by["social_proof"][both] > by["bland"][both]).mean() >= 0.8
