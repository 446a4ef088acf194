"""Stages ``data``, ``validate`` and ``reward``: logs in, validated tables out, reward model trained.

Each stage only calls the owning area's public functions (``rlopt.market``, ``rlopt.data``,
``reward_models``), imported here so a reader sees what a stage runs.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reward_models import RewardModel, evaluate_reward_model, train_reward_model
from reward_models.calibration import calibration_bins
from reward_models.card import data_summary, save_with_card
from rlopt.data import (
    read_catalog,
    read_contexts,
    read_logged_copy,
    read_logs,
    read_placements,
    read_table,
    split_logs,
    write_jsonl,
    write_placements,
    write_table,
)
from rlopt.data.stream import should_stream
from rlopt.errors import InputError
from rlopt.generation.checks import currency_warning
from rlopt.market import DEFAULT_MARKET, Marketplace
from rlopt.pipeline.config import data_source
from rlopt.pipeline.runner import StageContext


def market_path(spec: str) -> Path:
    """The market TOML named by ``[data] market`` ('default' = the packaged market)."""
    return Path(DEFAULT_MARKET) if spec == "default" else Path(spec)


def data_inputs(config) -> list[str]:
    """External files whose bytes enter the data stage's fingerprint."""
    d = config.data
    files = [d.logs, d.catalog, d.placements, d.contexts]
    if not d.logs:
        files.append(str(market_path(d.market)))
    return [f for f in files if f]


def stage_data(ctx: StageContext) -> dict[str, Any]:
    """Simulate logs from the market, or copy the external files into the run directory.

    Outputs (simulated): ``catalog.parquet, train.parquet, holdout.parquet, logs.parquet,
    placements.json, contexts.jsonl, oracle.json, market.toml`` (``Simulation.write``).
    Outputs (external): the given files, renamed ``logs.<ext>``, ``catalog.<ext>``, ... .
    """
    d = ctx.config.data
    if d.logs:
        for key in ("logs", "catalog", "placements", "contexts"):
            src = Path(getattr(d, key))
            if not getattr(d, key):
                continue
            if src.is_dir():  # a directory of Parquet shards (read_table reads it as one table)
                shutil.copytree(src, ctx.work_dir / f"{key}{''.join(src.suffixes)}")
            elif src.is_file():
                shutil.copyfile(src, ctx.work_dir / f"{key}{''.join(src.suffixes)}")
            else:
                raise InputError(f"data.{key} names {src}, which does not exist", file=ctx.config.source,
                                 key=f"data.{key}", rule="input file exists")
        return {"source": "external", "logs_file": d.logs, "has_oracle": False}
    market = Marketplace.from_toml(market_path(d.market))
    ctx.log(f"[data] simulating {d.impressions:,} impressions")
    sim = market.simulate(d.impressions, seed=ctx.seed)
    sim.write(ctx.work_dir)
    return {"source": "simulated", "market": str(market_path(d.market)), "impressions": int(len(sim.logs)),
            "train": int(len(sim.train)), "holdout": int(len(sim.holdout)),
            "contexts": int(len(sim.contexts)), "items": int(len(sim.catalog)), "has_oracle": True}


def _one(directory: Path, key: str) -> Path | None:
    """The run's copy of input ``key``: ``<key>.<ext>``, or ``<key>`` for a file or shard folder without one."""
    found = sorted(p for p in directory.glob(f"{key}.*") if not p.name.endswith(".tmp"))
    if not found and (directory / key).exists():
        return directory / key
    return found[0] if found else None


def _original(ctx: StageContext, key: str) -> str | None:
    """The user's file behind the run's copy of ``key`` (named in messages), None when simulated."""
    return getattr(ctx.config.data, key) or None


