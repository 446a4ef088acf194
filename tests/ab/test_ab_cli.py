"""`rlopt ab` end to end on the built-in market (subprocess-free: typer's CliRunner)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from rlopt.cli import app

runner = CliRunner()


def _invoke(args):
    from rlopt.cli import main  # noqa: F401  (the InputError -> exit 2 mapping lives in main)
    from rlopt.errors import InputError

    try:
        return runner.invoke(app, args, catch_exceptions=False), None
    except InputError as err:  # main() turns this into exit code 2
        return None, err


def test_help_has_example():
    res = runner.invoke(app, ["ab", "--help"])
    assert res.exit_code == 0 and "rlopt ab --market" in res.output


def test_json_output_real_market(tmp_path):
    out = tmp_path / "ab.json"
    res, err = _invoke(["ab", "--a", "logging", "--b", "pool-best", "--impressions", "12000", "--seed", "3",
                        "--json", "--out", str(out)])
    assert err is None and res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload == json.loads(out.read_text())
    comp = payload["comparisons"][0]
    assert comp["verdict"]["ctr"] == "B better" and comp["true_lift"]["ctr"] > 0
    assert payload["arms"][1]["label"] == "pool-best (oracle upper reference)"
    assert {"srm", "mde", "warnings", "seed"} <= payload.keys()


def test_table_output_and_sequential():
    res, err = _invoke(["ab", "--a", "logging", "--b", "pool-random", "--impressions", "6000", "--sequential"])
    assert err is None and res.exit_code == 0
    for text in ("ctr", "purchase_rate", "revenue_per_impression", "SRM check", "sequential mSPRT"):
        assert text in res.output


@pytest.mark.parametrize(
    ("args", "regex"),
    [
        (["--a", "logging", "--b", "magic"], r"arm spec 'magic' does not resolve"),
        (["--a", "logging", "--b", "pool-best", "--split", "a,b"], r"--split must be comma-separated"),
        (["--a", "logging", "--b", "pool-best", "--split", "1,2,3"], r"split needs 2 positive weights"),
    ],
)
def test_bad_input_is_input_error(args, regex):
    res, err = _invoke(["ab", *args, "--impressions", "1000"])
    assert err is not None and pytest.importorskip("re").search(regex, str(err))


def test_copies_arm_from_file(tmp_path):
    from rlopt.market import DEFAULT_MARKET, Marketplace

    market = Marketplace.from_toml(DEFAULT_MARKET)
    rows = [{"item_id": item, "segment": seg, "placement": plc, "copy_text": market.copy_pool(item, plc)[0],
             "generator": "pool0", "sample_idx": 0}
            for item in market.catalog["item_id"] for seg in market.segments for plc in market.placements]
    path = tmp_path / "copies.jsonl"
    pd.DataFrame(rows).to_json(path, orient="records", lines=True)
    res, err = _invoke(["ab", "--a", "logging", "--b", f"copies:{path}", "--impressions", "4000", "--json"])
    assert err is None and res.exit_code == 0
    assert json.loads(res.stdout)["arms"][1]["spec"] == f"copies:{path}"


def test_exit_code_2_and_one_paragraph():
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", "from rlopt.cli import main; main()", "ab", "--a", "logging",
                           "--b", "copies:/no/such.jsonl", "--impressions", "500"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "copies file not found" in proc.stderr and "/no/such.jsonl" in proc.stderr
    assert "Traceback" not in proc.stderr
