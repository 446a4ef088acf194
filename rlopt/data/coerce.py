"""Column parsers: raw cells (from Parquet, JSONL or all-string CSV) to typed values + problem masks.

Each parser returns a :class:`Parsed` with the typed values (missing/unparseable as NaN/None),
a ``missing`` mask (null or blank) and an ``unparsed`` mask (present but not of the column's
type). The rules in :mod:`rlopt.data.rules` combine these masks; nothing here raises on bad cells.
All work is vectorized except JSON objects, which are inspected per value.
"""

from __future__ import annotations

import contextvars
import functools
import json
import unicodedata
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as pdt

# The string dtype of normalized columns: pandas 3's "str" (NaN for missing), object before.
STR_DTYPE: Any = "str" if int(pd.__version__.split(".")[0]) >= 3 else object


# Integers beyond 2**53 cannot be told apart as float64 (and would overflow int64 casts).
MAX_EXACT_INT = float(2**53)


@dataclass
class Parsed:
    """One column after parsing.

    Attributes
    ----------
    values : pandas.Series, length n
        Typed values: ``str`` for strings, float64 for numbers and timestamps (epoch ms),
        object (dict or None) for JSON objects.
    missing : ndarray of bool, shape (n,)
        Null, NaN or blank (whitespace-only) cells.
    unparsed : ndarray of bool, shape (n,)
        Present cells that are not of the column's type (never overlaps ``missing``).
    """

    values: pd.Series
    missing: np.ndarray
    unparsed: np.ndarray


# Shown as nothing, yet not whitespace to str.strip(): Hangul fillers and the blank Braille pattern
# (category Lo/So, used to fake "empty" text), on top of every format (Cf) and control (Cc) character.
_BLANK_LOOKING = "\u115f\u1160\u3164\uffa0\u2800"


@functools.cache
def _invisible_chars() -> list[str]:
    """Every character that shows nothing (see :func:`invisible_only_pattern`), sorted."""
    chars = {chr(c) for c in range(0x10000) if chr(c).isspace() or unicodedata.category(chr(c)) in ("Cf", "Cc")}
    chars |= {chr(c) for c in range(0xE0000, 0xE0080) if unicodedata.category(chr(c)) == "Cf"}
    return sorted(chars | set(_BLANK_LOOKING))


@functools.cache
def invisible_only_pattern() -> str:
    """A regex (Python ``re`` and RE2 alike) matching strings made only of characters that show nothing.

    Those are every whitespace character (``str.isspace``: U+3000 ideographic space, U+00A0 ...),
    every format character (category ``Cf``: zero-width space U+200B, joiners, U+FEFF, bidi marks
    ...), every control character (``Cc``) and the blank-looking letters of ``_BLANK_LOOKING``.
    Built from :mod:`unicodedata` once (the Basic Multilingual Plane plus the Cf tag block).
    """
    # C0 controls as \xHH escapes (a literal NUL cannot travel in an RE2 pattern); the rest literal
    # (none is a character-class metacharacter).
    body = "".join(f"\\x{ord(ch):02x}" if ord(ch) < 0x20 or ch == "\x7f" else ch for ch in _invisible_chars())
    return f"[{body}]*"


def _blank(s: pd.Series) -> np.ndarray:
    """Null cells plus strings that show nothing: empty after stripping whitespace, or made only of
    invisible characters (zero-width, ideographic spaces...; see :func:`invisible_only_pattern`)."""
    missing = s.isna().to_numpy(dtype=bool)
    if s.dtype == object:
        if pdt.infer_dtype(s, skipna=True) not in ("string", "mixed", "mixed-integer"):
            return missing
    elif not pdt.is_string_dtype(s.dtype):
        return missing
    stripped = s.str.strip()
    blank = stripped.eq("").fillna(False).to_numpy(dtype=bool, copy=True)  # non-strings in an object column: NA
    # str.strip() leaves zero-width and control characters; a cell made only of invisible characters
    # then starts with one (a cheap vectorized test), and only those few cells are matched in full.
    maybe = ~blank & stripped.str.slice(0, 1).isin(_invisible_chars()).to_numpy(dtype=bool)
    if maybe.any():
        idx = np.flatnonzero(maybe)
        blank[idx] = s.iloc[idx].str.fullmatch(invisible_only_pattern()).fillna(False).to_numpy(dtype=bool)
    return missing | blank


