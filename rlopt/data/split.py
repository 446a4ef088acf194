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
    return held_out_users(counts, fraction, seed)[codes]


def held_out_users(counts: np.ndarray, fraction: float, seed: RNGLike) -> np.ndarray:
    """Which users go to the holdout, given each user's row count (users in sorted order).

    The users are shuffled with ``seed`` and taken in that order until the holdout reaches
    ``fraction`` of the rows (or stops one user short when that lands closer), leaving at least one
    user to train. The in-memory and the streamed user split both call this with the distinct users
    sorted, so the same seed holds out the same users.

    Parameters
    ----------
    counts : numpy.ndarray of int, shape (n_users,)
        Rows of each user, users in sorted order of ``user_id``.
    fraction : float in (0, 1)
    seed : int, Generator or None

    Returns
    -------
    numpy.ndarray of bool, shape (n_users,)
        True for the held-out users.

    >>> held_out_users(np.array([5, 1, 3, 1]), 0.4, seed=0).tolist()
    [False, False, True, False]
    """
    counts = np.asarray(counts)
    order = as_rng(seed).permutation(len(counts))
    cum = np.cumsum(counts[order])
    target = fraction * int(counts.sum())
    k = int(np.searchsorted(cum, target)) + 1  # smallest prefix of users reaching the target...
    if k > 1 and abs(cum[k - 2] - target) <= abs(cum[k - 1] - target):
        k -= 1  # ...or one user fewer when that lands closer
    k = min(k, len(counts) - 1)
    chosen = np.zeros(len(counts), dtype=bool)
    chosen[order[:k]] = True
    return chosen


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
    """What :func:`split_by_time_streamed` or :func:`split_by_user_streamed` wrote.

    Attributes
    ----------
    summary : dict
        :func:`split_summary`'s keys, computed in DuckDB over the validated rows.
    report : rlopt.data.validate.ValidationReport
        The validation of the input (bad rows quarantined or reported).
    cut : int or None
        The boundary timestamp (epoch ms) of a time split; ``holdout_at_cut`` says on which side its
        rows went. None for a user split.
    holdout_at_cut : bool or None
    batches : int
        Record batches written (each at most ``batch_rows`` rows).
    """

    summary: dict[str, object]
    report: Any
    cut: int | None
    holdout_at_cut: bool | None
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
    return _split_streamed(path, train_out, holdout_out, holdout_fraction, "time", None, file=file,
                           on_error=on_error, quarantine_path=quarantine_path, catalog_ids=catalog_ids,
                           placements=placements, engine=engine, batch_rows=batch_rows)


def split_by_user_streamed(path: str | os.PathLike[str], train_out: str | os.PathLike[str],
                           holdout_out: str | os.PathLike[str], holdout_fraction: float = 0.2, *,
                           seed: RNGLike = 0, file: str | None = None, on_error: str = "fail",
                           quarantine_path: str | os.PathLike[str] | None = None, catalog_ids: pd.Index | None = None,
                           placements: Any = None, engine: Any = None,
                           batch_rows: int | None = None) -> StreamedSplit:
    """Validate the logs at ``path`` and split them by whole users with bounded memory; write both parts.

    The same split as :func:`split_logs` (``by="user"``, same ``seed``) on the validated rows: DuckDB
    counts the rows of each user (grouping on disk when the rows do not fit), the distinct users
    (which fit in memory even for large logs) are sorted and :func:`held_out_users` picks the same
    users as the in-memory split; the rows are then copied batch by batch, in input order, to
    ``train_out`` or ``holdout_out`` by their user's side (Parquet, JSONL or CSV by suffix; each
    written atomically). No user is in both parts.

    Parameters
    ----------
    path, train_out, holdout_out, holdout_fraction, file, on_error, quarantine_path, catalog_ids, placements, engine, batch_rows
        As for :func:`split_by_time_streamed`.
    seed : int, Generator or None
        Shuffles the users (as :func:`split_logs`).

    Raises
    ------
    InputError
        What validation raises, and :func:`split_logs`'s errors (fraction, too few rows or users).
        Nothing is written then, except the quarantine file of ``on_error="quarantine"``.
    """
    return _split_streamed(path, train_out, holdout_out, holdout_fraction, "user", seed, file=file,
                           on_error=on_error, quarantine_path=quarantine_path, catalog_ids=catalog_ids,
                           placements=placements, engine=engine, batch_rows=batch_rows)


