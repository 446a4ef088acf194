"""`rlopt reward train --on-error quarantine`: bad rows are set aside under --out (never next to
the input), and the command reports how many, per input, in its table and its --json."""

from __future__ import annotations

import json
import sys

import pytest

from rlopt.data import write_table


def test_reward_train_reports_and_places_its_quarantine(tmp_path, synth, tiny_encoder_dir, capsys, monkeypatch):
    from rlopt.cli import main

    inputs = tmp_path / "inputs"
    inputs.mkdir()
    logs = synth.logs.iloc[:1500].copy()
    logs["clicked"] = logs["clicked"].astype(object)
    logs.loc[logs.index[[3, 10]], "clicked"] = 7  # clicked.binary
    catalog = synth.catalog.copy()
    catalog.loc[catalog.index[0], "price"] = -1.0  # price.positive: the item and its log rows go
    bad_item = catalog.loc[catalog.index[0], "item_id"]
    logs_path = write_table(logs, inputs / "logs.jsonl")
    cat_path = write_table(catalog, inputs / "catalog.jsonl")
    out = tmp_path / "rm"
    monkeypatch.setattr(sys, "argv", ["rlopt", "reward", "train", "--logs", str(logs_path), "--catalog",
                                      str(cat_path), "--out", str(out), "--encoder", str(tiny_encoder_dir),
                                      "--epochs", "1", "--calibration", "none", "--on-error", "quarantine",
                                      "--json"])
    with pytest.raises(SystemExit) as info:  # click ends a successful command with exit 0
        main()
    captured = capsys.readouterr()
    assert info.value.code in (0, None), captured.err
    result = json.loads(captured.out)
    n_bad_item = int((logs["item_id"] == bad_item).sum())
    by_input = result["rows_quarantined_by_input"]
    assert by_input["catalog"] == 1
    assert by_input["logs"] == 2 + n_bad_item - int((logs["item_id"].iloc[[3, 10]] == bad_item).sum())
    assert result["rows_quarantined"] == by_input["catalog"] + by_input["logs"]
    files = result["quarantine_files"]
    assert sorted(files) == ["catalog", "logs"]
    for path in files.values():
        assert str(path).startswith(str(out))
    assert sorted(p.name for p in inputs.iterdir()) == ["catalog.jsonl", "logs.jsonl"]  # nothing next to inputs
    rows = [json.loads(line) for line in open(files["logs"], encoding="utf-8")]
    assert len(rows) == by_input["logs"] and all("reason" in r for r in rows)
