"""The data and validate stages on simulated and on external logs (no models; seconds)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from rlopt.pipeline.config import config_from_dict
from rlopt.pipeline.runner import run_stages
from rlopt.pipeline.stages import build_stages
from rlopt.testing import write_small_market


def _small_market(root: Path) -> Path:
    return write_small_market(root / "market.toml", n_users=300)


def _data_stages(cfg):
    return [s for s in build_stages(cfg) if s.name in ("data", "validate")]


def test_simulated_data_is_validated_and_split(tmp_path):
    market = _small_market(tmp_path)
    cfg = config_from_dict({"run": {"out_dir": "run"}, "data": {"market": str(market), "impressions": 3000}},
                           base_dir=tmp_path)
    result = run_stages(cfg, _data_stages(cfg), log=lambda _: None)
    v = result.results["validate"].summary
    assert v["train"] + v["holdout"] == 3000 and v["quarantined"] == 0
    assert v["contexts"] > 0 and v["items"] == 8
    out = tmp_path / "run" / "validate"
    for name in ("catalog.parquet", "train.parquet", "holdout.parquet", "placements.json", "contexts.jsonl"):
        assert (out / name).is_file()
    assert (tmp_path / "run" / "data" / "market.toml").is_file()


def test_external_logs_bad_rows_are_quarantined_and_counted(tmp_path):
    from rlopt.market import Marketplace

    sim = Marketplace.from_toml(_small_market(tmp_path)).simulate(2000, seed=1)
    logs = sim.logs.copy()
    logs["user_features"] = [json.dumps(u) for u in logs["user_features"]]
    logs.loc[5, "converted"], logs.loc[5, "clicked"] = 1, 0  # converted > clicked: breaks a rule
    logs.to_csv(tmp_path / "logs.csv", index=False)
    catalog = sim.catalog.copy()
    catalog["attributes"] = [json.dumps(a) for a in catalog["attributes"]]
    catalog.to_csv(tmp_path / "catalog.csv", index=False)
    cfg = config_from_dict({"run": {"out_dir": "run"},
                            "data": {"logs": "logs.csv", "catalog": "catalog.csv", "holdout_fraction": 0.25}},
                           base_dir=tmp_path)
    result = run_stages(cfg, _data_stages(cfg), log=lambda _: None)
    assert result.results["data"].summary["source"] == "external"
    v = result.results["validate"].summary
    assert v["quarantined"] == 1 and v["train"] + v["holdout"] == 1999
    assert sum(v["rule_counts"].values()) == 1
    quarantine = pd.read_json(tmp_path / "run" / "validate" / "logs.quarantine.jsonl", lines=True)
    assert len(quarantine) == 1 and "reason" in quarantine.columns
    # an edit to the external file changes the fingerprint: data and validate rerun
    logs.loc[7, "copy_text"] = "Changed copy"
    logs.to_csv(tmp_path / "logs.csv", index=False)
    again = run_stages(cfg, _data_stages(cfg), log=lambda _: None)
    assert again.statuses() == {"data": "ran", "validate": "ran"}
