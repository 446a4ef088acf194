"""Reward-ranked DPO pairs: scoring with the online reward, ranking rules, mixing, and a DPO run on them."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from rlopt.errors import InputError
from rlopt.tuning.config import make_config
from rlopt.tuning.dpo import train_dpo
from rlopt.tuning.pairs import mix_pairs
from rlopt.tuning.ranked_pairs import online_reward_weights, rank_pairs, score_copies
from tests.tuning.tuning_data import CATALOG, PLACEMENTS, SEGMENTS, length_reward, training_logs


def _copies(texts, item="i1", placement="push"):
    return pd.DataFrame({"item_id": item, "segment": "bargain", "placement": placement, "raw_copy_text": texts})


def test_scores_are_log_reward_plus_guards():
    # i1 has a real 20% discount: "50% off" is misleading; push allows 40 characters.
    long = "Trail shoes with grippy soles for wet rocks and muddy trails"  # 60 characters, no defect
    copies = _copies(["Trail shoes, 20% off", "Trail shoes, 50% off", long])
    score, guards = score_copies(copies, length_reward, CATALOG, PLACEMENTS)
    w = online_reward_weights()
    shown = [min(20, 30) / 30, min(20, 30) / 30, min(40, 30) / 30]  # the reward sees the capped copy
    assert guards[0] == 0 and guards[1] == pytest.approx(-w.discount_penalty)
    assert guards[2] == pytest.approx(-w.length_penalty * 0.5)  # 20 characters over a 40 limit
    assert score[0] == pytest.approx(math.log(shown[0]))
    assert score[1] == pytest.approx(math.log(shown[1]) - w.discount_penalty)
    assert score[2] == pytest.approx(math.log(shown[2]) - 0.5)


def test_rank_pairs_never_chooses_a_guard_breaker():
    copies = pd.concat([_copies(["honest ok", "misleading best", "worst"]),
                        _copies(["only misleading", "also bad"], item="i2")], ignore_index=True)
    score = np.array([-2.0, -1.0, -3.0, -1.0, -2.0])
    guards = np.array([0.0, -1.0, 0.0, -1.0, -1.0])
    pairs = rank_pairs(copies, score, guards, min_gain=0.5)
    assert pairs[["item_id", "chosen", "rejected"]].values.tolist() == [["i1", "honest ok", "worst"]]
    assert pairs["gain"].tolist() == [1.0] and pairs["weight"].tolist() == [1.0]
    assert set(pairs["source"]) == {"reward_model"}


def test_rank_pairs_needs_the_gain_and_two_different_texts():
    copies = _copies(["same", "same", "blank", "  "])
    score = np.array([-1.0, -1.1, -1.2, -9.0])
    assert rank_pairs(copies, score, np.zeros(4), min_gain=0.5).empty  # the empty sample is never a side
    assert len(rank_pairs(copies, score, np.zeros(4), min_gain=0.1)) == 1


def test_mix_pairs_draws_the_ranked_share_by_weight():
    logged = pd.DataFrame({"chosen": ["a"], "rejected": ["b"], "weight": [1.0], "source": "logged"})
    honest = pd.DataFrame({"chosen": ["c"], "rejected": ["d"], "weight": [1.0], "source": "honesty"})
    ranked = pd.DataFrame({"chosen": ["e", "f"], "rejected": ["g", "h"], "weight": [9.0, 1e-9],
                           "source": "reward_model"})
    mixed = mix_pairs(logged, honest, 20, 0.25, seed=0, ranked=ranked, ranked_share=0.5)
    assert mixed["source"].value_counts().to_dict() == {"reward_model": 10, "logged": 5, "honesty": 5}
    assert set(mixed.loc[mixed["source"] == "reward_model", "chosen"]) == {"e"}
    # without ranked pairs the draw is what it was before they existed
    pd.testing.assert_frame_equal(mix_pairs(logged, honest, 20, 0.25, seed=0),
                                  mix_pairs(logged, honest, 20, 0.25, seed=0, ranked=ranked.iloc[:0],
                                            ranked_share=0.5))


def test_config_checks_the_shares():
    assert make_config("dpo", "quick").reward_pairs == 0.0
    with pytest.raises(InputError, match="reward_pairs"):
        make_config("dpo", "quick", honesty_pairs=0.5, reward_pairs=0.5)
    with pytest.raises(InputError, match="reward_pairs_samples"):
        make_config("dpo", "quick", reward_pairs=0.3, reward_pairs_samples=1)


def _dpo_cfg(tiny_dir, **kw):
    return make_config("dpo", "quick", generator=str(tiny_dir), min_pairs=2, per_device_train_batch_size=2,
                       num_train_pairs=8, max_length=128, max_steps=1, save_steps=1, **kw)


def test_reward_pairs_need_a_reward_model(tiny_causal_lm_dir, tmp_path):
    with pytest.raises(InputError, match="reward model"):
        train_dpo(training_logs(), CATALOG, PLACEMENTS, _dpo_cfg(tiny_causal_lm_dir, reward_pairs=0.5),
                  tmp_path / "dpo", SEGMENTS)


def test_dpo_trains_on_reward_ranked_pairs(tiny_causal_lm_dir, tmp_path):
    cfg = _dpo_cfg(tiny_causal_lm_dir, reward_pairs=0.5, reward_pairs_contexts=4, reward_pairs_samples=4,
                   reward_pairs_min_gain=0.0)
    summary = train_dpo(training_logs(), CATALOG, PLACEMENTS, cfg, tmp_path / "dpo", SEGMENTS,
                        reward_model=length_reward)
    info = summary["data"]["reward_ranked"]
    assert info["contexts"] == 4 and info["samples"] == 16 and info["pairs"] >= 1
    drawn = [json.loads(line) for line in (tmp_path / "dpo" / "train_pairs.jsonl").read_text().splitlines()]
    ranked = [d for d in drawn if d["source"] == "reward_model"]
    assert len(ranked) == 4 == summary["data"]["train_pairs_reward_model"]
    for d in ranked:  # the gain is the online reward's gap, and the chosen copy passes every guard
        pair = pd.DataFrame({"item_id": d["item_id"], "segment": d["segment"], "placement": d["placement"],
                             "raw_copy_text": [d["chosen"], d["rejected"]]})
        score, guards = score_copies(pair, length_reward, CATALOG, PLACEMENTS)
        assert guards[0] == 0 and score[0] - score[1] == pytest.approx(d["gain"]) and d["gain"] >= 0
