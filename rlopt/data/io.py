"""Read and write contract tables as Parquet, JSONL or CSV (the file suffix decides).

Readers turn every way a file can be unusable (missing, empty, wrong format, bad encoding,
malformed line) into one :class:`~rlopt.errors.InputError` naming the file and the problem.
Writers go through :func:`rlopt.io_utils.atomic_path`, so a failure never leaves a partial file.

JSON-object columns (``user_features``, ``attributes`` and any column holding dicts or lists)
are nested objects in JSONL and JSON strings in CSV and Parquet. Parquet files also record
which columns were encoded (schema metadata key ``rlopt.json_columns``) so they decode back.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rlopt.data.schema import JSON_COLUMNS
from rlopt.errors import InputError
from rlopt.io_utils import atomic_path, json_default

PathLike = str | os.PathLike[str]

FORMATS = {".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl",
           ".csv": "csv"}
JSON_COLUMNS_META_KEY = b"rlopt.json_columns"  # Parquet schema metadata: the JSON-encoded columns
_ATTRS_KEY = "rlopt.json_columns"


def csv_header(text: str, p: Path) -> list[str]:
    """The column names on the first line of CSV ``text`` read from ``p``; a malformed header, a blank
    or a repeated name is an :class:`InputError` naming the file."""
    try:
        header = next(csv.reader(io.StringIO(text)))
    except (csv.Error, StopIteration) as err:
        raise InputError(f"not a well-formed CSV header ({short_error(err)})", file=str(p), rule="file format") from None
    blank = [i + 1 for i, name in enumerate(header) if not name.strip()]
    if blank:
        raise InputError(f"CSV header has a blank column name at position(s) {blank} (columns: {header})",
                         file=str(p), rule="file format")
    dups = sorted({name for name in header if header.count(name) > 1})
    if dups:
        raise InputError(f"CSV header repeats column name(s) {dups}", file=str(p), column=dups[0],
                         rule="unique column names")
    return header


def table_format(path: PathLike) -> str:
    """Return ``"parquet"``, ``"jsonl"`` or ``"csv"`` for ``path``'s suffix, or raise InputError."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InputError(
            f"unsupported file type '{suffix or '(none)'}'; use one of {', '.join(sorted(FORMATS))}",
            file=str(path), rule="file format")
    return FORMATS[suffix]


def sniff_format(path: PathLike) -> str:
    """The format of an existing file *without a suffix*, from its first bytes.

    Exports and pipes often drop the suffix, and the three formats are told apart without
    guessing: Parquet files start with the magic ``PAR1``; a JSONL (or JSON array) file's first
    non-blank character is ``{`` or ``[``, which no contract CSV header can start with; anything
    else is read as CSV (and the CSV reader names the problem if it is not one). A file *with* an
    unknown suffix (``.xlsx``, ``.txt``) is refused instead: the suffix says it is something else.

    Raises
    ------
    InputError
        The suffix is not empty and not one of :data:`FORMATS`.
    """
    p = Path(path)
    if p.suffix:
        return table_format(p)
    with open(p, "rb") as fh:
        head = fh.read(4096)
    if head.startswith(b"PAR1"):
        return "parquet"
    body = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    return "jsonl" if body.lstrip()[:1] in (b"{", b"[") else "csv"


