"""``reward_models.inputs.read_training_logs``: large logs validated in batches and sampled, seeded and said."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from reward_models.inputs import read_training_logs
from rlopt.data import read_catalog, read_logs, write_table
from rlopt.errors import InputError
from tests.data._datafixtures import make_catalog, make_logs


def _folder(tmp_path, n_shards=4, bad_row=None):
    root = tmp_path / "logs"
    root.mkdir()
    for k in range(n_shards):
        df = make_logs()
        df["event_id"] = [f"s{k}-{i}" for i in range(len(df))]
        df["timestamp"] = df["timestamp"] + k * 10_000
        if bad_row is not None and k == bad_row[0]:
            df = df.astype({"clicked": object})
            df.loc[bad_row[1], "clicked"] = 3
        write_table(df, root / f"part-{k}.parquet")
    return root


def test_shards_are_validated_whole_and_sampled_with_the_seed(tmp_path):
    cat = read_catalog(make_catalog())
    root = _folder(tmp_path)
    a = read_training_logs(root, cat, max_rows=10, seed=3)
    b = read_training_logs(root, cat, max_rows=10, seed=3)
    c = read_training_logs(root, cat, max_rows=10, seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 10 and not a["event_id"].equals(c["event_id"])
    assert a["timestamp"].is_monotonic_increasing  # row order kept: the time split cuts the sample
    info = a.attrs["input"]
    assert info["rows_read"] == 24 and info["rows_used"] == 10 and "default_rng(3)" in info["sample"]
    assert info["read"].endswith("(streamed)")
    full = read_training_logs(root, cat, max_rows=0)
    assert len(full) == 24 and full.attrs["input"]["sample"] is None
    whole = pd.concat([read_logs(p, cat) for p in sorted(root.iterdir())], ignore_index=True)
    pd.testing.assert_frame_equal(full, whole, check_dtype=False)


def test_quarantined_rows_are_counted_and_never_sampled(tmp_path):
    cat = read_catalog(make_catalog())
    root = _folder(tmp_path, bad_row=(2, 4))
    q = tmp_path / "q.jsonl"
    df = read_training_logs(root, cat, on_error="quarantine", quarantine_path=q, max_rows=0)
    assert len(df) == 23 and "s2-4" not in set(df["event_id"])
    assert df.attrs["validation"]["rows_quarantined"] == 1
    assert [json.loads(s)["row"] for s in q.read_text().splitlines()] == [17]
    with pytest.raises(InputError) as err:
        read_training_logs(root, cat)
    assert err.value.row == 17 and err.value.file == str(root / "part-2.parquet")


def test_small_file_is_read_whole_and_max_rows_samples_it(tmp_path):
    cat = read_catalog(make_catalog())
    path = write_table(make_logs(), tmp_path / "logs.csv")
    whole = read_training_logs(path, cat)
    assert len(whole) == 6 and whole.attrs["input"] == {"read": "whole (in memory)", "rows_read": 6,
                                                         "rows_valid": 6, "rows_used": 6, "sample": None}
    part = read_training_logs(path, cat, max_rows=4, seed=1)
    keep = np.sort(np.random.default_rng(1).choice(6, size=4, replace=False))
    assert part["event_id"].tolist() == whole["event_id"].iloc[keep].tolist()
    assert part.attrs["input"]["rows_used"] == 4


def test_reward_train_on_a_folder_of_shards_says_what_it_trained_on(tmp_path, tiny_encoder_dir, capsys, monkeypatch):
    """rlopt reward train on shards: validated in batches, the seeded sample in --json, a working model."""
    import sys

    from reward_models.synthetic import make_synthetic_logs
    from rlopt.cli import main

    synth = make_synthetic_logs(6000, n_items=30, rng=7)
    root = tmp_path / "shards"
    root.mkdir()
    for k in range(3):
        write_table(synth.logs.iloc[k * 2000:(k + 1) * 2000], root / f"part-{k}.parquet")
    cat = write_table(synth.catalog, tmp_path / "catalog.parquet")
    out = tmp_path / "rm"
    monkeypatch.setattr(sys, "argv", ["rlopt", "reward", "train", "--logs", str(root), "--catalog", str(cat),
                                      "--out", str(out), "--encoder", str(tiny_encoder_dir), "--epochs", "2",
                                      "--calibration", "none", "--max-rows", "4000", "--json"])
    with pytest.raises(SystemExit) as info:
        main()
    captured = capsys.readouterr()
    assert info.value.code in (0, None), captured.err
    result = json.loads(captured.out)
    assert result["input"]["rows_read"] == 6000 and result["input"]["rows_used"] == 4000
    assert result["input"]["read"].endswith("(streamed)") and "default_rng(0)" in result["input"]["sample"]
    assert result["n_train"] + result["n_valid"] + result["n_calib"] == 4000
    assert (out / "reward_config.json").is_file()
