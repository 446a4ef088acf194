"""The A/B experiment scripts in-process with a tiny budget: their statistics behave as the theory says
(the full runs are on the docs' results page; tests/experiments runs every script as a subprocess)."""

from __future__ import annotations

import json


def test_aa_fpr_script_runs(tmp_path):
    from experiments.ab import aa_fpr

    out = tmp_path / "aa.json"
    res = aa_fpr.main(["--reps", "12", "--impressions", "3000", "--pre-impressions", "3000", "--looks", "10",
                       "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["rows"] == json.loads(json.dumps(res["rows"]))
    names = [r["test"] for r in saved["rows"]]
    assert {"ctr_delta", "clicks_per_user_cuped", "msprt_reject", "peeking_reject"} <= set(names)
    # A/A: every arm is the same market, so a valid test rejects ~Binomial(12, alpha) times; more than the
    # 99.9% quantile means the test is not valid (peeking is the invalid practice shown, so it is exempt)
    from scipy.stats import binom

    bound = int(binom.ppf(0.999, 12, 0.05))
    for r in saved["rows"]:
        assert r["fpr"] == r["rejections"] / 12 and r["ci95"][0] <= r["fpr"] <= r["ci95"][1], r
        if r["test"] != "peeking_reject":
            assert r["rejections"] <= bound, r


def test_sequential_power_script_runs(tmp_path):
    from scipy.stats import binom

    from experiments.ab import sequential_power

    out = tmp_path / "sp.json"
    res = sequential_power.main(["--reps", "6", "--impressions", "3000", "--looks", "10", "--lifts", "0.0", "1.0",
                                 "--out", str(out)])
    assert json.loads(out.read_text())["rows"] == json.loads(json.dumps(res["rows"]))
    null, doubled = res["rows"]
    assert (null["lift"], doubled["lift"]) == (0.0, 1.0)
    # no effect: the planned power is the significance level, and rejections stay within Binomial(6, alpha)
    assert abs(null["planned_power_normal_approx"] - 0.05) < 1e-9
    assert 6 * null["fixed_power"] <= binom.ppf(0.999, 6, 0.05) and 6 * null["msprt_power"] <= binom.ppf(0.999, 6, 0.05)
    # doubling the true CTR: planned power ~1, so at most one of 6 fixed-horizon tests may miss it; the
    # mSPRT finds it too, stops before the end on average and never with the wrong sign
    assert doubled["planned_power_normal_approx"] > 0.99 and doubled["fixed_power"] >= 5 / 6
    assert doubled["msprt_power"] > 0.5 and doubled["msprt_mean_sample_fraction"] < 1.0
    assert doubled["msprt_wrong_sign_rate"] == 0.0


def test_aa_full_sim_script_runs(tmp_path):
    from scipy.stats import binom

    from experiments.ab import aa_full_sim

    res = aa_full_sim.main(["--runs", "4", "--impressions", "2000", "--out", str(tmp_path / "full.json")])
    rows = {r["test"]: r for r in res["rows"]}
    assert {"ctr", "revenue_per_user", "srm_mismatch (p < 0.001)", "msprt_ctr_20_looks"} <= set(rows)
    # A/A end to end: a valid test rejects ~Binomial(4, alpha) times; SRM (p < 0.001) on a 50/50 hash split ~never
    bound = binom.ppf(0.999, 4, 0.05)
    for r in rows.values():
        assert r["fpr"] == r["rejections"] / 4 and r["rejections"] <= bound, r
    assert rows["srm_mismatch (p < 0.001)"]["rejections"] == 0
