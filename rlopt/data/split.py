"""Train/holdout splits of impression logs without leakage (by time, or by user)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from rlopt.errors import InputError
from rlopt.seeding import RNGLike, as_rng


def split_logs(logs: pd.DataFrame, holdout_fraction: float = 0.2, by: Literal["time", "user"] = "time",
               seed: RNGLike = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split logs into (train, holdout) so that nothing about the holdout leaks into training.

    Parameters
    ----------
    logs : pandas.DataFrame
        Validated logs (``timestamp`` int64 epoch ms; ``user_id`` for ``by="user"``).
    holdout_fraction : float in (0, 1)
        Target share of rows in the holdout.
    by : {"time", "user"}
        ``"time"``: every train timestamp <= every holdout timestamp; rows sharing the boundary
        timestamp all go to one side (whichever lands closer to the target), so there are no
        ties across the split. ``"user"``: users are shuffled with ``seed`` and whole users go
        to the holdout until it holds at least ``holdout_fraction`` of the rows; the user sets
        are disjoint.
    seed : int, Generator or None
        Used by ``by="user"`` only (the time split is deterministic).

    Returns
    -------
    train, holdout : pandas.DataFrame
        Both non-empty, rows in their original order, original index kept.

    Examples
    --------
    >>> df = pd.DataFrame({"timestamp": [5, 1, 3, 3, 9], "user_id": list("abcde")})
    >>> train, holdout = split_logs(df, 0.4)
    >>> bool(train["timestamp"].max() <= holdout["timestamp"].min()), len(holdout)
    (True, 2)
    """
    if not (isinstance(holdout_fraction, (int, float)) and 0.0 < holdout_fraction < 1.0):
        raise InputError(f"holdout_fraction must be in (0, 1), got {holdout_fraction!r}",
                         rule="holdout_fraction in (0, 1)")
    if by not in ("time", "user"):
        raise InputError(f"by must be 'time' or 'user', got {by!r}", rule="split by time|user")
    column = "timestamp" if by == "time" else "user_id"
    if column not in logs.columns:
        raise InputError(f"split by {by} needs a '{column}' column", column=column, rule="required columns present")
    if len(logs) < 2:
        raise InputError(f"need at least 2 rows to split, got {len(logs)}", rule="enough rows to split")
    holdout = _time_holdout(logs, holdout_fraction) if by == "time" else _user_holdout(logs, holdout_fraction, seed)
    if holdout.all() or not holdout.any():
        what = "distinct timestamps" if by == "time" else "distinct users"
        raise InputError(f"cannot split: all rows share one value of '{column}' (need at least 2 {what})",
                         column=column, rule="enough rows to split")
    return logs[~holdout], logs[holdout]


def cut_rank(n: int, fraction: float) -> int:
    """0-based rank of the boundary timestamp among ``n`` sorted timestamps (the in-memory and the
    streamed split take the same one).

    >>> cut_rank(5, 0.4)
    3
    """
    return min(n - 1, max(0, int(round(n - fraction * n))))


def boundary_side(n: int, fraction: float, holdout_ge: int, holdout_gt: int) -> bool:
    """Whether the rows at the boundary timestamp go to the holdout (``ts >= cut``: True) or to train
    (``ts > cut``: False), given the holdout sizes of both choices: the one that leaves both parts
    non-empty and lands closer to ``fraction * n`` (the holdout side on a tie, or when neither does).

    >>> boundary_side(5, 0.4, 3, 1)  # 3 rows at or after the cut, 1 after it: |3-2| == |1-2|
    True
    """
    target = fraction * n
    valid = [(ge, size) for ge, size in ((True, holdout_ge), (False, holdout_gt)) if 0 < size < n]
    if not valid:
        return True
    return min(valid, key=lambda v: abs(v[1] - target))[0]


