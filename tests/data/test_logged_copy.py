"""read_logged_copy: the distinct (item_id, copy_text) pairs of a log of any size, two columns in batches."""

from __future__ import annotations

import pandas as pd
import pytest

from rlopt.data import read_logged_copy, write_table
from rlopt.errors import InputError

LOGS = pd.DataFrame({"item_id": ["a", "b", "a", "a", "c"], "copy_text": ["A - loved", "B", "A - loved", "A, new", None],
                     "clicked": [1, 0, 0, 1, 0]})


@pytest.mark.parametrize("suffix", ["csv", "jsonl", "parquet", "shards"])
def test_every_format_gives_the_same_distinct_pairs(tmp_path, suffix):
    if suffix == "shards":
        path = tmp_path / "shards"
        path.mkdir()
        write_table(LOGS.iloc[:2], path / "part-0.parquet")
        write_table(LOGS.iloc[2:], path / "part-1.parquet")
    else:
        path = write_table(LOGS, tmp_path / f"logs.{suffix}")
    got = read_logged_copy(path)
    assert list(got.columns) == ["item_id", "copy_text"]
    assert sorted(map(tuple, got.to_numpy())) == [("a", "A - loved"), ("a", "A, new"), ("b", "B")]  # no copy: skipped


def test_small_batches_repeat_nothing(tmp_path, monkeypatch):
    import rlopt.data.batches as batches

    path = write_table(pd.concat([LOGS] * 50, ignore_index=True), tmp_path / "logs.parquet")
    real = batches.iter_batches
    monkeypatch.setattr(batches, "iter_batches", lambda p, **kw: real(p, **{**kw, "batch_rows": 7}))
    assert len(read_logged_copy(path)) == 3


def test_a_log_without_copy_text_is_named(tmp_path):
    path = write_table(LOGS.drop(columns=["copy_text"]), tmp_path / "logs.csv")
    with pytest.raises(InputError, match="copy_text") as err:
        read_logged_copy(path)
    assert err.value.file == str(path) and err.value.column == "copy_text"
