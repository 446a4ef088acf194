"""Read a contract table in record batches: bounded memory for logs larger than RAM.

:func:`iter_batches` yields :class:`Batch` es of at most ``batch_rows`` rows, each a pandas frame
holding the cells exactly as :func:`rlopt.data.io.read_table` (``decode_json=False``) would give
them for those rows, plus where the rows come from: their global 0-based row offset (rows are
numbered across the whole input, shard after shard, like the in-memory reader) and the shard
file and the offset inside it.

- Parquet: a file, or a folder of shards (hive partitions too, ``day=2025-01-01/part-0.parquet``)
  in the order :func:`pyarrow.parquet.read_table` reads them. Every shard must have the columns
  and types of the first one (:func:`check_shard_schemas`); otherwise an InputError names the
  shard and the column.
- CSV: :func:`pyarrow.csv.open_csv`, every cell a string (blank = missing), as the in-memory reader.
- JSONL: blocks of lines, each parsed by the in-memory reader's own functions (Arrow when it provably
  reads the same records, else line by line); a JSON array file is read whole.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from rlopt.data.io import (
    arrow_to_frame,
    csv_header,
    parse_json_lines,
    read_jsonl_arrow,
    read_table,
    short_error,
    sniff_format,
)
from rlopt.errors import InputError

PathLike = str | os.PathLike[str]
DEFAULT_BATCH_ROWS = 262_144  # ~2^18 rows: large enough that per-batch overhead is small, small enough to bound memory
_JSONL_BLOCK_BYTES = 32 * 2**20


@dataclass
class Batch:
    """Rows ``start .. start + len(frame) - 1`` (0-based, global) of a table.

    Attributes
    ----------
    frame : pandas.DataFrame, shape (n_rows, n_columns)
        Raw cells, default ``RangeIndex``.
    start : int
        Global 0-based index of the first row (the user's row number is ``start + i + 1``).
    shard : str
        The file these rows come from (the input itself when it is one file).
    shard_start : int
        0-based index of the first row inside ``shard``.
    """

    frame: pd.DataFrame
    start: int
    shard: str
    shard_start: int


def is_sharded(path: PathLike) -> bool:
    """Whether ``path`` is a folder of Parquet shards (messages then name the shard)."""
    return Path(path).is_dir()


def input_bytes(path: PathLike) -> int:
    """Size of the input on disk: the file, or every file under the folder."""
    p = Path(path)
    if p.is_dir():
        return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    return p.stat().st_size if p.exists() else 0


def _parquet_dataset(p: Path) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if p.is_dir() and not any(p.rglob("*.parquet")):
        raise InputError("directory holds no .parquet files", file=str(p), rule="file readable")
    try:
        return pq.ParquetDataset(p)
    except (pa.ArrowException, OSError) as err:
        raise InputError(f"not a readable Parquet {'dataset' if p.is_dir() else 'file'} ({short_error(err)})",
                         file=str(p), rule="file format") from None


def check_shard_schemas(dataset: Any) -> None:
    """Every shard has the first shard's columns with the same types (an all-null column may stand
    for any type).

    Raises
    ------
    InputError
        Naming the shard, the column and both types (or the missing / extra columns).
    """
    import pyarrow as pa

    frags = list(dataset.fragments)
    if len(frags) < 2:
        return
    first = frags[0].physical_schema
    ref = {f.name: f.type for f in first}
    for frag in frags[1:]:
        schema = frag.physical_schema
        names = [f.name for f in schema]
        missing = [n for n in ref if n not in names]
        extra = [n for n in names if n not in ref]
        if missing or extra:
            what = "; ".join(part for part in (
                f"lacks column(s) {', '.join(missing)}" if missing else "",
                f"has extra column(s) {', '.join(extra)}" if extra else "") if part)
            raise InputError(
                f"this shard has another schema than the first shard ({frags[0].path}): it {what}; every "
                "shard of a folder must have the same columns", file=frag.path, column=(missing or extra)[0],
                rule="shards share one schema")
        for field in schema:
            want = ref[field.name]
            if field.type != want and not pa.types.is_null(field.type) and not pa.types.is_null(want):
                raise InputError(
                    f"column '{field.name}' is {field.type} in this shard but {want} in the first shard "
                    f"({frags[0].path}); every shard of a folder must store a column with one type",
                    file=frag.path, column=field.name, rule="shards share one schema")


def parquet_rows(path: PathLike) -> int:
    """Row count of a Parquet file or folder, from the footers (nothing else is read)."""
    dataset = _parquet_dataset(Path(path))
    return sum(frag.metadata.num_rows for frag in dataset.fragments)


def iter_batches(path: PathLike, *, columns: Sequence[str] | None = None,
                 batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[Batch]:
    """Yield the table at ``path`` in batches of at most ``batch_rows`` rows.

    Parameters
    ----------
    path : str or PathLike
        Parquet file or folder of shards, CSV or JSONL (as :func:`rlopt.data.io.read_table`).
    columns : sequence of str, optional
        Read only these columns (those absent from the file are left out). Parquet and CSV skip the
        others while reading; JSONL parses every line anyway.
    batch_rows : int
        Most rows per batch.

    Raises
    ------
    InputError
        The same file-level problems as the in-memory reader (missing, empty, unreadable file,
        another schema in a shard, a malformed line), naming the file or shard.
    """
    p = Path(path)
    if not p.exists():
        raise InputError("file not found", file=str(p), rule="file readable")
    if p.is_dir():
        yield from _parquet_batches(p, columns, batch_rows)
        return
    if p.stat().st_size == 0:
        raise InputError("file is empty (0 bytes)", file=str(p), rule="file not empty")
    fmt = sniff_format(p)
    if fmt == "parquet":
        yield from _parquet_batches(p, columns, batch_rows)
    elif fmt == "csv":
        yield from _csv_batches(p, columns, batch_rows)
    else:
        yield from _jsonl_batches(p, columns, batch_rows)


def _parquet_batches(p: Path, columns: Sequence[str] | None, batch_rows: int) -> Iterator[Batch]:
    import pyarrow as pa

    dataset = _parquet_dataset(p)
    check_shard_schemas(dataset)
    schema = dataset.schema
    names = None if columns is None else [c for c in schema.names if c in set(columns)]
    start = 0
    for frag in dataset.fragments:
        shard_start = 0
        try:
            for rb in frag.to_batches(schema=schema, columns=names, batch_size=batch_rows):
                if rb.num_rows == 0:
                    continue
                table = pa.Table.from_batches([rb])
                df = arrow_to_frame(table)
                df.attrs.clear()
                yield Batch(df, start, frag.path, shard_start)
                start += rb.num_rows
                shard_start += rb.num_rows
        except (pa.ArrowException, OSError) as err:
            raise InputError(f"not a readable Parquet file ({short_error(err)})", file=frag.path,
                             rule="file format") from None


def _csv_header(p: Path) -> list[str]:
    """The header row, checked as the in-memory reader checks it."""
    with open(p, "rb") as fh:
        head = fh.read(1 << 20)
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        if err.start < len(head) - 4:  # not merely a character cut at the end of the sample
            _raise_utf8_error(p)
        text = head[: err.start].decode("utf-8-sig")
    return csv_header(text, p)


def _raise_utf8_error(p: Path, chunk: int = 16 * 2**20) -> None:
    """Raise the in-memory reader's UTF-8 message (byte, offset, line), reading ``p`` in chunks."""
    import codecs

    with open(p, "rb") as fh:
        if fh.read(2) in (b"\xff\xfe", b"\xfe\xff"):
            raise InputError("the file is UTF-16 encoded; re-save it as UTF-8", file=str(p), rule="UTF-8 encoding")
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, lines = 0, 0
    with open(p, "rb") as fh:
        while data := fh.read(chunk):
            try:
                decoder.decode(data)
            except UnicodeDecodeError as err:
                # the decoder may hold up to 3 bytes of the previous chunk: find the byte in this one
                pos = max(err.start - (len(err.object) - len(data)), 0)
                line = lines + data[:pos].count(b"\n") + 1
                raise InputError(
                    f"not valid UTF-8 text: byte {data[pos]:#04x} at offset {offset + pos} (line {line}); "
                    "re-save the file as UTF-8", file=str(p), rule="UTF-8 encoding") from None
            offset += len(data)
            lines += data.count(b"\n")
    raise InputError("not valid UTF-8 text; re-save the file as UTF-8", file=str(p), rule="UTF-8 encoding")


