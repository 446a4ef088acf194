"""``rlopt reward train | eval | score``: the click / conversion reward model from the command line."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from rlopt.cli._common import EngineOpt, JsonOption, RayAddressOpt, emit

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


_TRAIN_EPILOG = (
    "Examples:\n\n"
    "  rlopt reward train --logs sim/train.parquet --catalog sim/catalog.parquet --holdout sim/holdout.parquet "
    "--out runs/reward\n\n"
    "  rlopt reward train --logs logs.csv --catalog items.csv --out runs/rm --mode lora --max-epochs 5 --seed 1 --json\n\n"
    "Every option after the inputs is a field of reward_models.TrainConfig and a key of an experiment's "
    "[reward] table under the same name. --epochs and --no-item-text are older spellings of --max-epochs and "
    "--no-use-item-text."
)
# Options that say what to train on and where to write; every other option of `rlopt reward train` is a
# field of TrainConfig (the keys of an experiment's [reward] table).
TRAIN_INPUTS = ("logs", "catalog", "out", "holdout", "placements", "on_error", "max_rows", "json")
TRAIN_ALIASES = {"--max-epochs": "--epochs", "--no-use-item-text": "--no-item-text"}  # older spellings


def train_parser():
    """The argument parser of ``rlopt reward train``: the inputs, then one option per field of
    :class:`reward_models.train.TrainConfig` (``--max-epochs`` and ``--max_epochs``); only the fields
    given come back (the class fills the rest)."""
    from reward_models.train import TrainConfig
    from rlopt.cli._dataclass_args import add_alias, dataclass_parser

    parser, inputs = dataclass_parser(
        TrainConfig, prog="rlopt reward train", usage="rlopt reward train --logs F --catalog F --out DIR [--FIELD VALUE ...]",
        description="Train a reward model on impression logs and save it to --out (fields of TrainConfig; the "
                    "same names are [reward] keys of an experiment).", epilog=_TRAIN_EPILOG,
        rule="rlopt reward train --help lists every option")
    for flag, alias in TRAIN_ALIASES.items():
        add_alias(parser, flag, alias)
    inputs.add_argument("--logs", required=True, help="Impression log (Parquet, JSONL or CSV).")
    inputs.add_argument("--catalog", required=True, help="Catalog (Parquet, JSONL or CSV).")
    inputs.add_argument("--out", required=True, help="Output model directory.")
    inputs.add_argument("--holdout", help="Holdout log, evaluated (never trained on).")
    inputs.add_argument("--placements", help="Placements (TOML/JSON) to validate against.")
    inputs.add_argument("--on-error", "--on_error", dest="on_error", default="fail", choices=("fail", "quarantine"),
                        help="fail | quarantine (bad log rows).")
    inputs.add_argument("--max-rows", "--max_rows", dest="max_rows", type=int, default=None,
                        help="Train on a seeded uniform sample of at most this many log rows (0 = every row). "
                             "Default: every row of a log that fits in memory; 1,000,000 of a folder of shards or "
                             "a large file (validated in batches; the JSON's 'input' says what was done).")
    inputs.add_argument("--json", action="store_true", help="Print machine-readable JSON instead of a table.")
    return parser


@reward_app.command("train", add_help_option=False, context_settings={
    "allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []})
def train_cmd(ctx: typer.Context) -> None:
    """Train a reward model on impression logs and save it to --out (every TrainConfig field is an option:
    rlopt reward train --help)."""
    args = list(ctx.args)
    parser = train_parser()
    if "-h" in args or "--help" in args:
        parser.print_help()
        raise typer.Exit(0)
    namespace, extra = parser.parse_known_args(args)
    if extra:
        from reward_models.train import TrainConfig
        from rlopt.cli._dataclass_args import field_defaults, unknown_option

        raise unknown_option(next((a for a in extra if a.startswith("-")), extra[0]),
                             [*field_defaults(TrainConfig), *TRAIN_INPUTS], command="rlopt reward train",
                             rule="options are the inputs and the fields of TrainConfig")
    given = vars(namespace)
    inputs = {k: given.pop(k) for k in TRAIN_INPUTS}
    _train(inputs, given)


def _train(inputs: dict[str, Any], fields: dict[str, Any]) -> None:
    """``rlopt reward train`` once its options are parsed: ``inputs`` (TRAIN_INPUTS) and the given
    ``TrainConfig`` ``fields``."""
    from reward_models import train_reward_model
    from reward_models.train import TrainConfig
    from rlopt.cli._common import check_out_dir
    from rlopt.data.validate import quarantine_path_for

    as_json, on_error = inputs["json"], inputs["on_error"]
    logs, catalog, out = Path(inputs["logs"]), Path(inputs["catalog"]), Path(inputs["out"])
    placements = None if inputs["placements"] is None else Path(inputs["placements"])
    fields.setdefault("progress", not as_json)
    config = TrainConfig(**fields)  # bad values fail before anything is read
    check_out_dir(out)
    start = time.perf_counter()
    from reward_models.inputs import read_training_logs
    from rlopt.data import read_catalog

    # Logs larger than memory are validated in batches and sampled (seeded); result["input"] says so.
    cat = read_catalog(catalog, on_error=on_error,  # type: ignore[arg-type]
                       quarantine_path=quarantine_path_for(out / f"catalog-{catalog.name}"))
    train_logs = read_training_logs(logs, cat, placements, on_error=on_error,
                                    quarantine_path=quarantine_path_for(out / logs.name),
                                    max_rows=inputs["max_rows"], seed=config.seed)
    held = None
    if inputs["holdout"] is not None:
        holdout = Path(inputs["holdout"])
        held = read_training_logs(holdout, cat, placements, on_error=on_error,
                                  quarantine_path=quarantine_path_for(out / f"holdout-{holdout.name}"),
                                  max_rows=inputs["max_rows"], seed=config.seed)
    model = train_reward_model(train_logs, cat, holdout=held, source=str(logs), config=config)
    mode, encoder, precision = config.mode, config.encoder, config.precision
    from reward_models.card import data_summary, save_with_card

    save_with_card(model, out, data_summary([("training logs", logs, train_logs), ("catalog", catalog, cat),
                                             *([("holdout logs", inputs["holdout"], held)] if held is not None else [])]))
    metrics = model.config["metrics"]
    result = {"model_dir": str(out), "mode": mode, "encoder": encoder, "precision": precision,
              "encoder_precision": model.config["encoder_precision"], "n_train": metrics["n_train"],
              "n_valid": metrics["n_valid"], "n_calib": metrics["n_calib"], "best_epoch": metrics["best_epoch"],
              "calibration_method": metrics["calibration_method"],
              "input": train_logs.attrs["input"],
              **({} if held is None else {"holdout_input": held.attrs["input"]}),
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
    history: Annotated[Path | None, typer.Option("--history", help="Earlier logs of the same shoppers (e.g. the training logs): a model with exposure inputs counts each --logs row's recent sightings over them too, as `reward train --holdout` does.")] = None,
    placements: PlacementsOpt = None,
    on_error: OnErrorOpt = "fail",
    as_json: JsonOption = False,
) -> None:
    """AUC, log-loss and ECE (click and purchase) on logged rows; the oracle's AUC on simulator logs.

    Click predictions include the slot term (logged rows happened in a slot). Without --history, the
    exposure counts of a model that reads them start from each shopper's first row in --logs.
    Example: rlopt reward eval --model runs/reward --logs sim/holdout.parquet --catalog sim/catalog.parquet --json
    """
    from reward_models import RewardModel, evaluate_reward_model

    reward_model = RewardModel.from_pretrained(model)
    frame, cat = _read_inputs(logs, catalog, placements, on_error)
    if history is not None and reward_model.config.get("exposure_window"):
        from reward_models.exposure import add_exposure

        past, _ = _read_inputs(history, catalog, placements, on_error)
        frame = add_exposure(frame, cat, history=past, window=int(reward_model.config["exposure_window"]))
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
    copies: Annotated[Path, typer.Option("--copies", help="Copies (item_id, segment, placement, copy_text): a CSV, "
                                         "JSONL or Parquet file, or a folder of Parquet shards (a folder or a large "
                                         "file is checked whole, then scored batch by batch in bounded memory).")],
    catalog: CatalogOpt,
    out: Annotated[Path, typer.Option("--out", help="Output table (.jsonl, .parquet or .csv).")],
    w_click: Annotated[float | None, typer.Option("--w-click", help="Reward weight on P(click).")] = None,
    w_purchase: Annotated[float | None, typer.Option("--w-purchase", help="Reward weight on P(purchase).")] = None,
    w_revenue: Annotated[float | None, typer.Option("--w-revenue", help="Reward weight on revenue / price scale.")] = None,
    precision: Annotated[str | None, typer.Option("--precision", help="Override the saved encoder precision: auto | fp32 | bf16.")] = None,
    runtime: Annotated[str | None, typer.Option("--runtime", help="Override the saved encoder runtime: torch | onnx | onnx-int8 (ONNX Runtime on the CPU; exported once per encoder and cached).")] = None,
    placements: PlacementsOpt = None,
    engine: EngineOpt = "local",
    ray_address: RayAddressOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Score copy: adds p_click, p_purchase, expected_revenue and reward (no slot bias) to each row.

    Example: rlopt reward score --model runs/reward --copies copies.jsonl --catalog sim/catalog.parquet --out scored.jsonl

    With --engine ray the rows are scored in chunks on a pool of Ray actors, each loading the model once.
    """
    from dataclasses import replace

    import pandas as pd

    from reward_models import RewardModel
    from rlopt.cli._common import check_out_file
    from rlopt.data import read_catalog, read_copies
    from rlopt.data.io import table_format
    from rlopt.data.placements import resolve_placements
    from rlopt.data.stream import should_stream, stream_valid_rows
    from rlopt.engine import check_engine_options, make_engine
    from rlopt.engine.scoring import CopyScorer, score_on_engine

    check_engine_options(engine, ray_address)
    table_format(check_out_file(out))  # a bad --out fails before the model loads
    start = time.perf_counter()
    reward_model = RewardModel.from_pretrained(model, precision=precision, runtime=runtime)
    cat = read_catalog(catalog)
    if should_stream(copies):  # a folder of shards or a large file: checked whole, then scored batch by batch
        checked, frame_or_parts = stream_valid_rows(copies, "copies", catalog_ids=pd.Index(cat["item_id"]),
                                                    placements=resolve_placements(placements), distinct=["copy_text"])
        distinct, reading = checked.distinct.get("copy_text", 0), {"read": f"in {checked.batches} batches (streamed)"}
    else:
        frame_or_parts = read_copies(copies, cat, placements)
        distinct, reading = int(frame_or_parts["copy_text"].nunique()), {}
    given = {"click": w_click, "purchase": w_purchase, "revenue": w_revenue}
    weights = replace(reward_model.weights, **{k: v for k, v in given.items() if v is not None})
    # Local: the model loaded above scores the chunks here. Ray: a pool of actors, one model each.
    with make_engine(engine, address=ray_address) as runner:
        scorer = CopyScorer.loaded(reward_model, cat) if engine == "local" else None
        done = score_on_engine(frame_or_parts, cat, model, runner, out=out, weights=weights, precision=precision,
                               runtime=runtime, source=str(copies), scorer=scorer)
        ran_on = runner.describe() if engine == "ray" else {}
    emit({"out": str(out), "rows": done["rows"], "distinct_copies": distinct, **reading,
          "mean_p_click": done["mean_p_click"], "mean_p_purchase": done["mean_p_purchase"],
          "mean_reward": done["mean_reward"], "weights": weights.to_dict(),
          "encoder_precision": done["encoder_precision"], "encoder_runtime": reward_model.encoder.runtime,
          "wall_s": round(time.perf_counter() - start, 2), **ran_on}, as_json, "reward score")


def register(app: typer.Typer) -> None:
    """Add ``rlopt reward`` to ``app``."""
    app.add_typer(reward_app, name="reward")
