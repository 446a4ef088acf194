"""`rlopt split`: train/holdout files in the input's format, the no-leakage rules checked on the output."""

from __future__ import annotations

import json

import pytest

from rlopt.data import read_table, write_table
from tests._cli import one_line, run_rlopt
from tests.data._datafixtures import make_logs


@pytest.fixture
def split_cli(capsys, monkeypatch):
    """Run ``rlopt split ARGS`` through ``rlopt.cli.main``; return (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        code, out, err = run_rlopt(monkeypatch, capsys, "split", *args)
        return code, out, one_line(err)

    return run


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_time_split_keeps_every_train_row_before_the_holdout(suffix, tmp_path, split_cli):
    logs = write_table(make_logs(), tmp_path / f"logs{suffix}")
    code, out, err = split_cli(logs, "--out", tmp_path / "s", "--by", "time", "--holdout-fraction", "0.25", "--json")
    assert code == 0, err
    summary = json.loads(out)
    train, holdout = read_table(tmp_path / "s" / f"train{suffix}"), read_table(tmp_path / "s" / f"holdout{suffix}")
    assert len(train) + len(holdout) == len(make_logs())
    assert summary["time_boundary_ok"] and summary["holdout_rows"] == len(holdout)
    assert abs(len(holdout) / len(make_logs()) - 0.25) < 0.2
    assert train["timestamp"].astype("int64").max() <= holdout["timestamp"].astype("int64").min()  # epoch ms
    assert json.loads((tmp_path / "s" / "split.json").read_text())["seed"] == 0


def test_user_split_shares_no_user_and_follows_the_seed(tmp_path, split_cli):
    logs = write_table(make_logs(), tmp_path / "logs.parquet")
    results = []
    for seed, out in ((1, "a"), (1, "b"), (2, "c")):
        code, text, err = split_cli(logs, "--out", tmp_path / out, "--by", "user", "--seed", seed, "--json")
        assert code == 0, err
        results.append(json.loads(text))
        train = read_table(tmp_path / out / "train.parquet")
        holdout = read_table(tmp_path / out / "holdout.parquet")
        assert not set(train["user_id"]) & set(holdout["user_id"]) and results[-1]["shared_users"] == 0
    assert read_table(tmp_path / "a" / "holdout.parquet").equals(read_table(tmp_path / "b" / "holdout.parquet"))
    other = read_table(tmp_path / "c" / "holdout.parquet")  # seed 2 holds out another user (u3, not u5)
    assert set(other["user_id"]) != set(read_table(tmp_path / "a" / "holdout.parquet")["user_id"])


def test_bad_input_and_foreign_files_exit_2(tmp_path, split_cli):
    logs = write_table(make_logs(), tmp_path / "logs.csv")
    code, _, err = split_cli(logs, "--out", tmp_path / "s", "--holdout-fraction", "1.5")
    assert code == 2 and "holdout_fraction must be in (0, 1)" in err
    code, _, err = split_cli(logs, "--out", tmp_path / "s", "--by", "item")
    assert code == 2 and "--by must be time or user" in err
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "train.csv").write_text("not rlopt's\n")
    code, _, err = split_cli(logs, "--out", tmp_path / "mine")
    assert code == 2 and "not written by rlopt split" in err
    assert (tmp_path / "mine" / "train.csv").read_text() == "not rlopt's\n"
    broken = make_logs()
    broken.loc[3, "position"] = -1
    code, _, err = split_cli(write_table(broken, tmp_path / "bad.csv"), "--out", tmp_path / "t")
    assert code == 2 and "row 4" in err and "position" in err