def _time_holdout(logs: pd.DataFrame, fraction: float) -> np.ndarray:
    ts = logs["timestamp"].to_numpy()
    n = len(ts)
    cut = np.sort(ts)[cut_rank(n, fraction)]
    # The boundary timestamp goes wholly to the holdout (ts >= cut) or to train (ts > cut).
    ge, gt = ts >= cut, ts > cut
    return ge if boundary_side(n, fraction, int(ge.sum()), int(gt.sum())) else gt


def _user_holdout(logs: pd.DataFrame, fraction: float, seed: RNGLike) -> np.ndarray:
    codes, uniques = pd.factorize(logs["user_id"], sort=True)  # sorted: same seed -> same split
    counts = np.bincount(codes, minlength=len(uniques))
    order = as_rng(seed).permutation(len(uniques))
    cum = np.cumsum(counts[order])
    target = fraction * len(logs)
    k = int(np.searchsorted(cum, target)) + 1  # smallest prefix of users reaching the target...
    if k > 1 and abs(cum[k - 2] - target) <= abs(cum[k - 1] - target):
        k -= 1  # ...or one user fewer when that lands closer
    k = min(k, len(uniques) - 1)
    chosen = np.zeros(len(uniques), dtype=bool)
    chosen[order[:k]] = True
    return chosen[codes]


def split_summary(train: pd.DataFrame, holdout: pd.DataFrame, by: str) -> dict[str, object]:
    """What a split did, with its no-leakage checks made on the result (for ``split.json``).

    ``time_boundary_ok``: every train timestamp <= every holdout timestamp (``by="time"``);
    ``shared_users``: users in both parts (0 for ``by="user"``; for ``by="time"`` a returning user
    is expected and only reported).

    >>> tr = pd.DataFrame({"timestamp": [1, 2], "user_id": ["a", "b"]})
    >>> ho = pd.DataFrame({"timestamp": [3], "user_id": ["b"]})
    >>> s = split_summary(tr, ho, "time")
    >>> s["holdout_share"], s["time_boundary_ok"], s["shared_users"]
    (0.3333, True, 1)
    """
    n = len(train) + len(holdout)
    out: dict[str, object] = {"by": by, "train_rows": len(train), "holdout_rows": len(holdout),
                              "holdout_share": round(len(holdout) / n, 4) if n else 0.0}
    if "timestamp" in train.columns:
        out.update(train_last_timestamp=int(train["timestamp"].max()),
                   holdout_first_timestamp=int(holdout["timestamp"].min()),
                   time_boundary_ok=bool(train["timestamp"].max() <= holdout["timestamp"].min()))
    if "user_id" in train.columns:
        users_train, users_holdout = set(train["user_id"]), set(holdout["user_id"])
        out.update(train_users=len(users_train), holdout_users=len(users_holdout),
                   shared_users=len(users_train & users_holdout))
    return out


# ------------------------------------------------------------------------ out of core (logs > memory)
@dataclass
class StreamedSplit:
    """What :func:`split_by_time_streamed` wrote.

    Attributes
    ----------
    summary : dict
        :func:`split_summary`'s keys, computed in DuckDB over the validated rows.
    report : rlopt.data.validate.ValidationReport
        The validation of the input (bad rows quarantined or reported).
    cut : int
        The boundary timestamp (epoch ms); ``holdout_at_cut`` says on which side its rows went.
    holdout_at_cut : bool
    batches : int
        Record batches written (each at most ``batch_rows`` rows).
    """

    summary: dict[str, object]
    report: Any
    cut: int
    holdout_at_cut: bool
    batches: int


