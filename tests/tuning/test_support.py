"""The support guard: free near the item's logged copy, -1 for copy about nothing the logs show."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pandas as pd
import pytest

from rlopt.errors import InputError
from rlopt.tuning.config import make_config
from rlopt.tuning.rewards import build_reward_funcs
from rlopt.tuning.support import LoggedSupportPenalty, copy_value_lift, reference_copies
from tests.tuning.tuning_data import CATALOG, PLACEMENTS, make_logs

VOCAB = ("trail", "running", "shoes", "grip", "coffee", "set", "brew", "here", "is", "the", "copy")


class BagOfWords:
    """A stand-in sentence encoder: word counts over VOCAB (cosine = shared words)."""

    spec = "bag-of-words"

    def encode(self, texts):
        return np.array([[re.findall(r"\w+", t.lower()).count(w) for w in VOCAB] for t in texts], dtype=float)


LOGS = pd.DataFrame({
    "item_id": ["i1", "i1", "i1", "i2", "i2", "i1"],
    "copy_text": ["Trail running shoes", "Trail shoes grip", "Running shoes grip", "Coffee set", "Brew coffee",
                  "Trail running shoes"],  # a repeat: distinct copy only
})
KW = {"item_id": ["i1", "i1", "i1", "i3", "i1"], "placement": ["push"] * 5}


def test_threshold_is_the_quantile_of_logged_nearest_other_similarity():
    guard = LoggedSupportPenalty(LOGS, PLACEMENTS, quantile=0.5, encoder=BagOfWords()).fit()
    # i1's copies: each pair shares 2 of 3 words (cos 2/3); i2's pair shares one of 2 (cos 1/2)
    assert len(guard.logged_texts) == 5
    assert guard.tau == pytest.approx(2 / 3)


def test_penalty_ramps_from_zero_at_tau_to_minus_one_at_no_similarity():
    guard = LoggedSupportPenalty(LOGS, PLACEMENTS, quantile=0.5, encoder=BagOfWords())
    logged = []
    out = guard(None, ["Trail running shoes", "Here is the copy", "Trail copy here", "coffee", ""],
                log_metric=lambda name, value: logged.append((name, value)), **KW)
    sim = 1 / 3  # "Trail copy here" vs "Trail running shoes": one shared word of 3 and 3
    assert out[0] == 0.0  # a logged copy of its item
    assert out[1] == -1.0  # shares no word with any i1 copy
    assert out[2] == pytest.approx(-(2 / 3 - sim) / (2 / 3))
    assert out[3] == 0.0  # i3 is not in the logs: compared with all logged copy (i2's "Coffee set")
    assert out[4] == -1.0  # empty
    assert logged and logged[0][0] == "support/similarity"


def test_support_guard_pickles_without_its_encoder_model():
    guard = LoggedSupportPenalty(LOGS, PLACEMENTS, encoder=BagOfWords()).fit()
    state = guard.__getstate__()
    assert state["encoder"] == "bag-of-words" and state["_emb"] is None
    assert pickle.loads(pickle.dumps(LoggedSupportPenalty(LOGS, PLACEMENTS))).encoder == "default"


@pytest.mark.parametrize("logs, pattern", [
    (LOGS.drop(columns="copy_text"), "copy_text"),
    (LOGS.assign(copy_text=" "), "have none"),
    (pd.DataFrame({"item_id": ["i1", "i2"], "copy_text": ["a", "b"]}), "two or more distinct logged copies"),
])
def test_support_guard_input_errors(logs, pattern):
    with pytest.raises(InputError, match=pattern):
        LoggedSupportPenalty(logs, PLACEMENTS, encoder=BagOfWords()).fit()


# i1 (real discount 20%): a strong, a middling and a weak copy, plus a strong but misleading one;
# i2: two copies, one clearly better
VALUE_LOGS = make_logs([
    ("i1", "bargain", "push", "Trail running shoes", 400, 80, 10),
    ("i1", "bargain", "push", "Trail shoes grip", 400, 40, 4),
    ("i1", "bargain", "push", "Running shoes grip", 400, 8, 0),
    ("i1", "bargain", "push", "Trail shoes 50% off", 400, 120, 5),
    ("i2", "bargain", "push", "Coffee set", 400, 60, 6),
    ("i2", "premium", "push", "Brew coffee", 400, 10, 0),
    ("i2", "premium", "push", "Coffee set", 400, 50, 5),
])


def test_value_lift_is_the_log_ratio_to_the_contexts_mean_value():
    lift = copy_value_lift(VALUE_LOGS, PLACEMENTS).set_index(["item_id", "copy_text"])["lift"]
    assert lift[("i1", "Trail shoes 50% off")] > lift[("i1", "Trail running shoes")] > 0
    assert lift[("i1", "Running shoes grip")] < lift[("i1", "Trail shoes grip")] < lift[("i1", "Trail running shoes")]
    # "Coffee set" was shown alone for bargain (lift 0 there) and beat "Brew coffee" for premium
    assert lift[("i2", "Coffee set")] > 0 > lift[("i2", "Brew coffee")]
    assert lift[("i2", "Coffee set")] < lift[("i2", "Brew coffee")] * -1  # diluted by its lone group


def test_reference_keeps_each_items_best_honest_copies():
    assert len(reference_copies(VALUE_LOGS, PLACEMENTS)) == 6  # top_share 1: every distinct copy
    ref = reference_copies(VALUE_LOGS, PLACEMENTS, 0.5, CATALOG)
    kept = set(zip(ref["item_id"], ref["copy_text"], strict=True))
    # the claimed 50% is not i1's 20%: dropped, however well it did; then the better half of each item
    assert kept == {("i1", "Trail running shoes"), ("i1", "Trail shoes grip"), ("i2", "Coffee set")}
    with pytest.raises(ValueError, match="needs the catalog"):
        reference_copies(VALUE_LOGS, PLACEMENTS, 0.5)


def test_value_weighted_guard_measures_support_against_the_reference_only():
    full = LoggedSupportPenalty(VALUE_LOGS, PLACEMENTS, quantile=0.5, encoder=BagOfWords())
    best = LoggedSupportPenalty(VALUE_LOGS, PLACEMENTS, quantile=0.5, encoder=BagOfWords(),
                                top_share=0.5, catalog=CATALOG)
    assert best.fit().tau == full.fit().tau  # tau: how close an item's copies are, from all of them
    kw = {"item_id": ["i1", "i2"], "placement": ["push"] * 2}
    copies = ["Running shoes grip", "Brew coffee"]  # logged, but the weak ones
    assert full(None, copies, **kw) == [0.0, 0.0]
    tau = best.tau
    # nearest reference copies: "Trail shoes grip" (2 of 3 words, cos 2/3) and "Coffee set" (cos 1/2)
    assert best(None, copies, **kw) == pytest.approx([-(tau - 2 / 3) / tau, -(tau - 1 / 2) / tau])


@pytest.mark.parametrize("kwargs, pattern", [({"support_quantile": 1.0}, "support_quantile"),
                                             ({"support_penalty": -1.0}, "support_penalty"),
                                             ({"support_top_share": 0.0}, "support_top_share"),
                                             ({"support_top_share": 1.5}, "support_top_share")])
def test_online_config_checks_the_support_fields(kwargs, pattern):
    with pytest.raises(InputError, match=pattern):
        make_config("grpo", "quick", **kwargs)


def test_support_guard_is_built_only_when_weighted_and_needs_the_logs():
    off = make_config("grpo", "quick")
    on = make_config("rloo", "quick", support_penalty=0.5, support_quantile=0.3)
    assert "logged_support" not in [f.__name__ for f in build_reward_funcs(None, CATALOG, PLACEMENTS, off, LOGS)[0]]
    funcs, weights = build_reward_funcs(None, CATALOG, PLACEMENTS, on, LOGS)
    assert funcs[-1].__name__ == "logged_support" and funcs[-1].quantile == 0.3 and weights[-1] == 0.5
    assert funcs[-1].top_share == 1.0
    best = make_config("grpo", "quick", support_penalty=1.0, support_top_share=0.5)
    guard = build_reward_funcs(None, CATALOG, PLACEMENTS, best, VALUE_LOGS)[0][-1]
    assert guard.top_share == 0.5 and guard.is_reference.sum() == 3
    with pytest.raises(ValueError, match="needs the training logs"):
        build_reward_funcs(None, CATALOG, PLACEMENTS, on)