def _split_streamed(path: str | os.PathLike[str], train_out: str | os.PathLike[str],
                    holdout_out: str | os.PathLike[str], holdout_fraction: float, by: str, seed: RNGLike, *,
                    file: str | None, on_error: str, quarantine_path: str | os.PathLike[str] | None,
                    catalog_ids: pd.Index | None, placements: Any, engine: Any,
                    batch_rows: int | None) -> StreamedSplit:
    """Validate to a scratch Parquet file, decide the split in DuckDB (:func:`_time_side` or
    :func:`_user_side`), then copy the rows batch by batch to the two parts."""
    import tempfile

    import pyarrow.parquet as pq

    from rlopt.data.batches import DEFAULT_BATCH_ROWS
    from rlopt.data.stream import scratch_duckdb

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
            column = "timestamp" if by == "time" else "user_id"
            if column not in names:
                raise InputError(f"split by {by} needs a '{column}' column", column=column,
                                 rule="required columns present")
            n = con.execute("SELECT count(*) FROM read_parquet(?)", [str(valid)]).fetchone()[0]
            if n < 2:
                raise InputError(f"need at least 2 rows to split, got {n}", rule="enough rows to split")
            if by == "time":
                side, cut, at_cut = _time_side(con, str(valid), n, holdout_fraction)
            else:
                side, cut, at_cut = _user_side(con, str(valid), holdout_fraction, seed), None, None
            summary = _streamed_summary(con, str(valid), by, side, "timestamp" in names, "user_id" in names)
        finally:
            con.close()
        batches = _write_parts(pq.ParquetFile(valid), batch_rows, side.mask, train_out, holdout_out)
    return StreamedSplit(summary, report, None if cut is None else int(cut), at_cut, batches)


@dataclass
class _Side:
    """Which rows go to the holdout: ``where`` in DuckDB SQL over the scratch file (``$2``... bound to
    ``params``, reading the Arrow ``tables`` by name), and ``mask(batch)`` on one of its Arrow record
    batches; the two agree."""

    where: str
    params: list[Any]
    tables: dict[str, Any]
    mask: Any


def _time_side(con: Any, valid: str, n: int, fraction: float) -> tuple[_Side, int, bool]:
    """The time split's side, boundary timestamp and whether the boundary's rows are held out."""
    import pyarrow.compute as pc

    cut = con.execute("SELECT timestamp FROM read_parquet(?) ORDER BY timestamp LIMIT 1 OFFSET ?",
                      [valid, cut_rank(n, fraction)]).fetchone()[0]
    ge, gt = con.execute("SELECT count(*) FILTER (WHERE timestamp >= $2), count(*) FILTER (WHERE timestamp > $2) "
                         "FROM read_parquet($1)", [valid, cut]).fetchone()
    at_cut = boundary_side(n, fraction, ge, gt)
    if (ge if at_cut else gt) in (0, n):
        raise InputError("cannot split: all rows share one value of 'timestamp' (need at least 2 distinct "
                         "timestamps)", column="timestamp", rule="enough rows to split")
    compare = pc.greater_equal if at_cut else pc.greater

    def mask(rb: Any) -> Any:
        return compare(rb.column(rb.schema.get_field_index("timestamp")), cut)

    return _Side("timestamp >= $2" if at_cut else "timestamp > $2", [cut], {}, mask), cut, at_cut