def split_by_time_streamed(path: str | os.PathLike[str], train_out: str | os.PathLike[str],
                           holdout_out: str | os.PathLike[str], holdout_fraction: float = 0.2, *,
                           file: str | None = None, on_error: str = "fail",
                           quarantine_path: str | os.PathLike[str] | None = None, catalog_ids: pd.Index | None = None,
                           placements: Any = None, engine: Any = None,
                           batch_rows: int | None = None) -> StreamedSplit:
    """Validate the logs at ``path`` and split them by time with bounded memory; write both parts.

    The same split as :func:`split_logs` (``by="time"``) on the validated rows: the boundary is the
    timestamp of rank :func:`cut_rank` in sorted order (an exact discrete quantile, from DuckDB,
    which sorts on disk when the column does not fit), its rows go to one side by
    :func:`boundary_side`, and the rows are then copied batch by batch, in input order, to
    ``train_out`` and ``holdout_out`` (Parquet, JSONL or CSV by suffix; each written atomically).

    Parameters
    ----------
    path : path
        A Parquet file or folder of shards, CSV or JSONL (as ``rlopt validate`` reads).
    train_out, holdout_out : path
    holdout_fraction : float in (0, 1)
    file : str, optional
        Named in messages instead of ``path``.
    on_error, quarantine_path, catalog_ids, placements
        As for :func:`rlopt.data.stream.stream_validate`.
    engine : rlopt.engine.Engine, optional
        Validate on this engine (:func:`rlopt.engine.validation.validate_on_engine`) instead of
        in this process.
    batch_rows : int, optional
        Rows per batch (default :data:`rlopt.data.batches.DEFAULT_BATCH_ROWS`).

    Raises
    ------
    InputError
        What validation raises, and :func:`split_logs`'s errors (fraction, too few rows or
        timestamps). Nothing is written then, except the quarantine file of ``on_error="quarantine"``.
    """
    import tempfile

    import pyarrow as pa
    import pyarrow.parquet as pq

    from rlopt.data.batches import DEFAULT_BATCH_ROWS
    from rlopt.data.io import arrow_to_frame, decode_json_column, table_format
    from rlopt.data.stream import scratch_duckdb
    from rlopt.data.table_writer import TableWriter

    if not (isinstance(holdout_fraction, (int, float)) and 0.0 < holdout_fraction < 1.0):
        raise InputError(f"holdout_fraction must be in (0, 1), got {holdout_fraction!r}",
                         rule="holdout_fraction in (0, 1)")
    batch_rows = batch_rows or DEFAULT_BATCH_ROWS
    Path(train_out).parent.mkdir(parents=True, exist_ok=True)
    # scratch next to the output (same disk as the result); rlopt made it, so rlopt removes it
    with tempfile.TemporaryDirectory(prefix=".rlopt-split-", dir=Path(train_out).parent) as scratch:
        work = Path(scratch)
        valid = work / "valid.parquet"
        kwargs = dict(on_error=on_error, quarantine_path=quarantine_path, catalog_ids=catalog_ids,
                      placements=placements, out=valid, batch_rows=batch_rows)
        if engine is not None:
            from rlopt.engine.validation import validate_on_engine

            report = validate_on_engine(path, engine, **kwargs).report
        else:
            from rlopt.data.stream import stream_validate

            report = stream_validate(path, "logs", file=file, **kwargs).report
        con = scratch_duckdb(work)
        try:
            names = [r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(valid)]).fetchall()]
            if "timestamp" not in names:
                raise InputError("split by time needs a 'timestamp' column", column="timestamp",
                                 rule="required columns present")
            n = con.execute("SELECT count(*) FROM read_parquet(?)", [str(valid)]).fetchone()[0]
            if n < 2:
                raise InputError(f"need at least 2 rows to split, got {n}", rule="enough rows to split")
            cut = con.execute("SELECT timestamp FROM read_parquet(?) ORDER BY timestamp LIMIT 1 OFFSET ?",
                              [str(valid), cut_rank(n, holdout_fraction)]).fetchone()[0]
            ge, gt = con.execute("SELECT count(*) FILTER (WHERE timestamp >= $2), count(*) FILTER (WHERE timestamp > $2) "
                                 "FROM read_parquet($1)", [str(valid), cut]).fetchone()
            at_cut = boundary_side(n, holdout_fraction, ge, gt)
            if (ge if at_cut else gt) in (0, n):
                raise InputError("cannot split: all rows share one value of 'timestamp' (need at least 2 distinct "
                                 "timestamps)", column="timestamp", rule="enough rows to split")
            summary = _streamed_summary(con, str(valid), cut, at_cut, "user_id" in names)
        finally:
            con.close()
        source = pq.ParquetFile(valid)
        if table_format(train_out) == table_format(holdout_out) == "parquet":
            batches = _copy_parquet(source, batch_rows, cut, at_cut, train_out, holdout_out)
        else:
            batches = 0
            with TableWriter(train_out) as train_w, TableWriter(holdout_out) as holdout_w:
                for rb in source.iter_batches(batch_size=batch_rows):
                    frame = arrow_to_frame(pa.Table.from_batches([rb]))
                    for col in frame.attrs.pop("rlopt.json_columns", []):
                        frame[col] = decode_json_column(frame[col])
                    ts = frame["timestamp"].to_numpy()
                    holdout = ts >= cut if at_cut else ts > cut
                    train_w.write(frame[~holdout])
                    holdout_w.write(frame[holdout])
                    batches += 1
    return StreamedSplit(summary, report, int(cut), bool(at_cut), batches)


