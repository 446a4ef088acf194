"""Validate a table larger than memory: record batches, bounded pandas frames, global checks in DuckDB.

:func:`stream_validate` gives the same counts, messages, quarantine rows and normalized output as
:func:`rlopt.data.validate.validate_table` on the whole table, holding one batch at a time:

1. **Whole-table pass** (:func:`scan_whole_table`): only the columns of the rules that need the whole
   table are read -- ``event_id`` (``event_id.unique``: repeats after the first are flagged) and
   ``propensity`` (``propensity.all_or_none``). Each batch's parsed, valid ``event_id`` values go with
   their global row numbers to a temporary Parquet file, and DuckDB (embedded, memory-capped, spills to
   disk) returns the rows whose value appeared at an earlier row.
2. **Row pass**: each batch goes through :func:`validate_batch` (the per-row rules of
   :mod:`rlopt.data.rules` on a pandas frame of ``batch_rows`` rows, with the whole-table facts); bad
   rows go to the quarantine JSONL (with their global ``row``, and ``shard``/``shard_row`` for a
   folder of shards), good rows are normalized and appended to ``out`` (temporary file, renamed at
   the end). With ``on_error="fail"`` the pass still counts every rule over the whole input, then
   raises the same one-paragraph error as the in-memory path.

Row numbers are global and 1-based, across the shards in the order the in-memory reader reads them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rlopt.data.batches import DEFAULT_BATCH_ROWS, Batch, is_sharded, iter_batches, parquet_rows
from rlopt.data.coerce import JSON_CACHE, PARSERS
from rlopt.data.io import sniff_format
from rlopt.data.rules import KINDS, Frame, Rule, rules_for, whole_table_columns
from rlopt.data.schema import Placement
from rlopt.data.table_writer import TableWriter
from rlopt.data.validate import (
    ON_ERROR_CHOICES,
    REQUIRED,
    SHOW_ROWS,
    OnError,
    ValidationReport,
    check_required_columns,
    evaluate_rules,
    failure_error,
    normalize,
    offending_cells,
    quarantine_path_for,
    quarantine_rows,
)
from rlopt.errors import InputError

PathLike = str | os.PathLike[str]
# Inputs above this many rows (Parquet: from the footers) or bytes (CSV/JSONL) are streamed; below,
# the in-memory path is used (see benchmarks/bench_scale.py for the measured trade-off).
STREAM_MIN_ROWS = 1_000_000
STREAM_MIN_BYTES = 200 * 2**20
DUCKDB_MEMORY = "512MB"


def should_stream(path: PathLike) -> bool:
    """Whether ``path`` is validated in batches: a folder of shards always (messages name the shard),
    a file when it holds more than :data:`STREAM_MIN_ROWS` rows (Parquet) or :data:`STREAM_MIN_BYTES`."""
    p = Path(path)
    if not p.exists():
        return False
    if p.is_dir():
        return True
    if p.stat().st_size == 0:
        return False
    if sniff_format(p) == "parquet":
        try:
            return parquet_rows(p) > STREAM_MIN_ROWS
        except InputError:
            return False  # the in-memory reader names the problem
    return p.stat().st_size > STREAM_MIN_BYTES


# --------------------------------------------------------------------------- one batch
def validate_batch(df: pd.DataFrame, table: str, *, catalog_ids: pd.Index | None = None,
                   placements: Mapping[str, Placement] | None = None,
                   repeated: dict[str, np.ndarray] | None = None,
                   all_missing: dict[str, bool] | None = None) -> tuple[Frame, dict[Rule, np.ndarray], np.ndarray]:
    """Evaluate every rule of ``table`` on one batch; the per-batch function engines call.

    Parameters
    ----------
    df : pandas.DataFrame, shape (n_rows, n_columns)
        Raw cells of the batch (as :class:`rlopt.data.batches.Batch` frames hold them).
    table : {"catalog", "logs", "contexts", "copies"}
    catalog_ids, placements
        As for :func:`rlopt.data.validate.validate_table`.
    repeated, all_missing : optional
        Whole-input facts (:meth:`WholeTable.for_batch`); without them the ``unique`` and
        ``all_or_none`` rules see this batch only.

    Returns
    -------
    frame : Frame
        Parsed columns (pass to :func:`rlopt.data.validate.normalize` for the typed good rows).
    masks : dict of Rule to ndarray of bool, shape (n_rows,)
        Rows breaking each applicable rule.
    bad : ndarray of bool, shape (n_rows,)
        Rows breaking any rule.
    """
    frame, masks = evaluate_rules(df, table, catalog_ids=catalog_ids, placements=placements, repeated=repeated,
                                  all_missing=all_missing)
    bad = np.zeros(len(df), dtype=bool)
    for mask in masks.values():
        bad |= mask
    return frame, masks, bad


# --------------------------------------------------------------------------- whole-table facts
@dataclass
class WholeTable:
    """What the whole input says for the rules that cannot be decided batch by batch.

    Attributes
    ----------
    rows : int
        Rows in the input.
    repeated_rows : dict of str to ndarray of int64
        Per unique-column: sorted global 0-based rows whose value appeared at an earlier row.
    all_missing : dict of str to bool
        Per all-or-none column present in the input: blank on every row.
    """

    rows: int
    repeated_rows: dict[str, np.ndarray] = field(default_factory=dict)
    all_missing: dict[str, bool] = field(default_factory=dict)

    def for_batch(self, start: int, n: int) -> tuple[dict[str, np.ndarray], dict[str, bool]]:
        """``(repeated, all_missing)`` for rows ``start .. start + n - 1`` (see :func:`validate_batch`)."""
        repeated = {}
        for col, rows in self.repeated_rows.items():
            mask = np.zeros(n, dtype=bool)
            lo, hi = np.searchsorted(rows, [start, start + n])
            mask[rows[lo:hi] - start] = True
            repeated[col] = mask
        return repeated, dict(self.all_missing)


def scan_whole_table(path: PathLike, table: str, workdir: Path, *,
                     batch_rows: int = DEFAULT_BATCH_ROWS) -> WholeTable:
    """The whole-table pass: read only the ``unique`` / ``all_or_none`` columns (see the module docstring)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    unique = whole_table_columns(table, "unique")
    all_or_none = whole_table_columns(table, "all_or_none")
    kinds = KINDS[table]
    writers: dict[str, Any] = {}
    present: dict[str, bool] = {}
    rows = 0
    schema = pa.schema([("v", pa.string()), ("r", pa.int64())])
    try:
        for batch in iter_batches(path, columns=[*unique, *all_or_none], batch_rows=batch_rows):
            df = batch.frame
            for col in unique:
                if col not in df.columns:
                    continue
                p = PARSERS[kinds[col]](df[col])
                ok = ~p.missing & ~p.unparsed
                values = pa.array(p.values[ok].astype(object).to_numpy(), type=pa.string())
                idx = pa.array(np.flatnonzero(ok).astype(np.int64) + batch.start)
                if col not in writers:
                    writers[col] = pq.ParquetWriter(workdir / f"keys-{col}.parquet", schema)
                writers[col].write_table(pa.table([values, idx], schema=schema))
            for col in all_or_none:
                if col in df.columns:
                    present[col] = present.get(col, False) or bool((~PARSERS[kinds[col]](df[col]).missing).any())
            rows += len(df)
    finally:
        for w in writers.values():
            w.close()
    if rows == 0:
        raise InputError("file has a header but no data rows", file=str(path), rule="file not empty")
    repeated = {col: _repeated_rows(workdir / f"keys-{col}.parquet", workdir) for col in writers}
    return WholeTable(rows, repeated, {col: not seen for col, seen in present.items()})


