"""Honesty: DPO honesty pairs, the price-aware guards and reward, and the evaluation's claim rates."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from rlopt.errors import InputError
from rlopt.tuning.config import make_config
from rlopt.tuning.dpo import guard_pairs, train_dpo
from rlopt.tuning.pairs import PAIR_COLUMNS, honesty_pairs, mine_pairs, mix_pairs
from rlopt.tuning.rewards import DiscountHonestyPenalty
from tests.tuning.tuning_data import CATALOG, PLACEMENTS, SEGMENTS, make_logs, training_logs

# i1: $89, 20% off; i2: $39, no discount. push fits 40 characters, home_banner 60.
HONESTY_LOG = [
    ("i1", "bargain", "push", "Trail shoes, 50% off today", 60, 12, 0),
    ("i1", "bargain", "push", "Trail shoes, 20% off today", 50, 8, 2),
    ("i1", "premium", "push", "Trail shoes, only $29 today", 40, 6, 0),
    ("i2", "bargain", "home_banner", "Coffee set on sale", 30, 3, 0),                    # nothing left: no pair
    ("i2", "bargain", "home_banner", "Pour-over coffee set, 30% off, for slow mornings", 30, 3, 0),
    ("i2", "premium", "home_banner", "Pour-over coffee set for slow mornings", 30, 3, 1),
]


def test_honesty_pairs_from_a_hand_built_log():
    pairs = honesty_pairs(make_logs(HONESTY_LOG), CATALOG, PLACEMENTS)
    assert list(pairs.columns) == list(PAIR_COLUMNS)
    got = [(r.item_id, r.segment, r.placement, r.chosen, r.rejected, r.n_rejected) for r in pairs.itertuples()]
    assert got == [
        ("i1", "bargain", "push", "Trail shoes, 20% off today", "Trail shoes, 50% off today", 60),
        ("i1", "premium", "push", "Trail shoes, only $71 today", "Trail shoes, only $29 today", 40),
        ("i2", "bargain", "home_banner", "Pour-over coffee set, for slow mornings",
         "Pour-over coffee set, 30% off, for slow mornings", 30),
    ]
    assert (pairs["source"] == "honesty").all() and (pairs["weight"] == 1.0).all()


def test_honesty_pairs_without_segments_group_by_item_and_placement():
    pairs = honesty_pairs(make_logs(HONESTY_LOG).drop(columns=["segment"]), CATALOG, PLACEMENTS)
    assert set(pairs["segment"]) == {""} and len(pairs) == 3


def test_logged_pairs_are_marked():
    pairs = mine_pairs(training_logs(), PLACEMENTS, min_confidence=0.9)
    assert len(pairs) and (pairs["source"] == "logged").all()


def test_mix_pairs_draws_the_share():
    logged = mine_pairs(training_logs(), PLACEMENTS, min_confidence=0.9)
    honest = honesty_pairs(make_logs(HONESTY_LOG), CATALOG, PLACEMENTS)
    mixed = mix_pairs(logged, honest, 100, 0.25, seed=3)
    assert len(mixed) == 100 and (mixed["source"] == "honesty").sum() == 25
    assert mixed.equals(mix_pairs(logged, honest, 100, 0.25, seed=3))
    assert set(mixed.loc[mixed["source"] == "honesty", "rejected"]) == set(honest["rejected"])
    assert (mix_pairs(logged, honest, 100, 0.0, seed=3)["source"] == "logged").all()
    assert (mix_pairs(logged, None, 100, 0.25, seed=3)["source"] == "logged").all()


def test_config_turns_honesty_pairs_on_in_both_presets():
    assert make_config("dpo", "quick").honesty_pairs == 0.25
    assert make_config("dpo", "full").honesty_pairs == 0.25
    with pytest.raises(InputError, match="honesty_pairs"):
        make_config("dpo", "quick", honesty_pairs=1.0)


def test_dpo_trains_on_honesty_pairs(tiny_causal_lm_dir, tmp_path):
    logs = pd.concat([training_logs(), make_logs(HONESTY_LOG, seed=1)], ignore_index=True)
    logs["event_id"] = [f"e{i}" for i in range(len(logs))]
    cfg = make_config("dpo", "quick", generator=str(tiny_causal_lm_dir), min_pairs=2, per_device_train_batch_size=2,
                      num_train_pairs=8, max_length=128, max_steps=1, save_steps=1)
    summary = train_dpo(logs, CATALOG, PLACEMENTS, cfg, tmp_path / "dpo", SEGMENTS)
    assert summary["data"]["honesty_pairs"] == 3 and summary["data"]["train_pairs_honesty"] == 2
    drawn = [json.loads(line) for line in (tmp_path / "dpo" / "train_pairs.jsonl").read_text().splitlines()]
    assert len(drawn) == 8 and sum(d["source"] == "honesty" for d in drawn) == 2


def test_guard_and_reward_judge_dollar_claims_with_the_price():
    pairs = pd.DataFrame({"item_id": ["i1", "i1", "i1"], "placement": ["push"] * 3,
                          "chosen": ["Trail shoes, only $71.20", "Trail shoes, only $29", "Save $40 on shoes"],
                          "rejected": ["a"] * 3})
    assert guard_pairs(pairs, CATALOG, PLACEMENTS)["chosen"].tolist() == ["Trail shoes, only $71.20"]
    kw = {"item_id": ["i1", "i1", "i2", "i2"], "placement": ["push"] * 4}
    completions = ["Trail shoes, only $71.20", "Trail shoes, only $29", "Coffee set for $39", "Coffee set, $10 off"]
    assert DiscountHonestyPenalty(CATALOG)(None, completions, **kw) == [0.0, -1.0, 0.0, -1.0]


def test_evaluation_reports_raw_shown_and_truth_rates():
    from rlopt.market import DEFAULT_MARKET, Marketplace
    from rlopt.market.oracle import Oracle
    from rlopt.tuning.evaluate import evaluate_copies

    market = Marketplace.from_toml(DEFAULT_MARKET)
    cat = market.catalog
    plain = cat[cat["discount_pct"] == 0].iloc[0]
    sale = cat[cat["discount_pct"] == 20].iloc[0]
    copies = pd.DataFrame({
        "item_id": [plain.item_id, plain.item_id, sale.item_id, sale.item_id],
        "segment": "bargain_hunters", "placement": "push",
        "raw_copy_text": [f"{plain.title}, 50% off today", f"{plain.title} for you",
                          f"{sale.title}, only ${sale.price / 4:.2f}", f"{sale.title}, 20% off"],
        "copy_text": [plain.title, f"{plain.title} for you",
                      f"{sale.title}, only ${sale.price * 0.8:.2f}", f"{sale.title}, 20% off"],
        "compliance_action": ["unrepairable", "ok", "corrected", "ok"],
    })
    out = evaluate_copies(copies, Oracle(market), catalog=cat, placements=market.placements)
    assert out["misleading_rate"] == 0.0 and out["misleading_rate_raw"] == 0.5
    assert out["compliance_changed_rate"] == 0.5 and out["compliance_changed"] == 2
    assert out["compliance_actions"] == {"ok": 2, "unrepairable": 1, "corrected": 1}
    assert out["overclaim_rate_truth"] == 0.0 and out["overclaim_rate_truth_raw"] == 0.5
    assert out["repetitive_rate"] == 0.0


def test_evaluation_counts_repetitive_copy():
    from rlopt.market import DEFAULT_MARKET, Marketplace
    from rlopt.market.oracle import Oracle
    from rlopt.tuning.evaluate import evaluate_copies

    market = Marketplace.from_toml(DEFAULT_MARKET)
    item = market.catalog.iloc[0]
    texts = [f"{item.title}: sweat resistant, sweat resistant, sweat resistant, sweat resistant",
             f"{item.title}: sweat resistant and light", "sale sale", "Shoes"]
    copies = pd.DataFrame({"item_id": item.item_id, "segment": "bargain_hunters", "placement": "push",
                           "copy_text": texts})
    out = evaluate_copies(copies, Oracle(market))
    # 1st: ~half its bigrams repeat; 2nd: none; "sale sale" has one bigram; "Shoes" has none
    assert out["repetitive_rate"] == 0.25
    assert out["frame"]["repetitive"].tolist() == [True, False, False, False]


def test_evaluation_counts_distinct_copies_so_collapse_shows():
    from rlopt.market import DEFAULT_MARKET, Marketplace
    from rlopt.market.oracle import Oracle
    from rlopt.tuning.evaluate import evaluate_copies

    market = Marketplace.from_toml(DEFAULT_MARKET)
    item = market.catalog.iloc[0]
    # context push: 4 samples, one text; context home_banner: 4 samples, 4 texts (one equal to push's)
    copies = pd.DataFrame({"item_id": item.item_id, "segment": "bargain_hunters",
                           "placement": ["push"] * 4 + ["home_banner"] * 4,
                           "copy_text": [item.title] * 4 + [item.title, "a", "b", "c"]})
    out = evaluate_copies(copies, Oracle(market))
    assert out["distinct_per_context"] == (1 / 4 + 4 / 4) / 2
    assert out["distinct_share"] == 4 / 8
