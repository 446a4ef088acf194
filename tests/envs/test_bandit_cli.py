"""``rlopt bandit`` end to end through the console entry point: JSON, plot, exit codes."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from tests._cli import run_rlopt


@pytest.fixture
def _rlopt(monkeypatch, capsys):
    """Run ``rlopt ARGS`` in-process through the console entry point; return rc, stdout, stderr."""

    def run(*args):
        code, out, err = run_rlopt(monkeypatch, capsys, *args)
        return SimpleNamespace(returncode=code, stdout=out, stderr=err)

    return run


def test_bandit_json_plot_and_curves(tmp_path, _rlopt):
    out = tmp_path / "run"
    proc = _rlopt("bandit", "--env", "rlopt/PlacementBandit-v0", "--policy", "epsilon-greedy",
                  "--policy", "linucb", "--steps", "3000", "--seed", "1", "--n-shoppers", "2000",
                  "--out", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert [r["policy"] for r in result["results"]] == ["epsilon-greedy", "linucb"]
    for r in result["results"]:
        assert r["steps"] == 3000 and r["cumulative_regret"] > 0
        assert r["oracle_expected_reward"] > r["cumulative_regret"]
    assert (out / "regret.png").read_bytes()[:4] == b"\x89PNG"
    curves = json.loads((out / "results.json").read_text())
    assert curves["runs"][1]["curve_regret"][-1] == pytest.approx(result["results"][1]["cumulative_regret"])
    # Same seed, same numbers.
    again = json.loads(_rlopt("bandit", "--policy", "epsilon-greedy", "--policy", "linucb", "--steps", "3000",
                              "--seed", "1", "--n-shoppers", "2000", "--out", str(out), "--json").stdout)
    for a, b in zip(again["results"], result["results"], strict=True):
        assert (a["cumulative_reward"], a["cumulative_regret"]) == (b["cumulative_reward"], b["cumulative_regret"])


def test_bandit_replay_on_obd(tmp_path, _rlopt):
    proc = _rlopt("bandit", "--env", "replay", "--obd", "tests/data/obd/random/all", "--policy", "uniform",
                  "--out", str(tmp_path), "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["rows"] == 400 and result["n_actions"] == 80
    assert (tmp_path / "replay.png").exists()
    ipw = _rlopt("bandit", "--env", "replay", "--obd", "tests/data/obd/bts/all", "--weighting", "ipw",
                 "--policy", "uniform", "--steps", "200", "--out", str(tmp_path), "--json")
    assert ipw.returncode == 0, ipw.stderr
    ipw_result = json.loads(ipw.stdout)
    assert ipw_result["rows"] == 200 and ipw_result["results"][0]["weighting"] == "ipw"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--policy", "bogus"], "valid policies: uniform, epsilon-greedy"),
        (["--policy", "linucb:gamma=2"], "valid parameters"),
        (["--policy", "linucb", "--env", "rlopt/Other-v9"], "unknown env"),
        (["--policy", "linucb", "--reward", "likes"], "unknown reward 'likes'"),
        (["--policy", "linucb", "--steps", "0"], "--steps must be >= 1"),
        (["--policy", "linucb", "--env", "replay"], "needs exactly one of --obd"),
    ],
)
def test_bad_input_exits_2(tmp_path, _rlopt, args, message):
    proc = _rlopt("bandit", "--steps", "10", "--n-shoppers", "500", "--out", str(tmp_path), *args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr.replace("\n", " ")
