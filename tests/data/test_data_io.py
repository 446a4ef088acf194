"""Readers and writers: round trips in every format, and unusable files -> one clear InputError."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

from rlopt.data import (
    Placement,
    read_catalog,
    read_logs,
    read_placements,
    read_table,
    write_jsonl,
    write_placements,
    write_table,
)
from rlopt.errors import InputError
from tests.data._datafixtures import PLACEMENTS, make_catalog, make_logs

FORMATS = ("parquet", "jsonl", "csv")


@pytest.mark.parametrize("fmt", FORMATS)
def test_logs_round_trip_every_format(fmt, tmp_path):
    cat = read_catalog(make_catalog())
    logs = read_logs(make_logs(), cat)
    path = write_table(logs, tmp_path / f"logs.{fmt}")
    again = read_logs(path, cat)
    pd.testing.assert_frame_equal(again, logs, check_dtype=True)
    assert again["user_features"].iloc[0] == {"age": 31, "tier": "gold"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_catalog_round_trip_every_format(fmt, tmp_path):
    cat = read_catalog(make_catalog())
    again = read_catalog(write_table(cat, tmp_path / f"catalog.{fmt}"))
    pd.testing.assert_frame_equal(again, cat)
    assert again["attributes"].tolist() == [{"color": "red"}, {}, {"material": "steel", "size": "1l"}]


def test_parquet_stores_json_columns_as_strings(tmp_path):
    import pyarrow.parquet as pq

    path = write_table(make_logs(), tmp_path / "logs.parquet")
    schema = pq.read_schema(path)
    assert str(schema.field("user_features").type) in ("string", "large_string")
    assert json.loads(schema.metadata[b"rlopt.json_columns"]) == ["user_features"]


def test_extra_columns_pass_through(tmp_path):
    df = make_logs()
    df["campaign"] = ["spring"] * len(df)
    df["score"] = np.arange(len(df), dtype=float)
    out = read_logs(write_table(df, tmp_path / "logs.parquet"), make_catalog())
    assert list(out.columns[-2:]) == ["campaign", "score"]
    assert out["campaign"].tolist() == ["spring"] * len(df)


def test_parquet_directory_of_shards(tmp_path):
    df = make_logs()
    (tmp_path / "shards").mkdir()
    write_table(df.iloc[:3], tmp_path / "shards" / "part-0.parquet")
    write_table(df.iloc[3:], tmp_path / "shards" / "part-1.parquet")
    out = read_logs(tmp_path / "shards", make_catalog())
    assert sorted(out["event_id"]) == sorted(df["event_id"])


def test_json_array_file_is_accepted(tmp_path):
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(make_catalog().to_dict("records")), encoding="utf-8")
    assert len(read_catalog(path)) == 3


def test_write_jsonl_from_records_and_missing_values(tmp_path):
    path = write_jsonl([{"a": np.int64(1), "b": np.float64("nan"), "c": {"k": "v"}}], tmp_path / "r.jsonl")
    assert json.loads(path.read_text()) == {"a": 1, "b": None, "c": {"k": "v"}}
    df = pd.DataFrame({"x": [1.5, None], "y": ["a", None]})
    lines = write_jsonl(df, tmp_path / "d.jsonl").read_text().splitlines()
    assert [json.loads(s) for s in lines] == [{"x": 1.5, "y": "a"}, {"x": None, "y": None}]


@pytest.mark.parametrize(("name", "content", "message"), [
    ("logs.csv", b"", "file is empty"),
    ("logs.jsonl", b"  \n\n", "only whitespace"),
    ("logs.csv", b"event_id,timestamp\n", "no data rows"),
    ("logs.parquet", b"event_id,timestamp\ne1,1\n", "not a readable Parquet file"),
    ("logs.jsonl", b'{"event_id": "e1"}\n{"event_id": \n', "line 2 is not valid JSON"),
    ("logs.jsonl", b'{"event_id": "e1"}\n[1, 2]\n', "record 2 is a JSON list, not an object"),
    ("logs.csv", b"event_id,timestamp\ne1,caf\xe9\n", "not valid UTF-8 .*line 2"),
    ("logs.csv", b'a,b\n1,"2\n', "not a well-formed CSV"),
    ("logs.csv", b"a,,c\n1,2,3\n", "blank column name"),
    ("logs.xlsx", b"PK\x03\x04", "unsupported file type '.xlsx'"),
])
def test_unusable_files_raise_one_clear_error(name, content, message, tmp_path):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as info:
        read_table(path)
    assert info.value.file == str(path)
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_table(tmp_path / "nope.parquet")


@pytest.mark.parametrize("fmt", FORMATS)
def test_missing_required_column_names_it_and_lists_the_files_columns(fmt, tmp_path):
    path = write_table(make_logs().drop(columns=["clicked"]), tmp_path / f"logs.{fmt}")
    with pytest.raises(InputError, match=r"missing required column\(s\) clicked .*has columns: event_id,") as info:
        read_logs(path, make_catalog())
    assert info.value.column == "clicked"


def test_utf8_bom_and_non_ascii_text_are_fine(tmp_path):
    df = make_catalog()
    df.loc[0, "title"] = "Café crème — 東京"
    path = tmp_path / "catalog.csv"
    path.write_bytes(b"\xef\xbb\xbf" + df.assign(attributes=[json.dumps(a) for a in df["attributes"]])
                     .to_csv(index=False).encode("utf-8"))
    assert read_catalog(path)["title"].iloc[0] == "Café crème — 東京"


def test_failed_write_leaves_no_file(tmp_path):
    df = pd.DataFrame({"x": [object()]})  # pyarrow cannot store an arbitrary object
    target = tmp_path / "out.parquet"
    with pytest.raises(Exception):  # noqa: B017 - any failure, as long as nothing is left behind
        write_table(df, target)
    assert os.listdir(tmp_path) == []


def test_write_table_rejects_unknown_suffix(tmp_path):
    with pytest.raises(InputError, match="unsupported file type"):
        write_table(make_logs(), tmp_path / "logs.txt")


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_placements_round_trip(suffix, tmp_path):
    placements = {**PLACEMENTS, "default": Placement("default", 80, 4, (1.0, 0.5, 0.25, 0.1))}
    path = write_placements(placements, tmp_path / f"placements{suffix}")
    assert read_placements(path) == placements


def test_placements_under_a_placements_table(tmp_path):
    path = tmp_path / "market.toml"
    path.write_text('[market]\nname = "x"\n[placements.sms]\nmax_chars = 160\nslots = 1\nexamination = [0.8]\n')
    assert read_placements(path) == {"sms": Placement("sms", 160, 1, (0.8,))}


@pytest.mark.parametrize(("text", "message"), [
    ("[push]\nmax_chars = 10\nslots = 2\n", "placement 'push' lacks examination"),
    ("[push]\nmax_chars = 10\nslots = 2\nexamination = [1.0]\n", "examination has 1 values"),
    ("[push]\nmax_chars = 0\nslots = 1\nexamination = [1.0]\n", "max_chars must be > 0"),
    ("[push]\nmax_chars = 10\nslots = 1\nexamination = [1.5]\n", r"must be in \(0, 1\]"),
    ("[push]\nmax_chars = 'ten'\nslots = 1\nexamination = [1.0]\n", "must be integers"),
    ("push = 3\n", "must be a table"),
    ("[push\n", "not valid TOML"),
])
def test_bad_placements(text, message, tmp_path):
    path = tmp_path / "placements.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as info:
        read_placements(path)
    assert info.value.file == str(path)


def test_csv_quoted_line_breaks_stray_quotes_and_leading_zeros(tmp_path):
    path = tmp_path / "catalog.csv"
    path.write_text(
        'item_id,title,category,brand,price,discount_pct\n'
        '007,"Rain jacket\nwith hood",outerwear,"Nimbus, Inc.",120.5,20\n'
        '008,27" monitor,screens,Acme,199,0\n', encoding="utf-8")
    cat = read_catalog(path)
    assert cat["item_id"].tolist() == ["007", "008"]  # ids stay text: no leading zeros lost
    assert cat["title"].tolist() == ["Rain jacket\nwith hood", '27" monitor']
    assert cat["brand"].iloc[0] == "Nimbus, Inc."


@pytest.mark.parametrize(("content", "message"), [
    (b'a,b\n1,"2\n', "quoted cell is probably never closed"),
    (b"a,b,a\n1,2,3\n", r"repeats column name\(s\) \['a'\]"),
    (b"a,b\n1,2,3\n", "Expected 2 columns, got 3"),
])
def test_malformed_csv(content, message, tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        read_table(path)


def test_jsonl_line_with_two_records_is_rejected(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"a": 1}\n{"a": 2} {"a": 3}\n', encoding="utf-8")
    with pytest.raises(InputError, match="line 2 is not valid JSON"):
        read_table(path)


def test_jsonl_keeps_unicode_line_separators_inside_strings(tmp_path):
    path = write_jsonl([{"copy_text": "one\u2028two", "n": 1}], tmp_path / "t.jsonl")
    assert read_table(path)["copy_text"].iloc[0] == "one\u2028two"


def test_struct_and_map_json_columns_from_other_writers(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    df = make_logs()
    table = pa.Table.from_pandas(df.drop(columns="user_features"), preserve_index=False)
    struct = pa.array([{"age": 31, "tier": "gold"}, {"age": 22}, {}, {"tier": "std"}, {"vip": True}, None])
    pq.write_table(table.append_column("user_features", struct), tmp_path / "struct.parquet")
    out = read_logs(tmp_path / "struct.parquet", make_catalog())  # absent keys came back as None
    assert out["user_features"].tolist() == [{"age": 31, "tier": "gold"}, {"age": 22}, {}, {"tier": "std"},
                                             {"vip": True}, {}]
    cat = make_catalog()
    mapped = pa.array([[("color", "red")], [], [("size", "1l")]], type=pa.map_(pa.string(), pa.string()))
    cat_table = pa.Table.from_pandas(cat.drop(columns="attributes"), preserve_index=False)
    pq.write_table(cat_table.append_column("attributes", mapped), tmp_path / "cat.parquet")
    assert read_catalog(tmp_path / "cat.parquet")["attributes"].tolist() == [{"color": "red"}, {}, {"size": "1l"}]


def test_utf16_file_is_named(tmp_path):
    path = tmp_path / "logs.csv"
    path.write_bytes("event_id\ne1\n".encode("utf-16"))
    with pytest.raises(InputError, match="UTF-16 encoded; re-save it as UTF-8"):
        read_table(path)


def test_arrow_and_line_by_line_jsonl_readers_agree(tmp_path):
    from rlopt.data.io import _read_jsonl, read_jsonl_arrow

    path = write_table(make_logs(), tmp_path / "logs.jsonl")
    data = path.read_bytes()
    fast = read_jsonl_arrow(data)
    assert fast is not None  # a plain rlopt-written file takes the fast path
    slow = _read_jsonl(path, data.decode("utf-8"))
    cat = make_catalog()
    pd.testing.assert_frame_equal(read_logs(fast, cat), read_logs(slow, cat))


@pytest.mark.parametrize("content", [
    '{"a": 1} {"a": 2}\n{"a": 3}\n',                         # two records on one line
    '{"a": 1}\n\n{"a": 2}\n',                                 # a blank line
    '{"t": "2024-01-01T00:00:00Z"}\n',                        # Arrow would infer a timestamp
    '{"f": {"since": "2024-01-01"}}\n',                       # ... also inside an object
])
def test_arrow_jsonl_path_declines_when_it_could_differ(content):
    from rlopt.data.io import read_jsonl_arrow

    assert read_jsonl_arrow(content.encode()) is None


def test_iso_timestamps_and_date_like_features_in_jsonl(tmp_path):
    df = make_logs()
    df["timestamp"] = ["2024-01-01T00:00:00.250Z"] * 6
    df["user_features"] = [{"since": "2024-01-01"}] * 6
    out = read_logs(write_table(df, tmp_path / "logs.jsonl"), make_catalog())
    assert out["timestamp"].tolist() == [1704067200250] * 6
    assert out["user_features"].iloc[0] == {"since": "2024-01-01"}
