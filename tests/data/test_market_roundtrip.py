"""``simulate`` -> ``validate`` round trip: what the market writes is in the contract and loads back."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rlopt.data import read_catalog, read_contexts, read_logs, read_placements, read_table, write_table


@pytest.fixture(scope="module")
def sim_dir(tmp_path_factory):
    from rlopt.market import DEFAULT_MARKET, Marketplace

    out = tmp_path_factory.mktemp("sim")
    sim = Marketplace.from_toml(DEFAULT_MARKET).simulate(400, seed=7)
    sim.write(out)
    return out, sim


@pytest.mark.parametrize("name", ["logs", "train", "holdout"])
def test_simulated_logs_validate(name, sim_dir, run_cli):
    out, sim = sim_dir
    code, stdout, err = run_cli("--logs", out / f"{name}.parquet", "--catalog", out / "catalog.parquet",
                                "--placements", out / "placements.json", "--json")
    assert code == 0, err
    result = json.loads(stdout)
    assert result["rows_valid"] == result["rows_read"] == len(getattr(sim, name))
    assert result["rows_quarantined"] == 0 and result["has_propensity"]


def test_simulated_logs_load_unchanged(sim_dir):
    out, sim = sim_dir
    placements = read_placements(out / "placements.json")
    assert placements == sim.placements
    logs = read_logs(out / "logs.parquet", out / "catalog.parquet", placements)
    assert logs["event_id"].tolist() == sim.logs["event_id"].astype(str).tolist()
    assert logs["copy_id"].tolist() == sim.logs["copy_id"].tolist()
    assert np.array_equal(logs["timestamp"].to_numpy(), sim.logs["timestamp"].to_numpy())
    assert logs["user_features"].iloc[0] == sim.logs["user_features"].iloc[0]
    assert len(read_catalog(out / "catalog.parquet")) == len(sim.catalog)
    contexts = read_contexts(out / "contexts.jsonl", out / "catalog.parquet", placements)
    assert len(contexts) == len(sim.contexts)


def test_market_config_works_as_placements_file(sim_dir):
    out, sim = sim_dir
    assert read_placements(out / "market.toml") == sim.placements


def test_broken_simulated_logs_quarantine_exactly_the_broken_rows(sim_dir, tmp_path, run_cli):
    out, _ = sim_dir
    df = read_table(out / "logs.parquet")
    rng = np.random.default_rng(0)
    broken = np.sort(rng.choice(len(df), 25, replace=False))
    df.loc[broken[:10], "propensity"] = 0.0
    df.loc[broken[10:], "position"] = 9  # beyond every placement's slots
    path = write_table(df, tmp_path / "logs.parquet")
    code, _, err = run_cli("--logs", path, "--catalog", out / "catalog.parquet",
                           "--placements", out / "placements.json")
    assert code == 2 and f"row {broken[0] + 1}, column" in err
    code, stdout, err = run_cli("--logs", path, "--catalog", out / "catalog.parquet", "--placements",
                                out / "placements.json", "--on-error", "quarantine", "--json")
    assert code == 0, err
    result = json.loads(stdout)
    assert result["rows_quarantined"] == 25 and result["rows_valid"] == len(df) - 25
    assert result["rule_counts"] == {"propensity.range": 10, "position.slots": 15}
    rows = [json.loads(s) for s in open(result["quarantine_file"], encoding="utf-8")]
    assert [r["row"] for r in rows] == (broken + 1).tolist()
