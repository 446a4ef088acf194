"""Issue 19: exposure features from the logs (leakage-free, time-ordered), the richer baseline blocks,
and the one-standard-error scorer selection."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from reward_models.baseline import HashedNgramBaseline
from reward_models.exposure import add_exposure, exposure_counts, template
from reward_models.stacking import one_se_choice, select_combiner

CATALOG = pd.DataFrame({"item_id": ["a", "b"], "title": ["Corvo Slim Wallet", "Petra Minimal Ring"],
                        "category": ["leather", "jewelry"], "brand": ["Corvo", "Petra"], "price": [50.0, 80.0],
                        "discount_pct": [0.0, 20.0]})


def _frame(rows):
    df = pd.DataFrame(rows, columns=["user_id", "timestamp", "item_id", "copy_text"])
    return df.assign(placement="feed", position=0)


def test_template_masks_the_items_words_and_numbers():
    assert template("Just in: Corvo Slim Wallet", "Corvo Slim Wallet", "Corvo") == \
        template("Just in: Petra Minimal Ring", "Petra Minimal Ring", "Petra") == "just in t"
    assert template("Petra Minimal Ring, now 20% off", "Petra Minimal Ring", "Petra") == "t now # off"


def test_counts_use_only_earlier_impressions_of_the_same_shopper():
    df = _frame([
        ("u1", 3, "b", "Just in: Petra Minimal Ring"),   # u1's 2nd: same template as at t=1
        ("u1", 1, "a", "Just in: Corvo Slim Wallet"),    # u1's 1st: nothing before
        ("u2", 2, "a", "Just in: Corvo Slim Wallet"),    # another shopper: nothing before
        ("u1", 5, "a", "Just in: Corvo Slim Wallet"),    # u1's 3rd: same copy once, same template twice
        ("u1", 4, "a", "Corvo Slim Wallet"),              # another template
    ])
    from reward_models.inputs import join_items

    seen = exposure_counts(join_items(df, CATALOG))
    np.testing.assert_array_equal(seen, [[0, 1], [0, 0], [0, 0], [1, 2], [0, 0]])
    # the window keeps only the last N impressions
    np.testing.assert_array_equal(exposure_counts(join_items(df, CATALOG), window=1)[:, 1], [1, 0, 0, 0, 0])
    # leakage-free: a row's count does not change when later rows are dropped
    early = df[df["timestamp"] <= 3]
    np.testing.assert_array_equal(exposure_counts(join_items(early, CATALOG)), seen[:3])


def test_history_gives_a_later_frame_its_past_and_fresh_copy_counts_zero():
    hist = _frame([("u1", 1, "a", "Just in: Corvo Slim Wallet")])
    later = _frame([("u1", 9, "b", "Just in: Petra Minimal Ring")]).set_index(pd.Index([42]))
    out = add_exposure(later, CATALOG, history=hist)
    assert out.index.tolist() == [42] and out[["seen_copy", "seen_template"]].iloc[0].tolist() == [0.0, 1.0]
    assert add_exposure(later, CATALOG)[["seen_copy", "seen_template"]].iloc[0].tolist() == [0.0, 0.0]
    fresh = later.drop(columns=["user_id", "timestamp"])  # generated copy: no shopper
    assert add_exposure(fresh, CATALOG)["seen_template"].tolist() == [0.0]


def _fatigue_logs(n=6000, seed=0):
    """Two templates over many items; a shopper who just saw a template clicks it much less."""
    rng = np.random.default_rng(seed)
    items = pd.DataFrame({"item_id": [f"i{k}" for k in range(20)], "title": [f"Brand{k} Thing{k}" for k in range(20)],
                          "category": "c", "brand": [f"Brand{k}" for k in range(20)], "price": 20.0,
                          "discount_pct": 0.0})
    item = rng.integers(0, 20, n)
    tpl = rng.integers(0, 2, n)
    text = np.where(tpl == 0, "Just in: " + items["title"].to_numpy()[item], items["title"].to_numpy()[item] + " - shop now")
    logs = pd.DataFrame({"event_id": [f"e{k}" for k in range(n)], "timestamp": np.arange(n),
                         "user_id": [f"u{u}" for u in rng.integers(0, 150, n)], "segment": "s",
                         "item_id": items["item_id"].to_numpy()[item], "placement": "feed", "position": 0,
                         "copy_text": text})
    seen = add_exposure(logs, items)["seen_template"].to_numpy()
    p = expit(-1.5 - 0.9 * np.minimum(seen, 3))
    logs["clicked"] = (rng.random(n) < p).astype(int)
    logs["converted"] = logs["clicked"] * (rng.random(n) < 0.3)
    return logs, items


def test_baseline_learns_fatigue_from_the_exposure_block_and_round_trips():
    from sklearn.metrics import roc_auc_score

    logs, items = _fatigue_logs()
    logs = add_exposure(logs, items)
    train, hold = logs.iloc[:4500], logs.iloc[4500:]
    plain = HashedNgramBaseline(item=True).fit(train, items)
    rich = HashedNgramBaseline(item=True, length=True, crosses=True, exposure_window=8).fit(train, items)
    y = hold["clicked"]
    assert roc_auc_score(y, rich.predict(hold, items)[0]) > roc_auc_score(y, plain.predict(hold, items)[0]) + 0.05
    tensors, config = rich.state()
    again = HashedNgramBaseline.from_state(tensors, config)
    np.testing.assert_allclose(again.predict(hold, items)[0], rich.predict(hold, items)[0])
    # fresh copy (no shopper): the exposure one-hots are all off, the score is the unfatigued one
    fresh = hold.drop(columns=["user_id", "timestamp", "seen_copy", "seen_template"])
    assert (rich.predict(fresh, items)[0] >= rich.predict(hold, items)[0] - 1e-12).all()


def test_a_baseline_saved_before_the_new_blocks_still_loads():
    logs, items = _fatigue_logs(800)
    base = HashedNgramBaseline().fit(logs, items)
    tensors, config = base.state()
    for key in ("item", "length", "exposure_window"):
        config.pop(key)
    again = HashedNgramBaseline.from_state(tensors, config)
    np.testing.assert_allclose(again.predict(logs, items)[0], base.predict(logs, items)[0])


def test_one_se_rule_keeps_the_simpler_scorer_inside_the_noise():
    rng = np.random.default_rng(3)
    base = rng.exponential(0.3, 3000)
    noisy_win = base - 0.001 + rng.normal(0, 0.2, 3000)  # lower mean by chance, far inside its SE
    choice, excess = one_se_choice({"baseline": base, "encoder": noisy_win})
    assert noisy_win.mean() < base.mean() and choice == "baseline" and excess["baseline"][0] > 0
    clear_win = base - 0.02 + rng.normal(0, 0.01, 3000)
    assert one_se_choice({"baseline": base, "encoder": clear_win})[0] == "encoder"
    assert one_se_choice({"baseline": base, "encoder": noisy_win}, se_rule=0.0)[0] == "encoder"


@pytest.mark.parametrize("seed", [1, 2, 4])
def test_select_combiner_keeps_the_baseline_when_the_encoder_adds_only_noise(seed):
    """The encoder is the baseline plus a little noise: the lowest loss picks it (or the blend) by
    chance on these seeds, the one-SE rule keeps the baseline. (Seed 3 was one until the baseline
    competed recalibrated out of fold: there the recalibrated baseline now has the lowest loss.)"""
    rng = np.random.default_rng(seed)
    n = 5000
    z = rng.normal(-2.5, 0.8, n)
    clicked = (rng.random(n) < expit(z)).astype(float)
    converted = clicked * (rng.random(n) < 0.3)
    base = expit(z + rng.normal(0, 0.3, n))
    enc = expit(np.log(base / (1 - base)) + rng.normal(0, 0.05, n))
    args = ((enc, enc * 0.3), (enc, enc * 0.3), (base, base * 0.3), clicked, converted)
    assert select_combiner(*args, se_rule=0.0)[0].choice != "baseline"
    comb, report, _ = select_combiner(*args)
    assert comb.choice == "baseline"
    assert report["se_rule"] == 1.0 and set(report["excess"]) == {"baseline", "encoder", "blend"}


def test_trained_model_reads_exposure_and_scores_fresh_copy_as_unfatigued(tiny_encoder_dir, tmp_path):
    from reward_models import RewardModel, train_reward_model

    logs, items = _fatigue_logs(3000)
    train, hold = logs.iloc[:2400].drop(columns="event_id"), logs.iloc[2400:]
    model = train_reward_model(train, items, holdout=hold, encoder=str(tiny_encoder_dir), max_epochs=2,
                               precision="fp32", progress=False, seed=0)
    assert model.config["exposure_window"] == 8 and model.config["n_surface"] == 10
    assert model.baseline.exposure_window == 8 and model.baseline.item and model.baseline.crosses
    model.save_pretrained(tmp_path)
    loaded = RewardModel.from_pretrained(tmp_path)
    fresh = hold.drop(columns=["user_id", "timestamp"]).head(50)
    np.testing.assert_allclose(loaded.score(fresh, items)["p_click"], model.score(fresh, items)["p_click"], rtol=1e-5)
    off = train_reward_model(train, items, encoder=str(tiny_encoder_dir), max_epochs=1, precision="fp32",
                             progress=False, seed=0, exposure_window=0, baseline_blocks="")
    assert off.config["exposure_window"] == 0 and off.config["n_surface"] == 8 and not off.baseline.item


def test_unknown_baseline_block_is_an_input_error():
    from reward_models.train import TrainConfig
    from rlopt.errors import InputError

    with pytest.raises(InputError, match="baseline_blocks: unknown block"):
        TrainConfig(baseline_blocks="crosses,ngrams")


def test_copy_item_stats_read_the_copy_against_its_item():
    from reward_models.baseline import N_STATS, copy_item_stats
    from reward_models.inputs import join_items

    frame = pd.DataFrame({"item_id": ["b", "b", "a", "b"],
                          "copy_text": ["Petra ring, now 20% off", "Minimal Ring - 40% off", "100% leather wallet",
                                        "A lovely gift"]})
    stats = copy_item_stats(join_items(frame, CATALOG))
    assert stats.shape == (4, N_STATS)
    np.testing.assert_array_equal(stats[:, 8], [1, 0, 0, 0])  # states the item's own discount (20%)
    np.testing.assert_array_equal(stats[:, 9], [0, 1, 0, 0])  # states another one; "100%" is no discount
    np.testing.assert_array_equal(stats[:, 7], [1, 0, 0, 0])  # names the brand


def test_surface_block_round_trips_and_crosses_segments():
    logs, items = _fatigue_logs(1500)
    logs["segment"] = np.where(np.arange(len(logs)) % 2, "s1", "s2")
    base = HashedNgramBaseline(surface=True, item=True).fit(logs, items)
    assert base.n_columns == base._matrix(logs, items).shape[1]
    again = HashedNgramBaseline.from_state(*base.state())
    np.testing.assert_allclose(again.predict(logs, items)[0], base.predict(logs, items)[0])
