"""Apply the contract's rules to a table: fail with a summary, or quarantine the bad rows.

``validate_table`` is the engine behind ``read_catalog``, ``read_logs``, ``read_contexts``,
``read_copies`` and ``rlopt validate``. It parses every contract column once
(:mod:`rlopt.data.coerce`), evaluates every rule of :data:`rlopt.data.rules.RULES` as a
vectorized mask, and then either

- ``on_error="fail"``: raises one :class:`~rlopt.errors.InputError` whose ``row``, ``column`` and
  ``rule`` point at the first bad row and whose message gives the count per rule and the first
  offending rows (row number, column, value); or
- ``on_error="quarantine"``: writes the bad rows as they were read, plus ``row`` (1-based) and
  ``reason`` (every rule the row broke, ``;``-joined), to a JSONL file, and goes on with the rest.

Valid rows come back normalized: strings as ``str``, ``timestamp``/``position``/``clicked``/
``converted`` as int64, ``price``/``propensity``/``revenue`` as float64 (blank revenue -> 0.0),
JSON columns as dicts (blank -> ``{}``), ``copy_id`` filled from ``copy_text``; unknown columns
pass through unchanged after the contract columns.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from rlopt.data.coerce import PARSERS, STR_DTYPE
from rlopt.data.io import write_jsonl
from rlopt.data.rules import INT_COLUMNS, KINDS, Frame, Rule, rules_for
from rlopt.data.schema import (
    CATALOG_REQUIRED,
    CONTEXT_REQUIRED,
    COPIES_REQUIRED,
    LOG_REQUIRED,
    Placement,
    copy_id_for,
)
from rlopt.errors import InputError

OnError = Literal["fail", "quarantine"]
ON_ERROR_CHOICES = ("fail", "quarantine")
REQUIRED = {"catalog": CATALOG_REQUIRED, "logs": LOG_REQUIRED, "contexts": CONTEXT_REQUIRED,
            "copies": COPIES_REQUIRED}
SHOW_ROWS = 5  # offending rows named in a failure paragraph (every validator, in memory or streamed)


@dataclass
class ValidationReport:
    """What validation found in one table (``rule_counts`` maps rule id -> rows breaking it)."""

    table: str
    file: str | None
    rows_read: int
    rows_valid: int
    rows_quarantined: int
    rule_counts: dict[str, int] = field(default_factory=dict)
    quarantine_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def quarantine_path_for(path: str | os.PathLike[str]) -> Path:
    """``<dir>/<stem>.quarantine.jsonl`` next to ``path``."""
    p = Path(path)
    return p.with_name(f"{p.stem}.quarantine.jsonl")


def check_required_columns(df: pd.DataFrame, table: str, file: str | None) -> None:
    """Raise InputError naming the first missing required column and listing the file's columns."""
    missing = [c for c in REQUIRED[table] if c not in df.columns]
    if missing:
        raise InputError(
            f"missing required column(s) {', '.join(missing)} for the {table} table; the file has columns: "
            f"{', '.join(map(str, df.columns)) or '(none)'}",
            file=file, column=missing[0], rule="required columns present")


def evaluate_rules(df: pd.DataFrame, table: str, *, catalog_ids: pd.Index | None = None,
                   placements: Mapping[str, Placement] | None = None,
                   repeated: dict[str, np.ndarray] | None = None,
                   all_missing: dict[str, bool] | None = None) -> tuple[Frame, dict[Rule, np.ndarray]]:
    """Parse the contract columns of ``df`` and evaluate every applicable rule.

    ``df`` is the whole table, or one batch of a larger one: then ``repeated`` (column -> bool mask,
    shape (n_rows,), rows whose value appeared at an earlier row of the whole input) and
    ``all_missing`` (column -> whether it is blank on every row of the whole input) carry what the
    rules of scope ``unique`` / ``all_or_none`` need (:func:`rlopt.data.rules.whole_table_columns`);
    without them those rules look at ``df`` alone.

    Returns
    -------
    frame : Frame
        Parsed columns (``frame.cols[name].values`` etc.).
    masks : dict of Rule to ndarray of bool, shape (n_rows,)
        Rows breaking each rule (rules that do not apply are left out).
    """
    kinds = KINDS[table]
    cols = {c: PARSERS[kinds[c]](df[c]) for c in kinds if c in df.columns}
    frame = Frame(cols=cols, n=len(df), catalog_ids=catalog_ids, placements=placements, repeated=repeated,
                  all_missing=all_missing)
    masks: dict[Rule, np.ndarray] = {}
    for rule in rules_for(table):
        mask = rule.check(frame)
        if mask is not None:
            masks[rule] = np.asarray(mask, dtype=bool)
    return frame, masks


