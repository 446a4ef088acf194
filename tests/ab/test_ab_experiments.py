"""Smoke runs of the A/B experiment scripts with a tiny budget (the full runs are in README.md)."""

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
    from experiments.ab import sequential_power

    out = tmp_path / "sp.json"
    res = sequential_power.main(["--reps", "6", "--impressions", "3000", "--looks", "10", "--lifts", "0.5",
                                 "--out", str(out)])
    row = res["rows"][0]
    assert row["lift"] == 0.5 and 0.0 <= row["msprt_power"] <= 1.0 and 0.0 < row["msprt_mean_sample_fraction"] <= 1.0
    assert out.is_file()


def test_aa_full_sim_script_runs(tmp_path):
    from experiments.ab import aa_full_sim

    res = aa_full_sim.main(["--runs", "2", "--impressions", "2000", "--out", str(tmp_path / "full.json")])
    names = {r["test"] for r in res["rows"]}
    assert {"ctr", "revenue_per_user", "srm_mismatch (p < 0.001)", "msprt_ctr_20_looks"} <= names
    assert all(0 <= r["rejections"] <= 2 for r in res["rows"])
