"""``rlopt simulate``: a simulated marketplace's catalog, logs, contexts and ground-truth summary."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rlopt.cli._common import JsonOption, check_out_dir, emit, err_console


def simulate_command(
    market: Annotated[Path | None, typer.Option("--market", help="Market config TOML (default: the built-in "
                                         "rlopt/market/default.toml).")] = None,
    impressions: Annotated[int, typer.Option("--impressions", "-n", help="Number of impressions to log.")]
    = 100_000,
    seed: Annotated[int, typer.Option("--seed", help="Seed for the traffic; same seed, identical files.")] = 0,
    out: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path("runs/sim"),
    as_json: JsonOption = False,
) -> None:
    """Simulate shoppers seeing copy: write catalog, train/holdout logs, placements, contexts, oracle.json.

    Example:

        rlopt simulate --market rlopt/market/default.toml --impressions 100000 --seed 0 --out runs/sim

    Writes catalog.parquet, logs.parquet, train.parquet, holdout.parquet (split by time),
    placements.json, contexts.jsonl (held-out generation contexts), oracle.json (the truth's
    click AUC on holdout, the logging policy's true CTR and purchase rate, the best pool copy's
    true CTR per context) and market.toml (the config, so evaluators can rebuild the oracle).
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from rlopt.market import DEFAULT_MARKET, Marketplace

    check_out_dir(out)  # fail before simulating, not after

    stages = ["sampling shoppers", "choosing copy", "scoring with the ground truth", "drawing responses",
              "sampling generation contexts", "summarizing the truth", "writing files"]
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=err_console,
                  disable=as_json, transient=True) as bar:
        task = bar.add_task("reading market config", total=len(stages))
        mkt = Marketplace.from_toml(market or DEFAULT_MARKET)

        def step(stage: str) -> None:
            bar.update(task, description=stage, completed=stages.index(stage))

        sim = mkt.simulate(impressions, seed=seed, progress=step)
        step("writing files")
        paths = sim.write(out)
        bar.update(task, completed=len(stages))
    summary = sim.oracle_summary
    result = {
        "out": str(out),
        "market": str(market or DEFAULT_MARKET),
        "seed": seed,
        "impressions": summary["n_impressions"],
        "train_rows": summary["n_train"],
        "holdout_rows": summary["n_holdout"],
        "contexts": summary["n_contexts"],
        "items": len(sim.catalog),
        "observed_ctr": summary["observed_ctr"],
        "observed_purchase_rate": summary["observed_purchase_rate"],
        "logging_true_ctr": summary["logging_policy"]["true_ctr"],
        "logging_true_purchase_rate": summary["logging_policy"]["true_purchase_rate"],
        "oracle_holdout_click_auc": summary["holdout_click_auc"],
        "best_pool_mean_ctr": summary["best_pool"]["mean_best_ctr"],
        "files": sorted(p.name for p in paths.values()),
    }
    emit(result, as_json, title="rlopt simulate")


def register(app: typer.Typer) -> None:
    """Add ``rlopt simulate`` to ``app``."""
    app.command("simulate", help=simulate_command.__doc__)(simulate_command)
