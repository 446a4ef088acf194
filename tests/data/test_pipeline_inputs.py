"""External inputs in the pipeline's data and validate stages, as `rlopt validate` reads them.

Parquet shard folders and suffixless files load; with ``on_error = "quarantine"`` bad catalog rows
are set aside (not a stopped run); messages name the user's file, never the run's copy of it; a
cut-off JSONL log stops ``rlopt run`` with exit 2 and one paragraph.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from rlopt.data import write_table
from rlopt.errors import InputError
from rlopt.pipeline.config import config_from_dict
from rlopt.pipeline.runner import run_stages
from rlopt.pipeline.stages import build_stages
from rlopt.testing import write_small_market


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> dict:
    from rlopt.market import Marketplace

    root = tmp_path_factory.mktemp("shop")
    sim = Marketplace.from_toml(write_small_market(root / "market.toml", n_users=200)).simulate(1200, seed=5)
    return {"logs": sim.logs, "catalog": sim.catalog}


def _run_data(tmp_path: Path, **data) -> dict:
    cfg = config_from_dict({"run": {"out_dir": "run"}, "data": data}, base_dir=tmp_path)
    stages = [s for s in build_stages(cfg) if s.name in ("data", "validate")]
    return run_stages(cfg, stages, log=lambda _: None).results["validate"].summary


def test_parquet_shard_folder_and_suffixless_files(tmp_path, shop):
    shards = tmp_path / "logs_shards"
    shards.mkdir()
    write_table(shop["logs"].iloc[:700], shards / "part-0.parquet")
    write_table(shop["logs"].iloc[700:], shards / "part-1.parquet")
    write_table(shop["catalog"], tmp_path / "catalog.jsonl")
    (tmp_path / "catalog_export").write_bytes((tmp_path / "catalog.jsonl").read_bytes())  # no suffix: sniffed
    v = _run_data(tmp_path, logs="logs_shards", catalog="catalog_export")
    assert v["train"] + v["holdout"] == 1200 and v["quarantined"] == 0


def test_bad_catalog_rows_are_quarantined_in_the_pipeline(tmp_path, shop):
    catalog = shop["catalog"].copy()
    catalog["attributes"] = [json.dumps(a) for a in catalog["attributes"]]
    catalog.loc[2, "price"] = -1.0
    catalog.to_csv(tmp_path / "my_catalog.csv", index=False)
    write_table(shop["logs"], tmp_path / "logs.parquet")
    # fail: the message names the user's file, not <run>/data/catalog.csv
    with pytest.raises(InputError) as info:
        _run_data(tmp_path, logs="logs.parquet", catalog="my_catalog.csv", on_error="fail")
    assert info.value.file == str(tmp_path / "my_catalog.csv") and info.value.row == 3
    assert "run/data" not in str(info.value)
    # quarantine: the item is set aside with its reason, and so are the log rows naming it
    v = _run_data(tmp_path, logs="logs.parquet", catalog="my_catalog.csv", on_error="quarantine")
    assert v["catalog_quarantined"] == 1 and v["catalog_rule_counts"] == {"price.positive": 1}
    assert v["items"] == len(catalog) - 1
    bad_item = catalog.loc[2, "item_id"]
    assert v["quarantined"] == int((shop["logs"]["item_id"] == bad_item).sum()) > 0
    q = pd.read_json(tmp_path / "run" / "validate" / "catalog.quarantine.jsonl", lines=True)
    assert q["item_id"].tolist() == [bad_item] and "price" in q["reason"][0]


def test_unreadable_external_file_names_the_users_file(tmp_path, shop):
    write_table(shop["catalog"], tmp_path / "catalog.parquet")
    write_table(shop["logs"], tmp_path / "logs.jsonl")
    data = (tmp_path / "logs.jsonl").read_bytes()
    (tmp_path / "logs.jsonl").write_bytes(data[:3000])
    with pytest.raises(InputError, match=r"cut off") as info:
        _run_data(tmp_path, logs="logs.jsonl", catalog="catalog.parquet")
    assert info.value.file == str(tmp_path / "logs.jsonl") and info.value.row is not None


def test_rlopt_run_cut_off_jsonl_exits_2(tmp_path, shop, capsys, monkeypatch):
    from rlopt.cli import main

    write_table(shop["catalog"], tmp_path / "catalog.parquet")
    write_table(shop["logs"], tmp_path / "logs.jsonl")
    (tmp_path / "logs.jsonl").write_bytes((tmp_path / "logs.jsonl").read_bytes()[:3000])
    (tmp_path / "exp.toml").write_text('[run]\nout_dir = "run"\n[data]\nlogs = "logs.jsonl"\n'
                                       'catalog = "catalog.parquet"\n')
    monkeypatch.delenv("RLOPT_DEBUG", raising=False)  # no traceback expected
    monkeypatch.setattr(sys, "argv", ["rlopt", "run", str(tmp_path / "exp.toml")])
    with pytest.raises(SystemExit) as info:
        main()
    err = " ".join(capsys.readouterr().err.split())
    assert info.value.code == 2, err
    assert "Traceback" not in err
    assert f"error: {tmp_path / 'logs.jsonl'}, row " in err and "rule: each line is one JSON object" in err


def test_report_data_section_shows_quarantined_catalog_items(tmp_path, shop):
    from rlopt.pipeline.report_stage import _data_section

    catalog = shop["catalog"].copy()
    catalog.loc[1, "discount_pct"] = 120.0
    write_table(catalog, tmp_path / "catalog.parquet")
    write_table(shop["logs"], tmp_path / "logs.parquet")
    v = _run_data(tmp_path, logs="logs.parquet", catalog="catalog.parquet", on_error="quarantine")

    class Ctx:  # the two StageContext methods the section reads
        def has(self, name):
            return True

        def summary(self, name):
            return {"source": "external"} if name == "data" else v

    rows = _data_section(Ctx())["rows"]
    assert rows["catalog items quarantined"] == 1
    assert rows["catalog items breaking 'discount_pct.range'"] == 1
