"""Checks and joins on the frames the reward model reads (logs, copies, the catalog).

The data contract itself is enforced by ``rlopt.data`` readers; these checks are the reward
model's own rules, for frames handed over in Python too: every item must be in the catalog, copy
text must be non-empty, and both heads need positive and negative examples to be trained.
:func:`read_training_logs` reads the training logs in bounded memory when they are larger than it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rlopt.errors import InputError

CATALOG_COLUMNS = ("item_id", "title", "category", "brand", "price", "discount_pct")


def check_columns(frame: pd.DataFrame, required: tuple[str, ...], source: str | None, what: str) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(f"{what} lacks required column(s) {missing}; it has {list(frame.columns)}",
                         file=source, column=missing[0], rule="required column")


def check_copy_text(frame: pd.DataFrame, source: str | None = None) -> None:
    """Empty or missing ``copy_text`` -> InputError with its row (rows count from 1)."""
    check_columns(frame, ("copy_text",), source, "the copy frame")
    text = frame["copy_text"]
    bad = text.isna().to_numpy() | (text.astype(str).str.strip() == "").to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0]) + 1
        raise InputError(f"copy_text is empty ({int(bad.sum())} row(s) in all)", file=source, row=row,
                         column="copy_text", rule="copy_text non-empty", value=text.iloc[row - 1])


def join_items(frame: pd.DataFrame, catalog: pd.DataFrame, source: str | None = None) -> pd.DataFrame:
    """Add the catalog's ``title, category, brand, price, discount_pct, attributes`` by ``item_id``.

    An item missing from the catalog is an InputError naming it and its first row.
    """
    check_columns(frame, ("item_id",), source, "the frame")
    check_columns(catalog, CATALOG_COLUMNS, None, "the catalog")
    cols = [c for c in (*CATALOG_COLUMNS, "attributes") if c in catalog.columns]
    cat = catalog[cols].drop_duplicates("item_id").set_index("item_id")
    ids = frame["item_id"].astype(str)
    known = ids.isin(cat.index.astype(str))
    if not known.all():
        row = int(np.flatnonzero(~known.to_numpy())[0]) + 1
        raise InputError(f"item '{ids.iloc[row - 1]}' is not in the catalog", file=source, row=row,
                         column="item_id", rule="item_id present in the catalog", value=ids.iloc[row - 1])
    cat.index = cat.index.astype(str)
    extra = cat.loc[ids.to_numpy()].reset_index(drop=True)
    base = frame.drop(columns=[c for c in extra.columns if c in frame.columns]).reset_index(drop=True)
    joined = pd.concat([base, extra], axis=1)
    if "attributes" not in joined:
        joined["attributes"] = [{} for _ in range(len(joined))]
    return joined


def check_trainable(logs: pd.DataFrame, source: str | None = None) -> None:
    """Both heads need both outcomes: clicks and non-clicks, purchases and non-purchases."""
    check_columns(logs, ("item_id", "placement", "position", "copy_text", "clicked", "converted"), source,
                  "the impression log")
    if len(logs) == 0:
        raise InputError("the impression log has no rows; nothing to train on", file=source)
    clicks = int(logs["clicked"].sum())
    buys = int(logs["converted"].sum())
    if clicks == 0:
        raise InputError("the log has no clicks, so the click head P(click) cannot be trained "
                         "(it needs both clicked and not-clicked impressions)", file=source,
                         column="clicked", rule="at least one click")
    if clicks == len(logs):
        raise InputError("every impression was clicked, so the click head P(click) cannot be trained "
                         "(it needs not-clicked impressions too)", file=source, column="clicked",
                         rule="at least one non-click")
    if buys == 0:
        raise InputError("the log has no purchases (converted = 1), so the purchase head "
                         "P(purchase | click) cannot be trained", file=source, column="converted",
                         rule="at least one conversion")
    if buys == clicks:
        raise InputError("every click converted, so the purchase head P(purchase | click) cannot be "
                         "trained (it needs clicks without a purchase too)", file=source,
                         column="converted", rule="at least one click without a conversion")


# --------------------------------------------------------------------------- logs larger than memory
LARGE_LOG_SAMPLE_ROWS = 1_000_000  # rows a streamed (large) log trains on unless max_rows says otherwise


def read_training_logs(path: str | os.PathLike[str], catalog: pd.DataFrame, placements: Any = None, *,
                       on_error: str = "fail", quarantine_path: str | os.PathLike[str] | None = None,
                       max_rows: int | None = None, seed: int = 0) -> pd.DataFrame:
    """Validated impression logs for training, in bounded memory when the log is large.

    A log that :func:`rlopt.data.stream.should_stream` keeps out of memory (a folder of Parquet shards,
    or a file over its size threshold) is validated in record batches
    (:func:`rlopt.data.stream.stream_validate`: every row is checked, bad rows fail or are quarantined
    as usual) and only a sample of its rows is kept: ``k`` row numbers drawn uniformly without
    replacement from all ``n`` rows with ``numpy.random.default_rng(seed)``, sorted, and the valid ones
    among them kept in row order. A uniform sample spans the whole time range, so the trainer's time
    split (fit < valid < calibration) cuts the sample as it would cut the full log. ``k`` is
    ``max_rows`` when given, else :data:`LARGE_LOG_SAMPLE_ROWS`; ``max_rows=0`` keeps every row.
    A small log is read whole (``max_rows`` > 0 then samples it the same way).

    Returns
    -------
    pandas.DataFrame
        Normalized valid rows (as :func:`rlopt.data.read_logs`); ``attrs["validation"]`` is the
        report over the whole input, ``attrs["input"]`` says how it was read and sampled:
        ``read``, ``rows_read``, ``rows_valid``, ``rows_used``, ``sample`` (None or its rule).
    """
    from rlopt.data import read_logs
    from rlopt.data.batches import iter_batches, parquet_rows
    from rlopt.data.io import sniff_format
    from rlopt.data.placements import resolve_placements
    from rlopt.data.stream import should_stream, stream_validate

    p = Path(path)
    streamed = should_stream(p)
    if not streamed:
        df = read_logs(p, catalog, placements=placements, on_error=on_error,  # type: ignore[arg-type]
                       quarantine_path=quarantine_path)
        report = df.attrs["validation"]
        if max_rows and len(df) > max_rows:
            keep = np.sort(np.random.default_rng(seed).choice(len(df), size=max_rows, replace=False))
            attrs = dict(df.attrs)
            df = df.iloc[keep].reset_index(drop=True)
            df.attrs = attrs
        df.attrs["input"] = {"read": "whole (in memory)", "rows_read": report["rows_read"],
                             "rows_valid": report["rows_valid"], "rows_used": len(df),
                             "sample": _sample_text(max_rows, seed) if len(df) < report["rows_valid"] else None}
        return df
    k = LARGE_LOG_SAMPLE_ROWS if max_rows is None else max_rows
    if p.is_dir() or sniff_format(p) == "parquet":
        n = parquet_rows(p)
    else:  # CSV / JSONL: one cheap pass over the first column counts the rows
        n = sum(len(b.frame) for b in iter_batches(p, columns=["event_id"]))
    rows = None
    if k and n > k:
        rows = np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False))
    else:
        rows = np.arange(n, dtype=np.int64)
    result = stream_validate(p, "logs", on_error=on_error, quarantine_path=quarantine_path,  # type: ignore[arg-type]
                             catalog_ids=pd.Index(catalog["item_id"].unique()),
                             placements=resolve_placements(placements), sample_rows=rows)
    df = result.sample
    assert df is not None
    df.attrs["validation"] = result.report.to_dict()
    df.attrs["input"] = {"read": f"in {result.batches} batches (streamed)", "rows_read": result.report.rows_read,
                         "rows_valid": result.report.rows_valid, "rows_used": len(df),
                         "sample": _sample_text(k, seed) if k and n > k else None}
    return df


def _sample_text(k: int | None, seed: int) -> str:
    return (f"uniform random sample of {k:,} row numbers (numpy default_rng({seed}), without replacement), "
            "valid ones kept in row order; the time split cuts the sample")