def _copy_parquet(source: Any, batch_rows: int, cut: int, at_cut: bool, train_out: str | os.PathLike[str],
                  holdout_out: str | os.PathLike[str]) -> int:
    """Parquet to Parquet: the validated rows' Arrow batches filtered and written as they are.

    The scratch file was written by :class:`rlopt.data.table_writer.TableWriter` from the normalized
    rows, so its schema (JSON columns as strings, ``rlopt.json_columns`` metadata) is what writing
    those rows again would give; skipping the decode and re-encode of JSON cells halves the pass.
    """
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from rlopt.io_utils import atomic_path

    schema = source.schema_arrow
    batches = 0
    with atomic_path(Path(train_out)) as train_tmp, atomic_path(Path(holdout_out)) as holdout_tmp, \
            pq.ParquetWriter(train_tmp, schema) as train_w, pq.ParquetWriter(holdout_tmp, schema) as holdout_w:
        for rb in source.iter_batches(batch_size=batch_rows):
            ts = rb.column(rb.schema.get_field_index("timestamp"))
            holdout = pc.greater_equal(ts, cut) if at_cut else pc.greater(ts, cut)
            train_w.write_batch(rb.filter(pc.invert(holdout)))
            holdout_w.write_batch(rb.filter(holdout))
            batches += 1
    return batches


def _streamed_summary(con: Any, valid: str, cut: int, at_cut: bool, users: bool) -> dict[str, object]:
    """:func:`split_summary` of the split ``timestamp >= cut`` (``at_cut``) or ``> cut``, in DuckDB."""
    side = "timestamp >= $2" if at_cut else "timestamp > $2"
    train_rows, holdout_rows, last, first = con.execute(
        f"SELECT count(*) FILTER (WHERE NOT ({side})), count(*) FILTER (WHERE {side}), "
        f"max(timestamp) FILTER (WHERE NOT ({side})), min(timestamp) FILTER (WHERE {side}) FROM read_parquet($1)",
        [valid, cut]).fetchone()
    n = train_rows + holdout_rows
    out: dict[str, object] = {"by": "time", "train_rows": int(train_rows), "holdout_rows": int(holdout_rows),
                              "holdout_share": round(holdout_rows / n, 4) if n else 0.0,
                              "train_last_timestamp": int(last), "holdout_first_timestamp": int(first),
                              "time_boundary_ok": bool(last <= first)}
    if users:
        train_users, holdout_users, shared = con.execute(
            f"WITH u AS (SELECT user_id, bool_or(NOT ({side})) AS tr, bool_or({side}) AS ho FROM read_parquet($1) "
            "GROUP BY user_id) SELECT count(*) FILTER (WHERE tr), count(*) FILTER (WHERE ho), "
            "count(*) FILTER (WHERE tr AND ho) FROM u", [valid, cut]).fetchone()
        out.update(train_users=int(train_users), holdout_users=int(holdout_users), shared_users=int(shared))
    return out