def _user_side(con: Any, valid: str, fraction: float, seed: RNGLike) -> _Side:
    """The user split's side: the held-out users (:func:`held_out_users` over the sorted distinct users)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    per_user = con.execute("SELECT user_id, count(*) AS n FROM read_parquet(?) GROUP BY user_id",
                           [valid]).fetchnumpy()
    users = np.asarray(per_user["user_id"], dtype=object)
    order = np.argsort(users, kind="stable")  # Python string order, as pd.factorize(sort=True)
    users, counts = users[order], np.asarray(per_user["n"], dtype=np.int64)[order]
    chosen = held_out_users(counts, fraction, seed)
    if not chosen.any():
        raise InputError("cannot split: all rows share one value of 'user_id' (need at least 2 distinct users)",
                         column="user_id", rule="enough rows to split")
    held = pa.array(users[chosen].tolist(), type=pa.string())

    def mask(rb: Any) -> Any:
        return pc.is_in(rb.column(rb.schema.get_field_index("user_id")), value_set=held)

    return _Side("user_id IN (SELECT user_id FROM held)", [], {"held": pa.table({"user_id": held})}, mask)


def _write_parts(source: Any, batch_rows: int, mask: Any, train_out: str | os.PathLike[str],
                 holdout_out: str | os.PathLike[str]) -> int:
    """Copy the validated rows batch by batch, in order, to ``holdout_out`` where ``mask`` holds, else
    to ``train_out``; returns the number of batches.

    Parquet to Parquet, the Arrow batches are filtered and written as they are: the scratch file was
    written by :class:`rlopt.data.table_writer.TableWriter` from the normalized rows, so its schema
    (JSON columns as strings, ``rlopt.json_columns`` metadata) is what writing those rows again would
    give; skipping the decode and re-encode of JSON cells halves the pass. Other formats go through
    the frames :class:`~rlopt.data.table_writer.TableWriter` writes.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from rlopt.data.io import arrow_to_frame, decode_json_column, table_format
    from rlopt.data.table_writer import TableWriter
    from rlopt.io_utils import atomic_path

    batches = 0
    if table_format(train_out) == table_format(holdout_out) == "parquet":
        schema = source.schema_arrow
        with atomic_path(Path(train_out)) as train_tmp, atomic_path(Path(holdout_out)) as holdout_tmp, \
                pq.ParquetWriter(train_tmp, schema) as train_w, pq.ParquetWriter(holdout_tmp, schema) as holdout_w:
            for rb in source.iter_batches(batch_size=batch_rows):
                holdout = mask(rb)
                train_w.write_batch(rb.filter(pc.invert(holdout)))
                holdout_w.write_batch(rb.filter(holdout))
                batches += 1
        return batches
    with TableWriter(train_out) as train_w, TableWriter(holdout_out) as holdout_w:
        for rb in source.iter_batches(batch_size=batch_rows):
            holdout = mask(rb).to_numpy(zero_copy_only=False)
            frame = arrow_to_frame(pa.Table.from_batches([rb]))
            for col in frame.attrs.pop("rlopt.json_columns", []):
                frame[col] = decode_json_column(frame[col])
            train_w.write(frame[~holdout])
            holdout_w.write(frame[holdout])
            batches += 1
    return batches


def _streamed_summary(con: Any, valid: str, by: str, side: _Side, times: bool, users: bool) -> dict[str, object]:
    """:func:`split_summary` of the split whose holdout is ``side.where``, in DuckDB."""
    for name, table in side.tables.items():
        con.register(name, table)
    params, where = [valid, *side.params], side.where
    train_rows, holdout_rows = con.execute(
        f"SELECT count(*) FILTER (WHERE NOT ({where})), count(*) FILTER (WHERE {where}) FROM read_parquet($1)",
        params).fetchone()
    n = train_rows + holdout_rows
    out: dict[str, object] = {"by": by, "train_rows": int(train_rows), "holdout_rows": int(holdout_rows),
                              "holdout_share": round(holdout_rows / n, 4) if n else 0.0}
    if times:
        last, first = con.execute(f"SELECT max(timestamp) FILTER (WHERE NOT ({where})), "
                                  f"min(timestamp) FILTER (WHERE {where}) FROM read_parquet($1)", params).fetchone()
        out.update(train_last_timestamp=int(last), holdout_first_timestamp=int(first),
                   time_boundary_ok=bool(last <= first))
    if users:
        train_users, holdout_users, shared = con.execute(
            f"WITH u AS (SELECT user_id, bool_or(NOT ({where})) AS tr, bool_or({where}) AS ho FROM read_parquet($1) "
            "GROUP BY user_id) SELECT count(*) FILTER (WHERE tr), count(*) FILTER (WHERE ho), "
            "count(*) FILTER (WHERE tr AND ho) FROM u", params).fetchone()
        out.update(train_users=int(train_users), holdout_users=int(holdout_users), shared_users=int(shared))
    return out
