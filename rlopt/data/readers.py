"""Validated readers for the contract tables, and the catalog join.

Every reader accepts a path (Parquet, JSONL or CSV) or an in-memory DataFrame, applies the rules
of :mod:`rlopt.data.rules` via :func:`rlopt.data.validate.validate_table`, and returns the
normalized valid rows. The :class:`~rlopt.data.validate.ValidationReport` of the last read is
attached as ``df.attrs["validation"]`` (a dict) for callers that want the counts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import pandas as pd

from rlopt.data.io import read_table
from rlopt.data.placements import resolve_placements
from rlopt.data.schema import Placement
from rlopt.data.validate import OnError, ValidationReport, validate_table
from rlopt.errors import InputError

TableLike = pd.DataFrame | str | os.PathLike[str]
PlacementsLike = Mapping[str, Placement] | str | os.PathLike[str] | None
CATALOG_JOIN_COLUMNS = ("title", "category", "brand", "price", "discount_pct", "attributes")


def _load(source: TableLike, name: str | None = None) -> tuple[pd.DataFrame, str | None]:
    """The raw table and the file name messages use: ``name`` when given (a run reading its copy
    of the user's file names the user's file), else the path."""
    if isinstance(source, pd.DataFrame):
        return source.reset_index(drop=True), name
    try:
        df = read_table(source, decode_json=False)
    except InputError as err:
        if name is None or err.file != str(source):
            raise
        raise err.with_file(name) from None
    return df, name or str(source)


def _attach(df: pd.DataFrame, report: ValidationReport) -> pd.DataFrame:
    df.attrs["validation"] = report.to_dict()
    return df


def read_catalog(path: TableLike, on_error: OnError = "fail",
                 quarantine_path: str | os.PathLike[str] | None = None, *, name: str | None = None
                 ) -> pd.DataFrame:
    """Read and validate a catalog (one row per item).

    ``name``, on every reader, is the file named in messages instead of ``path`` (a run reading
    its copy of the user's file names the user's file).

    Returns
    -------
    pandas.DataFrame
        ``item_id, title, category, brand`` (str), ``price, discount_pct`` (float64),
        ``attributes`` (dict, ``{}`` when absent), then any extra columns.
    """
    df, file = _load(path, name)
    clean, report = validate_table(df, "catalog", file=file, on_error=on_error, quarantine_path=quarantine_path)
    return _attach(clean, report)


def _catalog_ids(catalog: TableLike) -> pd.Index:
    cat = catalog if isinstance(catalog, pd.DataFrame) and "validation" in catalog.attrs else read_catalog(catalog)
    return pd.Index(cat["item_id"].unique())


def read_logs(path: TableLike, catalog: TableLike, placements: PlacementsLike = None,
              on_error: OnError = "fail", quarantine_path: str | os.PathLike[str] | None = None, *,
              name: str | None = None) -> pd.DataFrame:
    """Read and validate an impression log against a catalog and (optionally) placements.

    Parameters
    ----------
    path : path or DataFrame
        The impression log.
    catalog : path or DataFrame
        The catalog; a path or a raw frame is validated first (with ``on_error="fail"``).
    placements : dict of str to Placement, path or None
        When given, placement names must be known (unless a ``default`` entry exists) and
        ``position < slots``; None checks only ``position >= 0``.
    on_error : {"fail", "quarantine"}
    quarantine_path : path, optional
        Default ``<stem>.quarantine.jsonl`` next to ``path``.

    Returns
    -------
    pandas.DataFrame
        Valid rows: contract columns present in the file (``timestamp`` int64 epoch ms,
        ``user_features`` dicts, ``copy_id`` always present), then extra columns.
    """
    df, file = _load(path, name)
    clean, report = validate_table(df, "logs", file=file, on_error=on_error, quarantine_path=quarantine_path,
                                   catalog_ids=_catalog_ids(catalog), placements=resolve_placements(placements))
    return _attach(clean, report)


def read_logged_copy(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The distinct ``item_id, copy_text`` pairs of an impression log, read in record batches.

    What backs a claim (:class:`rlopt.generation.claims.ClaimSupport`) needs only which copy was shown
    for which item, so only those two columns are read, one batch at a time: a log of any size
    costs the memory of its distinct copies. The contract's other rules are ``rlopt validate``'s; rows
    without a copy back nothing and are skipped.

    Raises
    ------
    InputError
        The file is missing, unreadable or lacks ``item_id`` or ``copy_text`` (named).
    """
    from rlopt.data.batches import iter_batches

    wanted = ("item_id", "copy_text")
    parts, seen_columns = [], False
    for batch in iter_batches(path, columns=wanted):
        missing = [c for c in wanted if c not in batch.frame.columns]
        if missing:
            raise InputError(f"the logs lack column {missing[0]!r}, which says which copy was shown for which item",
                             file=str(batch.shard), column=missing[0], rule="required columns present")
        seen_columns = True
        frame = batch.frame.dropna()
        parts.append(frame.astype(str).drop_duplicates())
    if not seen_columns:
        return pd.DataFrame(columns=list(wanted), dtype=str)
    return pd.concat(parts, ignore_index=True).drop_duplicates(ignore_index=True)