def _csv_batches(p: Path, columns: Sequence[str] | None, batch_rows: int) -> Iterator[Batch]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    header = _csv_header(p)
    keep = None if columns is None else [c for c in header if c in set(columns)]
    convert = pacsv.ConvertOptions(column_types={name: pa.string() for name in header}, null_values=[""],
                                   strings_can_be_null=True, quoted_strings_can_be_null=True,
                                   include_columns=keep)
    # Arrow's block size bounds the rows per batch only roughly; batches are re-cut to batch_rows below.
    read = pacsv.ReadOptions(block_size=16 * 2**20)
    parse = pacsv.ParseOptions(newlines_in_values=True)
    start = 0
    try:
        reader = pacsv.open_csv(p, read_options=read, parse_options=parse, convert_options=convert)
        for rb in reader:
            for off in range(0, rb.num_rows, batch_rows):
                part = rb.slice(off, batch_rows)
                yield Batch(part.to_pandas(), start, str(p), start)
                start += part.num_rows
    except (pa.ArrowInvalid, pa.ArrowException) as err:
        text = short_error(err)
        if "UTF8" in text or "UTF-8" in text:
            _raise_utf8_error(p)
        raise InputError(f"not a well-formed CSV file ({text})", file=str(p), rule="file format") from None
    if start == 0:
        raise InputError("file has a header but no data rows", file=str(p), rule="file not empty")