# --------------------------------------------------------------------------- reading
def read_table(path: PathLike, *, allow_empty: bool = False, decode_json: bool = True) -> pd.DataFrame:
    """Read a Parquet (file or directory of shards), JSONL or CSV table into a DataFrame.

    CSV cells are read as strings (blank = missing) so the validators, not the parser, decide
    types and can name the offending row. Known JSON columns holding JSON strings are decoded
    to Python objects where they parse; values that do not parse are left as strings for the
    validators to report.

    Parameters
    ----------
    path : str or PathLike
        ``.parquet``/``.pq`` (or a directory of them), ``.jsonl``/``.json``/``.ndjson`` (one JSON
        object per line; a single JSON array of objects is accepted too) or ``.csv`` (UTF-8); a
        file without a suffix is recognized by its first bytes (:func:`sniff_format`).
    allow_empty : bool
        Accept a table with a header but no rows (default: raise).
    decode_json : bool
        Decode JSON-string cells of JSON columns (default). The validators pass False: they
        parse and check those strings themselves, faster than checking decoded dicts.

    Returns
    -------
    pandas.DataFrame
        One row per record, columns as in the file, default ``RangeIndex``.

    Raises
    ------
    InputError
        Missing, empty, unreadable, wrongly formatted or non-UTF-8 files.
    """
    p = Path(path)
    if not p.exists():
        raise InputError("file not found", file=str(p), rule="file readable")
    if p.is_dir():
        df = _read_parquet_dir(p)
    else:
        fmt = sniff_format(p)
        if p.stat().st_size == 0:
            raise InputError("file is empty (0 bytes)", file=str(p), rule="file not empty")
        if fmt == "parquet":
            df = _read_parquet(p)
        else:
            data, text = _read_text(p)
            if not text.strip():
                raise InputError("file contains only whitespace", file=str(p), rule="file not empty")
            if fmt == "csv":
                df = _read_csv(p, text)
            else:  # Arrow's JSON reader when it provably reads the same records; else line by line
                df = read_jsonl_arrow(data)
                if df is None:
                    df = _read_jsonl(p, text)
            del data, text
    if df.columns.duplicated().any():
        dups = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
        raise InputError(f"column name(s) {dups} appear more than once", file=str(p), column=dups[0],
                         rule="unique column names")
    if len(df) == 0 and not allow_empty:
        raise InputError("file has a header but no data rows", file=str(p), rule="file not empty")
    encoded = df.attrs.pop(_ATTRS_KEY, [])
    if decode_json:
        for col in dict.fromkeys([*encoded, *JSON_COLUMNS]):
            if col in df.columns:
                df[col] = decode_json_column(df[col])
    return df.reset_index(drop=True)


def _read_parquet(p: Path) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(p)
    except (pa.ArrowException, OSError) as err:
        raise InputError(f"not a readable Parquet file ({short_error(err)})", file=str(p),
                         rule="file format") from None
    return arrow_to_frame(table)


def _read_parquet_dir(p: Path) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not any(p.rglob("*.parquet")):
        raise InputError("directory holds no .parquet files", file=str(p), rule="file readable")
    try:
        table = pq.read_table(p)
    except (pa.ArrowException, OSError) as err:
        raise InputError(f"not a readable Parquet dataset ({short_error(err)})", file=str(p),
                         rule="file format") from None
    return arrow_to_frame(table)


def arrow_to_frame(table: Any) -> pd.DataFrame:
    """A pyarrow Table (a whole file, a shard or one record batch's rows) as the readers return it.

    The one decoding every Parquet path shares (whole-file readers, :mod:`rlopt.data.batches`,
    the engine's work units): Arrow ``map`` columns become dicts, and the names of the columns
    written as JSON strings (schema metadata ``rlopt.json_columns``) go to
    ``df.attrs["rlopt.json_columns"]`` so :func:`read_table` can decode them.

    Parameters
    ----------
    table : pyarrow.Table, shape (n, k)

    Returns
    -------
    pandas.DataFrame, shape (n, k)
    """
    import pyarrow as pa

    meta = table.schema.metadata or {}
    df = table.to_pandas()
    for field in table.schema:  # Arrow maps arrive as lists of (key, value) pairs: make them dicts
        if pa.types.is_map(field.type):
            df[field.name] = pd.Series([None if v is None else dict(v) for v in df[field.name]],
                                       index=df.index, dtype=object)
    df.attrs[_ATTRS_KEY] = json.loads(meta[JSON_COLUMNS_META_KEY]) if JSON_COLUMNS_META_KEY in meta else []
    return df


def read_text_file(path: PathLike) -> str:
    """A UTF-8 text file (a config, placements) as ``str``, a leading BOM dropped.

    Raises
    ------
    InputError
        The file is UTF-16, or not valid UTF-8 (the message names the byte, its offset and line).
    """
    return _read_text(Path(path))[1]


