"""OBD loader: shapes, encodings and bad-input errors on the test subset."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rlopt.data.obd import OBDFeedback, load_obd
from rlopt.errors import InputError

DATA = Path(__file__).resolve().parents[1] / "data" / "obd"


@pytest.mark.parametrize("sub", ["random", "random/all", "random/all/all.csv"])
def test_paths_resolve_to_the_same_log(sub):
    fb = load_obd(DATA / sub)
    assert isinstance(fb, OBDFeedback)
    assert fb.policy_name == "random"
    assert fb.n_rounds == 400


def test_shapes_and_encodings():
    fb = load_obd(DATA / "bts")
    n = fb.n_rounds
    assert fb.policy_name == "bts" and fb.n_actions == 80 and fb.len_list == 3
    assert fb.context.shape[0] == n and fb.action.shape == fb.position.shape == fb.reward.shape == (n,)
    raw = pd.read_csv(DATA / "bts/all/all.csv", index_col=0)
    np.testing.assert_array_equal(fb.action, raw["item_id"].to_numpy())
    np.testing.assert_array_equal(fb.position, raw["position"].to_numpy() - 1)  # 1..3 -> 0..2
    np.testing.assert_allclose(fb.pscore, raw["propensity_score"].to_numpy())
    assert fb.on_policy_value() == pytest.approx(raw["click"].mean())
    # each of the 4 hashed user features is one-hot: exactly one 1 per feature per row
    assert fb.context.sum(axis=1).tolist() == [4.0] * n
    assert len(fb.context_names) == fb.context.shape[1]
    assert fb.action_context.shape == (80, len(fb.action_context_names))
    assert np.all(np.diff(fb.timestamp) >= 0)


def test_affinity_and_shared_categories():
    rnd = load_obd(DATA / "random", include_affinity=True)
    assert rnd.context.shape[1] == sum(len(c) for c in rnd.user_categories.values()) + 80
    bts = load_obd(DATA / "bts", user_categories=rnd.user_categories)
    assert bts.context_names == rnd.context_names[: bts.context.shape[1]]
    assert bts.context.shape[1] == rnd.context.shape[1] - 80


def _broken_copy(tmp_path, edit) -> Path:
    target = tmp_path / "bts" / "all"
    shutil.copytree(DATA / "bts" / "all", target)
    frame = pd.read_csv(target / "all.csv", dtype=str, keep_default_na=False)
    edit(frame)
    frame.to_csv(target / "all.csv", index=False)
    return target


def _set(col, row, value):
    def edit(frame):
        frame.loc[row, col] = value

    return edit


BAD = [
    (lambda f: f.insert(3, "clicks_total", "1"), r"unexpected columns \['clicks_total'\]"),
    (lambda f: f.pop("propensity_score"), r"missing columns \['propensity_score'\]"),
    (_set("propensity_score", 4, "0"), r"row 5, column 'propensity_score'.*outside \(0, 1\]"),
    (_set("propensity_score", 2, ""), r"row 3, column 'propensity_score'.*non-numeric or missing"),
    (_set("item_id", 7, "80"), r"row 8, column 'item_id'.*integers 0\.\.79"),
    (_set("position", 0, "0"), r"row 1, column 'position'"),
    (_set("click", 9, "2"), r"row 10, column 'click'.*integers 0\.\.1"),
    (_set("timestamp", 3, "yesterday"), r"row 4, column 'timestamp'"),
]


@pytest.mark.parametrize(("edit", "match"), BAD)
def test_bad_files_raise_input_error(tmp_path, edit, match):
    path = _broken_copy(tmp_path, edit)
    with pytest.raises(InputError, match=match):
        load_obd(path)


def test_missing_log_names_the_place(tmp_path):
    with pytest.raises(InputError, match="no OBD log found"):
        load_obd(tmp_path)
