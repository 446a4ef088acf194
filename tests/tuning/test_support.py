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
from rlopt.tuning.support import LoggedSupportPenalty
from tests.tuning.tuning_data import CATALOG, PLACEMENTS

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


@pytest.mark.parametrize("kwargs, pattern", [({"support_quantile": 1.0}, "support_quantile"),
                                             ({"support_penalty": -1.0}, "support_penalty")])
def test_online_config_checks_the_support_fields(kwargs, pattern):
    with pytest.raises(InputError, match=pattern):
        make_config("grpo", "quick", **kwargs)


def test_support_guard_is_built_only_when_weighted_and_needs_the_logs():
    off = make_config("grpo", "quick")
    on = make_config("rloo", "quick", support_penalty=0.5, support_quantile=0.3)
    assert "logged_support" not in [f.__name__ for f in build_reward_funcs(None, CATALOG, PLACEMENTS, off, LOGS)[0]]
    funcs, weights = build_reward_funcs(None, CATALOG, PLACEMENTS, on, LOGS)
    assert funcs[-1].__name__ == "logged_support" and funcs[-1].quantile == 0.3 and weights[-1] == 0.5
    with pytest.raises(ValueError, match="needs the training logs"):
        build_reward_funcs(None, CATALOG, PLACEMENTS, on)