_CONTROL_RE = "[\\x00-\\x1f\\x7f-\\x9f]"


def _may_hold_control(chunk) -> bool:
    """Whether an Arrow string array's UTF-8 bytes hold a C0 byte, DEL or 0xC2 (the lead byte of
    U+0080..U+00BF, so of every C1 control). Only the chunk's own byte range is read: the chunks
    of a column read from Parquet share one data buffer."""
    data, offsets = chunk.buffers()[2], chunk.buffers()[1]
    if data is None or len(chunk) == 0:
        return False
    width = np.int64 if chunk.type.equals(__import__("pyarrow").large_string()) else np.int32
    off = np.frombuffer(offsets, dtype=width)[chunk.offset: chunk.offset + len(chunk) + 1]
    view = np.frombuffer(data, dtype=np.uint8)[int(off[0]): int(off[-1])]
    return bool((view < 0x20).any() or (view == 0x7F).any() or (view == 0xC2).any())


def control_char_rows(values: pd.Series) -> np.ndarray:
    """Rows of a string column holding a control character (C0 ``\\x00-\\x1f``, DEL, C1 ``\\x80-\\x9f``).

    Arrow-backed columns are first screened on their raw UTF-8 bytes (three vectorized byte
    comparisons); only a column that may hold one is searched row by row.

    Returns
    -------
    ndarray of bool, shape (n,)
        True where the cell is a string with a control character; missing cells are False.
    """
    if len(values) == 0 or not (values.dtype == object or pdt.is_string_dtype(values.dtype)):
        return np.zeros(len(values), dtype=bool)
    if values.dtype != object:
        import pyarrow as pa

        try:
            arr = pa.array(values)
            chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
            if all(pa.types.is_string(c.type) or pa.types.is_large_string(c.type) for c in chunks) and \
                    not any(_may_hold_control(c) for c in chunks):
                return np.zeros(len(values), dtype=bool)
        except (pa.ArrowException, TypeError, IndexError, ValueError):  # not Arrow-backed: search row by row
            pass
    return values.str.contains(_CONTROL_RE, regex=True).fillna(False).to_numpy(dtype=bool)


def parse_str(s: pd.Series) -> Parsed:
    """Strings; numbers are accepted and written as text (``3.0`` as ``"3"``); dicts, lists and
    booleans are not strings."""
    missing = _blank(s)
    unparsed = np.zeros(len(s), dtype=bool)
    if pdt.is_bool_dtype(s.dtype):
        unparsed = ~missing
    elif s.dtype == object and pdt.infer_dtype(s, skipna=True) not in ("string", "empty", "integer"):
        unparsed = s.map(lambda v: isinstance(v, (dict, list, tuple, np.ndarray, bool, np.bool_))
                         ).to_numpy(dtype=bool)
        unparsed = unparsed & ~missing
    bad = missing | unparsed
    if pdt.is_float_dtype(s.dtype):  # ids written by tools that turned int columns with nulls to float
        arr = s.to_numpy(dtype="float64", na_value=np.nan)
        unparsed = np.isinf(arr)
        bad = missing | unparsed
        values = pd.Series([str(int(x)) if x.is_integer() else str(x) if np.isfinite(x) else None
                            for x in arr.tolist()], index=s.index, dtype=object)
    elif s.dtype == object:
        values = s.where(~bad, None).map(str, na_action="ignore")
    elif pdt.is_string_dtype(s.dtype):  # already strings (the common case): keep them as they are
        return Parsed(s.where(~bad) if bad.any() else s, missing, unparsed)
    else:
        values = s.astype(str)
    out = values.astype(object).where(~bad, None).astype(STR_DTYPE)
    return Parsed(out, missing, unparsed)


