"""``rlopt validate`` end to end: reports, --out, quarantine files, external logs, exit codes."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from rlopt.data import read_logs, read_table, write_table
from tests.data._datafixtures import make_catalog, make_logs


def test_valid_logs_report(dataset, run_cli):
    code, out, err = run_cli("--logs", dataset["logs"], "--catalog", dataset["catalog"],
                             "--placements", dataset["placements"], "--json")
    assert code == 0, err
    result = json.loads(out)
    assert (result["rows_read"], result["rows_valid"], result["rows_quarantined"]) == (6, 6, 0)
    assert result["rule_counts"] == {}
    assert (result["distinct_items"], result["distinct_placements"], result["distinct_segments"]) == (3, 3, 3)
    assert result["quarantine_file"] is None


def test_table_output_and_help(dataset, run_cli):
    code, out, _ = run_cli("--logs", dataset["logs"], "--catalog", dataset["catalog"])
    assert code == 0 and "rows_valid" in out
    code, out, _ = run_cli("--help")
    assert code == 0 and "rlopt validate --logs" in out and "--on-error" in out


@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "csv"])
def test_out_writes_normalized_logs(fmt, dataset, tmp_path, run_cli):
    out_path = tmp_path / "clean" / f"logs.{fmt}"
    code, _, err = run_cli("--logs", dataset["logs"], "--catalog", dataset["catalog"], "--out", out_path)
    assert code == 0, err
    expected = read_logs(dataset["logs"], dataset["catalog"])
    pd.testing.assert_frame_equal(read_logs(out_path, dataset["catalog"]), expected)
    assert "copy_id" in read_table(out_path).columns


def _broken_logs() -> pd.DataFrame:
    df = make_logs().astype({"propensity": object, "clicked": object})
    df.loc[1, "propensity"] = 2.0               # one rule
    df.loc[3, ["clicked", "revenue"]] = [0, -1.0]  # converted > clicked and negative revenue
    df.loc[4, "event_id"] = "e1"                # duplicate
    return df


def test_quarantine_keeps_every_bad_row_with_all_its_reasons(tmp_path, run_cli):
    logs = write_table(_broken_logs(), tmp_path / "in" / "logs.csv")
    cat = write_table(make_catalog(), tmp_path / "in" / "catalog.csv")
    out_path = tmp_path / "out" / "clean.parquet"
    code, out, err = run_cli("--logs", logs, "--catalog", cat, "--on-error", "quarantine", "--out", out_path,
                             "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["rows_quarantined"] == 3 and result["rows_valid"] == 3 and result["rows_read"] == 6
    assert result["rule_counts"] == {"event_id.unique": 1, "propensity.range": 1, "converted.le_clicked": 1,
                                     "revenue.nonnegative": 1}
    qfile = tmp_path / "out" / "clean.quarantine.jsonl"
    assert result["quarantine_file"] == str(qfile)
    rows = [json.loads(s) for s in qfile.read_text(encoding="utf-8").splitlines()]
    assert [r["row"] for r in rows] == [2, 4, 5]
    assert rows[1]["reason"] == "converted: converted <= clicked; revenue: revenue is a number >= 0"
    assert rows[0]["propensity"] == "2.0" and rows[0]["event_id"] == "e2"  # kept as read
    clean = read_table(out_path)
    assert sorted(clean["event_id"]) == ["e1", "e3", "e6"]


def test_quarantine_goes_next_to_the_input_without_out(tmp_path, run_cli):
    logs = write_table(_broken_logs(), tmp_path / "shop_logs.jsonl")
    cat = write_table(make_catalog(), tmp_path / "catalog.jsonl")
    code, out, _ = run_cli("--logs", logs, "--catalog", cat, "--on-error", "quarantine", "--json")
    assert code == 0
    qfile = tmp_path / "shop_logs.quarantine.jsonl"
    assert json.loads(out)["quarantine_file"] == str(qfile)
    assert len(qfile.read_text().splitlines()) == 3


def test_fail_summarizes_counts_and_first_rows_and_writes_nothing(tmp_path, run_cli):
    logs = write_table(_broken_logs(), tmp_path / "logs.csv")
    cat = write_table(make_catalog(), tmp_path / "catalog.csv")
    out_path = tmp_path / "clean.parquet"
    code, _, err = run_cli("--logs", logs, "--catalog", cat, "--out", out_path)
    assert code == 2
    assert err.count("error:") == 1 and "Traceback" not in err
    assert "3 of 6 rows break the data contract" in err
    assert "propensity is a number in (0, 1] (1 row)" in err
    assert "row 2 column 'propensity' = '2.0'" in err and "row 5 column 'event_id' = 'e1'" in err
    assert f"{logs}, row 2, column 'propensity'" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog.csv", "logs.csv"]


def test_external_logs_with_other_segments_and_custom_placements(tmp_path, run_cli):
    """A shop's own CSV: ISO timestamps, segments and placements rlopt never produces, no propensity."""
    csv = (
        "event_id,timestamp,user_id,segment,item_id,placement,position,copy_text,clicked,converted,channel\n"
        "x-1,2025-03-01T09:00:00Z,c-9,night_owls,sku-1,sms,0,Flash sale tonight,1,1,mobile\n"
        "x-2,2025-03-01 10:30:00+01:00,c-7,students,sku-2,app_inbox,3,Dorm deals inside,0,0,web\n"
        "x-3,1740826800000,c-9,night_owls,sku-3,push,1,Bottles 2 for 1,1,0,mobile\n"
    )
    logs = tmp_path / "shop.csv"
    logs.write_text(csv, encoding="utf-8")
    cat = write_table(make_catalog(), tmp_path / "items.parquet")
    placements = tmp_path / "shop_placements.toml"
    placements.write_text(
        "[sms]\nmax_chars = 160\nslots = 1\nexamination = [0.9]\n\n"
        "[app_inbox]\nmax_chars = 120\nslots = 5\nexamination = [1.0, 0.8, 0.6, 0.4, 0.2]\n\n"
        "[default]\nmax_chars = 80\nslots = 2\nexamination = [1.0, 0.5]\n")
    code, out, err = run_cli("--logs", logs, "--catalog", cat, "--placements", placements, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["rows_valid"] == 3 and result["distinct_segments"] == 2 and not result["has_propensity"]
    df = read_logs(logs, cat, placements)
    assert df["timestamp"].tolist() == [1740819600000, 1740821400000, 1740826800000]
    assert df["channel"].tolist() == ["mobile", "web", "mobile"] and "revenue" not in df.columns
    # Without the 'default' entry, 'push' is unknown; with a 1-slot app_inbox, position 3 is out of range.
    placements.write_text("[sms]\nmax_chars = 160\nslots = 1\nexamination = [0.9]\n\n"
                          "[app_inbox]\nmax_chars = 120\nslots = 1\nexamination = [1.0]\n")
    code, _, err = run_cli("--logs", logs, "--catalog", cat, "--placements", placements)
    assert code == 2
    assert "row 2, column 'position'" in err and "placement is defined in the placements" in err
    assert "row 3 column 'placement' = 'push'" in err


@pytest.mark.parametrize(("args", "message"), [
    (["--on-error", "skip"], "--on-error must be one of fail, quarantine"),
    (["--out", "clean.txt"], "unsupported file type '.txt'"),
])
def test_bad_options_exit_2(args, message, dataset, run_cli):
    code, _, err = run_cli("--logs", dataset["logs"], "--catalog", dataset["catalog"], *args)
    assert code == 2 and message in err


def test_unreadable_inputs_exit_2_with_one_paragraph(tmp_path, dataset, run_cli):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    code, _, err = run_cli("--logs", empty, "--catalog", dataset["catalog"])
    assert code == 2 and f"{empty}: file is empty" in err
    latin = tmp_path / "latin.csv"
    latin.write_bytes("event_id\nr\xe9sum\xe9\n".encode("latin-1"))
    code, _, err = run_cli("--logs", latin, "--catalog", dataset["catalog"])
    assert code == 2 and "not valid UTF-8" in err and "Traceback" not in err
    code, _, err = run_cli("--logs", dataset["logs"], "--catalog", tmp_path / "missing.csv")
    assert code == 2 and "file not found" in err


def test_catalog_quarantine_goes_next_to_out(tmp_path, run_cli):
    cat = make_catalog().astype({"price": object})
    cat.loc[1, "price"] = -3
    cat_path = write_table(cat, tmp_path / "in" / "items.csv")
    logs = write_table(make_logs(), tmp_path / "in" / "logs.csv")
    out_path = tmp_path / "out" / "clean.parquet"
    code, out, err = run_cli("--logs", logs, "--catalog", cat_path, "--on-error", "quarantine", "--out", out_path,
                             "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["catalog_quarantine_file"] == str(tmp_path / "out" / "items.quarantine.jsonl")
    assert result["catalog_rule_counts"] == {"price.positive": 1}
    # the two impressions of the quarantined item no longer find it in the catalog
    assert result["rule_counts"] == {"item_id.in_catalog": 2} and result["rows_valid"] == 4


def test_console_script_exit_codes(tmp_path, dataset):
    """The installed ``rlopt`` entry point, in a subprocess: 0 on valid logs, 2 with one paragraph on bad."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    exe = shutil.which("rlopt") or str(Path(sys.executable).with_name("rlopt"))
    args = [exe, "validate", "--logs", str(dataset["logs"]), "--catalog", str(dataset["catalog"]), "--json"]
    ok = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["rows_valid"] == 6
    bad = write_table(_broken_logs(), tmp_path / "bad.jsonl")
    args[3] = str(bad)
    failed = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert failed.returncode == 2 and "Traceback" not in failed.stderr
    assert f"{bad}, row 2, column 'propensity'" in " ".join(failed.stderr.split())