def _read_text(p: Path) -> tuple[bytes, str]:
    data = p.read_bytes()
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise InputError("the file is UTF-16 encoded; re-save it as UTF-8", file=str(p), rule="UTF-8 encoding")
    try:
        return data, data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise InputError(
            f"not valid UTF-8 text: byte {data[err.start]:#04x} at offset {err.start} (line {line}); "
            "re-save the file as UTF-8", file=str(p), rule="UTF-8 encoding") from None


def read_jsonl_arrow(data: bytes) -> pd.DataFrame | None:
    """Parse JSONL with Arrow (multi-threaded C++), or return None when the result might differ.

    Arrow would accept two objects on one line and silently infers ISO-looking strings as
    timestamps. So it is used only when every line starts with ``{``, the row count equals the
    line count, and no column (or field of a nested object) came back as a date or time.
    Everything else -- blank or indented lines, and every invalid file -- goes to the exact
    line-by-line reader.
    """
    import pyarrow as pa
    import pyarrow.json as pj

    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    body = body.rstrip(b" \t\r\n")
    n_lines = body.count(b"\n") + 1
    if not body.startswith(b"{") or body.count(b"\n{") + 1 != n_lines:  # every line starts a record
        return None
    try:
        table = pj.read_json(io.BytesIO(body))
    except (pa.ArrowException, ValueError):
        return None
    if table.num_rows != n_lines or any(_has_temporal(f.type) for f in table.schema):
        return None
    try:
        return table.to_pandas()
    except (pa.ArrowException, ValueError, TypeError):
        return None


def _has_temporal(t: Any) -> bool:
    import pyarrow as pa

    if pa.types.is_temporal(t):
        return True
    if pa.types.is_struct(t):
        return any(_has_temporal(t.field(i).type) for i in range(t.num_fields))
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return _has_temporal(t.value_type)
    return False


def _read_jsonl(p: Path, text: str) -> pd.DataFrame:
    stripped = text.lstrip()
    if stripped.startswith("["):  # a JSON array of objects, tolerated for .json files
        try:
            records = json.loads(stripped)
        except json.JSONDecodeError as err:
            raise InputError(f"not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})",
                             file=str(p), rule="file format") from None
    else:
        lines = [ln for ln in text.split("\n") if ln.strip()]  # not splitlines: U+2028 is valid in JSON
        records = parse_json_lines(lines)
        if records is None:
            raise_bad_json_line(p, text)
    not_obj = [i for i, r in enumerate(records) if type(r) is not dict]
    if not_obj:
        kind = type(records[not_obj[0]]).__name__
        raise InputError(
            f"record {not_obj[0] + 1} is a JSON {kind}, not an object; each line must be one JSON object "
            f"({len(not_obj)} such records)", file=str(p), row=not_obj[0] + 1, rule="file format")
    if not records:
        return pd.DataFrame()
    return pd.DataFrame.from_records(records)


def parse_json_lines(lines: list[str]) -> list[Any] | None:
    """Parse each line as exactly one JSON value (a record never spans or shares a line); None on error."""
    scan, records = _scan_once, []
    append = records.append
    try:
        for line in lines:  # the C scanner directly: this loop is the JSONL reader's hot path
            value, end = scan(line, 0)
            if end != len(line) and not line[end:].isspace():
                return None
            append(value)
    except (StopIteration, ValueError):  # leading whitespace, or invalid JSON (a cut-off last line
        try:                                 # raises JSONDecodeError, a ValueError, from inside a string)
            return [loads_exact(line) for line in lines]
        except ValueError:
            return None
    return records


def raise_bad_json_line(p: Path, text: str) -> None:
    """Raise the InputError for the first line that is not one JSON value (row = its record number)."""
    lines = text.split("\n")
    row = 0
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        row += 1
        try:
            json.loads(line)
        except ValueError as err:
            msg, col = (err.msg, err.colno) if isinstance(err, json.JSONDecodeError) else (str(err), 1)
            last = all(not rest.strip() for rest in lines[lineno:])
            cut = (" -- it is the last line: the file looks cut off (an interrupted copy or download?)"
                   if last and not text.rstrip(" \t\r").endswith("\n") else "")
            raise InputError(
                f"line {lineno} is not valid JSON ({msg}: column {col}){cut}; JSONL needs one "
                f"JSON object per line: {line[:80]!r}", file=str(p), row=row,
                rule="each line is one JSON object") from None
    raise InputError("lines do not form valid JSONL", file=str(p), rule="each line is one JSON object")


