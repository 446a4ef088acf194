"""The out-of-core splits by time and by user (``rlopt split`` on a folder of shards or a large file): the same train and
holdout files and summary as the in-memory split, its tie rule included; bad shards are one paragraph."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rlopt.data import read_table, split_logs, validate_table, write_table
from rlopt.data.split import split_by_time_streamed, split_by_user_streamed, split_summary
from rlopt.errors import InputError
from tests._cli import one_line, run_rlopt

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def logs() -> pd.DataFrame:
    """examples/logs.csv with blocks of equal timestamps (ties at every cut point) and rows out of order."""
    df = read_table(EXAMPLES / "logs.csv", decode_json=False)
    ts = pd.to_datetime(df["timestamp"], utc=True)
    df["timestamp"] = ts.dt.floor("10s").dt.strftime("%Y-%m-%dT%H:%M:%SZ")  # many rows share a timestamp
    return df.sample(frac=1.0, random_state=0).reset_index(drop=True)


def _shards(root: Path, frame: pd.DataFrame, parts: int = 3) -> Path:
    root.mkdir(parents=True)
    for k, part in enumerate(np.array_split(np.arange(len(frame)), parts)):
        write_table(frame.iloc[part], root / f"part-{k}.parquet")
    return root


def _in_memory(frame: pd.DataFrame, fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    clean, _ = validate_table(frame, "logs", file="logs")
    return split_logs(clean, fraction, by="time")


@pytest.mark.parametrize("fraction", [0.1, 0.2, 0.5, 0.83])
def test_streamed_split_equals_the_in_memory_split(logs, fraction, tmp_path):
    src = _shards(tmp_path / "shards", logs)
    out = tmp_path / "out"
    out.mkdir()
    done = split_by_time_streamed(src, out / "train.parquet", out / "holdout.parquet", fraction, batch_rows=97)
    train, holdout = _in_memory(logs, fraction)
    assert done.batches > 3  # really in batches
    for name, want in (("train", train), ("holdout", holdout)):
        got = read_table(out / f"{name}.parquet")
        pd.testing.assert_frame_equal(got, read_table(write_table(want, tmp_path / f"{name}-mem.parquet")))
    assert done.summary == split_summary(train, holdout, "time")
    assert sorted(p.name for p in out.iterdir()) == ["holdout.parquet", "train.parquet"]  # scratch removed


def test_split_cli_on_shards_writes_what_the_in_memory_cli_writes(logs, tmp_path, monkeypatch, capsys):
    src = _shards(tmp_path / "shards", logs)
    whole = write_table(logs, tmp_path / "logs.parquet")  # small: split in memory
    results = {}
    for name, path in (("streamed", src), ("memory", whole)):
        run = run_rlopt(monkeypatch, capsys, "split", path, "--out", tmp_path / name, "--holdout-fraction", "0.3",
                        "--json")
        assert run.code == 0, run.err
        results[name] = json.loads(run.out)
    assert results["streamed"]["read"].endswith("(streamed)") and results["memory"]["read"] == "whole (in memory)"
    for key in ("train_rows", "holdout_rows", "train_last_timestamp", "holdout_first_timestamp", "shared_users",
                "time_boundary_ok", "rows_quarantined"):
        assert results["streamed"][key] == results["memory"][key]
    for part in ("train", "holdout"):
        pd.testing.assert_frame_equal(read_table(tmp_path / "streamed" / f"{part}.parquet"),
                                      read_table(tmp_path / "memory" / f"{part}.parquet"))


def test_csv_output_and_quarantine_per_shard(logs, tmp_path):
    bad = logs.copy()
    bad.loc[5, "propensity"] = "2.0"  # shard 0
    bad.loc[1500, "clicked"] = "7"  # shard 2
    src = _shards(tmp_path / "shards", bad)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(InputError, match="row 6"):
        split_by_time_streamed(src, out / "train.csv", out / "holdout.csv", 0.2)
    assert not (out / "train.csv").exists()
    done = split_by_time_streamed(src, out / "train.csv", out / "holdout.csv", 0.2, on_error="quarantine",
                                  quarantine_path=out / "logs.quarantine.jsonl", batch_rows=200)
    assert done.report.rows_quarantined == 2 and done.report.rows_valid == len(logs) - 2
    assert done.summary["train_rows"] + done.summary["holdout_rows"] == len(logs) - 2
    train, holdout = _in_memory(bad.drop(index=[5, 1500]), 0.2)
    assert len(read_table(out / "holdout.csv")) == len(holdout) and len(read_table(out / "train.csv")) == len(train)


def test_shard_with_another_schema_is_one_paragraph(logs, tmp_path, monkeypatch, capsys):
    src = _shards(tmp_path / "shards", logs, parts=2)
    other = read_table(src / "part-1.parquet", decode_json=False)
    other["position"] = other["position"].astype(float) + 0.5
    write_table(other, src / "part-1.parquet")
    run = run_rlopt(monkeypatch, capsys, "split", src, "--out", tmp_path / "s")
    assert run.code == 2 and "Traceback" not in run.err
    assert f"{src / 'part-1.parquet'}, column 'position'" in one_line(run.err)
    assert not (tmp_path / "s" / "train.parquet").exists()


def test_one_timestamp_cannot_be_split(logs, tmp_path):
    same = logs.assign(timestamp="2025-01-01T00:00:00Z")
    src = _shards(tmp_path / "shards", same, parts=2)
    with pytest.raises(InputError, match="all rows share one value of 'timestamp'"):
        split_by_time_streamed(src, tmp_path / "train.parquet", tmp_path / "holdout.parquet", 0.2)
    assert not (tmp_path / "train.parquet").exists()


# ------------------------------------------------------------------------------------------- by user
@pytest.fixture(scope="module")
def user_logs(logs) -> pd.DataFrame:
    """The same rows with 150 users of 1 to ~30 rows each (so whole users, not rows, are moved)."""
    rng = np.random.default_rng(3)
    ids = rng.zipf(1.6, len(logs)) % 150
    return logs.assign(user_id=[f"u{k:03d}" for k in ids])


def _user_split_in_memory(frame: pd.DataFrame, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    clean, _ = validate_table(frame, "logs", file="logs")
    return split_logs(clean, fraction, by="user", seed=seed)


@pytest.mark.parametrize(("seed", "fraction"), [(0, 0.2), (7, 0.5), (123, 0.83)])
def test_streamed_user_split_holds_out_the_in_memory_users(user_logs, seed, fraction, tmp_path):
    src = _shards(tmp_path / "shards", user_logs)
    out = tmp_path / "out"
    out.mkdir()
    done = split_by_user_streamed(src, out / "train.parquet", out / "holdout.parquet", fraction, seed=seed,
                                  batch_rows=97)
    train, holdout = _user_split_in_memory(user_logs, fraction, seed)
    assert done.batches > 3 and done.cut is None
    for name, want in (("train", train), ("holdout", holdout)):
        got = read_table(out / f"{name}.parquet")
        pd.testing.assert_frame_equal(got, read_table(write_table(want, tmp_path / f"{name}-mem.parquet")))
    assert done.summary == split_summary(train, holdout, "user") and done.summary["shared_users"] == 0
    assert sorted(p.name for p in out.iterdir()) == ["holdout.parquet", "train.parquet"]  # scratch removed


@pytest.mark.parametrize(("seed", "fraction"), [(1, 0.3), (42, 0.1)])
def test_streamed_user_split_of_a_csv_writes_the_in_memory_files(user_logs, seed, fraction, tmp_path):
    src = tmp_path / "logs.csv"
    user_logs.to_csv(src, index=False)
    out = tmp_path / "out"
    out.mkdir()
    split_by_user_streamed(src, out / "train.csv", out / "holdout.csv", fraction, seed=seed, batch_rows=200)
    train, holdout = _user_split_in_memory(read_table(src, decode_json=False), fraction, seed)
    for name, want in (("train", train), ("holdout", holdout)):
        pd.testing.assert_frame_equal(read_table(out / f"{name}.csv"),
                                      read_table(write_table(want, tmp_path / f"{name}-mem.csv")))


def test_split_cli_by_user_on_shards_writes_what_the_in_memory_cli_writes(user_logs, tmp_path, monkeypatch, capsys):
    src = _shards(tmp_path / "shards", user_logs)
    whole = write_table(user_logs, tmp_path / "logs.parquet")  # small: split in memory
    results = {}
    for name, path in (("streamed", src), ("memory", whole)):
        run = run_rlopt(monkeypatch, capsys, "split", path, "--out", tmp_path / name, "--by", "user", "--seed", "5",
                        "--holdout-fraction", "0.3", "--json")
        assert run.code == 0, run.err
        results[name] = json.loads(run.out)
    assert results["streamed"]["read"].endswith("(streamed)") and results["memory"]["read"] == "whole (in memory)"
    for key in ("by", "train_rows", "holdout_rows", "train_users", "holdout_users", "shared_users", "seed"):
        assert results["streamed"][key] == results["memory"][key]
    for part in ("train", "holdout"):
        pd.testing.assert_frame_equal(read_table(tmp_path / "streamed" / f"{part}.parquet"),
                                      read_table(tmp_path / "memory" / f"{part}.parquet"))


def test_one_user_cannot_be_split(logs, tmp_path):
    src = _shards(tmp_path / "shards", logs.assign(user_id="u1"), parts=2)
    with pytest.raises(InputError, match="all rows share one value of 'user_id'"):
        split_by_user_streamed(src, tmp_path / "train.parquet", tmp_path / "holdout.parquet", 0.2)
    assert not (tmp_path / "train.parquet").exists()