def scratch_duckdb(workdir: Path) -> Any:
    """An embedded DuckDB whose database and spill files live in ``workdir``, its memory capped at
    :data:`DUCKDB_MEMORY` (global operations on tables larger than memory sort and group on disk)."""
    import duckdb

    con = duckdb.connect(str(workdir / "scratch.duckdb"))
    con.execute(f"SET memory_limit = '{DUCKDB_MEMORY}'")
    con.execute(f"SET temp_directory = '{workdir / 'spill'}'")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")  # it would print into the command's --json output
    return con


def _repeated_rows(keys: Path, workdir: Path) -> np.ndarray:
    """Rows (sorted, 0-based) whose value appeared at an earlier row: DuckDB groups the values on disk."""
    con = scratch_duckdb(workdir)
    try:
        out = con.execute(
            "SELECT k.r FROM read_parquet(?) AS k JOIN (SELECT v, min(r) AS first FROM read_parquet(?) GROUP BY v "
            "HAVING count(*) > 1) AS d ON k.v = d.v WHERE k.r > d.first ORDER BY k.r", [str(keys), str(keys)]
        ).fetchnumpy()["r"]
    finally:
        con.close()
    return np.asarray(out, dtype=np.int64)


# --------------------------------------------------------------------------- the row pass
@dataclass
class StreamResult:
    """What :func:`stream_validate` found.

    Attributes
    ----------
    report : ValidationReport
        Counts as the in-memory path reports them (``rule_counts`` in rule order).
    shards : list of dict
        Per file: ``file, rows_read, rows_valid, rows_quarantined`` (they add up to the report's).
    distinct : dict of str to int
        Distinct values among the valid rows, for each column asked for and present.
    columns : list of str
        Columns of the normalized valid rows.
    sample : pandas.DataFrame or None
        The valid rows among ``sample_rows`` (normalized, in row order), when asked for.
    batches : int
        Batches read in the row pass.
    """

    report: ValidationReport
    shards: list[dict[str, Any]]
    distinct: dict[str, int]
    columns: list[str]
    sample: pd.DataFrame | None
    batches: int

    def to_dict(self) -> dict[str, Any]:
        return {**self.report.to_dict(), "shards": self.shards, "batches": self.batches}


