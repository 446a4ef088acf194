"""`rlopt simulate` end to end through the console entry point."""

from __future__ import annotations

import json
import subprocess
import sys

from rlopt.market import DEFAULT_MARKET


def _run(*args):
    return subprocess.run([sys.executable, "-c", "from rlopt.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=120)


def test_simulate_json(tmp_path):
    out = tmp_path / "sim"
    res = _run("simulate", "--market", str(DEFAULT_MARKET), "--impressions", "3000", "--seed", "5",
               "--out", str(out), "--json")
    assert res.returncode == 0, res.stderr
    result = json.loads(res.stdout)
    assert result["impressions"] == 3000 and result["holdout_rows"] == 600
    assert (out / "oracle.json").is_file()
    oracle = json.loads((out / "oracle.json").read_text())
    assert oracle["seed"] == 5 and len(oracle["contexts"]) == result["contexts"]
    # simulate -> validate round trip through the data engineer's command
    res = _run("validate", "--logs", str(out / "logs.parquet"), "--catalog", str(out / "catalog.parquet"),
               "--placements", str(out / "placements.json"), "--json")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["rows_valid"] == 3000 and report["rows_quarantined"] == 0


def test_simulate_bad_config_exits_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(DEFAULT_MARKET.read_text().replace("pool_size = 8", "pool_sise = 8"))
    res = _run("simulate", "--market", str(bad), "--impressions", "100", "--out", str(tmp_path / "o"))
    assert res.returncode == 2
    assert "pool_sise" in res.stderr and "valid keys" in res.stderr
    assert not (tmp_path / "o").exists()


def test_simulate_help_has_example():
    res = _run("simulate", "--help")
    assert res.returncode == 0 and "rlopt simulate --market" in res.stdout


def test_simulate_bad_arguments_exit_2(tmp_path):
    res = _run("simulate", "--impressions", "5", "--out", str(tmp_path / "o"))
    assert res.returncode == 2 and "at least 10" in res.stderr
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = _run("simulate", "--impressions", "100", "--out", str(blocker))
    assert res.returncode == 2 and "must be a directory" in res.stderr