def read_contexts(path: TableLike, catalog: TableLike, placements: PlacementsLike = None,
                  on_error: OnError = "fail", *, name: str | None = None) -> pd.DataFrame:
    """Read and validate generation contexts: ``item_id, segment, placement`` (+ ``user_features``)."""
    df, file = _load(path, name)
    clean, report = validate_table(df, "contexts", file=file, on_error=on_error,
                                   catalog_ids=_catalog_ids(catalog), placements=resolve_placements(placements))
    return _attach(clean, report)


def read_copies(path: TableLike, catalog: TableLike, placements: PlacementsLike = None,
                on_error: OnError = "fail") -> pd.DataFrame:
    """Read and validate generated copies: the context fields + ``copy_text`` (+ ``generator, sample_idx``)."""
    df, file = _load(path)
    clean, report = validate_table(df, "copies", file=file, on_error=on_error,
                                   catalog_ids=_catalog_ids(catalog), placements=resolve_placements(placements))
    return _attach(clean, report)


def join_catalog(logs: pd.DataFrame, catalog: TableLike) -> pd.DataFrame:
    """Add the catalog's ``title, category, brand, price, discount_pct, attributes`` to each row.

    Row order and count are kept (a many-to-one join). Columns of ``logs`` with those names are
    kept with a ``_log`` suffix rather than overwritten.

    Raises
    ------
    InputError
        An ``item_id`` of ``logs`` is not in the catalog (names the first such row).
    """
    cat = catalog if isinstance(catalog, pd.DataFrame) else read_catalog(catalog)
    missing_cols = [c for c in ("item_id", *CATALOG_JOIN_COLUMNS) if c not in cat.columns and c != "attributes"]
    if missing_cols:
        raise InputError(f"catalog lacks column(s) {', '.join(missing_cols)}", column=missing_cols[0],
                         rule="required columns present")
    cols = ["item_id", *[c for c in CATALOG_JOIN_COLUMNS if c in cat.columns]]
    right = cat[cols]
    if right["item_id"].duplicated().any():
        dup = right["item_id"][right["item_id"].duplicated()].iloc[0]
        raise InputError("catalog item_id values must be unique", column="item_id",
                         rule="item_id is unique in the catalog", value=dup)
    known = logs["item_id"].isin(right["item_id"]).to_numpy()
    if not known.all():
        first = int((~known).argmax())
        raise InputError(f"{int((~known).sum())} row(s) name items that are not in the catalog", row=first + 1,
                         column="item_id", rule="item_id is in the catalog", value=logs["item_id"].iloc[first])
    left = logs.rename(columns={c: f"{c}_log" for c in CATALOG_JOIN_COLUMNS if c in logs.columns})
    joined = left.merge(right, on="item_id", how="left", validate="many_to_one", sort=False)
    joined.index = logs.index
    joined.attrs = dict(logs.attrs)
    return joined