def _jsonl_batches(p: Path, columns: Sequence[str] | None, batch_rows: int) -> Iterator[Batch]:
    with open(p, "rb") as fh:
        head = fh.read(4096)
    body = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    if body.lstrip()[:1] == b"[" or head[:2] in (b"\xff\xfe", b"\xfe\xff"):  # a JSON array (or UTF-16): read whole
        df = read_table(p, decode_json=False)
        yield Batch(_select(df, columns), 0, str(p), 0)
        return
    start, lineno = 0, 0
    with open(p, "rb") as fh:
        first = True
        while True:
            lines = list(itertools.islice(fh, batch_rows))
            if not lines:
                break
            if first and lines[0].startswith(b"\xef\xbb\xbf"):
                lines[0] = lines[0][3:]
            first = False
            data = b"".join(lines)
            df = _jsonl_block(p, data, lineno, start)
            lineno += len(lines)
            if len(df):
                yield Batch(_select(df, columns), start, str(p), start)
                start += len(df)
    if start == 0:
        read_table(p)  # whitespace only, no rows: the in-memory reader's message


def _select(df: pd.DataFrame, columns: Sequence[str] | None) -> pd.DataFrame:
    return df if columns is None else df[[c for c in df.columns if c in set(columns)]]


def _jsonl_block(p: Path, data: bytes, line_offset: int, row_offset: int) -> pd.DataFrame:
    """One block of whole lines as the in-memory JSONL reader reads them; errors name global lines/rows."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = line_offset + data[: err.start].count(b"\n") + 1
        raise InputError(
            f"not valid UTF-8 text: byte {data[err.start]:#04x} on line {line}; re-save the file as UTF-8",
            file=str(p), rule="UTF-8 encoding") from None
    if not text.strip():
        return pd.DataFrame()
    df = read_jsonl_arrow(data)
    if df is not None:
        return df
    lines = [ln for ln in text.split("\n") if ln.strip()]
    records = parse_json_lines(lines)
    if records is None:
        try:
            from rlopt.data.io import raise_bad_json_line

            raise_bad_json_line(p, text)
        except InputError as err:
            raise _shift(err, line_offset, row_offset) from None
    not_obj = [i for i, r in enumerate(records) if type(r) is not dict]
    if not_obj:
        kind = type(records[not_obj[0]]).__name__
        raise InputError(f"record {row_offset + not_obj[0] + 1} is a JSON {kind}, not an object; each line must be "
                         f"one JSON object", file=str(p), row=row_offset + not_obj[0] + 1, rule="file format")
    return pd.DataFrame.from_records(records)


def _shift(err: InputError, line_offset: int, row_offset: int) -> InputError:
    """The block reader's error with the file's line and row numbers."""
    import re

    message = re.sub(r"^line (\d+)", lambda m: f"line {int(m.group(1)) + line_offset}", err.message)
    row = None if err.row is None else err.row + row_offset
    return InputError(message, file=err.file, row=row, column=err.column, rule=err.rule, value=err.value)
