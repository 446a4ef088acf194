"""Work units: Parquet row groups numbered across shards; CSV / JSONL batches read on the driver; the
engine validation equal to the in-memory validator on inputs cut into many small units."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rlopt.data import read_catalog, validate_table
from rlopt.data.io import read_table
from rlopt.engine.local import LocalEngine
from rlopt.engine.units import LoadedUnit, ParquetUnit, Planner
from rlopt.engine.validation import validate_on_engine
from rlopt.errors import InputError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_parquet_units_cover_every_row_once_in_order(tmp_path):
    root = tmp_path / "logs"
    for k, n in enumerate((250, 0, 130)):
        (root / f"day={k}").mkdir(parents=True)
        table = pa.table({"x": list(range(k * 1000, k * 1000 + n))}) if n else pa.table({"x": pa.array([], pa.int64())})
        pq.write_table(table, root / f"day={k}" / "p.parquet", row_group_size=50)
    plan = Planner(root, batch_rows=120)
    units = list(plan.units())
    assert all(isinstance(u, ParquetUnit) for u in units)
    assert [u.rows for u in units] == [100, 100, 50, 100, 30]  # whole row groups, at most 120 rows
    batches = [u.load() for u in units]
    assert [b.start for b in batches] == [0, 100, 200, 250, 350]
    assert [b.shard_start for b in batches] == [0, 100, 200, 0, 100]
    x = pd.concat([b.frame for b in batches])["x"].tolist()
    assert x == list(range(250)) + list(range(2000, 2130))
    assert batches[-1].frame["day"].astype(str).unique().tolist() == ["2"]  # hive partition kept
    assert list(next(plan.units(["x"])).load().frame.columns) == ["x"]


def test_csv_units_are_read_on_the_driver():
    units = list(Planner(EXAMPLES / "logs.csv", batch_rows=500).units())
    assert all(isinstance(u, LoadedUnit) for u in units)
    assert [u.start for u in units] == [0, 500, 1000, 1500]


def test_missing_file_is_the_readers_error(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        validate_on_engine(tmp_path / "nope.parquet", LocalEngine())


def test_jsonl_keys_that_appear_late_are_columns_of_every_unit(tmp_path):
    """A JSONL log whose first lines lack ``revenue`` (blank = 0): small units give the in-memory result."""
    df = read_table(EXAMPLES / "logs.csv", decode_json=False).head(40)
    path = tmp_path / "logs.jsonl"
    with open(path, "w") as fh:
        for i, rec in enumerate(df.to_dict(orient="records")):
            rec = {k: v for k, v in rec.items() if v is not None and v == v}
            if i < 25:
                rec.pop("revenue", None)
            fh.write(json.dumps(rec) + "\n")
    cat = read_catalog(EXAMPLES / "catalog.csv")
    raw = read_table(path, decode_json=False)
    clean, report = validate_table(raw, "logs", file=str(path), catalog_ids=cat["item_id"])
    got = validate_on_engine(path, LocalEngine(), catalog_ids=cat["item_id"], batch_rows=7,
                             out=tmp_path / "out.parquet")
    assert got.report == report
    assert got.units == 6
    pd.testing.assert_frame_equal(read_table(tmp_path / "out.parquet"), clean, check_dtype=False)
