"""``pair_scope``: DPO pairs pooled per item with clicks over expected clicks (issue 19, small logs)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from rlopt.errors import InputError
from rlopt.tuning.config import make_config
from rlopt.tuning.pairs import (
    PAIR_COLUMNS,
    context_exposure,
    item_copy_stats,
    mine_enough_pairs,
    mine_pairs,
    relax_ladder,
)
from tests.tuning.tuning_data import PLACEMENTS, make_logs, training_logs

CONTEXTS = [(seg, place) for seg in ("bargain", "premium", "mobile") for place in ("push", "home_banner")]


def spread_logs(items=("i1",)):
    """Per item, copy A (3 clicks in 25) beats copy B (1 in 25) in each of 6 contexts: too few to
    confirm in any one context, plenty over the item's 150 + 150 impressions."""
    spec = []
    for item in items:
        for seg, place in CONTEXTS:
            spec += [(item, seg, place, f"Bright {item} copy", 25, 3, 0),
                     (item, seg, place, f"Flat {item} copy", 25, 1, 0)]
    return make_logs(spec)


def cfg(**kw):
    return make_config("dpo", "quick", **kw)


def test_context_scope_is_the_default_and_unchanged():
    logs = training_logs()
    default = mine_pairs(logs, PLACEMENTS, min_confidence=0.6)
    scoped = mine_pairs(logs, PLACEMENTS, min_confidence=0.6, pair_scope="context")
    assert default.equals(scoped) and len(default) > 0
    assert cfg().pair_scope == "context"
    with pytest.raises(InputError, match="pair_scope"):
        cfg(pair_scope="segment")


def test_item_scope_finds_a_pair_no_single_context_confirms():
    logs = spread_logs()
    per_context = mine_pairs(logs, PLACEMENTS, min_confidence=0.9, value_metric="ctr")
    assert per_context.empty
    pooled = mine_pairs(logs, PLACEMENTS, min_confidence=0.9, value_metric="ctr", pair_scope="item")
    assert list(pooled.columns) == list(PAIR_COLUMNS)
    assert set(pooled["chosen"]) == {"Bright i1 copy"} and set(pooled["rejected"]) == {"Flat i1 copy"}
    # one row per context the chosen copy was shown in, the item pair's weight split over them
    assert sorted(zip(pooled["segment"], pooled["placement"], strict=True)) == sorted(CONTEXTS)
    assert pooled["n_chosen"].eq(150).all() and pooled["n_rejected"].eq(150).all()
    total = pooled["gain"].iloc[0] * pooled["confidence"].iloc[0]
    assert pooled["weight"].sum() == pytest.approx(total)


def test_coec_removes_a_placement_confound():
    """Copy H is shown only in push (shoppers click 4x as often there), copy L only in the banner;
    relative to their placements they are equal. Pooled naively H would win by 4x."""
    spec = [("i2", "bargain", "push", "Other item push copy", 400, 80, 0),
            ("i2", "bargain", "home_banner", "Other item banner copy", 400, 20, 0),
            ("i1", "bargain", "push", "Copy H", 100, 20, 0),
            ("i1", "bargain", "home_banner", "Copy L", 100, 5, 0)]
    logs = make_logs(spec)
    exposure = context_exposure(logs, PLACEMENTS)
    assert exposure["click_exposure"].sum() == pytest.approx(len(logs))  # average-context impressions
    stats = item_copy_stats(logs, PLACEMENTS, value_metric="ctr").set_index("copy_text")
    assert stats.loc["Copy H", "clicks"] == 4 * stats.loc["Copy L", "clicks"]  # raw rates differ 4x
    assert stats.loc["Copy H", "mean"] == pytest.approx(stats.loc["Copy L", "mean"], rel=0.02)
    for metric in ("ctr", "combined"):
        pairs = mine_pairs(logs, PLACEMENTS, min_confidence=0.6, value_metric=metric, pair_scope="item")
        assert not ({"Copy H", "Copy L"} <= set(pairs["chosen"]) | set(pairs["rejected"])), metric


def test_item_scope_without_segment_or_examination():
    logs = spread_logs().drop(columns=["segment", "position"])
    pooled = mine_pairs(logs, None, min_confidence=0.9, value_metric="ctr", pair_scope="item")
    assert set(pooled["chosen"]) == {"Bright i1 copy"} and pooled["segment"].eq("").all()
    assert sorted(pooled["placement"]) == ["home_banner", "push"]
    exposure = context_exposure(logs)
    assert np.isfinite(exposure.to_numpy()).all()


def test_max_pairs_per_group_caps_item_pairs_per_item():
    spec = []
    for seg, place in CONTEXTS:
        spec += [("i1", seg, place, f"Copy {k}", 60, c, 0) for k, c in enumerate((12, 6, 2))]
    logs = make_logs(spec)
    full = mine_pairs(logs, PLACEMENTS, min_confidence=0.9, value_metric="ctr", pair_scope="item")
    capped = mine_pairs(logs, PLACEMENTS, min_confidence=0.9, value_metric="ctr", pair_scope="item",
                        max_pairs_per_group=1)
    assert full[["chosen", "rejected"]].drop_duplicates().shape[0] == 3
    best = full.sort_values("weight", ascending=False).iloc[0]
    assert capped[["chosen", "rejected"]].drop_duplicates().values.tolist() == [[best["chosen"], best["rejected"]]]
    assert len(capped) == len(CONTEXTS)


def test_relax_ladder_tries_the_item_scope_before_lower_thresholds():
    ladder = relax_ladder(0.9, "combined", "context")
    assert ladder[0] == (0.9, "combined", "item")
    assert ladder.index((0.85, "combined", "item")) < ladder.index((0.9, "ctr", "item"))
    assert ladder.index((0.55, "ctr", "item")) < ladder.index((0.85, "combined", "context"))
    assert (0.9, "combined", "context") not in ladder
    assert relax_ladder(0.9, "ctr", "item")[0] == (0.85, "ctr", "item")


def test_auto_relax_pools_per_item_at_the_configured_confidence():
    logs = spread_logs(("i1", "i2"))
    config = cfg(min_pairs=6, min_confidence=0.9, auto_relax=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pairs, _, used = mine_enough_pairs(logs, PLACEMENTS, config)
    assert used["pair_scope"] == "item" and used["min_confidence"] == 0.9
    assert used["relaxed_from"] == {"min_confidence": 0.9, "value_metric": "combined", "pair_scope": "context"}
    assert len(pairs) == 12
    text = " ".join(str(w.message) for w in caught)
    assert "pair_scope='context'" in text and "min_confidence=0.9, value_metric='combined', pair_scope='item'" in text


def test_error_names_the_scope_and_what_the_item_scope_gives():
    logs = spread_logs(("i1", "i2"))
    with pytest.raises(InputError) as err:
        mine_enough_pairs(logs, PLACEMENTS, cfg(min_pairs=100, min_confidence=0.9))
    msg = str(err.value)
    assert "pair_scope='context'" in msg and "12 item x segment x placement groups" in msg
    pooled = len(mine_pairs(logs, PLACEMENTS, min_confidence=0.9, pair_scope="item"))
    assert f"pair_scope 'item' (an item's copies compared over all its impressions) would give {pooled} " \
           "at min_confidence 0.9" in msg
    with pytest.raises(InputError) as err:
        mine_enough_pairs(logs, PLACEMENTS, cfg(min_pairs=100, min_confidence=0.9, pair_scope="item"))
    msg = str(err.value)
    assert "pair_scope='item'" in msg and "in 2 item groups" in msg and "pair_scope 'item' (" not in msg
