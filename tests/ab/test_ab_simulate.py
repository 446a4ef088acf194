"""Simulated A/B tests on a market with a known truth."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import rlopt.ab.simulate as sim
from rlopt.ab.arms import Arm
from rlopt.ab.simulate import ABPowerWarning, ABSRMWarning, assign_users, simulate_ab
from rlopt.errors import InputError

# Small runs are underpowered on purpose; the warning itself is tested in test_small_traffic_warns_with_mde.
pytestmark = pytest.mark.filterwarnings("ignore::rlopt.ab.simulate.ABPowerWarning")


def test_known_effect_is_detected_with_right_sign(fake_market, sale_copies):
    market, oracle = fake_market
    res = simulate_ab(market, {"base": "logging", "tuned": f"copies:{sale_copies}"}, 30000, seed=1,
                      oracle=oracle)
    comp = res.comparisons[0]
    ctr = comp.primary["ctr"]
    assert ctr.pvalue < 1e-6 and ctr.estimate > 0
    assert comp.verdict("ctr") == "tuned better"
    # Truth: logging averages CTR 0.055 on these users, SALE copy 0.09.
    assert comp.true_lift["ctr"] == pytest.approx(0.035, abs=0.005)
    lo, hi = ctr.confidence_interval(0.95)
    assert lo <= comp.true_lift["ctr"] <= hi
    assert res.arm("tuned").true["ctr"] > res.arm("base").true["ctr"]
    assert comp.sequential is not None and comp.sequential.stopped and comp.sequential.decision == "B > A"
    assert not res.srm.mismatch and not res.warnings
    assert comp.pvalue("ctr") == ctr.pvalue  # one treatment arm: no adjustment
    assert res.to_dict()["comparisons"][0]["sequential"]["decision"] == "tuned > base"


def test_same_seed_same_result_and_json(fake_market, sale_copies):
    market, oracle = fake_market
    arms = ["logging", f"copies:{sale_copies}", "pool-best"]
    a = simulate_ab(market, arms, 4000, seed=7, oracle=oracle).to_dict()
    b = simulate_ab(market, arms, 4000, seed=7, oracle=oracle).to_dict()
    assert json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)
    c = simulate_ab(market, arms, 4000, seed=8, oracle=oracle).to_dict()
    assert c["arms"][0]["clicks"] != a["arms"][0]["clicks"] or c["arms"][1]["clicks"] != a["arms"][1]["clicks"]
    assert [arm["name"] for arm in a["arms"]] == ["A", "B", "C"]
    # Two treatment arms: verdicts use Holm-adjusted p-values (never below the raw ones).
    for comp in a["comparisons"]:
        for metric, p_adj in comp["adjusted_pvalues"].items():
            assert p_adj >= comp["primary"][metric]["pvalue"] - 1e-15
    assert a["arms"][2]["label"].endswith("(oracle upper reference)")
    assert len(a["comparisons"]) == 2


def test_pool_best_is_the_best_pool_copy(fake_market):
    market, oracle = fake_market
    res = simulate_ab(market, {"rand": "pool-random", "best": "pool-best"}, 3000, seed=0, oracle=oracle)
    # v3 (CTR 0.07) is best, pool-random averages 0.055 (times user multipliers).
    ratio = res.arm("best").true["ctr"] / res.arm("rand").true["ctr"]
    assert ratio == pytest.approx(0.07 / 0.055, rel=0.05)


def test_aa_test_is_not_significant_and_cuped_reduces_variance(fake_market):
    market, oracle = fake_market
    res = simulate_ab(market, ["logging", "logging"], 20000, seed=3, oracle=oracle, pre_impressions=20000)
    comp = res.comparisons[0]
    assert abs(comp.true_lift["ctr"]) < 0.002
    cuped_res = comp.primary["clicks_per_user"]
    assert cuped_res.variance_reduction > 0.1  # persistent user propensity: pre-period clicks predict
    assert cuped_res.std_error < comp.secondary["clicks_per_user_welch"].std_error


def test_users_are_the_randomization_unit():
    users = np.array([f"u{i}" for i in range(5000)])
    arm = assign_users(np.r_[users, users[::-1]], [0.5, 0.5], seed=11)
    assert np.array_equal(arm[:5000], arm[5000:][::-1])  # a user always gets the same arm
    assert abs(arm[:5000].mean() - 0.5) < 0.03
    skew = assign_users(users, [0.8, 0.2], seed=11)
    assert abs((skew == 1).mean() - 0.2) < 0.03
    assert not np.array_equal(assign_users(users, [0.5, 0.5], seed=12), arm[:5000])


def test_srm_detected_when_assignment_is_broken(fake_market, monkeypatch):
    market, oracle = fake_market

    def leaky(user_ids, split, seed):  # a bug that sends 15% of arm B's users to A
        arm = assign_users(user_ids, split, seed)
        ids = pd.Series(np.asarray(user_ids, dtype=str))
        lost = ids.map(lambda u: int(u[1:]) % 7 == 0).to_numpy()
        return np.where(lost, 0, arm)

    monkeypatch.setattr(sim, "assign_users", leaky)
    with pytest.warns(ABSRMWarning, match="sample-ratio mismatch"):
        res = simulate_ab(market, ["logging", "pool-random"], 20000, seed=0, oracle=oracle)
    assert res.srm.mismatch


def test_small_traffic_warns_with_mde(fake_market):
    market, oracle = fake_market
    with pytest.warns(ABPowerWarning, match=r"minimum detectable CTR effect at 400 impressions is \d+"):
        res = simulate_ab(market, ["logging", "pool-random"], 400, seed=0, oracle=oracle)
    assert res.mde["relative"] > 0.25 and res.mde["design_effect"] >= 1.0
    assert res.warnings and "traffic too small" in res.warnings[0]


def test_policy_arm_learns_online(fake_market):
    market, oracle = fake_market
    res = simulate_ab(market, {"rand": "pool-random", "ts": "policy:bernoulli-ts"}, 20000, seed=0,
                      oracle=oracle)
    # Thompson sampling finds v3 (best) quickly: its true CTR beats uniform by a clear margin.
    assert res.arm("ts").true["ctr"] > 1.08 * res.arm("rand").true["ctr"]


@pytest.mark.parametrize(
    ("arms", "regex"),
    [
        (["logging", "best-ever"], r"arm spec 'best-ever' does not resolve; valid forms: logging, pool-random"),
        (["logging", "copies:"], r"arm spec 'copies:' does not resolve"),
        (["logging"], r"at least 2 arms"),
        (["logging", "copies:/nonexistent/x.jsonl"], r"copies file not found"),
        (["logging", "policy:no-such-policy"], r"does not resolve to a policy"),
    ],
)
def test_bad_arms(fake_market, arms, regex):
    market, oracle = fake_market
    with pytest.raises(InputError, match=regex):
        simulate_ab(market, arms, 1000, seed=0, oracle=oracle)


def test_uncovered_context_names_it(fake_market, tmp_path):
    market, oracle = fake_market
    path = tmp_path / "partial.jsonl"
    pd.DataFrame([{"item_id": "item0", "segment": "deal", "placement": "push", "copy_text": "item0 SALE"}]).to_json(
        path, orient="records", lines=True)
    with pytest.raises(InputError, match=r"no copy for context item_id='item\d', segment='\w+', placement='push'"):
        simulate_ab(market, ["logging", f"copies:{path}"], 1000, seed=0, oracle=oracle)


def test_copies_fall_back_to_item_placement(fake_market, tmp_path):
    market, oracle = fake_market
    path = tmp_path / "deal_only.jsonl"
    pd.DataFrame([{"item_id": it, "segment": "deal", "placement": "push", "copy_text": f"{it} SALE"}
                  for it in market.items]).to_json(path, orient="records", lines=True)
    res = simulate_ab(market, ["logging", f"copies:{path}"], 2000, seed=0, oracle=oracle)
    assert res.arm("B").impressions > 0


def test_arm_parse():
    assert Arm.parse("pool-best").label == "pool-best (oracle upper reference)"
    assert Arm.parse("policy:linucb:alpha=1.0").target == "linucb:alpha=1.0"


def test_linear_policy_arm_learns_copy_kinds_on_real_market():
    from rlopt.market import DEFAULT_MARKET, Marketplace

    market = Marketplace.from_toml(DEFAULT_MARKET)
    res = simulate_ab(market, {"rand": "pool-random", "lin": "policy:linucb"}, 20000, seed=0)
    # Typed arms (one model per copy kind) find the strong kinds; per-index learning could not.
    assert res.arm("lin").true["ctr"] > 1.3 * res.arm("rand").true["ctr"]
    assert res.comparisons[0].verdict("ctr") == "lin better"


def test_covered_traffic_restricts_to_contexts_with_copies(fake_market, tmp_path):
    market, oracle = fake_market
    path = tmp_path / "two_items.jsonl"
    pd.DataFrame([{"item_id": it, "segment": "deal", "placement": "push", "copy_text": f"{it} SALE"}
                  for it in ("item0", "item1")]).to_json(path, orient="records", lines=True)
    with pytest.raises(InputError, match="--traffic covered"):
        simulate_ab(market, ["logging", f"copies:{path}"], 3000, seed=0, oracle=oracle)
    res = simulate_ab(market, ["logging", f"copies:{path}"], 3000, seed=0, oracle=oracle, traffic="covered")
    assert res.traffic == "covered" and res.n_impressions == 3000
    assert res.arm("A").impressions + res.arm("B").impressions == 3000
    assert res.arm("B").true["ctr"] > 1.4 * res.arm("A").true["ctr"]  # SALE copy on every covered impression


def test_covered_traffic_fails_when_coverage_is_tiny(fake_market, tmp_path):
    market, oracle = fake_market
    # Copies only for an item in the catalog that the market never shows.
    market.catalog = pd.concat([market.catalog, market.catalog.iloc[:1].assign(item_id="rare")], ignore_index=True)
    path = tmp_path / "none.jsonl"
    pd.DataFrame([{"item_id": "rare", "segment": "deal", "placement": "push", "copy_text": "x SALE"}]).to_json(
        path, orient="records", lines=True)
    with pytest.raises(InputError, match=r"cover only 0\.00% of the market's traffic"):
        simulate_ab(market, ["logging", f"copies:{path}"], 500, seed=0, oracle=oracle, traffic="covered")


def test_sequential_on_purchase_rate_and_mde_by_metric(fake_market, sale_copies):
    market, oracle = fake_market
    res = simulate_ab(market, {"base": "logging", "tuned": f"copies:{sale_copies}"}, 30000, seed=1,
                      oracle=oracle, primary_metric="purchase_rate")
    seq = res.comparisons[0].sequential
    assert res.primary_metric == "purchase_rate" and seq is not None
    # Purchases follow clicks (30%), so the SALE copy raises the purchase rate by ~0.0105.
    assert seq.stopped and seq.estimate > 0
    by = res.mde["by_metric"]
    assert set(by) == {"ctr", "purchase_rate", "revenue_per_impression", "clicks_per_user", "revenue_per_user"}
    assert all(v["absolute"] > 0 for v in by.values())
    with pytest.raises(InputError, match="primary_metric must be one of ctr, purchase_rate"):
        simulate_ab(market, ["logging", "logging"], 1000, oracle=oracle, primary_metric="clicks")