def validate_table(
    df: pd.DataFrame,
    table: str,
    *,
    file: str | os.PathLike[str] | None = None,
    on_error: OnError = "fail",
    quarantine_path: str | os.PathLike[str] | None = None,
    catalog_ids: pd.Index | None = None,
    placements: Mapping[str, Placement] | None = None,
) -> tuple[pd.DataFrame, ValidationReport]:
    """Validate ``df`` as a contract ``table``; return the normalized valid rows and a report.

    Parameters
    ----------
    df : pandas.DataFrame
        Raw table as read by :func:`rlopt.data.io.read_table`.
    table : {"catalog", "logs", "contexts", "copies"}
    file : path, optional
        Named in messages; the default quarantine file goes next to it.
    on_error : {"fail", "quarantine"}
    quarantine_path : path, optional
        Where bad rows go with ``on_error="quarantine"`` (default ``<stem>.quarantine.jsonl``
        next to ``file``). Not written when every row is valid.
    catalog_ids : pandas.Index, optional
        Known item ids (enables ``item_id.in_catalog``).
    placements : dict of str to Placement, optional
        Enables ``placement.known`` and ``position.slots``.

    Raises
    ------
    InputError
        Missing required columns, or any bad row with ``on_error="fail"``.
    """
    if on_error not in ON_ERROR_CHOICES:
        raise InputError(f"on_error must be one of {', '.join(ON_ERROR_CHOICES)}, got {on_error!r}",
                         rule="on_error choice")
    if table not in REQUIRED:
        raise ValueError(f"unknown table {table!r}; expected one of {', '.join(REQUIRED)}")
    file_s = None if file is None else str(file)
    check_required_columns(df, table, file_s)
    frame, masks = evaluate_rules(df, table, catalog_ids=catalog_ids, placements=placements)
    bad = np.zeros(len(df), dtype=bool)
    for mask in masks.values():
        bad |= mask
    counts = {rule.id: int(mask.sum()) for rule, mask in masks.items() if mask.any()}
    report = ValidationReport(table, file_s, len(df), int((~bad).sum()), 0, counts)
    if bad.any():
        if on_error == "fail":
            raise _failure(df, masks, bad, file_s)
        if quarantine_path is None:
            if file is None:
                raise InputError("on_error='quarantine' needs a quarantine_path when the table is not a file",
                                 rule="quarantine destination")
            quarantine_path = quarantine_path_for(file)
        write_quarantine(df, masks, bad, quarantine_path)
        report.rows_quarantined = int(bad.sum())
        report.quarantine_path = str(quarantine_path)
    return normalize(df, frame, ~bad, table), report


def _failure(df: pd.DataFrame, masks: dict[Rule, np.ndarray], bad: np.ndarray, file: str | None) -> InputError:
    counts = {r: int(m.sum()) for r, m in masks.items() if m.any()}
    shown = offending_cells(df, masks, bad, SHOW_ROWS)
    return failure_error(int(bad.sum()), len(df), counts, shown, file)


def offending_cells(df: pd.DataFrame, masks: dict[Rule, np.ndarray], bad: np.ndarray, limit: int, *,
                    row_offset: int = 0, shard: str | None = None,
                    shard_offset: int = 0) -> list[tuple[int, Rule, Any, str]]:
    """``(row, rule, value, text)`` for each broken rule of the first ``limit`` bad rows (rows 1-based,
    plus ``row_offset``; with ``shard``, the text also names that file and the row inside it)."""
    shown = []
    for i in np.flatnonzero(bad)[:limit]:
        for rule, mask in masks.items():
            if mask[i]:
                value = _cell(df, int(i), rule.column)
                if isinstance(value, np.generic):
                    value = value.item()
                row = int(i) + 1 + row_offset
                where = "" if shard is None else f" (shard {shard}, row {int(i) + 1 + shard_offset})"
                shown.append((row, rule, value, f"row {row}{where} column '{rule.column}' = {_show(value)} "
                                                 f"({rule.id})"))
    return shown


