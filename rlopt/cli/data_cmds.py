"""``rlopt validate`` (check logs and a catalog against the data contract) and ``rlopt split``
(a train/holdout split of your own logs without leakage)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rlopt.cli._common import EngineOpt, JsonOption, RayAddressOpt, emit, err_console
from rlopt.engine import check_engine_options

_EPILOG = (
    "Examples:\n\n"
    "  rlopt validate --logs runs/sim/logs.parquet --catalog runs/sim/catalog.parquet\n\n"
    "  rlopt validate --logs shop.csv --catalog items.jsonl --placements placements.toml "
    "--on-error quarantine --out clean/logs.parquet --json\n\n"
    "With --on-error quarantine the bad rows, each with 'row' and 'reason' columns, go to "
    "<stem>.quarantine.jsonl next to --out (or next to each input without --out); exit code 2 "
    "on any bad row with --on-error fail, or on an unreadable file."
)


def validate(
    logs: Annotated[Path, typer.Option("--logs", help="Impression log (.parquet, .jsonl/.json or .csv), or a "
                                       "folder of Parquet shards (hive partitions too); folders and large files "
                                       "are validated in record batches with bounded memory.")],
    catalog: Annotated[Path, typer.Option("--catalog", help="Catalog (.parquet, .jsonl/.json or .csv).")],
    placements: Annotated[Path | None, typer.Option(
        "--placements", help="Placements (.toml or .json): name -> {max_chars, slots, examination}; "
        "a 'default' entry accepts unlisted placement names. Without it only position >= 0 is checked.")] = None,
    on_error: Annotated[str, typer.Option(
        "--on-error", help="fail: stop at any bad row (exit 2) | quarantine: set bad rows aside and go on.")]
    = "fail",
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write the validated, normalized logs here (.parquet, .jsonl or .csv).")] = None,
    engine: EngineOpt = "local",
    ray_address: RayAddressOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Validate logs (and their catalog) against the data contract; report counts per rule."""
    from rlopt.data import read_catalog, read_placements, validate_table, write_table
    from rlopt.data.io import read_table
    from rlopt.data.stream import should_stream, stream_validate
    from rlopt.data.validate import ON_ERROR_CHOICES, quarantine_path_for
    from rlopt.errors import InputError

    if on_error not in ON_ERROR_CHOICES:
        raise InputError(f"--on-error must be one of {', '.join(ON_ERROR_CHOICES)}, got {on_error!r}",
                         rule="--on-error choice")
    check_engine_options(engine, ray_address)
    if out is not None:
        from rlopt.cli._common import check_out_file
        from rlopt.data.io import table_format

        table_format(check_out_file(out))  # fail on a bad --out before doing any work
    placement_map = read_placements(placements) if placements is not None else None
    # Quarantine files go next to --out, or next to each input without it.
    cat_quarantine = quarantine_path_for(catalog if out is None else out.with_name(catalog.name))
    quarantine = quarantine_path_for(out if out is not None else logs)
    with err_console.status(f"reading {catalog}"):
        cat = read_catalog(catalog, on_error=on_error, quarantine_path=cat_quarantine)  # type: ignore[arg-type]
    if engine == "ray":  # the same per-batch checks as Ray tasks (rlopt/engine/validation.py)
        from rlopt.engine import make_engine
        from rlopt.engine.validation import validate_on_engine

        with make_engine("ray", address=ray_address) as ray_engine, \
                err_console.status(f"validating {logs} on Ray"):
            done = validate_on_engine(logs, ray_engine, on_error=on_error, quarantine_path=quarantine, out=out,
                                      catalog_ids=cat["item_id"], placements=placement_map)
            ran_on = ray_engine.describe()
        report, distinct, columns = done.report, done.distinct, done.columns
        reading = {"read": f"in {done.units} units (Ray)", "shards": done.shards, **ran_on}
    elif should_stream(logs):  # a folder of shards, or a large file: record batches, bounded memory
        with err_console.status(f"validating {logs} in batches"):
            streamed = stream_validate(logs, "logs", on_error=on_error, quarantine_path=quarantine,  # type: ignore[arg-type]
                                       catalog_ids=cat["item_id"], placements=placement_map, out=out,
                                       distinct=("item_id", "placement", "segment", "user_id"))
        report, distinct, columns = streamed.report, streamed.distinct, streamed.columns
        reading = {"read": f"in {streamed.batches} batches (streamed)", "shards": streamed.shards}
    else:
        with err_console.status(f"reading {logs}"):
            raw = read_table(logs, decode_json=False)
        with err_console.status(f"validating {len(raw):,} rows"):
            clean, report = validate_table(raw, "logs", file=str(logs), on_error=on_error,  # type: ignore[arg-type]
                                           quarantine_path=quarantine, catalog_ids=cat["item_id"],
                                           placements=placement_map)
        if out is not None:
            with err_console.status(f"writing {out}"):
                write_table(clean, out)
        columns = [str(c) for c in clean.columns]
        distinct = {c: int(clean[c].nunique()) for c in ("item_id", "placement", "segment", "user_id")
                    if c in clean.columns}
        reading = {"read": "whole (in memory)"}
    cat_report = cat.attrs["validation"]
    result = {
        "logs": str(logs),
        "catalog": str(catalog),
        "placements": None if placements is None else str(placements),
        "on_error": on_error,
        "rows_read": report.rows_read,
        "rows_valid": report.rows_valid,
        "rows_quarantined": report.rows_quarantined,
        "rule_counts": report.rule_counts,
        "quarantine_file": report.quarantine_path,
        "catalog_rows_read": cat_report["rows_read"],
        "catalog_rows_quarantined": cat_report["rows_quarantined"],
        "catalog_rule_counts": cat_report["rule_counts"],
        "catalog_quarantine_file": cat_report["quarantine_path"],
        "distinct_items": distinct.get("item_id", 0),
        "distinct_placements": distinct.get("placement", 0),
        "distinct_segments": distinct.get("segment", 0) if "segment" in columns else None,
        "distinct_users": distinct.get("user_id", 0),
        "has_propensity": "propensity" in columns,
        "out": None if out is None else str(out),
        **reading,
    }
    emit(result, as_json, title="rlopt validate")


