"""Issue 19 (H2): the baseline competes recalibrated out of fold, like the encoder, and is saved as it
was evaluated; ``fit_tuned`` shares its design matrices across the C grid without changing the fits."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from reward_models.baseline import HashedNgramBaseline
from reward_models.calibration import select_calibrator
from reward_models.stacking import Combiner, logit, recalibrate, select_combiner


def _slice(seed: int, n: int = 3000):
    """A slice whose click rate is half what the baseline (fitted on earlier rows) predicts."""
    rng = np.random.default_rng(seed)
    z = rng.normal(-2.5, 0.9, n)
    clicked = (rng.random(n) < expit(z)).astype(float)
    converted = clicked * (rng.random(n) < 0.3)
    base = expit(z + np.log(2.0) + rng.normal(0, 0.3, n))      # ranks well, level off by 2x
    z_enc = z + rng.normal(0, 1.2, n)                            # ranks worse, calibrated out of fold
    _, _, (oc, ov) = select_calibrator(z_enc, np.zeros(n), np.zeros(n), clicked, converted, return_oof=True)
    enc_raw = expit(z_enc)
    return (oc, oc * ov), (enc_raw, enc_raw * 0.5), (base, base * 0.3), clicked, converted


def test_a_baseline_off_in_level_competes_recalibrated_and_keeps_its_ranking():
    encoder_oof, encoder_raw, base, clicked, converted = _slice(0)
    comb, report, oof = select_combiner(encoder_oof, encoder_raw, base, clicked, converted)
    recal = report["baseline_recalibration"]
    assert set(recal) == {"click", "purchase"} and recal["click"][1] < -0.3   # the level comes down
    assert comb.choice != "encoder"                                          # the better ranking wins
    raw_loss = np.mean(-(clicked * np.log(base[0]) + (1 - clicked) * np.log1p(-base[0])))
    oof_loss = np.mean(-(clicked * np.log(oof["baseline"][0]) + (1 - clicked) * np.log1p(-oof["baseline"][0])))
    assert oof_loss < raw_loss
    # Platt keeps the order of the scores (what a saved baseline scores with is a monotone map of the raw)
    saved = recalibrate(base, recal)[0]
    assert (np.diff(saved[np.argsort(base[0])]) >= -1e-15).all()


def test_the_blend_rewritten_for_the_recalibrated_baseline_predicts_the_same():
    rng = np.random.default_rng(1)
    enc, base = expit(rng.normal(-2, 1, 500)), expit(rng.normal(-2, 1, 500))
    comb = Combiner("blend", [0.7, 0.6, -0.2], [0.3, 0.9, 0.1])
    recal = {"click": [0.8, -0.4], "purchase": [1.3, 0.2]}
    before = comb.blend((enc, enc * 0.3), (base, base * 0.3))
    after = comb.for_recalibrated_baseline(recal).blend((enc, enc * 0.3), recalibrate((base, base * 0.3), recal))
    # recalibrate caps the purchase at the click probability; these purchases are far below it
    np.testing.assert_allclose(after[0], before[0], rtol=1e-9)
    np.testing.assert_allclose(after[1], before[1], rtol=1e-9)
    assert Combiner("baseline").for_recalibrated_baseline(recal) == Combiner("baseline")


def test_a_saved_baseline_applies_its_recalibration_after_a_round_trip(synth, synth_split):
    train, holdout = synth_split
    base = HashedNgramBaseline(crosses=True).fit(train, synth.catalog)
    raw = base.predict(holdout, synth.catalog)
    base.recalibration = {"click": [0.7, -0.3], "purchase": [1.2, 0.1]}
    p_click, p_purchase = base.predict(holdout, synth.catalog)
    np.testing.assert_allclose(p_click, expit(0.7 * logit(raw[0]) - 0.3), rtol=1e-9)
    np.testing.assert_allclose(p_purchase, expit(1.2 * logit(raw[1]) + 0.1), rtol=1e-9)
    again = HashedNgramBaseline.from_state(*base.state())
    assert again.recalibration == base.recalibration
    np.testing.assert_allclose(again.predict(holdout, synth.catalog)[0], p_click)
    base.fit(train, synth.catalog)                                    # a refit starts uncalibrated
    assert base.recalibration == {}


def test_fit_tuned_fits_what_one_fit_per_C_fits(synth):
    logs = synth.logs.iloc[:2500]
    fit_logs, valid_logs = logs.iloc[:2000], logs.iloc[2000:]
    grid = (0.3, 3.0)
    kwargs = {"crosses": True, "item": True, "length": True, "surface": True, "seed": 0}
    tuned, losses = HashedNgramBaseline.fit_tuned(fit_logs, valid_logs, synth.catalog, grid=grid, **kwargs)
    for c in grid:  # the plain way: one full fit (features rebuilt) per C
        p_click, p_purchase = HashedNgramBaseline(C=c, **kwargs).fit(fit_logs, synth.catalog).predict(
            valid_logs, synth.catalog)
        y_c, y_v = valid_logs["clicked"].to_numpy(), valid_logs["converted"].to_numpy()
        loss = sum(np.mean(-(y * np.log(p) + (1 - y) * np.log1p(-p))) for y, p in ((y_c, p_click), (y_v, p_purchase)))
        assert abs(losses[str(c)] - loss) < 1e-9
    best = min(grid, key=lambda c: losses[str(c)])
    plain = HashedNgramBaseline(C=best, **kwargs).fit(pd.concat([fit_logs, valid_logs]), synth.catalog)
    assert tuned.C == best and tuned.vocab == plain.vocab
    np.testing.assert_allclose(tuned.predict(logs, synth.catalog)[0], plain.predict(logs, synth.catalog)[0], rtol=1e-9)
