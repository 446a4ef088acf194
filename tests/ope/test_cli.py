"""``rlopt ope`` end to end: OBD and contract logs, JSON output, exit codes and messages."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rlopt.cli import main

DATA = Path(__file__).resolve().parents[1] / "data" / "obd"


def run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["rlopt", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


@pytest.fixture(scope="module")
def contract_dir(tmp_path_factory) -> Path:
    """A tiny contract log: 2 items x 1 placement x 3 copies, epsilon-greedy-ish logging."""
    rng = np.random.default_rng(0)
    out = tmp_path_factory.mktemp("contract")
    pd.DataFrame({
        "item_id": ["i1", "i2"], "title": ["Mug", "Lamp"], "category": ["home", "home"],
        "brand": ["A", "B"], "price": [10.0, 30.0], "discount_pct": [0.0, 10.0],
    }).to_csv(out / "catalog.csv", index=False)
    n = 600
    item = rng.choice(["i1", "i2"], n)
    probs = np.array([0.6, 0.3, 0.1])
    copy = rng.choice(3, n, p=probs)
    ctr = np.array([0.3, 0.1, 0.5])[copy]
    clicked = (rng.random(n) < ctr).astype(int)
    text = np.array([f"{it} copy {c}" for it, c in zip(item, copy, strict=True)])
    pd.DataFrame({
        "event_id": [f"e{i}" for i in range(n)], "timestamp": 1_700_000_000_000 + np.arange(n),
        "user_id": [f"u{i % 50}" for i in range(n)], "segment": rng.choice(["s1", "s2"], n),
        "item_id": item, "placement": "push", "position": 0, "copy_text": text,
        "propensity": probs[copy], "clicked": clicked, "converted": 0,
    }).to_csv(out / "logs.csv", index=False)
    return out


def test_obd_json(monkeypatch, capsys):
    code, out, _ = run_cli(monkeypatch, capsys, "ope", "--format", "obd", "--logs", str(DATA / "random"),
                           "--policy", f"bts:{DATA / 'bts'}:n_sim=2000", "--n-bootstrap", "100",
                           "--n-folds", "2", "--interval", "bca", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["interval"] == "bca"
    assert [e["estimator"] for e in result["estimates"]] == ["ipw", "snipw", "dm", "dr", "sndr", "switch-dr", "dr-os"]
    assert result["n_rounds"] == 400 and result["n_actions"] == 80 and result["len_list"] == 3
    for e in result["estimates"]:
        assert e["low"] <= e["estimate"] <= e["high"]


def test_contract_table_and_reproducible_json(monkeypatch, capsys, contract_dir):
    args = ["ope", "--logs", str(contract_dir / "logs.csv"), "--catalog", str(contract_dir / "catalog.csv"),
            "--policy", "logged-best:epsilon=0.1", "--n-bootstrap", "200", "--n-folds", "2"]
    code, out, _ = run_cli(monkeypatch, capsys, *args)
    assert code == 0 and "dr-os" in out and "logged (on-policy)" in out
    _, first, _ = run_cli(monkeypatch, capsys, *args, "--json")
    _, second, _ = run_cli(monkeypatch, capsys, *args, "--json")
    assert first == second
    result = json.loads(first)
    assert result["n_pools"] == 2 and result["n_actions"] == 3
    # logged-best should find copy 2 (CTR .5) > logged policy (~.25): IPW and DR agree it is better
    est = {e["estimator"]: e["estimate"] for e in result["estimates"]}
    assert est["ipw"] > result["on_policy_value"] and est["dr"] > result["on_policy_value"]


def test_missing_propensity_errors_or_falls_back(monkeypatch, capsys, contract_dir, tmp_path):
    logs = pd.read_csv(contract_dir / "logs.csv").drop(columns=["propensity"])
    logs.to_csv(tmp_path / "logs.csv", index=False)
    base = ["ope", "--logs", str(tmp_path / "logs.csv"), "--catalog", str(contract_dir / "catalog.csv"),
            "--policy", "uniform", "--n-bootstrap", "50", "--n-folds", "2"]
    code, _, err = run_cli(monkeypatch, capsys, *base)
    assert code == 2 and "no propensities" in err and "--fallback-dm" in err
    code, out, _ = run_cli(monkeypatch, capsys, *base, "--fallback-dm", "--json")
    assert code == 0
    result = json.loads(out)
    assert [e["estimator"] for e in result["estimates"]] == ["dm"]
    assert "fell back to the direct method" in result["notes"][0]


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--policy", "greedy"], "unknown policy spec 'greedy'; valid: uniform"),
        (["--policy", "uniform", "--estimators", "ipw,magic"], r"unknown estimator\(s\) \['magic'\]"),
        (["--policy", "logged-best:epsilon=2"], r"`epsilon` must be in \[0, 1\]"),
        (["--policy", "bts:x"], "for OBD logs"),
    ],
)
def test_bad_arguments_exit_2(monkeypatch, capsys, contract_dir, args, match):
    code, _, err = run_cli(monkeypatch, capsys, "ope", "--logs", str(contract_dir / "logs.csv"),
                           "--catalog", str(contract_dir / "catalog.csv"), *args)
    assert code == 2
    assert pytest.importorskip("re").search(match, " ".join(err.split())), err


def test_obd_unexpected_column_exit_2(monkeypatch, capsys, tmp_path):
    frame = pd.read_csv(DATA / "random/all/all.csv", dtype=str)
    frame["score"] = "1"
    (tmp_path / "all").mkdir()
    frame.to_csv(tmp_path / "all" / "all.csv", index=False)
    code, _, err = run_cli(monkeypatch, capsys, "ope", "--format", "obd", "--logs", str(tmp_path / "all"),
                           "--policy", "uniform")
    assert code == 2 and "unexpected columns ['score']" in " ".join(err.split())