def stage_validate(ctx: StageContext) -> dict[str, Any]:
    """Validate logs against the catalog and placements (``rlopt.data.read_logs``).

    Bad rows are quarantined (``on_error="quarantine"``) into ``<table>.quarantine.jsonl`` and
    counted, or stop the run (``"fail"``). Writes ``catalog.parquet, train.parquet,
    holdout.parquet, placements.json, contexts.jsonl``: the only inputs later stages read.
    """
    cfg, src, out = ctx.config.data, ctx.dir("data"), ctx.work_dir
    placements_file = _one(src, "placements") or (None if cfg.logs else src / "placements.json")
    if placements_file is None:  # external logs without a placements file: the market's
        placements = Marketplace.from_toml(market_path(cfg.market)).placements
    else:
        try:
            placements = read_placements(placements_file)
        except InputError as err:
            raise (err.with_file(_original(ctx, "placements")) if cfg.placements else err) from None
    # Bad catalog rows are set aside like bad log rows (on_error), as `rlopt validate` does.
    catalog = read_catalog(_one(src, "catalog"), on_error=cfg.on_error,
                                quarantine_path=out / "catalog.quarantine.jsonl", name=_original(ctx, "catalog"))
    catalog_report = catalog.attrs.get("validation", {})
    reports: dict[str, Any] = {}

    def read(path: Path, name: str) -> pd.DataFrame:
        frame = read_logs(path, catalog, placements, on_error=cfg.on_error,
                               quarantine_path=out / f"{name}.quarantine.jsonl",
                               name=_original(ctx, "logs") if name == "logs" else None)
        reports[name] = frame.attrs.get("validation", {})
        return frame

    external = ctx.summary("data").get("source") == "external"
    streamed = external and (ctx.config.run.engine == "ray" or should_stream(_one(src, "logs")))
    if streamed:  # larger than memory, or [run] engine = "ray": batches, DuckDB for the cut, written as it goes
        rows = _split_streamed(ctx, _one(src, "logs"), catalog, placements, reports)
        contexts = _contexts_file(ctx, src, catalog, placements)
        if contexts is None:
            contexts = _holdout_contexts(out / "holdout.parquet", out)
    elif external:
        logs = read(_one(src, "logs"), "logs")
        train, holdout = split_logs(logs, holdout_fraction=cfg.holdout_fraction, by="time", seed=ctx.seed)
        contexts = _contexts_file(ctx, src, catalog, placements)
        if contexts is None:
            contexts = holdout[["item_id", "segment", "placement"]].drop_duplicates().reset_index(drop=True)
    else:
        train, holdout = read(src / "train.parquet", "train"), read(src / "holdout.parquet", "holdout")
        contexts = read_contexts(src / "contexts.jsonl", catalog, placements)
    write_table(catalog, out / "catalog.parquet")
    if not streamed:
        write_table(train, out / "train.parquet")
        write_table(holdout, out / "holdout.parquet")
        rows = {"train": int(len(train)), "holdout": int(len(holdout))}
    # The shop's own copy says which currency its prices are in; a catalog that does not say it gets "$"
    # prompts and unchecked amounts in another currency (rlopt.generation.currency).
    logged_copy = read_logged_copy(out / "train.parquet")["copy_text"] if streamed else train["copy_text"]
    currency = currency_warning(catalog, logged_copy)
    if currency:
        ctx.log(f"[validate] warning: {currency}")
    write_placements(placements, out / "placements.json")
    write_jsonl(contexts, out / "contexts.jsonl")
    quarantined = sum(int(r.get("rows_quarantined", 0)) for r in reports.values())
    rule_counts: dict[str, int] = {}
    for r in reports.values():
        for rule, n in (r.get("rule_counts") or {}).items():
            rule_counts[rule] = rule_counts.get(rule, 0) + int(n)
    return {**rows, "contexts": int(len(contexts)), "read": "in batches (streamed)" if streamed else "whole",
            "items": int(len(catalog)), "placements": sorted(placements), "quarantined": quarantined,
            "rule_counts": rule_counts, "on_error": cfg.on_error,
            "rows_read": sum(int(r.get("rows_read", 0)) for r in reports.values()),
            "catalog_rows_read": int(catalog_report.get("rows_read", len(catalog))),
            "catalog_quarantined": int(catalog_report.get("rows_quarantined", 0)),
            "catalog_rule_counts": dict(catalog_report.get("rule_counts") or {}), "currency_warning": currency}


def _contexts_file(ctx: StageContext, src: Path, catalog: pd.DataFrame, placements: dict) -> pd.DataFrame | None:
    """``[data] contexts`` validated, or None when not given."""
    contexts_file = _one(src, "contexts")
    if contexts_file is None:
        return None
    return read_contexts(contexts_file, catalog, placements, name=_original(ctx, "contexts"))