def _read_csv(p: Path, text: str) -> pd.DataFrame:
    """Every cell as a string (blank = missing), parsed by Arrow's multi-threaded CSV reader."""

    import pyarrow as pa
    import pyarrow.csv as pacsv

    header = csv_header(text, p)
    if text.count('"') % 2:  # odd quote count: maybe a quoted cell that never closes (Arrow would
        _check_csv_quotes(p, text)  # silently swallow the rest of the file into it)
    convert = pacsv.ConvertOptions(column_types={name: pa.string() for name in header}, null_values=[""],
                                   strings_can_be_null=True, quoted_strings_can_be_null=True)
    parse = pacsv.ParseOptions(newlines_in_values=True)  # quoted cells may hold line breaks
    try:
        table = pacsv.read_csv(io.BytesIO(text.encode("utf-8")), parse_options=parse, convert_options=convert)
    except (pa.ArrowInvalid, pa.ArrowException) as err:
        raise InputError(f"not a well-formed CSV file ({short_error(err)})", file=str(p), rule="file format") from None
    return table.to_pandas()


def _check_csv_quotes(p: Path, text: str) -> None:
    import csv

    reader = csv.reader(io.StringIO(text), strict=True)
    try:
        for _ in reader:
            pass
    except csv.Error as err:
        raise InputError(f"not a well-formed CSV file ({err} at line {reader.line_num}; a quoted cell is "
                         "probably never closed)", file=str(p), rule="file format") from None


_scan_once = json.JSONDecoder().scan_once


def loads_exact(text: str) -> Any:
    """``json.loads`` for one cell or line, via the C scanner (no regex pass); same errors."""
    try:
        value, end = _scan_once(text, 0)
    except StopIteration:  # leading whitespace or invalid JSON: let json.loads decide and explain
        return json.loads(text)
    if end != len(text) and not text[end:].isspace():
        return json.loads(text)  # raises "Extra data" at the right place
    return value


def decode_json_column(s: pd.Series) -> pd.Series:
    """Decode JSON strings in ``s`` to Python objects where they parse; keep everything else.

    Each distinct string is decoded once (logs repeat a user's features on every impression),
    so rows with equal text share one decoded object. Missing values stay missing.
    """
    values = s.to_numpy(dtype=object, na_value=None)
    is_str = np.fromiter((type(v) is str for v in values), dtype=bool, count=len(values))
    out = values.copy()
    idx = np.flatnonzero(is_str)
    if len(idx):
        codes, uniques = pd.factorize(values[idx])
        decoded = np.empty(len(uniques), dtype=object)
        for k, text in enumerate(uniques):
            try:
                decoded[k] = loads_exact(text)
            except json.JSONDecodeError:
                decoded[k] = text
        out[idx] = decoded[codes]
    return pd.Series(out, index=s.index, name=s.name, dtype=object)


# --------------------------------------------------------------------------- writing
def write_table(df: pd.DataFrame, path: PathLike) -> Path:
    """Write ``df`` atomically as Parquet, JSONL or CSV (by suffix); return the path.

    Dict/list cells become JSON strings in Parquet and CSV (and nested objects in JSONL);
    the index is not written.
    """
    p = Path(path)
    fmt = table_format(p)
    if fmt == "jsonl":
        return write_jsonl(df, p)
    json_cols = json_columns(df)
    out = df.reset_index(drop=True).copy(deep=False)
    for col in json_cols:
        out[col] = encode_json_column(out[col])
    with atomic_path(p) as tmp:
        if fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(out, preserve_index=False)
            meta = dict(table.schema.metadata or {})
            meta[JSON_COLUMNS_META_KEY] = json.dumps(json_cols).encode()
            pq.write_table(table.replace_schema_metadata(meta), tmp)
        else:
            out.to_csv(tmp, index=False, encoding="utf-8")
    return p


