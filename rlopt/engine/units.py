"""Work units: the pieces of a contract table that per-batch functions run on.

A unit is either a *description* of where to read rows (a Parquet file and some of its row
groups: any worker that sees the path reads them itself, so nothing goes through the driver), or
rows already read on the driver (CSV and JSONL, which cannot be cut into pieces without reading
them). Either way ``unit.load()`` gives a :class:`rlopt.data.batches.Batch`: the raw cells as the
in-memory reader gives them, with the rows' global position (rows are numbered across the whole
input, shard after shard, as :func:`rlopt.data.batches.iter_batches` numbers them), the shard and
the offset inside it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rlopt.data.batches import DEFAULT_BATCH_ROWS, Batch, iter_batches
from rlopt.data.io import arrow_to_frame, sniff_format

PathLike = str | os.PathLike[str]


@dataclass
class ParquetUnit:
    """Row groups of one Parquet file: rows ``start .. start + rows - 1`` of the whole input.

    Attributes
    ----------
    fragment : pyarrow.dataset.ParquetFileFragment
        The file restricted to the unit's row groups (it keeps its hive partition values).
    schema : pyarrow.Schema
        The dataset's schema (partition columns included).
    columns : list of str or None
        Columns to read (None: all).
    start, shard_start, rows : int
        Global 0-based first row, first row inside the shard, row count.
    shard : str
    """

    fragment: Any
    schema: Any
    columns: list[str] | None
    start: int
    shard: str
    shard_start: int
    rows: int

    def load(self) -> Batch:
        table = self.fragment.to_table(schema=self.schema, columns=self.columns)
        df = arrow_to_frame(table)  # the in-memory reader's own decoding (JSON maps -> dicts)
        df.attrs.clear()
        return Batch(df, self.start, self.shard, self.shard_start)


@dataclass
class LoadedUnit:
    """Rows the driver has read already (CSV, JSONL)."""

    batch: Batch

    @property
    def start(self) -> int:
        return self.batch.start

    @property
    def rows(self) -> int:
        return len(self.batch.frame)

    def load(self) -> Batch:
        return self.batch


Unit = ParquetUnit | LoadedUnit


def is_parquet(path: PathLike) -> bool:
    """A folder of shards or a Parquet file (the other formats are read on the driver)."""
    p = Path(path)
    return p.is_dir() or (p.is_file() and p.stat().st_size > 0 and sniff_format(p) == "parquet")


def plan_units(path: PathLike, *, columns: Sequence[str] | None = None,
               batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[Unit]:
    """Yield the units of the table at ``path``, in row order.

    Parquet: consecutive row groups of each file, about ``batch_rows`` rows per unit (a larger row
    group is one unit). CSV / JSONL: batches of ``batch_rows`` rows read here, lazily.

    Raises
    ------
    InputError
        The file-level problems :func:`rlopt.data.batches.iter_batches` reports (missing or empty
        file, a shard with another schema, ...), naming the file or shard.
    """
    if not is_parquet(path):
        for batch in iter_batches(path, columns=columns, batch_rows=batch_rows):
            yield LoadedUnit(batch)
        return
    yield from _parquet_units(Path(path), columns, batch_rows)


class Planner:
    """Plans the units of one table once and hands them out again for each pass.

    Parquet units are descriptions, so they are planned (footers read, shard schemas checked) once
    and re-issued with the columns a pass reads; CSV / JSONL batches are read again for each pass.
    """

    def __init__(self, path: PathLike, batch_rows: int = DEFAULT_BATCH_ROWS) -> None:
        self.path = path
        self.batch_rows = batch_rows
        self.parquet = is_parquet(path)
        self._units = list(_parquet_units(Path(path), None, batch_rows)) if self.parquet else None

    @property
    def schema_names(self) -> list[str] | None:
        """Parquet: the dataset's columns (None for CSV / JSONL, or a dataset without rows)."""
        return list(self._units[0].schema.names) if self._units else None

    def units(self, columns: Sequence[str] | None = None) -> Iterator[Unit]:
        """The units again, reading only ``columns`` (None: all)."""
        if self._units is None:
            yield from plan_units(self.path, columns=columns, batch_rows=self.batch_rows)
            return
        for unit in self._units:
            names = None if columns is None else [c for c in unit.schema.names if c in set(columns)]
            yield replace(unit, columns=names)


def _parquet_units(p: Path, columns: Sequence[str] | None, batch_rows: int) -> Iterator[ParquetUnit]:
    import pyarrow.parquet as pq

    # The streaming reader's checks first (readable, same schema in every shard): same messages.
    next(iter(iter_batches(p, columns=[], batch_rows=1)), None)
    dataset = pq.ParquetDataset(p)
    schema = dataset.schema
    names = None if columns is None else [c for c in schema.names if c in set(columns)]
    start = 0
    for frag in dataset.fragments:
        frag.ensure_complete_metadata()
        groups = [(rg.id, rg.num_rows) for rg in frag.row_groups]
        shard_start = 0
        i = 0
        while i < len(groups):
            ids, rows = [], 0
            while i < len(groups) and (not ids or rows + groups[i][1] <= batch_rows):
                ids.append(groups[i][0])
                rows += groups[i][1]
                i += 1
            if rows:
                yield ParquetUnit(frag.subset(row_group_ids=ids), schema, names, start, frag.path, shard_start,
                                  rows)
            start += rows
            shard_start += rows
