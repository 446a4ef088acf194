"""Validate an impression log on an engine: row rules per unit, whole-table rules reduced on the driver.

Three passes over the units, each a per-batch function the engine runs where the data is:

1. ``_facts``: per unit, the hash of each value of the ``unique`` columns (``event_id``) and
   whether each ``all_or_none`` column (``propensity``) has a value anywhere. The driver finds the
   hashes seen more than once (8 bytes per row reach the driver).
2. ``_candidates`` (only when some hash repeats): the rows holding those hashes, with their
   values; the driver marks every row whose value appeared at an earlier row of the whole input
   (exact: equal hashes of different values are told apart here).
3. ``_check``: every rule of :data:`rlopt.data.rules.RULES` on the unit, given those whole-table
   facts (:func:`rlopt.data.stream.validate_batch`); returns the counts per rule, the first
   offending cells, the quarantined rows and (with an output) the normalized valid rows, which the
   driver writes in unit order.

The result is what :func:`rlopt.data.stream.stream_validate` and the in-memory validator give: the
same counts, the same failure paragraph (row numbers
across the whole input; a folder of shards also names the shard), the same quarantine file and the
same output rows.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rlopt.data.batches import DEFAULT_BATCH_ROWS, Batch
from rlopt.data.coerce import PARSERS
from rlopt.data.rules import KINDS, rules_for, whole_table_columns
from rlopt.data.stream import WholeTable, validate_batch
from rlopt.data.table_writer import TableWriter
from rlopt.data.validate import (
    ON_ERROR_CHOICES,
    SHOW_ROWS,
    ValidationReport,
    check_required_columns,
    failure_error,
    normalize,
    offending_cells,
    quarantine_rows,
)
from rlopt.engine import Engine
from rlopt.engine.units import Planner, Unit
from rlopt.errors import InputError

_DISTINCT = ("item_id", "placement", "segment", "user_id")


# ------------------------------------------------------------------------------ pass 1: whole-table facts
@dataclass
class _Facts:
    columns: list[str]
    rows: int
    hashes: dict[str, np.ndarray]  # column -> uint64 hash of each non-null value
    any_value: dict[str, bool]  # all_or_none column -> some row has a value


def _parsed(batch: Batch, table: str, col: str) -> Any:
    return PARSERS[KINDS[table][col]](batch.frame[col])


def _hash(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    present = values.notna().to_numpy(dtype=bool)
    hashes = np.zeros(len(values), dtype=np.uint64)
    if present.any():
        # categorize=False: hashing each value directly is several times faster on mostly distinct ids
        hashes[present] = pd.util.hash_array(values[present].astype(object).to_numpy(), categorize=False)
    return hashes, present


def _facts(unit: Unit, table: str) -> _Facts:
    batch = unit.load()
    cols = list(batch.frame.columns)
    hashes, any_value = {}, {}
    for col in whole_table_columns(table, "unique"):
        if col in cols:
            h, present = _hash(_parsed(batch, table, col).values)
            hashes[col] = h[present]
    for col in whole_table_columns(table, "all_or_none"):
        if col in cols:
            any_value[col] = bool((~_parsed(batch, table, col).missing).any())
    return _Facts(cols, len(batch.frame), hashes, any_value)


def _candidates(unit: Unit, table: str, col: str, repeated_hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Global rows (int64) whose ``col`` hash is in ``repeated_hashes``, and their values."""
    batch = unit.load()
    values = _parsed(batch, table, col).values
    hashes, present = _hash(values)
    hit = present & np.isin(hashes, repeated_hashes)
    rows = np.flatnonzero(hit)
    return rows + batch.start, values.iloc[rows].astype(object).to_numpy()


# ------------------------------------------------------------------------------ pass 3: the rules
@dataclass
class _Checked:
    rows: int
    shard: str
    counts: dict[str, int]
    n_bad: int
    shown: list[tuple[int, str, Any, str]]  # (row, rule id, value, text) of the first bad rows
    quarantined: pd.DataFrame | None = None
    clean: pd.DataFrame | None = None
    distinct: dict[str, list[Any]] = field(default_factory=dict)


