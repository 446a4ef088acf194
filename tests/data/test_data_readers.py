"""Normalization by the readers, the catalog join and the train/holdout splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rlopt.data import copy_id_for, join_catalog, read_catalog, read_logs, split_logs, write_table
from rlopt.errors import InputError
from tests.data._datafixtures import PLACEMENTS, make_catalog, make_logs


def test_timestamps_normalize_to_epoch_ms():
    df = make_logs()
    df["timestamp"] = ["2024-01-01T00:00:00Z", "2024-01-01T01:00:00+01:00", "2024-01-01",
                       "2024-01-01T00:00:00.250", 1704067200000, "1704067200001"]
    out = read_logs(df, make_catalog())
    assert out["timestamp"].dtype == "int64"
    assert out["timestamp"].tolist() == [1704067200000, 1704067200000, 1704067200000, 1704067200250,
                                         1704067200000, 1704067200001]


def test_datetime_column_from_parquet(tmp_path):
    df = make_logs()
    df["timestamp"] = pd.to_datetime(df["timestamp"], unit="ms", utc=True)
    out = read_logs(write_table(df, tmp_path / "logs.parquet"), make_catalog())
    assert out["timestamp"].tolist() == make_logs()["timestamp"].tolist()


def test_copy_id_derived_kept_or_filled():
    df = make_logs()
    out = read_logs(df, make_catalog())
    assert out["copy_id"].tolist() == [copy_id_for(t) for t in df["copy_text"]]
    assert out["copy_id"].iloc[1] == out["copy_id"].iloc[4]  # same text, same id
    df["copy_id"] = ["mine", None, "", "x", "y", "z"]
    out = read_logs(df, make_catalog())
    assert out["copy_id"].tolist() == ["mine", copy_id_for(df["copy_text"][1]), copy_id_for(df["copy_text"][2]),
                                       "x", "y", "z"]
    assert list(out.columns).index("copy_id") == list(out.columns).index("copy_text") - 1


def test_optional_blanks_follow_the_documented_policy():
    df = make_logs().astype({"revenue": object, "user_features": object})
    df.loc[1, "revenue"] = None            # not converted: blank revenue means 0
    df.loc[2, "user_features"] = None      # blank features mean {}
    out = read_logs(df, make_catalog())
    assert out["revenue"].iloc[1] == 0.0 and out["user_features"].iloc[2] == {}
    df["propensity"] = None                # a present but all-blank propensity column: "none"
    out = read_logs(df, make_catalog())
    assert out["propensity"].isna().all()
    assert "propensity" not in read_logs(make_logs().drop(columns="propensity"), make_catalog()).columns


def test_numeric_ids_are_read_as_strings_and_join(tmp_path):
    cat = make_catalog().assign(item_id=[101, 102, 103])
    logs = make_logs().assign(item_id=[101, 102, 103, 101, 102, 103], event_id=range(6))
    out = read_logs(write_table(logs, tmp_path / "logs.parquet"), write_table(cat, tmp_path / "cat.parquet"))
    assert out["item_id"].tolist()[:3] == ["101", "102", "103"] and out["event_id"].iloc[5] == "5"


def test_quarantine_of_a_dataframe_needs_a_path(tmp_path):
    df = make_logs().astype({"clicked": object})
    df.loc[0, "clicked"] = 3
    with pytest.raises(InputError, match="needs a quarantine_path"):
        read_logs(df, make_catalog(), on_error="quarantine")
    out = read_logs(df, make_catalog(), on_error="quarantine", quarantine_path=tmp_path / "q.jsonl")
    assert len(out) == 5 and out.attrs["validation"]["rows_quarantined"] == 1


def test_read_logs_checks_placements_only_when_given():
    df = make_logs()
    df.loc[0, "position"] = 7
    assert len(read_logs(df, make_catalog())) == 6
    with pytest.raises(InputError, match="position < slots"):
        read_logs(df, make_catalog(), PLACEMENTS)


def test_join_catalog():
    logs = read_logs(make_logs(), make_catalog()).assign(price=1.0)
    joined = join_catalog(logs, read_catalog(make_catalog()))
    assert len(joined) == len(logs) and joined["event_id"].tolist() == logs["event_id"].tolist()
    assert joined["title"].iloc[1] == "Rain jacket" and joined["price"].iloc[1] == 120.5
    assert joined["price_log"].tolist() == [1.0] * 6  # the log's own column is kept, renamed
    assert joined["attributes"].iloc[0] == {"color": "red"}
    with pytest.raises(InputError, match="not in the catalog") as info:
        join_catalog(logs.assign(item_id=["sku-1"] * 5 + ["gone"]), make_catalog())
    assert info.value.row == 6


def _timed_logs(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"timestamp": rng.integers(0, 50, n),  # many ties
                         "user_id": rng.choice([f"u{i}" for i in range(40)], n), "x": np.arange(n)})


@pytest.mark.parametrize("fraction", [0.1, 0.2, 0.5])
def test_time_split_has_no_leakage(fraction):
    df = _timed_logs()
    train, holdout = split_logs(df, fraction, by="time")
    assert train["timestamp"].max() < holdout["timestamp"].min()  # ties never straddle the cut
    assert len(train) + len(holdout) == len(df) and set(train["x"]).isdisjoint(holdout["x"])
    assert abs(len(holdout) / len(df) - fraction) < 0.05
    assert train.index.is_monotonic_increasing


@pytest.mark.parametrize("fraction", [0.2, 0.3])
def test_user_split_has_disjoint_users_and_is_seeded(fraction):
    df = _timed_logs()
    train, holdout = split_logs(df, fraction, by="user", seed=3)
    assert set(train["user_id"]).isdisjoint(holdout["user_id"])
    assert len(train) + len(holdout) == len(df)
    assert abs(len(holdout) / len(df) - fraction) < 0.05
    again = split_logs(df, fraction, by="user", seed=3)[1]
    assert again.index.equals(holdout.index)
    other = split_logs(df, fraction, by="user", seed=4)[1]
    assert not set(other["user_id"]) == set(holdout["user_id"])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"holdout_fraction": 0.0}, r"holdout_fraction must be in \(0, 1\)"),
    ({"holdout_fraction": 1.2}, r"holdout_fraction must be in \(0, 1\)"),
    ({"by": "item"}, "by must be 'time' or 'user'"),
])
def test_split_rejects_bad_arguments(kwargs, message):
    with pytest.raises(InputError, match=message):
        split_logs(_timed_logs(), **kwargs)


def test_split_needs_two_distinct_values():
    df = pd.DataFrame({"timestamp": [5, 5, 5], "user_id": ["a", "a", "a"]})
    with pytest.raises(InputError, match="all rows share one value of 'timestamp'"):
        split_logs(df, by="time")
    with pytest.raises(InputError, match="all rows share one value of 'user_id'"):
        split_logs(df, by="user")