def failure_error(n_bad: int, n_rows: int, counts: dict[Rule, int], shown: list[tuple[int, Rule, Any, str]],
                  file: str | None, *, first_file: str | None = None) -> InputError:
    """The one-paragraph InputError for ``n_bad`` of ``n_rows`` bad rows: the count per rule (in rule
    order), the first offending cells (:func:`offending_cells`); ``row``/``column``/``rule``/``value``
    point at the first one. ``first_file`` (default ``file``) is the file holding that row."""
    per_rule = "; ".join(f"{r.description} ({n} row{'s' if n != 1 else ''})" for r, n in counts.items())
    message = (
        f"{n_bad} of {n_rows} row{'s' if n_rows != 1 else ''} break the data contract: {per_rule}. "
        f"First offending rows: {', '.join(s[3] for s in shown)}. Fix these rows, or rerun with --on-error "
        "quarantine (on_error='quarantine') to set them aside with their reasons and continue with the rest"
    )
    first_row, first_rule, first_value, _ = shown[0]
    return InputError(message, file=first_file or file, row=first_row, column=first_rule.column,
                      rule=first_rule.description, value=first_value)


def _cell(df: pd.DataFrame, i: int, column: str) -> Any:
    return df[column].iloc[i] if column in df.columns else None


def _show(value: Any, limit: int = 60) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return "(blank)"
    text = repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def reasons(masks: dict[Rule, np.ndarray], rows: np.ndarray) -> list[str]:
    """``;``-joined descriptions of the rules each of ``rows`` (indices) broke."""
    parts: list[list[str]] = [[] for _ in rows]
    for rule, mask in masks.items():  # loop over rules, not rows
        for k in np.flatnonzero(mask[rows]):
            parts[k].append(f"{rule.column}: {rule.description}")
    return ["; ".join(p) for p in parts]


def write_quarantine(df: pd.DataFrame, masks: dict[Rule, np.ndarray], bad: np.ndarray,
                     path: str | os.PathLike[str]) -> Path:
    """Write the bad rows as read plus ``row`` (1-based) and ``reason`` columns to JSONL (atomic)."""
    return write_jsonl(quarantine_rows(df, masks, bad), path)


def quarantine_rows(df: pd.DataFrame, masks: dict[Rule, np.ndarray], bad: np.ndarray, *, row_offset: int = 0,
                    shard: str | None = None, shard_offset: int = 0) -> pd.DataFrame:
    """The bad rows as read, with ``row`` (1-based, plus ``row_offset``) first and ``reason`` last; with
    ``shard``, also ``shard`` and ``shard_row`` (the row inside that file) after ``row``."""
    rows = np.flatnonzero(bad)
    out = df.iloc[rows].reset_index(drop=True).copy()
    out.insert(0, "row", rows + 1 + row_offset)
    if shard is not None:
        out.insert(1, "shard", shard)
        out.insert(2, "shard_row", rows + 1 + shard_offset)
    out["reason"] = reasons(masks, rows)
    return out


def normalize(df: pd.DataFrame, frame: Frame, keep: np.ndarray, table: str) -> pd.DataFrame:
    """Typed contract columns (in contract order) then pass-through extra columns, for ``keep`` rows."""
    out: dict[str, Any] = {}
    for col, kind in KINDS[table].items():
        if col not in frame.cols:
            continue
        values = frame.cols[col].values[keep]
        if kind in ("number", "timestamp"):
            if col == "revenue":
                values = values.fillna(0.0)
            values = values.astype("int64" if col in INT_COLUMNS else "float64")
        elif kind in ("features", "attributes"):
            values = pd.Series([v if v is not None else {} for v in values], dtype=object)
        out[col] = values.reset_index(drop=True)
    n = int(keep.sum())
    if table == "catalog" and "attributes" not in out:
        out["attributes"] = pd.Series([{} for _ in range(n)], dtype=object)
    if table == "logs":
        out = _with_copy_id(out, n)
    result = pd.DataFrame(out)
    for col in df.columns:
        if col not in result.columns:
            result[col] = df[col][keep].reset_index(drop=True)
    return result


def _with_copy_id(out: dict[str, Any], n: int) -> dict[str, Any]:
    """Fill blank/absent ``copy_id`` from ``copy_text`` (hashing each distinct text once)."""
    texts = out["copy_text"]
    if "copy_id" in out:
        ids = out["copy_id"].to_numpy(dtype=object, na_value=None)
    else:
        ids = np.full(n, None, dtype=object)
    need = np.fromiter((v is None for v in ids), dtype=bool, count=n)
    if need.any():
        codes, uniques = pd.factorize(texts[need])
        hashed = np.array([copy_id_for(t) for t in uniques], dtype=object)
        ids[need] = hashed[codes]
    ids = pd.Series(ids, dtype=STR_DTYPE)
    ordered: dict[str, Any] = {}
    for col, values in out.items():
        if col == "copy_text":
            ordered["copy_id"] = ids
        if col != "copy_id":
            ordered[col] = values
    return ordered