def stream_validate(
    path: PathLike,
    table: str = "logs",
    *,
    file: str | None = None,
    on_error: OnError = "fail",
    quarantine_path: PathLike | None = None,
    catalog_ids: pd.Index | None = None,
    placements: Mapping[str, Placement] | None = None,
    out: PathLike | None = None,
    distinct: Sequence[str] = (),
    sample_rows: np.ndarray | None = None,
    sample_columns: Sequence[str] | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> StreamResult:
    """Validate the table at ``path`` in batches (bounded memory); see the module docstring.

    Parameters
    ----------
    path : str or PathLike
        Parquet file or folder of shards, CSV or JSONL.
    table : {"catalog", "logs", "contexts", "copies"}
    file : str, optional
        Named in messages instead of ``path``.
    on_error, quarantine_path, catalog_ids, placements
        As for :func:`rlopt.data.validate.validate_table`.
    out : path, optional
        Write the normalized valid rows here (Parquet, JSONL or CSV by suffix; atomic).
    distinct : sequence of str
        Count the distinct values of these columns among the valid rows (exactly, in DuckDB).
    sample_rows : ndarray of int, optional
        Sorted global 0-based rows to keep in memory (those that are valid); ``sample_columns``
        restricts their columns.
    batch_rows : int
        Rows per batch (memory grows with it).

    Raises
    ------
    InputError
        Unreadable input, a shard with another schema, missing required columns, or (with
        ``on_error="fail"``) any bad row -- the same paragraph as the in-memory path, naming the
        shard of the first bad row for a folder.
    """
    if on_error not in ON_ERROR_CHOICES:
        raise InputError(f"on_error must be one of {', '.join(ON_ERROR_CHOICES)}, got {on_error!r}",
                         rule="on_error choice")
    if table not in REQUIRED:
        raise ValueError(f"unknown table {table!r}; expected one of {', '.join(REQUIRED)}")
    file_s = str(file if file is not None else path)
    sharded = is_sharded(path)
    if on_error == "quarantine" and quarantine_path is None:
        quarantine_path = quarantine_path_for(file_s)
    token = JSON_CACHE.set({})  # JSON strings repeated across batches are decoded once
    try:
        return _stream(path, table, file_s, sharded, on_error, quarantine_path, catalog_ids, placements, out,
                       distinct, sample_rows, sample_columns, batch_rows)
    finally:
        JSON_CACHE.reset(token)


def stream_valid_rows(path: PathLike, table: str, *, catalog_ids: pd.Index | None = None,
                      placements: Mapping[str, Placement] | None = None, distinct: Sequence[str] = (),
                      batch_rows: int = DEFAULT_BATCH_ROWS) -> tuple[StreamResult, Iterator[pd.DataFrame]]:
    """The table at ``path`` checked whole, then its normalized rows batch by batch (bounded memory).

    The check is :func:`stream_validate` with ``on_error="fail"``, so a bad row raises its one
    paragraph before any row is given out; the rows are then read again (a second pass over the
    input) and come out as :func:`rlopt.data.validate.validate_table` would give them, in pieces of at
    most ``batch_rows`` rows indexed by their global 0-based row. For commands that transform a table
    larger than memory row by row (``rlopt reward score``).

    Returns
    -------
    result : StreamResult
        The check's counts (and ``distinct`` counts for the columns asked for).
    rows : iterator of pandas.DataFrame
        The normalized rows, in input order.
    """
    result = stream_validate(path, table, catalog_ids=catalog_ids, placements=placements, distinct=distinct,
                             batch_rows=batch_rows)

    def rows() -> Iterator[pd.DataFrame]:
        for batch in iter_batches(path, batch_rows=batch_rows):
            frame, _, bad = validate_batch(batch.frame, table, catalog_ids=catalog_ids, placements=placements)
            clean = normalize(batch.frame, frame, ~bad, table)  # every row is good: the whole input passed
            clean.index = pd.RangeIndex(batch.start, batch.start + len(clean))
            yield clean

    return result, rows()


def _stream(path: PathLike, table: str, file_s: str, sharded: bool, on_error: str, quarantine_path: PathLike | None,
            catalog_ids: pd.Index | None, placements: Mapping[str, Placement] | None, out: PathLike | None,
            distinct: Sequence[str], sample_rows: np.ndarray | None, sample_columns: Sequence[str] | None,
            batch_rows: int) -> StreamResult:
    with tempfile.TemporaryDirectory(prefix="rlopt-validate-") as tmp:
        workdir = Path(tmp)
        whole = scan_whole_table(path, table, workdir, batch_rows=batch_rows)
        state = _Pass(table, file_s, sharded, on_error, whole, catalog_ids, placements, distinct, workdir,
                      sample_rows, sample_columns)
        try:
            for batch in iter_batches(path, batch_rows=batch_rows):
                state.batch(batch, out, quarantine_path)
        except BaseException:
            state.abort()
            raise
        return state.finish(quarantine_path)


class _Pass:
    """State of the row pass: counts, the first offending cells, the writers, the distinct keys."""

    def __init__(self, table: str, file: str, sharded: bool, on_error: str, whole: WholeTable,
                 catalog_ids: pd.Index | None, placements: Mapping[str, Placement] | None, distinct: Sequence[str],
                 workdir: Path, sample_rows: np.ndarray | None, sample_columns: Sequence[str] | None) -> None:
        self.table, self.file, self.sharded, self.on_error, self.whole = table, file, sharded, on_error, whole
        self.catalog_ids, self.placements = catalog_ids, placements
        self.counts: dict[Rule, int] = {r: 0 for r in rules_for(table)}
        self.shown: list[tuple[int, Rule, Any, str]] = []
        self.first_shard: str | None = None
        self.rows = self.valid = self.batches = 0
        self.shards: dict[str, dict[str, Any]] = {}
        self.out_writer: TableWriter | None = None
        self.q_writer: TableWriter | None = None
        self.distinct_cols = list(distinct)
        self.keys_path = workdir / "distinct.parquet"
        self.keys_writer: Any = None
        self.workdir = workdir
        self.sample_rows = sample_rows
        self.sample_columns = sample_columns
        self.sample_parts: list[pd.DataFrame] = []
        self.columns: list[str] = []

    def batch(self, batch: Batch, out: PathLike | None, quarantine_path: PathLike | None) -> None:
        df = batch.frame
        if self.batches == 0:
            check_required_columns(df, self.table, self.file)
        self.batches += 1
        repeated, all_missing = self.whole.for_batch(batch.start, len(df))
        frame, masks, bad = validate_batch(df, self.table, catalog_ids=self.catalog_ids, placements=self.placements,
                                           repeated=repeated, all_missing=all_missing)
        n_bad = int(bad.sum())
        shard = self.shards.setdefault(batch.shard, {"file": batch.shard, "rows_read": 0, "rows_valid": 0,
                                                     "rows_quarantined": 0})
        shard["rows_read"] += len(df)
        shard["rows_valid"] += len(df) - n_bad
        self.rows += len(df)
        self.valid += len(df) - n_bad
        if n_bad:
            for rule, mask in masks.items():
                self.counts[rule] += int(mask.sum())
            name = batch.shard if self.sharded else None
            if len(self.shown) < SHOW_ROWS:
                if self.first_shard is None:
                    self.first_shard = batch.shard
                cells = offending_cells(df, masks, bad, SHOW_ROWS, row_offset=batch.start, shard=name,
                                        shard_offset=batch.shard_start)
                rows_seen = sorted({c[0] for c in self.shown})
                for c in cells:
                    if c[0] in rows_seen or len(rows_seen) < SHOW_ROWS:
                        if c[0] not in rows_seen:
                            rows_seen.append(c[0])
                        self.shown.append(c)
            if self.on_error == "quarantine":
                shard["rows_quarantined"] += n_bad
                if self.q_writer is None:
                    assert quarantine_path is not None
                    self.q_writer = TableWriter(quarantine_path).__enter__()
                self.q_writer.write(quarantine_rows(df, masks, bad, row_offset=batch.start, shard=name,
                                                    shard_offset=batch.shard_start))
        if self.on_error == "fail" and (n_bad or self.shown):
            return  # nothing is written once the input is known to fail; the counts go on
        if not self.columns:
            self.columns = [str(c) for c in normalize(df, frame, np.zeros(len(df), dtype=bool), self.table).columns]
        if out is None and self.sample_rows is None:  # counting only: the parsed columns are enough
            self._keys({c: frame.cols[c].values[~bad] for c in self.distinct_cols if c in frame.cols})
            return
        clean = normalize(df, frame, ~bad, self.table)
        if out is not None:
            if self.out_writer is None:
                self.out_writer = TableWriter(out).__enter__()
            self.out_writer.write(clean)
        self._keys({c: clean[c] for c in self.distinct_cols if c in clean.columns})
        if self.sample_rows is not None and len(clean):
            rows = batch.start + np.flatnonzero(~bad)
            lo, hi = np.searchsorted(self.sample_rows, [batch.start, batch.start + len(df)])
            take = np.isin(rows, self.sample_rows[lo:hi], assume_unique=True)
            if take.any():
                part = clean.iloc[np.flatnonzero(take)]
                if self.sample_columns is not None:
                    part = part[[c for c in part.columns if c in set(self.sample_columns)]]
                self.sample_parts.append(part.reset_index(drop=True))

    def _keys(self, columns: dict[str, pd.Series]) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        parts = []
        for col, values in columns.items():
            if len(values):
                uniq = pc.unique(pa.array(values)).cast(pa.string())
                parts.append(pa.table({"c": pa.array(np.full(len(uniq), col, dtype=object), pa.string()), "v": uniq}))
        if not parts:
            return
        table = pa.concat_tables(parts)
        if self.keys_writer is None:
            self.keys_writer = pq.ParquetWriter(self.keys_path, table.schema)
        self.keys_writer.write_table(table)

    def abort(self) -> None:
        for w in (self.out_writer, self.q_writer):
            if w is not None:
                w.__exit__(RuntimeError, RuntimeError("aborted"), None)
        if self.keys_writer is not None:
            self.keys_writer.close()

    def finish(self, quarantine_path: PathLike | None) -> StreamResult:
        n_bad = self.rows - self.valid
        counts = {r: n for r, n in self.counts.items() if n}
        if n_bad and self.on_error == "fail":
            self.abort()
            raise failure_error(n_bad, self.rows, counts, self.shown, self.file,
                                first_file=self.first_shard if self.sharded else None)
        report = ValidationReport(self.table, self.file, self.rows, self.valid, 0, {r.id: n for r, n in counts.items()})
        if self.q_writer is not None:
            self.q_writer.close()
            report.rows_quarantined = n_bad
            report.quarantine_path = str(quarantine_path)
        if self.out_writer is not None:
            self.out_writer.close()
        distinct: dict[str, int] = {}
        if self.keys_writer is not None:
            self.keys_writer.close()
            from rlopt.data.stream import scratch_duckdb

            con = scratch_duckdb(self.workdir)
            try:
                distinct = {c: int(n) for c, n in con.execute(
                    "SELECT c, count(DISTINCT v) FROM read_parquet(?) GROUP BY c", [str(self.keys_path)]).fetchall()}
            finally:
                con.close()
        sample = None
        if self.sample_rows is not None:
            sample = (pd.concat(self.sample_parts, ignore_index=True) if self.sample_parts
                      else pd.DataFrame(columns=self.columns))
        return StreamResult(report, list(self.shards.values()), distinct, self.columns, sample, self.batches)

