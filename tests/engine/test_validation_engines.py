"""Validation on the Ray engine gives what the local paths give: counts, the failure paragraph,
the quarantine file and the normalized output, across shards and units (global row numbers,
repeats of an ``event_id`` that sit in another shard)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from rlopt.data import read_catalog
from rlopt.data.io import read_table
from rlopt.data.stream import stream_validate
from rlopt.engine.local import LocalEngine
from rlopt.engine.validation import validate_on_engine
from rlopt.errors import InputError
from tests._cli import run_rlopt

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BATCH = 128  # small units: many per shard, repeats across units and shards


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    """examples/logs.csv as three hive partitions (row groups of 100) with bad rows in each, and
    event_ids repeated within a shard, across shards and three times."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    df = read_table(EXAMPLES / "logs.csv", decode_json=False)
    df.loc[700, "event_id"] = df.loc[10, "event_id"]  # repeats a row of the first shard in the second
    df.loc[1500, "event_id"] = df.loc[10, "event_id"]  # ... and again in the third
    df.loc[40, "event_id"] = df.loc[39, "event_id"]  # within one unit
    df.loc[300, "propensity"] = "1.5"
    df.loc[1200, "converted"] = "1"
    df.loc[1200, "clicked"] = "0"
    df.loc[1599, "item_id"] = "no-such-item"
    root = tmp_path_factory.mktemp("shards") / "logs"
    for k, (lo, hi) in enumerate(((0, 600), (600, 1100), (1100, 1600))):
        part = root / f"day=2025-01-0{k + 1}"
        part.mkdir(parents=True)
        pq.write_table(pa.Table.from_pandas(df.iloc[lo:hi], preserve_index=False), part / "part-0.parquet",
                       row_group_size=100)
    return root


@pytest.fixture(scope="module")
def catalog_ids():
    return read_catalog(EXAMPLES / "catalog.csv")["item_id"]


def _engines(ray_engine):
    return {"local": LocalEngine(), "ray": ray_engine}


def test_failure_paragraph_is_the_same(shards, catalog_ids, ray_engine):
    with pytest.raises(InputError) as streamed:
        stream_validate(shards, "logs", catalog_ids=catalog_ids, batch_rows=BATCH)
    for name, engine in _engines(ray_engine).items():
        with pytest.raises(InputError) as got:
            validate_on_engine(shards, engine, catalog_ids=catalog_ids, batch_rows=BATCH)
        assert str(got.value) == str(streamed.value), name
        assert (got.value.file, got.value.row, got.value.column) == \
            (streamed.value.file, streamed.value.row, streamed.value.column)
    assert "6 of 1600 rows" in str(streamed.value)  # the three repeats and three other bad rows


def test_quarantine_and_output_are_the_same(shards, catalog_ids, ray_engine, tmp_path):
    ref = stream_validate(shards, "logs", catalog_ids=catalog_ids, on_error="quarantine", batch_rows=BATCH,
                          quarantine_path=tmp_path / "ref.quarantine.jsonl", out=tmp_path / "ref.parquet",
                          distinct=("item_id", "placement", "segment", "user_id"))
    assert ref.report.rule_counts == {"event_id.unique": 3, "item_id.in_catalog": 1, "propensity.range": 1,
                                      "converted.le_clicked": 1}
    ref_q = pd.read_json(tmp_path / "ref.quarantine.jsonl", lines=True)
    ref_out = pd.read_parquet(tmp_path / "ref.parquet")
    for name, engine in _engines(ray_engine).items():
        got = validate_on_engine(shards, engine, catalog_ids=catalog_ids, on_error="quarantine", batch_rows=BATCH,
                                 quarantine_path=tmp_path / f"{name}.quarantine.jsonl",
                                 out=tmp_path / f"{name}.parquet")
        assert got.units > 3  # several units per shard
        report = got.report.to_dict()
        assert report.pop("quarantine_path") == str(tmp_path / f"{name}.quarantine.jsonl")
        expected = ref.report.to_dict()
        expected.pop("quarantine_path")
        assert report == expected, name
        assert got.shards == ref.shards
        assert got.distinct == ref.distinct
        pd.testing.assert_frame_equal(pd.read_json(tmp_path / f"{name}.quarantine.jsonl", lines=True), ref_q)
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / f"{name}.parquet"), ref_out)
    assert list(ref_q["row"]) == [41, 301, 701, 1201, 1501, 1600]


def test_validate_cli_ray_equals_local(ray_local, monkeypatch, capsys, tmp_path):
    """``rlopt validate --engine ray`` on a CSV with bad rows: same JSON, quarantine file and output."""
    results, files = {}, {}
    for engine in ("local", "ray"):
        out = tmp_path / engine / "clean.jsonl"
        out.parent.mkdir()
        run = run_rlopt(monkeypatch, capsys, "validate", "--logs", EXAMPLES / "logs_with_errors.csv", "--catalog",
                        EXAMPLES / "catalog.csv", "--placements", EXAMPLES / "placements.toml",
                        "--on-error", "quarantine", "--out", out, "--engine", engine, "--json")
        assert run.code == 0, run.err
        result = json.loads(run.out)
        files[engine] = [(out.parent / name).read_text() for name in ("clean.jsonl", "clean.quarantine.jsonl")]
        for key in ("out", "quarantine_file", "catalog_quarantine_file", "read", "shards", "engine",
                    "ray_address", "ray_cpus", "ray_gpus"):
            result.pop(key, None)
        results[engine] = result
    assert results["ray"] == results["local"]
    assert results["local"]["rows_quarantined"] == 3
    assert files["ray"] == files["local"]


def test_validate_cli_ray_fails_like_local(ray_local, monkeypatch, capsys):
    errs = {}
    for engine in ("local", "ray"):
        run = run_rlopt(monkeypatch, capsys, "validate", "--logs", EXAMPLES / "logs_with_errors.csv", "--catalog",
                        EXAMPLES / "catalog.csv", "--engine", engine)
        assert run.code == 2
        errs[engine] = run.err
    assert errs["ray"] == errs["local"]
    assert "row 3" in errs["ray"]
