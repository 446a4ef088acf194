"""``rlopt ope``: estimate a policy's value from logged impressions, with confidence intervals."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from rlopt.cli._common import JsonOption, console, emit

_HELP = """Estimate a policy's value (CTR by default) from another policy's logs, with 95% intervals.

Runs IPW, SNIPW, DM, DR, SNDR, Switch-DR and DR-shrinkage (OBP names and formulas) and prints each estimate with its bootstrap interval next to the logged policy's own mean.

Examples:

  rlopt ope --logs runs/sim/holdout.parquet --policy logged-best:epsilon=0.1

  rlopt ope --logs runs/sim/logs.parquet --catalog runs/sim/catalog.parquet --policy uniform --json

  rlopt ope --format obd --logs data/obd/random/all --policy bts:data/obd/bts/all

Policy specs: uniform | logged-best[:epsilon=E] | reward-model:DIR[:epsilon=E] | bts:PATH[:method=posterior|frequency] (OBD only).
"""


def ope(
    logs: Annotated[Path, typer.Option("--logs", help="Impression log (Parquet/JSONL/CSV), or an OBD log with --format obd.")],
    policy: Annotated[str, typer.Option("--policy", help="Evaluation policy spec, e.g. uniform, logged-best:epsilon=0.1.")],
    catalog: Annotated[Path | None, typer.Option("--catalog", help="Catalog (default: catalog.parquet next to --logs).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="contract (the rlopt data contract) or obd (Open Bandit Dataset).")] = "contract",
    estimators: Annotated[str, typer.Option("--estimators", help="Comma-separated estimator names.")] = "ipw,snipw,dm,dr,sndr,switch-dr,dr-os",
    lambda_: Annotated[float, typer.Option("--lambda", help="lambda_ of switch-dr and dr-os.")] = 100.0,
    reward: Annotated[str, typer.Option("--reward", help="Contract logs: clicked, converted or revenue.")] = "clicked",
    alpha: Annotated[float, typer.Option("--alpha", help="1 - confidence level.")] = 0.05,
    interval: Annotated[str, typer.Option("--interval", help="Bootstrap interval: percentile or bca (bias-corrected and accelerated; better with heavy weights).")] = "percentile",
    n_bootstrap: Annotated[int, typer.Option("--n-bootstrap", help="Bootstrap resamples.")] = 1000,
    n_folds: Annotated[int, typer.Option("--n-folds", help="Cross-fitting folds of the reward model.")] = 5,
    q_model: Annotated[str, typer.Option("--q-model", help="Contract logs' reward model for DM/DR: text (logistic on context + copy words) or ctr (empirical CTR per copy).")] = "text",
    seed: Annotated[int, typer.Option("--seed", help="Seed for folds, Monte-Carlo and bootstrap.")] = 0,
    fallback_dm: Annotated[bool, typer.Option("--fallback-dm", help="If propensities are missing or zero, use the direct method alone (and say so) instead of failing.")] = False,
    as_json: JsonOption = False,
) -> None:
    from rlopt.ope.evaluate import OPEConfig, run_ope

    cfg = OPEConfig(
        logs=logs, policy=policy, format=fmt, catalog=catalog,
        estimators=tuple(e.strip() for e in estimators.split(",") if e.strip()), lambda_=lambda_,
        reward=reward, alpha=alpha, interval=interval, n_bootstrap_samples=n_bootstrap, n_folds=n_folds, q_model=q_model, seed=seed,
        fallback_dm=fallback_dm,
    )
    result = run_ope(cfg)
    if as_json:
        emit(result, True)
        return
    level = f"{100 * result['confidence_level']:.0f}%"
    table = Table(title=f"OPE of {result['policy']} on {result['logs']} ({result['n_rounds']} rows)")
    for col in ("estimator", "estimate", f"{level} low", f"{level} high", "vs logged"):
        table.add_column(col, justify="left" if col == "estimator" else "right")
    for row in result["estimates"]:
        table.add_row(row["estimator"], f"{row['estimate']:.6g}", f"{row['low']:.6g}", f"{row['high']:.6g}",
                      f"{row['relative_to_logged']:.3f}x")
    table.add_row("logged (on-policy)", f"{result['on_policy_value']:.6g}", "", "", "1.000x", style="dim")
    console.print(table)
    for note in result["notes"]:
        console.print(f"note: {note}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``rlopt ope`` to ``app``."""
    app.command("ope", help=_HELP)(ope)