_SPLIT_EPILOG = (
    "Examples:\n\n"
    "  rlopt split shop_logs.csv --out splits/ --by time --holdout-fraction 0.2\n\n"
    "  rlopt split runs/sim/logs.parquet --out splits/ --by user --holdout-fraction 0.3 --seed 7 --json\n\n"
    "--by time: every train impression is no later than every holdout impression (rows sharing the "
    "boundary timestamp go to one side). --by user: whole users go to the holdout (shuffled with --seed), "
    "so no user is in both. The logs are validated first (bad rows: exit 2, or --on-error quarantine); "
    "DIR gets train.<ext> and holdout.<ext> in the input's format and split.json with the checks.\n\n"
    "  rlopt split logs_by_day/ --out splits/ --by time\n\n"
    "A folder of Parquet shards, or a file larger than memory is comfortable with, is split out of core: "
    "validated in record batches, the cut timestamp (--by time) or each user's row count (--by user) found "
    "by DuckDB (on disk), the rows copied batch by batch (same files as the in-memory split, the same users "
    "held out for the same --seed)."
)
_SPLIT_FILES = ("train", "holdout")


def split(
    logs: Annotated[Path, typer.Argument(help="Impression log (.parquet, .jsonl/.json or .csv), or a folder of "
                                         "Parquet shards.")],
    out: Annotated[Path, typer.Option("--out", help="Directory for train.<ext>, holdout.<ext>, split.json.")],
    by: Annotated[str, typer.Option("--by", help="time | user.")] = "time",
    holdout_fraction: Annotated[float, typer.Option("--holdout-fraction", help="Target share of rows in the "
                                                    "holdout, in (0, 1).")] = 0.2,
    seed: Annotated[int, typer.Option("--seed", help="Shuffles users for --by user.")] = 0,
    catalog: Annotated[Path | None, typer.Option("--catalog", help="Also check item ids against this catalog.")]
    = None,
    on_error: Annotated[str, typer.Option(
        "--on-error", help="fail: stop at any bad row (exit 2) | quarantine: split the valid rows only.")] = "fail",
    as_json: JsonOption = False,
) -> None:
    """Split your logs into train and holdout without leakage (by time, or by whole users)."""
    from rlopt.cli._common import check_out_dir
    from rlopt.data import read_catalog, split_logs, validate_table, write_table
    from rlopt.data.io import read_table, table_format
    from rlopt.data.split import split_summary
    from rlopt.data.validate import ON_ERROR_CHOICES, quarantine_path_for
    from rlopt.errors import InputError
    from rlopt.io_utils import write_json_atomic

    if on_error not in ON_ERROR_CHOICES:
        raise InputError(f"--on-error must be one of {', '.join(ON_ERROR_CHOICES)}, got {on_error!r}",
                         rule="--on-error choice")
    if by not in ("time", "user"):
        raise InputError(f"--by must be time or user, got {by!r}", key="--by", value=by)
    check_out_dir(out)
    from rlopt.data.stream import should_stream

    streamed = should_stream(logs)
    suffix = ".parquet" if logs.is_dir() else {"parquet": ".parquet", "jsonl": ".jsonl", "csv": ".csv"}[table_format(logs)]
    targets = {name: out / f"{name}{suffix}" for name in _SPLIT_FILES}
    if not (out / "split.json").is_file():  # never overwrite files rlopt did not write
        taken = [str(p) for p in targets.values() if p.exists()]
        if taken:
            raise InputError(f"{taken[0]} exists and was not written by rlopt split; choose another --out",
                             file=taken[0], key="--out")
    catalog_ids = read_catalog(catalog)["item_id"] if catalog is not None else None
    if streamed:  # bounded memory: record batches, DuckDB for the cut or the users (rlopt/data/split.py)
        from rlopt.data.split import split_by_time_streamed, split_by_user_streamed

        options = dict(on_error=on_error, quarantine_path=quarantine_path_for(out / f"logs{suffix}"),
                       catalog_ids=catalog_ids)
        with err_console.status(f"splitting {logs} in batches"):
            if by == "time":
                done = split_by_time_streamed(logs, targets["train"], targets["holdout"], holdout_fraction, **options)
            else:
                done = split_by_user_streamed(logs, targets["train"], targets["holdout"], holdout_fraction,
                                              seed=seed, **options)
        summary = {"logs": str(logs), **done.summary, "holdout_fraction": holdout_fraction, "seed": seed,
                   "rows_quarantined": done.report.rows_quarantined, "quarantine_file": done.report.quarantine_path,
                   "train": str(targets["train"]), "holdout": str(targets["holdout"]),
                   "read": f"in {done.batches} batches (streamed)"}
        write_json_atomic(out / "split.json", summary)
        emit(summary, as_json, title="rlopt split")
        return
    with err_console.status(f"reading {logs}"):
        raw = read_table(logs, decode_json=False)
    clean, report = validate_table(raw, "logs", file=str(logs), on_error=on_error,  # type: ignore[arg-type]
                                   quarantine_path=quarantine_path_for(out / f"logs{suffix}"),
                                   catalog_ids=catalog_ids)
    train, holdout = split_logs(clean, holdout_fraction, by=by, seed=seed)  # type: ignore[arg-type]
    for name, part in (("train", train), ("holdout", holdout)):
        write_table(part, targets[name])
    summary = {"logs": str(logs), **split_summary(train, holdout, by), "holdout_fraction": holdout_fraction,
               "seed": seed, "rows_quarantined": report.rows_quarantined, "quarantine_file": report.quarantine_path,
               "train": str(targets["train"]), "holdout": str(targets["holdout"]), "read": "whole (in memory)"}
    write_json_atomic(out / "split.json", summary)
    emit(summary, as_json, title="rlopt split")


def register(app: typer.Typer) -> None:
    """Add ``validate`` and ``split`` to ``app``."""
    app.command("validate", epilog=_EPILOG)(validate)
    app.command("split", epilog=_SPLIT_EPILOG)(split)
