"""Write a table batch by batch (Parquet, JSONL or CSV by suffix), atomically.

:class:`TableWriter` is :func:`rlopt.data.io.write_table` for data that arrives in batches: the
same encoding (dict/list cells as JSON strings in Parquet and CSV, nested objects in JSONL, the
``rlopt.json_columns`` schema metadata in Parquet), written to a temporary file next to the target
and renamed onto it only when :meth:`TableWriter.close` is reached without error. Reading the
result back gives the same frame as writing the concatenated batches with ``write_table``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from rlopt.data.io import (
    JSON_COLUMNS_META_KEY,
    encode_json_column,
    frame_records,
    json_columns,
    table_format,
    write_jsonl_rows,
)
from rlopt.io_utils import atomic_path


class TableWriter:
    """Append DataFrames to one output file; the file appears (atomically) on :meth:`close`.

    Parquet columns take the first batch's Arrow types; later batches are converted to them (an
    integer column whose later batch holds nulls, float64 in pandas, is written back as integers).
    Use as a context manager: leaving it by an exception removes the temporary file and leaves
    ``path`` untouched.

    Parameters
    ----------
    path : str or PathLike
        ``.parquet``, ``.jsonl`` or ``.csv`` target.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.format = table_format(self.path)
        self.rows = 0
        self._ctx = atomic_path(self.path)
        self._tmp: Path | None = None
        self._fh: Any = None
        self._pq: Any = None
        self._schema: Any = None
        self._json_cols: list[str] | None = None

    def __enter__(self) -> TableWriter:
        self._tmp = self._ctx.__enter__()
        return self

    def write(self, df: pd.DataFrame) -> None:
        """Append the rows of ``df`` (its columns must be the first batch's)."""
        assert self._tmp is not None, "use TableWriter as a context manager"
        if self.format == "jsonl":
            if self._fh is None:
                self._fh = open(self._tmp, "w", encoding="utf-8")  # closed in close() or __exit__
            write_jsonl_rows(self._fh, frame_records(df))
        else:
            if self._json_cols is None:
                self._json_cols = json_columns(df)
            out = df.reset_index(drop=True).copy(deep=False)
            for col in self._json_cols:
                out[col] = encode_json_column(out[col])
            if self.format == "csv":
                out.to_csv(self._tmp, index=False, encoding="utf-8", mode="w" if self.rows == 0 else "a",
                           header=self.rows == 0)
            else:
                self._write_parquet(out)
        self.rows += len(df)

    def _write_parquet(self, out: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self._schema is None:
            table = pa.Table.from_pandas(out, preserve_index=False)
            # an all-blank column of the first batch has no type yet: strings (what blank cells are)
            fields = [pa.field(f.name, pa.string() if pa.types.is_null(f.type) else f.type) for f in table.schema]
            meta = dict(table.schema.metadata or {})
            meta[JSON_COLUMNS_META_KEY] = json.dumps(self._json_cols).encode()
            self._schema = pa.schema(fields, metadata=meta)
            self._pq = pq.ParquetWriter(self._tmp, self._schema)
        table = pa.Table.from_pandas(out, schema=self._schema, preserve_index=False)
        self._pq.write_table(table)

    def close(self) -> Path:
        """Finish the file and rename it onto ``path``; return ``path``."""
        if self._fh is not None:
            self._fh.close()
        if self._pq is not None:
            self._pq.close()
        elif self.format == "parquet" and self.rows == 0 and self._tmp is not None:
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.table({}), self._tmp)
        self._ctx.__exit__(None, None, None)
        return self.path

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
            return
        if self._fh is not None:
            self._fh.close()
        if self._pq is not None:
            self._pq.close()
        self._ctx.__exit__(exc_type, exc, tb)
