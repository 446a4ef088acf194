"""Pair mining on a hand-built log: the expected pairs, in order, with sensible weights."""

from __future__ import annotations

import numpy as np
import pytest

from rlopt.tuning.pairs import copy_stats, mine_pairs, sample_pairs
from tests.tuning.tuning_data import PLACEMENTS, make_logs


def _log():
    return make_logs([
        # group 1: A clearly beats C; B is between and too close to call against A at 0.9
        ("i1", "bargain", "push", "A", 500, 100, 10),
        ("i1", "bargain", "push", "B", 500, 85, 8),
        ("i1", "bargain", "push", "C", 500, 20, 0),
        # group 2: one copy only -> no pairs
        ("i1", "premium", "push", "D", 500, 50, 5),
        # group 3: a tie -> no pairs
        ("i2", "bargain", "home_banner", "E", 300, 30, 3),
        ("i2", "bargain", "home_banner", "F", 300, 30, 3),
    ])


def test_expected_pairs_ctr():
    pairs = mine_pairs(_log(), PLACEMENTS, min_confidence=0.9, value_metric="ctr")
    got = [(r.chosen, r.rejected) for r in pairs.itertuples()]
    assert got == [("A", "C"), ("B", "C")]
    assert (pairs["segment"] == "bargain").all() and (pairs["item_id"] == "i1").all()
    # gain = difference of posterior mean CTRs (~0.2 - 0.04), confidence ~1
    assert pairs["gain"].iloc[0] == pytest.approx(0.16, abs=0.01)
    assert pairs["confidence"].min() > 0.999
    np.testing.assert_allclose(pairs["weight"], pairs["gain"] * pairs["confidence"])
    assert pairs["weight"].iloc[0] > pairs["weight"].iloc[1]


def test_lower_confidence_adds_the_close_pair():
    pairs = mine_pairs(_log(), PLACEMENTS, min_confidence=0.6, value_metric="ctr")
    assert ("A", "B") in {(r.chosen, r.rejected) for r in pairs.itertuples()}


def test_without_segment_groups_by_item_and_placement():
    logs = _log().drop(columns=["segment"])
    pairs = mine_pairs(logs, PLACEMENTS, min_confidence=0.9, value_metric="ctr")
    assert set(pairs["segment"]) == {""}
    # D joins group 1 once segments are gone: A beats D, D beats C
    got = {(r.chosen, r.rejected) for r in pairs.itertuples()}
    assert {("A", "C"), ("B", "C"), ("A", "D"), ("D", "C")} <= got


def test_examination_corrects_position_bias():
    logs = make_logs([("i2", "bargain", "home_banner", "X", 400, 40, 0),
                      ("i2", "bargain", "home_banner", "Y", 400, 40, 0)])
    logs.loc[logs["copy_text"] == "Y", "position"] = 1  # examined half as often -> same clicks is better
    stats = copy_stats(logs, PLACEMENTS, value_metric="ctr").set_index("copy_text")
    assert stats.loc["Y", "n_eff"] == pytest.approx(200.0)
    assert stats.loc["Y", "mean"] > 1.8 * stats.loc["X", "mean"]
    pairs = mine_pairs(logs, PLACEMENTS, min_confidence=0.9, value_metric="ctr")
    assert [(r.chosen, r.rejected) for r in pairs.itertuples()] == [("Y", "X")]


def test_mining_is_seeded():
    a = mine_pairs(_log(), PLACEMENTS, min_confidence=0.6, seed=3)
    b = mine_pairs(_log(), PLACEMENTS, min_confidence=0.6, seed=3)
    assert a.equals(b)


def test_sample_pairs_follows_weights():
    pairs = mine_pairs(_log(), PLACEMENTS, min_confidence=0.9, value_metric="ctr")
    drawn = sample_pairs(pairs, 4000, seed=0)
    share = (drawn["chosen"] == "A").mean()
    expected = pairs["weight"].iloc[0] / pairs["weight"].sum()
    assert share == pytest.approx(expected, abs=0.03)
    assert sample_pairs(pairs, 4000, seed=0).equals(drawn)


def test_guard_drops_misleading_or_overlong_chosen():
    import pandas as pd

    from rlopt.tuning.dpo import guard_pairs
    from tests.tuning.tuning_data import CATALOG

    pairs = pd.DataFrame({"item_id": ["i1", "i1", "i2", "i1"], "placement": ["push"] * 4,
                          "chosen": ["Now 20% off", "Now 50% off", "Coffee set on sale", "x" * 41],
                          "rejected": ["a"] * 4})
    assert guard_pairs(pairs, CATALOG, PLACEMENTS)["chosen"].tolist() == ["Now 20% off"]