def parse_number(s: pd.Series) -> Parsed:
    """Finite numbers (float64); booleans count as 0/1; numeric strings are parsed."""
    missing = _blank(s)
    if pdt.is_bool_dtype(s.dtype):
        values = s.astype("float64")
    elif pdt.is_numeric_dtype(s.dtype):
        values = s.astype("float64")
    elif (fast := _arrow_to_float(s, missing)) is not None:  # all-string column (CSV): Arrow cast
        values = fast
    else:
        obj = s.astype(object)
        if s.dtype == object:  # dicts/lists would make to_numeric raise on some versions
            nested = obj.map(lambda v: isinstance(v, (dict, list, tuple))).to_numpy(dtype=bool)
            obj = obj.where(~nested, None)
        values = pd.to_numeric(obj.where(~missing, None), errors="coerce").astype("float64")
    arr = values.to_numpy(dtype="float64", na_value=np.nan)
    unparsed = ~missing & ~np.isfinite(arr)
    arr = np.where(missing | unparsed, np.nan, arr)
    return Parsed(pd.Series(arr, index=s.index, name=s.name), missing, unparsed)


def _arrow_to_float(s: pd.Series, missing: np.ndarray) -> pd.Series | None:
    """Cast a string column to float64 with Arrow; None if any cell is not a plain number."""
    if s.dtype == object or not pdt.is_string_dtype(s.dtype):
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        arr = pc.if_else(pa.array(missing), pa.scalar(None, pa.string()), pc.utf8_trim_whitespace(pa.array(s)))
        floats = pc.cast(arr, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, TypeError):
        return None
    return pd.Series(floats.to_numpy(zero_copy_only=False), index=s.index, name=s.name)


def parse_timestamp(s: pd.Series) -> Parsed:
    """Epoch milliseconds (integers) or ISO-8601 strings -> float64 epoch ms (UTC; naive = UTC)."""
    if pdt.is_datetime64_any_dtype(s.dtype):
        missing = s.isna().to_numpy(dtype=bool)
        ms = _datetime_to_ms(s)
    else:
        num = parse_number(s)
        missing, ms = num.missing, num.values.to_numpy(copy=True)
        rest = np.flatnonzero(num.unparsed)  # not a number: maybe an ISO-8601 string
        if len(rest):
            sub = s.iloc[rest]
            rest = rest[sub.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)]
        if len(rest):
            dt = pd.to_datetime(s.iloc[rest].astype(str).str.strip(), format="ISO8601", utc=True,
                                errors="coerce")
            ms[rest] = _datetime_to_ms(dt)
    with np.errstate(invalid="ignore"):  # beyond 2**53 ms (~285,000 years) is not a real time
        integral = np.isfinite(ms) & (np.floor(ms) == ms) & (np.abs(ms) < MAX_EXACT_INT)
    unparsed = ~missing & ~integral
    ms = np.where(integral, ms, np.nan)
    return Parsed(pd.Series(ms, index=s.index, name=s.name), missing, unparsed)