def _split_streamed(ctx: StageContext, logs: Path, catalog: pd.DataFrame, placements: dict,
                    reports: dict[str, Any]) -> dict[str, int]:
    """Validate and split external logs by time with bounded memory, on ``[run] engine``
    (:func:`rlopt.data.split.split_by_time_streamed`): ``train.parquet`` and ``holdout.parquet``
    are written batch by batch. Returns the row counts; the validation report goes to ``reports``."""
    from rlopt.data.split import split_by_time_streamed
    from rlopt.engine import engine_for_run

    cfg, out, run = ctx.config.data, ctx.work_dir, ctx.config.run
    with engine_for_run(run.engine, run.ray_address, ctx.config.source) as engine:
        try:
            done = split_by_time_streamed(logs, out / "train.parquet", out / "holdout.parquet", cfg.holdout_fraction,
                                          file=_original(ctx, "logs"), on_error=cfg.on_error,
                                          quarantine_path=out / "logs.quarantine.jsonl", catalog_ids=catalog["item_id"],
                                          placements=placements, engine=engine if run.engine == "ray" else None)
        except InputError as err:
            raise err.with_file(_original(ctx, "logs")) if err.file == str(logs) else err from None
    reports["logs"] = done.report.to_dict()
    ctx.log(f"[validate] {done.report.rows_read:,} log rows validated and split in {done.batches} batches "
            f"({run.engine} engine)")
    return {"train": int(done.summary["train_rows"]), "holdout": int(done.summary["holdout_rows"])}


def _holdout_contexts(holdout: Path, workdir: Path) -> pd.DataFrame:
    """The distinct ``item_id, segment, placement`` of the held-out rows, in order of first appearance
    (what ``drop_duplicates`` gives in memory), grouped by DuckDB on disk."""
    import tempfile

    from rlopt.data.stream import scratch_duckdb

    with tempfile.TemporaryDirectory(prefix=".rlopt-contexts-", dir=workdir) as scratch:
        con = scratch_duckdb(Path(scratch))
        try:
            frame = con.execute(
                "SELECT item_id, segment, placement FROM read_parquet(?, file_row_number = true) "
                "GROUP BY item_id, segment, placement ORDER BY min(file_row_number)", [str(holdout)]).df()
        finally:
            con.close()
    return frame.reset_index(drop=True)


def stage_reward(ctx: StageContext) -> dict[str, Any]:
    """Train the reward model on the training logs (``reward_models.train_reward_model``) and
    evaluate it on the held-out logs (AUC, log-loss, ECE, calibration bins).

    Outputs: ``model/`` (``RewardModel.save_pretrained`` and the model card ``README.md``, as
    ``rlopt reward train`` writes them), ``holdout_predictions.parquet``.
    """
    cfg, src = ctx.config.reward, ctx.dir("validate")
    catalog = read_table(src / "catalog.parquet")
    train = read_table(src / "train.parquet")
    holdout = read_table(src / "holdout.parquet")
    if cfg.max_rows and len(train) > cfg.max_rows:
        keep = np.sort(ctx.rng().choice(len(train), size=cfg.max_rows, replace=False))
        train = train.iloc[keep].reset_index(drop=True)
    ctx.log(f"[reward] training on {len(train):,} impressions ({cfg.mode} encoder)")
    model: RewardModel = train_reward_model(train, catalog, config=cfg.train_config(seed=ctx.seed, progress=False),
                                            source="train.parquet")
    save_with_card(model, ctx.work_dir / "model", trained_by="the reward stage of `rlopt run`",
                   data=data_summary([(f"training logs from {data_source(ctx.config)}", "validate/train.parquet", train),
                                      ("catalog", "validate/catalog.parquet", catalog)]))
    metrics, preds = evaluate_reward_model(model, holdout, catalog, source="holdout.parquet")
    write_table(preds.reset_index(drop=True), ctx.work_dir / "holdout_predictions.parquet")
    return {
        "metrics": {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)},
        "train_rows": int(len(train)),
        "calibration_click": calibration_bins(holdout["clicked"].to_numpy(float), preds["p_click"].to_numpy(float)),
        "calibration_purchase": calibration_bins(holdout["converted"].to_numpy(float),
                                                 preds["p_purchase"].to_numpy(float)),
    }
