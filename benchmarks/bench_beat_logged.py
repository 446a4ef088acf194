"""Beat the shop's own copy (issue 19 item 5): few-shot prompts and best-of-n reranking, base and DPO.

Reads top to bottom: Args, the market adapter, then the run. Per foreign market (written
independently of ``rlopt.market``; its own truth grades any copy text):

1. simulate ``impressions`` and split them by time (the latest ``holdout_fraction`` held out);
2. train the reward model on the earlier logs (as ``rlopt reward train``: encoder + n-gram baseline,
   chosen on the latest training slice), and tune the generator with DPO (``quick`` preset) on them;
3. draw ``contexts`` distinct held-out contexts (item x segment x placement; seeded);
4. for the base and the DPO-tuned generator, sample ``n`` copies per context twice, with the plain
   prompt and with the few-shot prompt (each context's ``few_shot`` best logged copies of the
   training logs by the reward model's P(click): :func:`rlopt.generation.fewshot.add_examples`);
   each gives two variants from the *same* samples: all ``n`` shown (the mean over them) and
   best-of-``n`` (the one the reward model scores highest on ``metric``, ineligible samples never
   picked: :func:`rlopt.generation.rerank.select_best`). ``+truth-best-of-n`` reranks the plain
   samples by the market's truth instead (an upper bound on what a perfect reward model gives);
5. grade every variant and the shop's logged copies of the same contexts (mean logged: each pool's
   copies weighted by their logged share; best logged: the best one per context) with the truth
   at the first slot (:mod:`rlopt.pipeline.logged_compare`): true CTR and purchases per
   impression, ratios with 95% paired-bootstrap intervals over contexts.

Run: ``nice -n 10 python -m benchmarks.bench_beat_logged`` (``--help`` for the knobs; ``--tiny``
makes a seconds-long smoke run with tiny random models). Writes
``benchmarks/results/beat_logged.json``; models, copies and the simulation stay in ``--work``
(reused by a rerun with the same settings).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tyro

from rlopt.machine import cpu_label

RESULTS = Path(__file__).parent / "results" / "beat_logged.json"


@dataclass
class Args:
    markets: list[str] = field(default_factory=lambda: ["bazaar"])
    """Foreign markets: modules of experiments/markets with ``simulate(out, impressions, seed)`` and
    ``Truth.from_dir(out).evaluate(frame)`` (a truth that reads any copy text)."""
    impressions: int = 60_000
    """Impressions simulated per market (small_shop: see small_impressions)."""
    small_impressions: int = 3_000
    """The small shop's training impressions (half as many later ones held out)."""
    holdout_fraction: float = 0.2
    """Latest share of the logs held out: contexts come from it; models and examples never see it."""
    contexts: int = 60
    """Held-out contexts generated for (seeded sample of the distinct item x segment x placement)."""
    n: int = 4
    """Samples per context (best-of-n reranks these same samples)."""
    few_shot: int = 3
    """Logged copies shown as examples in the few-shot prompt."""
    metric: str = "reward"
    """Reward-model column best-of-n maximizes: reward, p_click, p_purchase, expected_revenue."""
    dpo: bool = True
    """Tune with DPO (quick preset) and measure the tuned generator too."""
    dpo_steps: int | None = None
    """Override the quick preset's DPO steps."""
    seed: int = 0
    """Seed of the simulation, reward model, tuning, context draw and sampling."""
    n_boot: int = 2000
    """Bootstrap resamples per ratio."""
    tiny: bool = False
    """Smoke run: tiny random generator and encoder, 2 DPO steps, few contexts (numbers meaningless)."""
    work: str = "runs/beat-logged"
    """Working directory (simulation, reward model, DPO adapter, copies)."""
    out: str = str(RESULTS)
    """Results JSON."""
    note: str = ""
    """Free text recorded in the JSON."""


# ---------------------------------------------------------------- market adapter
SMALL_SHOP_MAX_CHARS = 120  # the small shop has no character limits of its own (as benchmarks/bench_markets.py)


