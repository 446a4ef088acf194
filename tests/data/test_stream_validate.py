"""Streaming validation (record batches, whole-table checks in DuckDB) against the in-memory path.

Every contract case of ``test_contract_rules`` is validated both ways with batches of 2 rows (so a
repeated ``event_id`` and an all-or-none column span batches): the counts, the failure paragraph,
the quarantine rows and the normalized output must be identical. Folders of shards name the shard.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rlopt.data import read_catalog, read_table, validate_table
from rlopt.data.batches import iter_batches
from rlopt.data.stream import WholeTable, should_stream, stream_validate, validate_batch
from rlopt.errors import InputError
from tests.data._datafixtures import PLACEMENTS, make_catalog, make_logs, write_any
from tests.data.test_contract_rules import CASES, FORMATS, _ids

LOG_CASES = [c for c in CASES if c.table == "logs"]


def _catalog_ids():
    return read_catalog(make_catalog())["item_id"]


def _both(path, on_error, tmp_path, placements):
    """(in-memory result or error, streamed result or error)."""
    kw = {"catalog_ids": _catalog_ids(), "placements": PLACEMENTS if placements else None}
    try:
        mem = validate_table(read_table(path, decode_json=False), "logs", file=str(path), on_error=on_error,
                             quarantine_path=tmp_path / "mem.quarantine.jsonl", **kw)
    except InputError as err:
        mem = err
    try:
        streamed = stream_validate(path, "logs", on_error=on_error, quarantine_path=tmp_path / "st.quarantine.jsonl",
                                   out=tmp_path / "st_out.parquet", batch_rows=2, **kw)
    except InputError as err:
        streamed = err
    return mem, streamed


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", LOG_CASES, ids=_ids)
def test_fail_mode_gives_the_same_paragraph(case, fmt, tmp_path):
    if fmt not in case.formats:
        pytest.skip(f"{case.rule} cannot be written as {fmt}")
    logs = make_logs()
    case.mutate(logs)
    path = write_any(logs, tmp_path / f"logs.{fmt}")
    mem, streamed = _both(path, "fail", tmp_path, case.placements)
    assert isinstance(mem, InputError) and isinstance(streamed, InputError)
    assert str(streamed) == str(mem)
    assert (streamed.row, streamed.column, streamed.rule) == (mem.row, mem.column, mem.rule) == (
        case.row, case.column, mem.rule)
    assert not (tmp_path / "st_out.parquet").exists()


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", LOG_CASES, ids=_ids)
def test_quarantine_gives_the_same_rows_counts_and_output(case, fmt, tmp_path):
    if fmt not in case.formats:
        pytest.skip(f"{case.rule} cannot be written as {fmt}")
    logs = make_logs()
    case.mutate(logs)
    path = write_any(logs, tmp_path / f"logs.{fmt}")
    (clean, report), streamed = _both(path, "quarantine", tmp_path, case.placements)
    got = streamed.report
    assert (got.rows_read, got.rows_valid, got.rows_quarantined) == (report.rows_read, report.rows_valid,
                                                                      report.rows_quarantined)
    assert got.rule_counts == report.rule_counts and list(got.rule_counts) == list(report.rule_counts)
    assert sum(s["rows_quarantined"] for s in streamed.shards) == got.rows_quarantined
    if fmt == "jsonl":  # nested objects as read: Arrow fills absent keys with null per block, per file in memory
        assert _quarantined(tmp_path / "st.quarantine.jsonl") == _quarantined(tmp_path / "mem.quarantine.jsonl")
    else:
        assert (tmp_path / "st.quarantine.jsonl").read_text() == (tmp_path / "mem.quarantine.jsonl").read_text()
    out = read_table(tmp_path / "st_out.parquet")
    expected = read_table(_written(clean, tmp_path / "mem_out.parquet"))
    pd.testing.assert_frame_equal(out, expected)


def _quarantined(path):
    if not path.exists():
        return []
    rows = [json.loads(s) for s in path.read_text().split("\n") if s]
    return [{k: {a: b for a, b in v.items() if b is not None} if isinstance(v, dict) else v for k, v in r.items()}
            for r in rows]


def _written(df, path):
    from rlopt.data import write_table

    return write_table(df, path)


def test_repeat_far_apart_and_all_or_none_across_batches(tmp_path):
    """A repeated event_id 7 batches later, and a propensity blank on every row of one batch only."""
    logs = pd.concat([make_logs()] * 3, ignore_index=True)
    logs["event_id"] = [f"e{i}" for i in range(len(logs))]
    logs.loc[16, "event_id"] = "e1"
    logs["propensity"] = logs["propensity"].astype(object)
    logs.loc[[2, 3], "propensity"] = None
    path = write_any(logs, tmp_path / "logs.parquet")
    (clean, report), streamed = _both(path, "quarantine", tmp_path, False)
    assert report.rule_counts == {"event_id.unique": 1, "propensity.all_or_none": 2}
    assert streamed.report.rule_counts == report.rule_counts
    assert [json.loads(s)["row"] for s in (tmp_path / "st.quarantine.jsonl").read_text().splitlines()] == [3, 4, 17]
    # blank on every row: no row breaks the rule, in either path
    logs["propensity"] = None
    path = write_any(logs, tmp_path / "none.csv")
    (clean, report), streamed = _both(path, "quarantine", tmp_path, False)
    assert "propensity.all_or_none" not in report.rule_counts and streamed.report.rule_counts == report.rule_counts


def _shards(tmp_path, frames, hive=False):
    root = tmp_path / "shards"
    for i, df in enumerate(frames):
        sub = root / f"day={i + 1}" if hive else root
        sub.mkdir(parents=True, exist_ok=True)
        _written(df, sub / f"part-{i}.parquet")
    return root


def test_folder_of_shards_names_the_shard_and_the_global_row(tmp_path, run_cli):
    logs = make_logs()
    second = logs.copy()
    second["event_id"] = [f"f{i}" for i in range(6)]
    second = second.astype({"clicked": object})
    second.loc[2, "clicked"] = 7
    root = _shards(tmp_path, [logs, second], hive=True)
    cat = _written(make_catalog(), tmp_path / "catalog.parquet")
    code, _, err = run_cli("--logs", root, "--catalog", cat)
    shard = root / "day=2" / "part-1.parquet"
    assert code == 2 and "Traceback" not in err and err.count("error:") == 1
    assert f"{shard}, row 9, column 'clicked'" in err  # global row 9 = row 3 of the second shard
    assert f"row 9 (shard {shard}, row 3) column 'clicked' = 7" in err
    code, out, err = run_cli("--logs", root, "--catalog", cat, "--on-error", "quarantine", "--json",
                             "--out", tmp_path / "clean.parquet")
    assert code == 0, err
    result = json.loads(out)
    assert result["rows_read"] == 12 and result["rows_quarantined"] == 1 and result["rows_valid"] == 11
    assert [s["rows_quarantined"] for s in result["shards"]] == [0, 1]
    assert sum(s["rows_read"] for s in result["shards"]) == 12
    rows = [json.loads(s) for s in open(result["quarantine_file"], encoding="utf-8")]
    assert [(r["row"], r["shard"], r["shard_row"]) for r in rows] == [(9, str(shard), 3)]
    clean = read_table(tmp_path / "clean.parquet")
    assert len(clean) == 11 and clean["day"].astype(int).tolist() == [1] * 6 + [2] * 5


def test_shard_with_another_schema_exits_2_naming_shard_and_column(tmp_path, run_cli):
    other = make_logs().astype({"position": "float64"})
    root = _shards(tmp_path, [make_logs(), other])
    cat = _written(make_catalog(), tmp_path / "catalog.parquet")
    code, _, err = run_cli("--logs", root, "--catalog", cat)
    assert code == 2 and "Traceback" not in err
    assert f"{root / 'part-1.parquet'}, column 'position': column 'position' is double in this shard but int64" in err
    missing = make_logs().drop(columns=["revenue"])
    (root / "part-1.parquet").unlink()
    _written(missing, root / "part-1.parquet")
    code, _, err = run_cli("--logs", root, "--catalog", cat)
    assert code == 2 and "lacks column(s) revenue" in err and "part-1.parquet" in err


def test_repeated_event_id_across_shards(tmp_path, run_cli):
    root = _shards(tmp_path, [make_logs(), make_logs().assign(event_id=["x1", "x2", "e3", "x4", "x5", "x6"])])
    cat = _written(make_catalog(), tmp_path / "catalog.parquet")
    code, _, err = run_cli("--logs", root, "--catalog", cat)
    assert code == 2 and "row 9 (shard" in err and "event_id.unique" in err


def test_large_single_file_goes_through_batches_with_the_same_report(tmp_path, run_cli, monkeypatch):
    import rlopt.data.stream as stream

    logs = _written(make_logs(), tmp_path / "logs.parquet")
    cat = _written(make_catalog(), tmp_path / "catalog.parquet")
    code, out, _ = run_cli("--logs", logs, "--catalog", cat, "--json")
    mem = json.loads(out)
    assert mem["read"] == "whole (in memory)" and not should_stream(logs)
    monkeypatch.setattr(stream, "STREAM_MIN_ROWS", 0)
    assert should_stream(logs)
    code, out, _ = run_cli("--logs", logs, "--catalog", cat, "--json")
    streamed = json.loads(out)
    assert code == 0 and streamed["read"].endswith("(streamed)")
    for key in ("rows_read", "rows_valid", "distinct_items", "distinct_placements", "distinct_segments",
                "distinct_users", "has_propensity"):
        assert streamed[key] == mem[key], key


def test_batches_cover_every_row_once_in_order(tmp_path):
    logs = pd.concat([make_logs()] * 5, ignore_index=True)
    for fmt in FORMATS:
        path = write_any(logs, tmp_path / f"logs.{fmt}")
        batches = list(iter_batches(path, batch_rows=4))
        assert [b.start for b in batches] == list(range(0, 30, 4))
        joined = pd.concat([b.frame for b in batches], ignore_index=True)
        whole = read_table(path, decode_json=False)
        if fmt == "jsonl":  # Arrow fills a nested object's absent keys with null (per block here)
            for df in (joined, whole):
                df["user_features"] = [{k: v for k, v in d.items() if v is not None} for d in df["user_features"]]
        pd.testing.assert_frame_equal(joined, whole, check_dtype=fmt != "jsonl")


def test_bad_jsonl_line_in_a_later_block_names_the_files_line(tmp_path):
    lines = [json.dumps(r) for r in make_logs().to_dict("records")]
    lines[4] = lines[4][:-3]  # cut
    path = tmp_path / "logs.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as err:
        list(iter_batches(path, batch_rows=2))
    assert err.value.row == 5 and str(err.value).startswith(f"{path}, row 5: line 5 is not valid JSON")


def test_validate_batch_is_the_row_rules_with_whole_table_facts():
    df = make_logs()
    whole = WholeTable(rows=12, repeated_rows={"event_id": np.array([7, 9])}, all_missing={"propensity": False})
    repeated, all_missing = whole.for_batch(6, 6)
    _, masks, bad = validate_batch(df, "logs", repeated=repeated, all_missing=all_missing)
    assert np.flatnonzero(bad).tolist() == [1, 3]
    assert {r.id for r, m in masks.items() if m.any()} == {"event_id.unique"}


def test_empty_parquet_is_one_paragraph(tmp_path):
    path = tmp_path / "empty.parquet"
    pq.write_table(pa.Table.from_pandas(make_logs().iloc[:0], preserve_index=False), path)
    with pytest.raises(InputError, match="file has a header but no data rows"):
        stream_validate(path)


def test_bad_utf8_in_a_streamed_csv_names_byte_offset_and_line(tmp_path):
    path = tmp_path / "logs.csv"
    path.write_bytes("event_id,x\nab,1\nr\xe9sum\xe9,2\n".encode("latin-1"))
    with pytest.raises(InputError) as streamed:
        list(iter_batches(path))
    with pytest.raises(InputError) as whole:
        read_table(path)
    assert str(streamed.value) == str(whole.value) and "byte 0xe9 at offset 17 (line 3)" in str(whole.value)