def _check(unit: Unit, table: str, *, columns: list[str], catalog_ids: pd.Index | None, placements: Any,
           whole: WholeTable, quarantine: bool, want_clean: bool, sharded: bool) -> _Checked:
    batch = unit.load()
    df = batch.frame if list(batch.frame.columns) == columns else batch.frame.reindex(columns=columns)
    n = len(df)
    repeated, all_missing = whole.for_batch(batch.start, n)
    frame, masks, bad = validate_batch(df, table, catalog_ids=catalog_ids, placements=placements,
                                       repeated=repeated, all_missing=all_missing)
    counts = {rule.id: int(mask.sum()) for rule, mask in masks.items() if mask.any()}
    name = batch.shard if sharded else None
    shown = [(row, rule.id, value, text) for row, rule, value, text in
             offending_cells(df, masks, bad, SHOW_ROWS, row_offset=batch.start, shard=name,
                             shard_offset=batch.shard_start)]
    out = _Checked(n, batch.shard, counts, int(bad.sum()), shown)
    if quarantine and bad.any():
        out.quarantined = quarantine_rows(df, masks, bad, row_offset=batch.start, shard=name,
                                          shard_offset=batch.shard_start)
    if not bad.any() or quarantine:
        clean = normalize(df, frame, ~bad, table)
        out.distinct = {c: _unique(clean[c]) for c in _DISTINCT if c in clean.columns}
        if want_clean:
            out.clean = clean
    return out


