"""Issue 19 item 4: DPO pair mining on anyone's logs — every knob settable, an error that gives
values computed on these logs, the groups really used, and ``auto_relax``."""

from __future__ import annotations

import re
import warnings

import pytest

from rlopt.errors import InputError
from rlopt.tuning.config import make_config
from rlopt.tuning.dpo import pairs_for
from rlopt.tuning.pairs import group_counts, mine_pairs, relax_ladder
from tests.tuning.tuning_data import CATALOG, PLACEMENTS, make_logs


def weak_logs():
    """Per item x segment x placement, one copy that is a bit better: confident only at low thresholds."""
    spec = []
    for item in ("i1", "i2"):
        for seg in ("bargain", "premium", "mobile"):
            spec += [(item, seg, "push", f"Good {item} for {seg}", 200, 24, 2),
                     (item, seg, "push", f"Plain {item}", 200, 16, 1),
                     (item, seg, "push", f"Dull {item} words", 200, 12, 1)]
    return make_logs(spec)


def cfg(**kw):
    return make_config("dpo", "quick", **kw)


def test_error_gives_counts_on_these_logs_and_the_real_groups():
    logs = weak_logs()
    with pytest.raises(InputError) as err:
        pairs_for(logs, PLACEMENTS, cfg(min_pairs=12, min_confidence=0.9), CATALOG)
    msg = str(err.value)
    assert "in 6 item x segment x placement groups" in msg  # not the 2 item x placement groups
    assert "6 with two or more copies" in msg
    # every suggestion is a value below the one in use, with a count computed on these logs
    suggested = re.findall(r"(0\.\d+) would give (\d+)", msg)
    assert suggested and all(float(c) < 0.9 for c, _ in suggested)
    assert "min_confidence 0.9 would" not in msg
    for c, n in suggested:  # the counts are what mining at that threshold really gives
        assert int(n) == len(pairs_for(logs, PLACEMENTS, cfg(min_pairs=1, min_confidence=float(c)), CATALOG)[0])
    assert "value_metric 'ctr'" in msg and "--auto-relax" in msg
    assert err.value.key == "min_pairs"


def test_error_never_suggests_the_value_in_use():
    with pytest.raises(InputError) as err:
        pairs_for(weak_logs(), PLACEMENTS, cfg(min_pairs=500, min_confidence=0.8, value_metric="ctr"), CATALOG)
    msg = str(err.value)
    assert "min_confidence 0.8 would" not in msg and "value_metric 'ctr'" not in msg
    assert "0.75 would give" in msg


def test_auto_relax_lowers_step_by_step_and_warns_with_the_values_used():
    logs = weak_logs()
    config = cfg(min_pairs=12, min_confidence=0.9, auto_relax=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pairs, _ = pairs_for(logs, PLACEMENTS, config, CATALOG)
    assert len(pairs) >= 12
    text = " ".join(str(w.message) for w in caught)
    assert "auto_relax" in text and f"min_confidence={config.min_confidence}" in text
    assert f"pair_scope={config.pair_scope!r}" in text
    # the values used are recorded in the config (tuning.json): the first step of the ladder that gives enough
    used = (config.min_confidence, config.value_metric, config.pair_scope)
    ladder = relax_ladder(0.9, "combined", "context")
    for c, m, scope in ladder[:ladder.index(used)]:
        assert len(pairs_for(logs, PLACEMENTS, cfg(min_pairs=1, min_confidence=c, value_metric=m, pair_scope=scope),
                             CATALOG)[0]) < 12


def test_auto_relax_lowers_the_threshold_step_by_step_in_the_item_scope():
    logs = weak_logs()
    config = cfg(min_pairs=14, min_confidence=0.99, auto_relax=True, pair_scope="item")
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        pairs, _ = pairs_for(logs, PLACEMENTS, config, CATALOG)
    assert len(pairs) >= 14 and config.min_confidence < 0.99 and config.pair_scope == "item"
    for c in (0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55):
        if c > config.min_confidence:
            assert len(pairs_for(logs, PLACEMENTS, cfg(min_pairs=1, min_confidence=c, pair_scope="item"),
                                 CATALOG)[0]) < 14


def test_knobs_reach_mining():
    logs = weak_logs()
    loose = pairs_for(logs, PLACEMENTS, cfg(min_pairs=1, min_confidence=0.55), CATALOG)[0]
    none = mine_pairs(logs, PLACEMENTS, min_confidence=0.55, min_impressions=201)
    assert len(loose) > 0 and none.empty
    with pytest.raises(InputError, match="only 0 confident"):
        pairs_for(logs, PLACEMENTS, cfg(min_pairs=1, min_confidence=0.55, min_impressions=201), CATALOG)


def test_group_counts_fall_back_to_item_x_placement_without_segment():
    logs = weak_logs()
    assert group_counts(logs, 3) == (6, 6, "item x segment x placement")
    assert group_counts(logs.drop(columns="segment"), 3) == (2, 2, "item x placement")
