"""``rlopt ope``: estimate a policy's value from logged impressions, with confidence intervals."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from rlopt.cli._common import JsonOption, console, emit
from rlopt.ope.config import OPEConfig

_DEFAULTS = OPEConfig()


def _help(name: str) -> str:
    """The OPEConfig field's help (one text for the flag, the [ope] key and the docs)."""
    return OPEConfig.__dataclass_fields__[name].metadata["help"]

_HELP = """Estimate a policy's value (CTR by default) from another policy's logs, with 95% intervals.

Runs IPW, SNIPW, DM, DR, SNDR, Switch-DR and DR-shrinkage (OBP names and formulas) and prints each estimate with its bootstrap interval next to the logged policy's own mean.

Examples:

  rlopt ope --logs runs/sim/holdout.parquet --policy logged-best:epsilon=0.1

  rlopt ope --logs runs/sim/logs.parquet --catalog runs/sim/catalog.parquet --policy uniform --json

  rlopt ope --format obd --logs data/obd/random/all --policy bts:data/obd/bts/all

Policy specs: uniform | logged-best[:epsilon=E] | reward-model:DIR[:epsilon=E] | bts:PATH[:method=posterior|frequency] (OBD only).
"""


# The options that name what is evaluated on; every other option is an OPEConfig field (one to one,
# same names: tests/ope/test_ope_config.py checks it).
INPUT_OPTIONS = ("logs", "catalog", "fmt", "seed", "as_json")


def ope(
    logs: Annotated[Path, typer.Option("--logs", help="Impression log (Parquet/JSONL/CSV), or an OBD log with --format obd.")],
    policy: Annotated[str, typer.Option("--policy", help="Evaluation policy spec, e.g. uniform, logged-best:epsilon=0.1.")],
    catalog: Annotated[Path | None, typer.Option("--catalog", help="Catalog (default: catalog.parquet next to --logs).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="contract (the rlopt data contract) or obd (Open Bandit Dataset).")] = "contract",
    estimators: Annotated[str, typer.Option("--estimators", help="Comma-separated estimator names.")] = ",".join(_DEFAULTS.estimators),
    lambda_: Annotated[float, typer.Option("--lambda", "--lambda-", help=_help("lambda_"))] = _DEFAULTS.lambda_,
    reward: Annotated[str, typer.Option("--reward", help=_help("reward"))] = _DEFAULTS.reward,
    alpha: Annotated[float, typer.Option("--alpha", help=_help("alpha"))] = _DEFAULTS.alpha,
    interval: Annotated[str, typer.Option("--interval", help=_help("interval"))] = _DEFAULTS.interval,
    n_bootstrap_samples: Annotated[int, typer.Option("--n-bootstrap-samples", "--n-bootstrap", help=_help("n_bootstrap_samples"))] = _DEFAULTS.n_bootstrap_samples,
    n_folds: Annotated[int, typer.Option("--n-folds", help=_help("n_folds"))] = _DEFAULTS.n_folds,
    q_model: Annotated[str, typer.Option("--q-model", help=_help("q_model"))] = _DEFAULTS.q_model,
    max_eval_rows: Annotated[int, typer.Option("--max-eval-rows", help=_help("max_eval_rows"))] = _DEFAULTS.max_eval_rows,
    seed: Annotated[int, typer.Option("--seed", help="Seed for folds, Monte-Carlo and bootstrap.")] = 0,
    fallback_dm: Annotated[bool, typer.Option("--fallback-dm", help=_help("fallback_dm"))] = False,
    as_json: JsonOption = False,
) -> None:
    from rlopt.ope.evaluate import run_ope

    cfg = OPEConfig(
        policy=policy, estimators=[e.strip() for e in estimators.split(",") if e.strip()], lambda_=lambda_,
        reward=reward, alpha=alpha, interval=interval, n_bootstrap_samples=n_bootstrap_samples, n_folds=n_folds,
        q_model=q_model, fallback_dm=fallback_dm, max_eval_rows=max_eval_rows,
    )
    result = run_ope(cfg, logs, catalog=catalog, format=fmt, seed=seed)
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