def _unique(values: pd.Series) -> list[Any]:
    """The distinct non-null values (Arrow's hash table: faster than pandas' on object columns)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.drop_null(pc.unique(pa.array(values, from_pandas=True))).to_pylist()


# ------------------------------------------------------------------------------ the driver
@dataclass
class EngineValidation:
    """What :func:`validate_on_engine` found: the report, the table's columns, over the valid rows
    the number of distinct ``item_id``, ``placement``, ``segment`` and ``user_id`` values (for those
    the table has), per shard ``file, rows_read, rows_valid, rows_quarantined``, and the units run."""

    report: ValidationReport
    columns: list[str]
    distinct: dict[str, int]
    shards: list[dict[str, Any]]
    units: int


def validate_on_engine(path: str | os.PathLike[str], engine: Engine, *, table: str = "logs",
                       on_error: str = "fail", quarantine_path: str | os.PathLike[str] | None = None,
                       out: str | os.PathLike[str] | None = None, catalog_ids: pd.Index | None = None,
                       placements: Any = None, batch_rows: int = DEFAULT_BATCH_ROWS) -> EngineValidation:
    """Validate the ``table`` at ``path`` (a file or a folder of Parquet shards) on ``engine``.

    Parameters
    ----------
    path : path
        The table; Parquet units are read by the workers, CSV / JSONL on the driver.
    engine : Engine
    table : {"logs", "contexts", "copies", "catalog"}
    on_error : {"fail", "quarantine"}
    quarantine_path : path, optional
        Bad rows with ``row`` (+ ``shard``, ``shard_row`` for a folder) and ``reason`` (JSONL); written
        only when some row is bad. Required with ``on_error="quarantine"``.
    out : path, optional
        The normalized valid rows (``.parquet``, ``.jsonl`` or ``.csv``), written in row order.
    catalog_ids, placements
        As for :func:`rlopt.data.validate.validate_table`.
    batch_rows : int
        About how many rows one unit holds.

    Raises
    ------
    InputError
        A file-level problem, a missing required column, or (``on_error="fail"``) any bad row: the
        in-memory validator's paragraph, with global row numbers. Nothing is written then.
    """
    if on_error not in ON_ERROR_CHOICES:
        raise InputError(f"on_error must be one of {', '.join(ON_ERROR_CHOICES)}, got {on_error!r}",
                         rule="on_error choice")
    if on_error == "quarantine" and quarantine_path is None:
        raise InputError("on_error='quarantine' needs a quarantine_path", rule="quarantine destination")
    file = str(path)
    plan = Planner(path, batch_rows)
    sharded = Path(path).is_dir()
    unique_cols = whole_table_columns(table, "unique")
    aon_cols = whole_table_columns(table, "all_or_none")
    # Parquet units read only the columns pass 1 needs; CSV / JSONL batches are read whole anyway
    # (and a JSONL batch may lack a key that later lines have: the columns are their union).
    facts = list(engine.map_batches(
        _facts, plan.units([*unique_cols, *aon_cols] if plan.parquet else None),
        fn_kwargs={"table": table}))
    if plan.parquet:
        columns = plan.schema_names or []
    else:
        columns = list(dict.fromkeys(c for f in facts for c in f.columns))
    check_required_columns(pd.DataFrame(columns=columns), table, file)
    rows = sum(f.rows for f in facts)
    if rows == 0:
        raise InputError("file has a header but no data rows", file=file, rule="file not empty")
    whole = WholeTable(rows, {c: _repeated_rows(engine, plan, table, c, facts)
                              for c in unique_cols if c in columns},
                       {c: not any(f.any_value.get(c, False) for f in facts) for c in aon_cols if c in columns})
    del facts

    kwargs = {"table": table, "columns": columns, "catalog_ids": catalog_ids, "placements": placements,
              "whole": whole, "quarantine": on_error == "quarantine", "want_clean": out is not None,
              "sharded": sharded}
    results = engine.map_batches(_check, plan.units(), fn_kwargs=kwargs)
    with ExitStack() as stack:
        writer = stack.enter_context(TableWriter(out)) if out is not None else None
        q_writer: TableWriter | None = None
        total = _Totals()
        for result in results:
            total.add(result)
            if result.quarantined is not None:
                if q_writer is None:  # written only when some row is bad
                    q_writer = stack.enter_context(TableWriter(quarantine_path))  # type: ignore[arg-type]
                q_writer.write(result.quarantined)
            if writer is not None and result.clean is not None:
                writer.write(result.clean)
        if total.n_bad and on_error == "fail":
            raise total.failure(table, file)
    ordered = {r.id: total.counts[r.id] for r in rules_for(table) if r.id in total.counts}
    report = ValidationReport(table, file, total.rows, total.rows - total.n_bad,
                              total.n_bad if on_error == "quarantine" else 0, ordered,
                              None if q_writer is None else str(quarantine_path))
    distinct = {c: len(total.distinct.get(c, ())) for c in _DISTINCT if c in columns}
    shards = [dict(s, rows_quarantined=s["rows_quarantined"] if on_error == "quarantine" else 0)
              for s in total.shards.values()]
    return EngineValidation(report, columns, distinct, shards, total.units)


@dataclass
class _Totals:
    """The driver's running reduction of the units' results (in unit order)."""

    rows: int = 0
    n_bad: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    shown: list[tuple[int, str, Any, str]] = field(default_factory=list)
    first_shard: str | None = None
    distinct: dict[str, set[Any]] = field(default_factory=dict)
    shards: dict[str, dict[str, Any]] = field(default_factory=dict)
    units: int = 0

    def add(self, result: _Checked) -> None:
        self.units += 1
        self.rows += result.rows
        self.n_bad += result.n_bad
        shard = self.shards.setdefault(result.shard, {"file": result.shard, "rows_read": 0, "rows_valid": 0,
                                                      "rows_quarantined": 0})
        shard["rows_read"] += result.rows
        shard["rows_valid"] += result.rows - result.n_bad
        shard["rows_quarantined"] += result.n_bad
        for rid, c in result.counts.items():
            self.counts[rid] = self.counts.get(rid, 0) + c
        have = sorted({s[0] for s in self.shown})
        if result.shown and len(have) < SHOW_ROWS:
            if not self.shown:
                self.first_shard = result.shard
            keep = set(sorted({s[0] for s in result.shown})[: SHOW_ROWS - len(have)])
            self.shown += [s for s in result.shown if s[0] in keep]
        for c, values in result.distinct.items():
            self.distinct.setdefault(c, set()).update(values)

    def failure(self, table: str, file: str) -> InputError:
        by_id = {r.id: r for r in rules_for(table)}
        counts = {r: self.counts[r.id] for r in rules_for(table) if r.id in self.counts}
        shown = [(row, by_id[rid], value, text) for row, rid, value, text in self.shown]
        return failure_error(self.n_bad, self.rows, counts, shown, file,
                             first_file=self.first_shard if self.first_shard != file else None)


def _repeated_rows(engine: Engine, plan: Planner, table: str, col: str, facts: list[_Facts]) -> np.ndarray:
    """Sorted global rows whose ``col`` value appeared at an earlier row (exact, not by hash)."""
    hashes = np.concatenate([f.hashes[col] for f in facts]) if facts else np.zeros(0, np.uint64)
    uniq, n = np.unique(hashes, return_counts=True)
    repeated_hashes = uniq[n > 1]
    del hashes, uniq, n
    if not len(repeated_hashes):
        return np.zeros(0, dtype=np.int64)
    parts = list(engine.map_batches(_candidates, plan.units([col]),
                                    fn_kwargs={"table": table, "col": col, "repeated_hashes": repeated_hashes}))
    rows = np.concatenate([p[0] for p in parts])
    values = pd.Series(np.concatenate([p[1] for p in parts]), index=rows).sort_index()
    return np.sort(values.index.to_numpy()[values.duplicated(keep="first").to_numpy()]).astype(np.int64)
