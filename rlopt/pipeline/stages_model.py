"""Stages ``tuning`` and ``generation``: tune the generator, then write copy with base and tuned.

Both call ``rlopt.tuning`` / ``rlopt.generation`` public functions (:func:`rlopt.tuning.api.tune_generator`,
:func:`rlopt.generation.sample.generate_copies`); the oracle enters only through
``rlopt.tuning.evaluate.evaluate_copies`` (evaluation), never the tuning itself.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reward_models import RewardModel
from rlopt.data import read_placements, read_table, write_jsonl, write_table
from rlopt.generation.checks import check_copies, checks_summary
from rlopt.generation.claims import ClaimSupport
from rlopt.generation.fewshot import add_examples, verbatim_rate
from rlopt.generation.models import resolve_generator
from rlopt.generation.rerank import reward_model_scorer
from rlopt.market import Marketplace
from rlopt.market.oracle import Oracle
from rlopt.pipeline.config import data_source
from rlopt.pipeline.logged_compare import compare, context_values, lift_and_sample_size, logged_options
from rlopt.pipeline.runner import StageContext
from rlopt.tuning.api import tune_generator
from rlopt.tuning.evaluate import evaluate_copies, paired_ratio


def _market_or_none(ctx: StageContext):
    """The simulated market (from ``data/market.toml``) or None for external logs."""
    path = ctx.dir("data") / "market.toml"
    if not path.is_file():
        return None
    return Marketplace.from_toml(path)


def _validated(ctx: StageContext) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict]:
    src = ctx.dir("validate")
    return (read_table(src / "catalog.parquet"), read_table(src / "train.parquet"),
            read_table(src / "holdout.parquet"), read_placements(src / "placements.json"))


def stage_tuning(ctx: StageContext) -> dict[str, Any]:
    """Tune the generator with DPO (pairs mined from the logs) or GRPO/RLOO (reward-model reward).

    Outputs ``adapter/`` (LoRA adapter + tokenizer + ``tuning.json`` + curves CSV). The stage is
    resumable: a crashed attempt's checkpoints in ``adapter/checkpoint-*`` are picked up.
    """
    cfg = ctx.config.tuning
    catalog, train, _, placements = _validated(ctx)
    market = _market_or_none(ctx)
    out = ctx.work_dir / "adapter"
    tcfg = cfg.build(seed=ctx.seed)  # the preset, the stage's seed, then the [tuning] keys
    ctx.log(f"[tuning] {cfg.method} ({cfg.preset} preset, {tcfg.max_steps} steps) on {cfg.generator}")
    if cfg.method in ("grpo", "rloo"):  # online RL amplifies a reward model without signal: refuse (exit 2)
        from reward_models.health import require_usable

        health = require_usable(ctx.dir("reward") / "model", allow_weak=ctx.config.reward.allow_weak, echo=True)
        if health is not None and health["status"] != "ok":
            ctx.log(f"[tuning] reward model health {health['status']} (allowed): " + "; ".join(health["reasons"]))
    summary = tune_generator(cfg.method, logs=train, catalog=catalog, placements=placements, out=out,
                             reward_model=ctx.dir("reward") / "model" if cfg.needs_reward_model else None,
                             segments=market.segments if market is not None else {}, config=tcfg,
                             threads=ctx.config.run.threads)
    for ckpt in out.glob("checkpoint-*"):  # finished: the adapter is saved; checkpoints are dead weight
        shutil.rmtree(ckpt)
    curves = _read_curves(out)
    return {"data_source": data_source(ctx.config), "method": cfg.method, "preset": cfg.preset, "generator": cfg.generator,
            "steps": summary.get("steps"), "metrics": summary.get("metrics", {}),
            "data": summary.get("data", {}), "device": summary.get("device"),
            "train_wall_s": summary.get("wall_seconds"), "curves": curves}


def _read_curves(adapter: Path) -> dict[str, list[float]]:
    """The training curves the tuning wrote (``*.csv`` next to the adapter) as columns, thinned
    to at most 200 points (enough for a plot, small enough for ``stage.json``)."""
    files = sorted(adapter.glob("*curve*.csv")) or sorted(adapter.glob("*.csv"))
    if not files:
        return {}
    frame = pd.read_csv(files[0])
    if len(frame) > 200:
        frame = frame.iloc[np.linspace(0, len(frame) - 1, 200).astype(int)]
    keep = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    return {c: [None if pd.isna(v) else float(v) for v in frame[c]] for c in keep}


def generation_contexts(holdout_contexts: pd.DataFrame, catalog: pd.DataFrame, placements: dict,
                        segments: list[str], rng: np.random.Generator) -> pd.DataFrame:
    """One context per (item, placement) pair of the catalog: the held-out context's segment
    when one exists for that pair, else a random segment.

    Every pair is covered because the simulated A/B test shows copy for every item in every
    placement; a pair without copy would have nothing to show.
    """
    seen = holdout_contexts.drop_duplicates(["item_id", "placement"]).set_index(["item_id", "placement"])["segment"]
    rows = []
    for item in catalog["item_id"].astype(str):
        for placement in placements:
            seg = seen.get((item, placement))
            rows.append({"item_id": item, "segment": str(seg) if seg is not None else str(rng.choice(segments)),
                         "placement": placement})
    return pd.DataFrame(rows)


def requested_contexts(contexts: pd.DataFrame, max_contexts: int, rng: np.random.Generator) -> tuple[pd.DataFrame, int]:
    """The contexts asked for (distinct ``item_id, segment, placement``), at most ``max_contexts``
    of them (0 = all) chosen by seeded sampling without replacement, kept in their order.

    Returns ``(contexts, n_available)``.

    >>> ctx = pd.DataFrame({"item_id": list("abcd"), "segment": "s", "placement": "p"})
    >>> out, n = requested_contexts(ctx, 2, np.random.default_rng(0))
    >>> len(out), n
    (2, 4)
    """
    ctx = contexts[["item_id", "segment", "placement"]].astype(str).drop_duplicates().reset_index(drop=True)
    if max_contexts and len(ctx) > max_contexts:
        return ctx.iloc[np.sort(rng.choice(len(ctx), max_contexts, replace=False))].reset_index(drop=True), len(ctx)
    return ctx, len(ctx)


def _generate_with_progress(ctx: StageContext, name: str, model, tokenizer, contexts: pd.DataFrame,
                            catalog: pd.DataFrame, placements: dict, seg_desc, scorer=None, *,
                            engine=None, spec=None, claim_support=None) -> pd.DataFrame:
    """:func:`generate_copies` over about ten chunks of ``contexts``, one progress line each (done /
    total, elapsed, time left at the pace so far). Chunk ``[start, start + step)`` samples under
    seed ``ctx.seed + start``: ``step`` is at least the chunk's batch count, so no two batches of the
    stage share a seed. The chunks' ``attrs`` counts (compliance, quality, title fallbacks) are summed.
    With a ``scorer`` and ``[generation] best_of`` > 1 each shown copy is the scorer's best of
    ``best_of`` samples (:func:`rlopt.generation.rerank.best_of_n`); contexts with an ``examples``
    column (few-shot) get copies marked ``verbatim_example``.

    With an ``engine`` (``[run] engine = "ray"``) and a :class:`rlopt.engine.generation.GeneratorSpec`
    (``model`` unused) the chunks run on the engine's workers, each loading the generator once
    (:func:`rlopt.engine.generation.generate_on_engine`): the same chunks and seeds, so the same copies."""
    from rlopt.engine.generation import CopyGenerator, generate_on_engine
    from rlopt.engine.local import LocalEngine

    cfg = ctx.config.generation
    n = len(contexts)
    step = max(cfg.batch_size, -(-n // 10))
    ranked = scorer is not None or (spec is not None and spec.reward_model is not None)
    call = dict(num=cfg.num_samples, best_of=cfg.best_of if ranked else 1,
                batch_size=cfg.batch_size, temperature=cfg.temperature, generator_name=name,
                compliance=cfg.compliance, resample=cfg.resample, claim_support=claim_support)
    if engine is not None and spec is not None:
        chunks = generate_on_engine(engine, contexts, seed=ctx.seed, chunk=step, spec=spec, catalog=catalog,
                                    placements=placements, segments=seg_desc, **call)
    else:
        loaded = CopyGenerator.loaded(model, tokenizer, catalog, placements, seg_desc, scorer)
        chunks = generate_on_engine(LocalEngine(), contexts, seed=ctx.seed, chunk=step, loaded=loaded,
                                    threads=ctx.config.run.threads, **call)
    parts, t0 = [], time.perf_counter()
    for chunk in chunks:
        part = chunk.copies
        part.attrs = dict(chunk.counts)
        parts.append(part)
        done, elapsed = min(chunk.start + step, n), time.perf_counter() - t0
        ctx.log(f"[generation] {name}: {done}/{n} contexts ({elapsed:.0f} s, ~{elapsed / done * (n - done):.0f} s left)")
    frame = pd.concat(parts, ignore_index=True)
    frame.attrs = {key: dict(sum((Counter(p.attrs.get(key, {})) for p in parts), Counter()))
                   for key in ("compliance", "quality", "resample")}
    frame.attrs["title_fallbacks"] = sum(int(p.attrs.get("title_fallbacks", 0)) for p in parts)
    frame.attrs["rerank_no_eligible"] = sum(int(p.attrs.get("rerank", {}).get("no_eligible", 0)) for p in parts)
    return frame


def copy_checks(frames: dict[str, pd.DataFrame], catalog: pd.DataFrame, support: ClaimSupport,
                placements: dict[str, Any] | None = None) -> dict[str, Any]:
    """Per generator, what a marketer checks before shipping the shown copy, without any truth
    (rlopt.generation.checks: misleading discounts, claims ``support`` does not back, defects, over-limit
    copy, one template everywhere), and how many samples [generation] claim_check kept from being shown."""
    return {name: {**checks_summary(check_copies(frame, catalog, support, placements), catalog),
                   # samples [generation] claim_check rejected (first round; resampled or the title shown)
                   "unbacked_rejected": int(frame.attrs.get("quality", {}).get("unbacked", 0))}
            for name, frame in frames.items()}


def _steering(ctx: StageContext, contexts: pd.DataFrame, catalog: pd.DataFrame,
              train: pd.DataFrame) -> tuple[pd.DataFrame, Any, dict[str, Any]]:
    """``[generation] few_shot`` / ``best_of``: the contexts with their logged-copy examples (from the
    training logs, ranked by the reward model's P(click) when there is one), the reranking scorer
    (None: no reranking) and what was applied, for the summary. Both generators get the same: the
    tuned / base ratio stays a like-for-like comparison."""
    cfg = ctx.config.generation
    steering: dict[str, Any] = {"best_of": cfg.best_of, "rerank_metric": cfg.rerank_metric, "few_shot": cfg.few_shot}
    if cfg.best_of <= 1 and not cfg.few_shot:
        return contexts, None, steering
    model = RewardModel.from_pretrained(ctx.dir("reward") / "model") if ctx.has("reward") else None
    scorer = None
    if cfg.best_of > 1 and model is None:  # nothing to rank with: say so, generate plainly
        steering["best_of"] = 1
        steering["note"] = "best_of needs the reward stage's model, which did not finish: no reranking"
        ctx.log(f"[generation] {steering['note']}")
    elif cfg.best_of > 1:
        scorer = reward_model_scorer(model, catalog, cfg.rerank_metric)
    if cfg.few_shot:
        contexts = add_examples(contexts, train, catalog, k=cfg.few_shot,
                                scorer=None if model is None else reward_model_scorer(model, catalog, "p_click"))
        steering["contexts_with_examples"] = int(sum(bool(e) for e in contexts["examples"]))
        steering["examples_ranked_by"] = "reward model P(click)" if model is not None else "smoothed observed CTR"
    return contexts, scorer, steering


def proxy_model(ctx: StageContext, engine: Any = None) -> Any:
    """The reward model that scores generated and logged copy as the proxy, or None without one.

    Loaded in this process (:class:`reward_models.RewardModel`), or with an ``engine`` (``[run]
    engine = "ray"``) a :class:`rlopt.engine.scoring.RewardModelOnEngine`, whose ``score`` runs on
    the engine's workers, each loading the model once; both give the same scores (within 1e-6).
    """
    if not ctx.has("reward"):
        return None
    model_dir = ctx.dir("reward") / "model"
    if engine is None:
        return RewardModel.from_pretrained(model_dir)
    from rlopt.engine.scoring import RewardModelOnEngine

    return RewardModelOnEngine(model_dir, engine)


def stage_generation(ctx: StageContext) -> dict[str, Any]:
    """:func:`_generation` on ``[run] engine``: with ``"ray"`` one engine serves the generation chunks and
    the reward model's scoring of the copies (:class:`rlopt.engine.scoring.RewardModelOnEngine`), and is
    closed when the stage ends."""
    run = ctx.config.run
    if run.engine != "ray":
        return _generation(ctx, None)
    from rlopt.engine import engine_for_run

    engine = engine_for_run("ray", run.ray_address, ctx.config.source)
    ctx.log(f"[generation] on Ray: {engine.describe()}")
    try:
        return _generation(ctx, engine)
    finally:
        engine.close()


def _generation(ctx: StageContext, engine: Any) -> dict[str, Any]:
    """Generate copy with the base and the tuned generator for the same contexts, and evaluate
    both: the oracle's truth (simulated data only) next to the reward model's proxy.

    Contexts: on simulated data every catalog item x placement (the simulated A/B test shows copy
    for each); on the user's logs only those asked for (``[data] contexts``, else the held-out
    contexts), at most ``[generation] max_contexts`` by seeded sampling (recorded in the summary).
    Both generators and the shop's own logged copies for the same contexts are compared
    (:mod:`rlopt.pipeline.logged_compare`): by the oracle's truth on simulated data, by the reward
    model's prediction on the user's logs (``predicted``: lift over the logged copy with its
    bootstrap interval and the A/B sample size to confirm it).

    Outputs ``base.jsonl``, ``tuned.jsonl`` (generated copies contract), ``evaluated.parquet``
    (per copy: truth, proxy, guard flags; simulated data), ``logged_compare.csv`` (per context).
    """
    cfg = ctx.config.generation
    catalog, train, holdout, placements = _validated(ctx)
    market = _market_or_none(ctx)
    held = read_table(ctx.dir("validate") / "contexts.jsonl")
    if market is not None:
        contexts = generation_contexts(held, catalog, placements, sorted(market.segments), ctx.rng())
        picked = {"contexts_from": "every catalog item x placement (the simulated A/B shows copy for each)"}
    else:
        contexts, available = requested_contexts(held, cfg.max_contexts, ctx.rng())
        picked = {"contexts_from": ("[data] contexts" if ctx.config.data.contexts else "the held-out logs' contexts"),
                  "contexts_available": available, "max_contexts": cfg.max_contexts,
                  "contexts_sampled": bool(len(contexts) < available)}
        if picked["contexts_sampled"]:
            ctx.log(f"[generation] {available} contexts asked for; generating for a seeded sample of "
                    f"{len(contexts)} ([generation] max_contexts)")
    contexts, scorer, steering = _steering(ctx, contexts, catalog, train)
    logs = pd.concat([train, holdout], ignore_index=True)
    # the shop's own copy (all its logs) and the catalog back the numbers a shown copy may state
    support = ClaimSupport(catalog, logs)
    check = support if cfg.claim_check else None  # [generation] claim_check; the report's checks always count
    frames = {}
    for name, spec in (("base", ctx.config.tuning.generator), ("tuned", str(ctx.dir("tuning") / "adapter"))):
        ctx.log(f"[generation] {name}: {len(contexts)} contexts x {cfg.num_samples} samples")
        seg_desc = market.segments if market is not None else None
        if engine is not None:  # chunks on Ray actors, one generator each (rlopt/engine/generation.py)
            from rlopt.engine.generation import GeneratorSpec

            ranker = str(ctx.dir("reward") / "model") if scorer is not None else None
            frames[name] = _generate_with_progress(
                ctx, name, None, None, contexts, catalog, placements, seg_desc, engine=engine,
                spec=GeneratorSpec(spec, reward_model=ranker, rerank_metric=cfg.rerank_metric), claim_support=check)
        else:
            model, tokenizer = resolve_generator(spec)
            frames[name] = _generate_with_progress(ctx, name, model, tokenizer, contexts, catalog, placements,
                                                   seg_desc, scorer=scorer, claim_support=check)
            del model
        write_jsonl(frames[name], ctx.work_dir / f"{name}.jsonl")
    if steering["few_shot"]:
        steering["verbatim_rate"] = {k: verbatim_rate(v) for k, v in frames.items()}
    if steering["best_of"] > 1:
        steering["contexts_without_eligible_sample"] = {k: int(v.attrs.get("rerank_no_eligible", 0))
                                                        for k, v in frames.items()}
    summary: dict[str, Any] = {"data_source": data_source(ctx.config), "contexts": int(len(contexts)), **picked,
                               "num_samples": cfg.num_samples,
                               "copies": {k: int(len(v)) for k, v in frames.items()},
                               "compliance": {k: dict(v.attrs.get("compliance", {})) for k, v in frames.items()},
                               # copies generation repaired or rejected (rlopt.generation.quality); the shown copy's defects: copy_checks
                               "quality": {k: dict(v.attrs.get("quality", {})) for k, v in frames.items()},
                               "compliance_on": bool(cfg.compliance), "claim_check": bool(cfg.claim_check),
                               "steering": steering,
                               # [generation] resample: title fallbacks sampled again, and how many recovered
                               "resample": {"rounds": cfg.resample,
                                            **{k: dict(v.attrs.get("resample", {})) for k, v in frames.items()}}}
    summary["copy_checks"] = copy_checks(frames, catalog, support, placements)  # no truth needed: on the user's logs too
    options = logged_options(logs, contexts)
    reward_model = proxy_model(ctx, engine)  # without it the report shows the truth only
    if market is None:
        summary["evaluation"] = None
        summary["evaluation_note"] = "external logs: no simulator, so no true reward"
        if reward_model is None:
            summary["predicted_note"] = "no reward model (stage 'reward' did not finish): no predicted lift"
            return summary
        values = context_values(frames, options, lambda f: reward_model.score(f, catalog)["p_click"].to_numpy(float))
        buys = context_values(frames, options, lambda f: reward_model.score(f, catalog)["p_purchase"].to_numpy(float))
        values.join(buys, rsuffix="_purchase").to_csv(ctx.work_dir / "logged_compare.csv")
        summary["predicted"] = compare(values, seed=ctx.seed)
        summary["predicted_purchase"] = compare(buys, seed=ctx.seed)
        summary["predicted"]["contexts_without_logged_copy"] = int(len(contexts) - len(values))
        # the A/B would run on the shop's traffic: its observed click rate is the control's rate
        summary["predicted"]["lift"] = lift_and_sample_size(summary["predicted"], float(logs["clicked"].mean()),
                                                            int(len(logs)))
        return summary
    oracle = Oracle(market)
    evaluated, per_gen = [], {}
    for name, frame in frames.items():
        result = evaluate_copies(frame, oracle, reward_model, catalog, placements)
        evaluated.append(result.pop("frame").assign(generator=name))
        per_gen[name] = result
    write_table(pd.concat(evaluated, ignore_index=True), ctx.work_dir / "evaluated.parquet")
    summary["evaluation"] = per_gen
    summary["paired_ctr_ratio"] = paired_ratio(evaluated[0], evaluated[1], "p_click", seed=ctx.seed)
    # the true CTR and purchase rate of the shop's logged copy for the same contexts, next to base and tuned
    values = context_values(frames, options, lambda f: oracle.evaluate(f)["p_click"].to_numpy(float))
    buys = context_values(frames, options, lambda f: oracle.evaluate(f)["p_purchase"].to_numpy(float))
    values.join(buys, rsuffix="_purchase").to_csv(ctx.work_dir / "logged_compare.csv")
    summary["logged_truth"] = compare(values, seed=ctx.seed)
    summary["logged_truth_purchase"] = compare(buys, seed=ctx.seed)
    return summary
