"""``rlopt reward train | eval | score``: the click / conversion reward model from the command line."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from rlopt.cli._common import JsonOption, emit

reward_app = typer.Typer(help="Train, evaluate and apply the click / purchase reward model.", no_args_is_help=True)

LogsOpt = Annotated[Path, typer.Option("--logs", help="Impression log (Parquet, JSONL or CSV).")]
CatalogOpt = Annotated[Path, typer.Option("--catalog", help="Catalog (Parquet, JSONL or CSV).")]
PlacementsOpt = Annotated[Path | None, typer.Option("--placements", help="Placements (TOML/JSON) to validate against.")]
OnErrorOpt = Annotated[str, typer.Option("--on-error", help="fail | quarantine (bad log rows).")]


def _read_inputs(logs: Path, catalog: Path, placements: Path | None, on_error: str,
                 quarantine_dir: Path | None = None):
    """Validated logs and catalog; with ``quarantine_dir`` the bad rows of each go there (not next to the input)."""
    from rlopt.data import read_catalog, read_logs
    from rlopt.data.validate import quarantine_path_for

    def where(path: Path, prefix: str = "") -> Path | None:
        return None if quarantine_dir is None else quarantine_path_for(quarantine_dir / f"{prefix}{path.name}")

    cat = read_catalog(catalog, on_error=on_error, quarantine_path=where(catalog, "catalog-"))  # type: ignore[arg-type]
    return read_logs(logs, cat, placements=placements, on_error=on_error, quarantine_path=where(logs)), cat


def _quarantine_summary(**frames: Any) -> dict[str, Any]:
    """Rows set aside per input and where they went (``{}`` entries when nothing was set aside)."""
    rows = {name: int(f.attrs.get("validation", {}).get("rows_quarantined", 0)) for name, f in frames.items()}
    files = {name: f.attrs["validation"]["quarantine_path"] for name, f in frames.items()
             if f.attrs.get("validation", {}).get("quarantine_path")}
    return {"rows_quarantined": sum(rows.values()), "rows_quarantined_by_input": rows, "quarantine_files": files}


def _flat(prefix: str, metrics: dict[str, Any]) -> dict[str, Any]:
    return {f"{prefix}{k}": v for k, v in metrics.items() if not isinstance(v, (dict, list))}


@reward_app.command("train")
def train_cmd(
    logs: LogsOpt,
    catalog: CatalogOpt,
    out: Annotated[Path, typer.Option("--out", help="Output model directory.")],
    encoder: Annotated[str, typer.Option("--encoder", help="default (packaged MiniLM), HF id or local path.")] = "default",
    holdout: Annotated[Path | None, typer.Option("--holdout", help="Holdout log, evaluated (never trained on).")] = None,
    mode: Annotated[str, typer.Option("--mode", help="frozen (fast CPU default) | lora | full.")] = "frozen",
    calibration: Annotated[str, typer.Option("--calibration", help="auto (chosen by cross-validated log-loss on the latest 10% of --logs) | platt | temperature | isotonic | none.")] = "auto",
    precision: Annotated[str, typer.Option("--precision", help="Encoder precision without gradients: auto (bf16 where the CPU/GPU does bf16 natively, else fp32) | fp32 | bf16. Saved with the model.")] = "auto",
    ipw_clip: Annotated[float | None, typer.Option("--ipw-clip", help="Clipped IPW: weight 1/max(propensity, CLIP).")] = None,
    epochs: Annotated[int, typer.Option("--epochs", help="Maximum epochs (early stopping on log-loss).")] = 30,
    no_item_text: Annotated[bool, typer.Option("--no-item-text", help="Do not encode the item's title.")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    placements: PlacementsOpt = None,
    on_error: OnErrorOpt = "fail",
    as_json: JsonOption = False,
) -> None:
    """Train a reward model on impression logs and save it to --out.

    Example: rlopt reward train --logs sim/train.parquet --catalog sim/catalog.parquet
    --holdout sim/holdout.parquet --out runs/reward
    """
    from reward_models import train_reward_model
    from rlopt.cli._common import check_out_dir
    from rlopt.data.validate import quarantine_path_for

    check_out_dir(out)
    start = time.perf_counter()
    train_logs, cat = _read_inputs(logs, catalog, placements, on_error, quarantine_dir=out)
    held = None
    if holdout is not None:
        from rlopt.data import read_logs

        held = read_logs(holdout, cat, placements=placements, on_error=on_error,
                         quarantine_path=quarantine_path_for(out / f"holdout-{holdout.name}"))
    model = train_reward_model(train_logs, cat, holdout=held, source=str(logs), encoder=encoder, mode=mode,
                               calibration=calibration, precision=precision, ipw_clip=ipw_clip, max_epochs=epochs,
                               use_item_text=not no_item_text, seed=seed, progress=not as_json)
    model.save_pretrained(out)
    metrics = model.config["metrics"]
    result = {"model_dir": str(out), "mode": mode, "encoder": encoder, "precision": precision,
              "encoder_precision": model.config["encoder_precision"], "n_train": metrics["n_train"],
              "n_valid": metrics["n_valid"], "n_calib": metrics["n_calib"], "best_epoch": metrics["best_epoch"],
              "calibration_method": metrics["calibration_method"],
              **_quarantine_summary(catalog=cat, logs=train_logs, **({} if held is None else {"holdout": held})),
              "wall_s": round(time.perf_counter() - start, 2)}
    result.update(_flat("valid_", metrics["valid"]))
    if "holdout" in metrics:
        result.update(_flat("holdout_", metrics["holdout"]))
    result["scorer"] = metrics["scorer"]
    result["scorer_cv_logloss"] = metrics["scorer_selection"]["cv_logloss"]
    for component in ("encoder", "baseline", "blend"):
        if f"holdout_{component}" in metrics:
            part = metrics[f"holdout_{component}"]
            result.update({f"{component}_click_auc": part["click_auc"], f"{component}_click_logloss": part["click_logloss"]})
    result.update(_health_fields(model.config["health"], as_json))
    emit(result, as_json, "reward train")
    _warn_unhealthy(model.config["health"])


def _health_fields(health: dict[str, Any], as_json: bool) -> dict[str, Any]:
    """``{"health": {...}}`` for --json; flat ``health_*`` rows for the table."""
    if as_json:
        return {"health": health}

    def num(key: str, fmt: str = ".3f") -> str:
        return "n/a" if health.get(key) is None else format(health[key], fmt)

    return {"health": health["status"],
            "health_click_auc": f"{num('auc')} [{num('auc_low')}, {num('auc_high')}] on {health['rows']}",
            "health_baseline_auc": num("baseline_auc"), "health_score_std": num("score_std", ".4f"),
            "health_calibration_slope": num("calibration_slope", ".2f"),
            "health_calibration": health["calibration"]["method"]
            + "".join(f" ({r['method']} rejected: {r['reason']})" for r in health["calibration"]["rejected"]),
            "health_min_detectable_lift": num("min_detectable_lift", ".1%"),
            "health_reasons": "; ".join(health["reasons"] + health.get("warnings", [])) or "-"}


def _warn_unhealthy(health: dict[str, Any]) -> None:
    from reward_models.health import describe

    if health["status"] != "ok" or health.get("warnings"):
        typer.echo(f"warning: {describe(health)}", err=True)


@reward_app.command("eval")
def eval_cmd(
    model: Annotated[Path, typer.Option("--model", help="Reward model directory.")],
    logs: LogsOpt,
    catalog: CatalogOpt,
    market_dir: Annotated[Path | None, typer.Option("--market-dir", help="Simulator output dir with market.toml (default: the logs' folder if it has one).")] = None,
    no_oracle: Annotated[bool, typer.Option("--no-oracle", help="Skip the oracle comparison.")] = False,
    placements: PlacementsOpt = None,
    on_error: OnErrorOpt = "fail",
    as_json: JsonOption = False,
) -> None:
    """AUC, log-loss and ECE (click and purchase) on logged rows; the oracle's AUC on simulator logs.

    Click predictions include the slot term (logged rows happened in a slot).
    Example: rlopt reward eval --model runs/reward --logs sim/holdout.parquet --catalog sim/catalog.parquet --json
    """
    from reward_models import RewardModel, evaluate_reward_model

    reward_model = RewardModel.from_pretrained(model)
    frame, cat = _read_inputs(logs, catalog, placements, on_error)
    metrics, _ = evaluate_reward_model(reward_model, frame, cat, source=str(logs))
    result: dict[str, Any] = {"model_dir": str(model), "logs": str(logs), "scorer": reward_model.combiner.choice,
                              **metrics}
    from reward_models.train import components

    for component in components(reward_model):  # each scorer the model holds, on the same rows
        part, _ = evaluate_reward_model(reward_model, frame, cat, source=str(logs), component=component)
        result.update({f"{component}_{k}": part[k] for k in ("click_auc", "click_logloss", "purchase_auc",
                                                             "purchase_logloss")})
    if not no_oracle:
        from reward_models.oracle_compare import compare_with_oracle, find_market_dir

        sim_dir = market_dir or find_market_dir(logs)
        if sim_dir is not None:
            result.update(compare_with_oracle(sim_dir, frame, metrics))
    emit(result, as_json, "reward eval")


@reward_app.command("score")
def score_cmd(
    model: Annotated[Path, typer.Option("--model", help="Reward model directory.")],
    copies: Annotated[Path, typer.Option("--copies", help="Generated copies (JSONL: item_id, segment, placement, copy_text).")],
    catalog: CatalogOpt,
    out: Annotated[Path, typer.Option("--out", help="Output table (.jsonl, .parquet or .csv).")],
    w_click: Annotated[float | None, typer.Option("--w-click", help="Reward weight on P(click).")] = None,
    w_purchase: Annotated[float | None, typer.Option("--w-purchase", help="Reward weight on P(purchase).")] = None,
    w_revenue: Annotated[float | None, typer.Option("--w-revenue", help="Reward weight on revenue / price scale.")] = None,
    precision: Annotated[str | None, typer.Option("--precision", help="Override the saved encoder precision: auto | fp32 | bf16.")] = None,
    placements: PlacementsOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Score copy: adds p_click, p_purchase, expected_revenue and reward (no slot bias) to each row.

    Example: rlopt reward score --model runs/reward --copies copies.jsonl --catalog sim/catalog.parquet --out scored.jsonl
    """
    from dataclasses import replace

    from reward_models import RewardModel
    from rlopt.cli._common import check_out_file
    from rlopt.data import read_catalog, read_copies, write_table
    from rlopt.data.io import table_format

    table_format(check_out_file(out))  # a bad --out fails before the model loads
    start = time.perf_counter()
    reward_model = RewardModel.from_pretrained(model, precision=precision)
    cat = read_catalog(catalog)
    frame = read_copies(copies, cat, placements)
    given = {"click": w_click, "purchase": w_purchase, "revenue": w_revenue}
    weights = replace(reward_model.weights, **{k: v for k, v in given.items() if v is not None})
    scored = reward_model.score(frame, cat, weights=weights, source=str(copies))
    table = frame.drop(columns=[c for c in scored.columns if c in frame.columns]).join(scored)
    write_table(table, out)
    elapsed = time.perf_counter() - start
    emit({"out": str(out), "rows": len(table), "distinct_copies": int(frame["copy_text"].nunique()),
          "mean_p_click": float(scored["p_click"].mean()), "mean_p_purchase": float(scored["p_purchase"].mean()),
          "mean_reward": float(scored["reward"].mean()), "weights": weights.to_dict(),
          "encoder_precision": reward_model.encoder.compute_precision, "wall_s": round(elapsed, 2)}, as_json, "reward score")


def register(app: typer.Typer) -> None:
    """Add ``rlopt reward`` to ``app``."""
    app.add_typer(reward_app, name="reward")