def open_market(name: str, folder: Path, args: Args):
    """Simulate (once) and read a foreign market as ``rlopt validate`` would:
    ``(catalog, train, holdout, placements, truth)``.

    ``small_shop``: its own train / later holdout impressions (``small_impressions``, half as many
    held out). Any other name: ``experiments.markets.<name>.simulate`` then the latest
    ``holdout_fraction`` of its logs held out.
    """
    from rlopt.data import read_catalog, read_logs, read_placements
    from rlopt.data.split import split_logs

    if name == "small_shop":
        from experiments.markets.small_shop import PLACEMENTS, make_small_shop

        shop = make_small_shop(args.small_impressions, args.small_impressions // 2, seed=args.seed)
        shop.write(folder)
        (folder / "placements.json").write_text(json.dumps(
            {p: {"max_chars": SMALL_SHOP_MAX_CHARS, "slots": len(exam), "examination": list(exam)}
             for p, (exam, _) in PLACEMENTS.items()}))
        catalog, placements = read_catalog(folder / "catalog.csv"), read_placements(folder / "placements.json")
        return (catalog, read_logs(folder / "train.csv", catalog, placements),
                read_logs(folder / "holdout.csv", catalog, placements), placements, shop.truth())
    module = importlib.import_module(f"experiments.markets.{name}")
    if not (folder / "catalog.parquet").is_file():
        module.simulate(folder, args.impressions, seed=args.seed)
    catalog = read_catalog(folder / "catalog.parquet")
    placements = read_placements(folder / "placements.json")
    logs = read_logs(folder / "train.parquet", catalog, placements)
    train, holdout = split_logs(logs, holdout_fraction=args.holdout_fraction)
    return catalog, train.reset_index(drop=True), holdout.reset_index(drop=True), placements, \
        module.Truth.from_dir(folder)


def truth_scorer(truth, column: str):
    """``score(frame) -> (n,)``: the market's truth at the first slot."""
    def score(frame: pd.DataFrame) -> np.ndarray:
        return truth.evaluate(frame.drop(columns=["position"], errors="ignore").reset_index(drop=True))[column] \
            .to_numpy(float)
    return score


def draw_contexts(holdout: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """``n`` distinct held-out contexts, seeded, in a stable order."""
    ctx = holdout[["item_id", "segment", "placement"]].astype(str).drop_duplicates() \
        .sort_values(["item_id", "segment", "placement"]).reset_index(drop=True)
    rng = np.random.default_rng(seed)
    take = np.sort(rng.choice(len(ctx), min(n, len(ctx)), replace=False))
    return ctx.iloc[take].reset_index(drop=True)


# ---------------------------------------------------------------- models
def reward_model(train: pd.DataFrame, catalog: pd.DataFrame, folder: Path, args: Args, encoder: str):
    from reward_models import RewardModel, train_reward_model

    if not (folder / "reward_config.json").is_file():
        extra = {"max_epochs": 1} if args.tiny else {}
        train_reward_model(train, catalog, seed=args.seed, progress=False, encoder=encoder, **extra) \
            .save_pretrained(folder)
    return RewardModel.from_pretrained(folder)


def tune_dpo(train: pd.DataFrame, catalog: pd.DataFrame, placements: dict, rm_dir: Path, folder: Path,
             args: Args, generator: str) -> dict[str, Any]:
    from rlopt.tuning.api import tune_generator

    if (folder / "tuning.json").is_file():
        return json.loads((folder / "tuning.json").read_text())
    steps = 2 if args.tiny else args.dpo_steps
    return tune_generator("dpo", logs=train, catalog=catalog, placements=placements, out=folder,
                          reward_model=rm_dir, generator=generator, preset="quick", max_steps=steps, seed=args.seed,
                          segments={}, auto_relax=True)  # small logs: relax pair mining step by step, with a warning


# ---------------------------------------------------------------- generation and grading
def sample(spec: str, contexts: pd.DataFrame, catalog, placements, n: int, seed: int, path: Path) -> pd.DataFrame:
    """``n`` copies per context (cached as JSONL at ``path``), few-shot when ``contexts`` has ``examples``."""
    from rlopt.data import read_table, write_jsonl
    from rlopt.generation.fewshot import mark_verbatim
    from rlopt.generation.models import resolve_generator
    from rlopt.generation.sample import generate_copies

    if path.is_file():
        return read_table(path)
    model, tokenizer = resolve_generator(spec)
    copies = generate_copies(model, tokenizer, contexts, catalog, placements, None, num=n, seed=seed,
                             generator_name=spec)
    copies = mark_verbatim(copies) if "examples" in copies.columns else copies.assign(verbatim_example=False)
    write_jsonl(copies, path)
    return copies


def copy_stats(frame: pd.DataFrame) -> dict[str, Any]:
    from rlopt.generation.quality import defect_rates

    out = {"copies": int(len(frame)), "mean_chars": float(frame["copy_text"].str.len().mean()),
           "title_fallback_rate": float(frame["quality_action"].isin(["rejected", "empty"]).mean()
                                        + frame["compliance_action"].isin(["unrepairable"]).mean()),
           "defect_rates": defect_rates(frame["copy_text"])}
    if "verbatim_example" in frame.columns and "examples" in frame.columns:
        from rlopt.generation.fewshot import verbatim_rate

        out["verbatim_rate"] = verbatim_rate(frame)
    if "rerank_eligible" in frame.columns:
        out["contexts_without_eligible_sample"] = int((frame["rerank_eligible"] == 0).sum())
    return out


def wall_seconds(path: Path, times: dict[str, float], cached: set[str]) -> dict[str, float]:
    """Wall seconds per step: this run's for the steps it ran, the stored ones for steps read from the
    work directory's cache (what they cost when they ran); stored to ``path``."""
    stored = json.loads(path.read_text()) if path.is_file() else {}
    stored.update({k: round(v, 1) for k, v in times.items() if k not in cached or k not in stored})
    path.write_text(json.dumps(stored, indent=1))
    return stored


def verbatim_split(frame: pd.DataFrame, true_click) -> dict[str, Any]:
    """Shown copies that repeat a few-shot example against those that do not: count and mean true CTR
    (so a few-shot lift that comes from copying the shop's copy back shows as such)."""
    p = true_click(frame)
    verb = frame["verbatim_example"].to_numpy(bool)
    return {"verbatim": {"n": int(verb.sum()), "true_ctr": float(p[verb].mean()) if verb.any() else None},
            "new": {"n": int((~verb).sum()), "true_ctr": float(p[~verb].mean()) if (~verb).any() else None}}


def run_market(name: str, args: Args, paths: dict[str, str]) -> dict[str, Any]:
    from rlopt.generation.fewshot import add_examples
    from rlopt.generation.rerank import reward_model_scorer, select_best
    from rlopt.pipeline.logged_compare import context_values, logged_options
    from rlopt.tuning.evaluate import paired_ratio

    work = Path(args.work) / name
    times: dict[str, float] = {}
    t = time.perf_counter()
    cached = {"simulate"} if (work / "sim" / "catalog.parquet").is_file() else set()
    catalog, train, holdout, placements, truth = open_market(name, work / "sim", args)
    logs = pd.concat([train, holdout], ignore_index=True)
    times["simulate"] = time.perf_counter() - t

    t = time.perf_counter()
    if (work / "reward_model" / "reward_config.json").is_file():
        cached.add("reward_model")
    rm = reward_model(train, catalog, work / "reward_model", args, paths["encoder"])
    times["reward_model"] = time.perf_counter() - t
    health = rm.config.get("health", {})
    contexts = draw_contexts(holdout, args.contexts, args.seed)
    t = time.perf_counter()
    fs_contexts = add_examples(contexts, train, catalog, k=args.few_shot,
                               scorer=reward_model_scorer(rm, catalog, "p_click"))
    times["retrieve_examples"] = time.perf_counter() - t

    generators = {"base": paths["generator"]}
    tuning: dict[str, Any] | None = None
    if args.dpo:
        from rlopt.errors import InputError

        t = time.perf_counter()
        if (work / "dpo" / "tuning.json").is_file():
            cached.add("tune_dpo")
        try:
            tuning = tune_dpo(train, catalog, placements, work / "reward_model", work / "dpo", args,
                              paths["generator"])
            generators["dpo"] = str(work / "dpo")
        except InputError as err:  # too few pairs even relaxed: recorded, the other variants still run
            tuning = {"error": str(err)}
        times["tune_dpo"] = time.perf_counter() - t

    rerank = reward_model_scorer(rm, catalog, args.metric)
    true_click = truth_scorer(truth, "p_click")
    variants: dict[str, pd.DataFrame] = {}
    for gen, spec in generators.items():
        for prompt, ctx in (("", contexts), ("+few-shot", fs_contexts)):
            t = time.perf_counter()
            if (work / f"{gen}{prompt}.jsonl").is_file():
                cached.add(f"generate_{gen}{prompt}")
            copies = sample(spec, ctx, catalog, placements, args.n, args.seed, work / f"{gen}{prompt}.jsonl")
            times[f"generate_{gen}{prompt}"] = time.perf_counter() - t
            variants[f"{gen}{prompt}"] = copies
            variants[f"{gen}{prompt}+best-of-{args.n}"] = select_best(copies, rerank(copies), args.n)
            if not prompt:  # the reward model's ranking against a perfect one, on the same samples
                variants[f"{gen}+truth-best-of-{args.n}"] = select_best(copies, true_click(copies), args.n)

    options = logged_options(logs, contexts)
    clicks = context_values(variants, options, true_click)
    buys = context_values(variants, options, truth_scorer(truth, "p_purchase"))
    proxy = context_values(variants, options, reward_model_scorer(rm, catalog, "p_click"))

    def ratios(values: pd.DataFrame) -> dict[str, dict[str, dict[str, float]]]:
        frames = {c: values[[c]].rename(columns={c: "v"}).reset_index() for c in values.columns}
        out = {}
        for i, v in enumerate(variants):
            out[v] = {f"/ {den}": paired_ratio(frames[den], frames[v], "v", n_boot=args.n_boot, seed=args.seed + i)
                      for den in ("base", "mean_logged", "best_logged")}
        return out

    return {
        "impressions": int(len(logs)), "train_impressions": int(len(train)), "holdout_impressions": int(len(holdout)),
        "contexts": int(len(contexts)), "contexts_with_logged_copy": int(len(clicks)),
        "contexts_with_examples": int(sum(bool(e) for e in fs_contexts["examples"])),
        "reward_model": {"scorer": rm.config.get("metrics", {}).get("scorer"), "health_status": health.get("status"),
                         "holdout_click_auc": health.get("auc"), "baseline_auc": health.get("baseline_auc")},
        "dpo": None if tuning is None else {"steps": tuning.get("steps"), "pairs": tuning.get("data", {}).get("pairs"),
                                            "train_pairs": tuning.get("data", {}).get("train_pairs"),
                                            "error": tuning.get("error"),
                                            **{k: tuning.get("config", {}).get(k)
                                               for k in ("min_confidence", "value_metric", "max_steps")}},
        "true_ctr": {c: float(clicks[c].mean()) for c in clicks.columns},
        "true_purchases_per_impression": {c: float(buys[c].mean()) for c in buys.columns},
        "proxy_p_click": {c: float(proxy[c].mean()) for c in proxy.columns},
        "ratios_ctr": ratios(clicks), "ratios_purchases": ratios(buys),
        "copies": {v: copy_stats(f) for v, f in variants.items()},
        "examples_sample": [{"context": r[["item_id", "segment", "placement"]].to_dict(), "examples": list(r["examples"])}
                            for _, r in fs_contexts.head(3).iterrows()],
        "wall_s": wall_seconds(work / "wall_s.json", times, cached), "cached_steps": sorted(cached),
        "verbatim_split": {v: verbatim_split(f, true_click) for v, f in variants.items()
                           if "examples" in f.columns and "truth" not in v},
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = tyro.cli(Args, args=argv, description=__doc__)
    if args.tiny:
        from rlopt.testing import build_tiny_causal_lm, build_tiny_encoder

        args.contexts = min(args.contexts, 6)
        args.impressions = min(args.impressions, 20_000)  # DPO needs copies shown a few times each
        paths = {"generator": str(build_tiny_causal_lm(Path(args.work) / "tiny-llm")),
                 "encoder": str(build_tiny_encoder(Path(args.work) / "tiny-encoder"))}
    else:
        paths = {"generator": "default", "encoder": "default"}
    from rlopt.io_utils import write_json_atomic

    out = Path(args.out)
    result: dict[str, Any] = {"markets": {}}
    if out.is_file():  # markets measured by an earlier run (other --markets) are kept
        result = json.loads(out.read_text())
    for name in args.markets:
        started, load = time.perf_counter(), os.getloadavg()
        case = run_market(name, args, paths)
        # each market records its own run: settings, machine, load and wall time
        result["markets"][name] = {"args": dataclasses.asdict(args), "machine": cpu_label(),
                                   "cpu_count": os.cpu_count(), "loadavg_start": list(load),
                                   "loadavg_end": list(os.getloadavg()),
                                   "wall_s_total": round(time.perf_counter() - started, 1), **case}
        write_json_atomic(out, result)
    print(args.out)
    return result


if __name__ == "__main__":
    main()