def _datetime_to_ms(dt: pd.Series) -> np.ndarray:
    if getattr(dt.dt, "tz", None) is not None:
        dt = dt.dt.tz_convert("UTC").dt.tz_localize(None)
    vals = dt.to_numpy(dtype="datetime64[ns]")
    nat = np.isnat(vals)
    ms = (vals.astype("int64") // 1_000_000).astype("float64")
    ms[nat] = np.nan
    return ms


# Set by a caller that parses many batches of one input (rlopt.data.stream): the decoded JSON strings
# of earlier batches, so features repeated per user are decoded once per input, not once per batch.
# Scoped to that caller (a context variable, None elsewhere); cleared when it reaches JSON_CACHE_SIZE.
JSON_CACHE: contextvars.ContextVar[dict | None] = contextvars.ContextVar("rlopt_json_cache", default=None)
JSON_CACHE_SIZE = 200_000


def parse_json_object(s: pd.Series, value_types: frozenset[type]) -> Parsed:
    """JSON objects (dicts, or JSON strings of one) with str keys and values of ``value_types``.

    ``value_types`` is matched on the exact type (``bool`` is not an ``int`` here). Null (or NaN)
    entries are dropped, as unknown values, so Arrow struct columns (which fill absent keys with
    None) read back as the dicts they were. Each distinct JSON string is
    decoded and checked once. Missing cells become ``None``; callers decide the default (``{}``).
    """
    from rlopt.data.io import loads_exact

    raw = s.to_numpy(dtype=object, na_value=None)
    if pdt.is_string_dtype(s.dtype) and s.dtype != object:  # Parquet/CSV: all strings, Arrow hashing
        missing = s.isna().to_numpy(dtype=bool).copy()
        is_str = ~missing
    else:
        is_str = np.fromiter((type(v) is str for v in raw), dtype=bool, count=len(raw))
        missing = np.fromiter((v is None or (type(v) is float and v != v) for v in raw), dtype=bool,
                              count=len(raw))
    values = np.empty(len(raw), dtype=object)
    unparsed = np.zeros(len(raw), dtype=bool)
    str_idx = np.flatnonzero(is_str)
    if len(str_idx):
        codes, uniques = pd.factorize(s.iloc[str_idx] if s.dtype != object else raw[str_idx])
        uniques = np.asarray(uniques, dtype=object)
        decoded = np.empty(len(uniques), dtype=object)
        ok = np.zeros(len(uniques), dtype=bool)
        blank = np.zeros(len(uniques), dtype=bool)
        cache = JSON_CACHE.get()
        for k, text in enumerate(uniques):  # JSON can only be checked value by value
            if cache is not None:
                hit = cache.get((text, value_types))
                if hit is not None:
                    decoded[k], ok[k], blank[k] = hit
                    continue
            if not text.strip():
                blank[k] = True
            else:
                try:
                    v = loads_exact(text)
                except json.JSONDecodeError:
                    v = None
                if type(v) is dict:
                    v = _drop_nulls(v)
                    if all(type(x) in value_types for x in v.values()):
                        decoded[k], ok[k] = v, True
            if cache is not None:
                if len(cache) >= JSON_CACHE_SIZE:
                    cache.clear()
                cache[(text, value_types)] = (decoded[k], ok[k], blank[k])
        values[str_idx] = decoded[codes]
        missing[str_idx] = blank[codes]
        unparsed[str_idx] = ~ok[codes] & ~blank[codes]
    for i in np.flatnonzero(~is_str & ~missing):
        v = raw[i]
        if type(v) is dict and all(type(k) is str for k in v) and all(type(x) in value_types for x in v.values()):
            values[i] = v
            continue
        if isinstance(v, dict):
            v = _drop_nulls(v)
        if isinstance(v, dict) and all(type(k) is str and _scalar_ok(x, value_types) for k, x in v.items()):
            values[i] = v
        else:
            unparsed[i] = True
    return Parsed(pd.Series(values, index=s.index, name=s.name, dtype=object), missing, unparsed)


def _drop_nulls(d: dict) -> dict:
    """Null entries mean "not known": drop them (Arrow structs fill absent keys with None)."""
    if any(x is None or (type(x) is float and x != x) for x in d.values()):
        return {k: x for k, x in d.items() if not (x is None or (type(x) is float and x != x))}
    return d


def _scalar_ok(x: Any, value_types: frozenset[type]) -> bool:
    """Exact type match; NumPy scalars (from in-memory frames) count as their Python type."""
    if isinstance(x, np.generic):
        x = x.item()
    return type(x) in value_types


PARSERS = {
    "str": parse_str,
    "number": parse_number,
    "timestamp": parse_timestamp,
    "features": lambda s: parse_json_object(s, frozenset({str, int, float, bool})),
    "attributes": lambda s: parse_json_object(s, frozenset({str})),
}