def write_jsonl(records_or_df: pd.DataFrame | Iterable[Mapping[str, Any]], path: PathLike) -> Path:
    """Write records (a DataFrame or an iterable of mappings) as JSON lines, atomically.

    Missing values (None/NaN/NA) become ``null``; NumPy scalars and arrays become JSON numbers
    and lists; dicts stay nested objects.
    """
    p = Path(path)
    if isinstance(records_or_df, pd.DataFrame):
        rows = frame_records(records_or_df)
    else:
        rows = ({str(k): _py(v) for k, v in rec.items()} for rec in records_or_df)
    with atomic_path(p) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        write_jsonl_rows(fh, rows)
    return p


def frame_records(df: pd.DataFrame) -> Iterable[Mapping[str, Any]]:
    """The rows of ``df`` as JSON-ready dicts (missing values as ``None``), as :func:`write_jsonl` writes them."""
    df = df.reset_index(drop=True)
    cols = [str(c) for c in df.columns]
    if not cols:
        return ({} for _ in range(len(df)))
    arrays = [_column_to_python(df.iloc[:, j]) for j in range(df.shape[1])]
    return (dict(zip(cols, vals, strict=True)) for vals in zip(*arrays, strict=True))


def write_jsonl_rows(fh: Any, rows: Iterable[Mapping[str, Any]]) -> None:
    """Append ``rows`` to the open text file ``fh``, one JSON object per line."""
    for row in rows:
        fh.write(json.dumps(row, ensure_ascii=False, default=_json_default_nan))
        fh.write("\n")


def _column_to_python(s: pd.Series) -> list[Any]:
    """Python-native values of ``s`` with every missing value as ``None``."""
    obj = s.astype(object)
    if s.dtype == object:
        mask = np.fromiter((_is_missing(v) for v in obj), dtype=bool, count=len(obj))
    else:
        mask = s.isna().to_numpy()
    values = obj.to_list()
    if mask.any():
        for i in np.flatnonzero(mask):
            values[i] = None
    return values


def _py(v: Any) -> Any:
    """A top-level record value as JSON-ready Python: missing -> None, NumPy scalar -> Python."""
    if isinstance(v, np.generic):
        v = v.item()
    return None if _is_missing(v) else v


def _is_missing(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, float) and v != v


def _json_default_nan(obj: Any) -> Any:
    if isinstance(obj, pd.Timestamp):
        return obj.isoformat()
    if isinstance(obj, np.floating) and not np.isfinite(obj):
        return None
    return json_default(obj)


def json_columns(df: pd.DataFrame) -> list[str]:
    """Columns to store as JSON strings: known JSON columns plus any object column with dicts/lists."""
    cols = []
    for col in df.columns:
        s = df[col]
        if s.dtype != object:
            continue
        if col in JSON_COLUMNS or any(isinstance(v, (dict, list, tuple)) for v in s.to_numpy()):
            cols.append(str(col))
    return cols


def encode_json_column(s: pd.Series) -> pd.Series:
    """``s`` with each dict/list/tuple as a JSON string, every other value as ``str`` and missing as None.

    For the columns :func:`json_columns` picks, before writing Parquet or CSV (NaN inside a value
    becomes ``null``); :func:`read_table` decodes them back.
    """
    values = s.to_numpy(dtype=object)
    out = [
        None if _is_missing(v) else
        (json.dumps(v, ensure_ascii=False, default=_json_default_nan) if isinstance(v, (dict, list, tuple))
         else str(v))
        for v in values
    ]
    return pd.Series(out, index=s.index, name=s.name, dtype=object)


def short_error(err: BaseException, limit: int = 200) -> str:
    """A library's error message on one line, cut to ``limit`` characters, to quote inside an InputError.

    >>> short_error(ValueError("line one\\n  line two"))
    'line one line two'
    """
    text = " ".join(str(err).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
