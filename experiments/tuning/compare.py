"""Does tuning make copy that earns more? Base vs DPO vs GRPO under the simulator's oracle.

Reads top to bottom: Args, then the run. Steps:

1. simulate ``impressions`` on the default market (or ``--market``: another rlopt market TOML, or
   ``bazaar``, the independently written shop of experiments/markets/bazaar.py, whose logs come with no
   market config and whose own truth grades the copies);
2. hold out ``holdout_items`` share of the catalog's items: nothing about them is trained on;
3. train the reward model (frozen MiniLM) on the training items' logs;
4. tune the default generator with DPO and with GRPO (the ``quick`` presets unless overridden), and
   (method ``dpo-grpo``) GRPO started from the DPO-tuned generator;
5. generate ``num`` copies per held-out context with the base and each tuned generator (same seed);
6. score them with the oracle (true CTR, purchases per impression) and the reward model (proxy),
   with 95% CIs over contexts and paired-bootstrap ratio CIs; count misleading discount claims and
   over-limit copies;
7. write ``results.json`` (and the copies) under ``out``.

Run: ``python -m experiments.tuning.compare --out runs/tuning-compare`` (``--help`` for the knobs).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass
class Args:
    out: str = "runs/tuning-compare"
    """Run directory (simulation, reward model, tuned generators, copies, results.json)."""
    market: str = "default"
    """Market: 'default', an rlopt market TOML (experiments/markets/harbor.toml), or 'bazaar' (a shop
    simulator rlopt did not write: experiments/markets/bazaar.py)."""
    results: str = ""
    """Where the summary JSON is copied (default: experiments/tuning/results[-MARKET].json, and only when this
    run's settings (SAME_RUN_ARGS) match the run recorded there; else it stays in OUT/results.json)."""
    seed: int = 0
    """Seed for the simulation, tuning and sampling."""
    impressions: int = 200_000
    """Impressions simulated on the default market."""
    holdout_items: float = 0.2
    """Share of catalog items held out of all training (evaluation contexts use only these)."""
    eval_contexts: int = 120
    """Held-out contexts evaluated (item x segment x placement)."""
    num: int = 4
    """Copies per context and generator."""
    preset: str = "quick"
    """Tuning preset for DPO and GRPO."""
    dpo_steps: int | None = None
    """Override the preset's DPO steps."""
    grpo_steps: int | None = None
    """Override the preset's GRPO steps."""
    dpo_set: list[str] = field(default_factory=list)
    """DPO config fields over the preset's, as KEY=VALUE (VALUE read as JSON, else a string), e.g.
    ``num_train_pairs=480 reward_pairs=0.5``."""
    online_set: list[str] = field(default_factory=list)
    """GRPO/RLOO config fields over the preset's, e.g. ``discount_penalty=2``."""
    methods: list[str] = field(default_factory=lambda: ["dpo", "grpo"])
    """Tuning methods compared with the base generator: dpo, grpo, rloo, and dpo-grpo (GRPO on the
    DPO-tuned generator of this run; needs dpo before it or an earlier run's tuned-dpo)."""
    reward_members: int = 1
    """Reward models GRPO/RLOO tune against: 1, or an ensemble of N trained on the same logs with seeds
    seed, seed + 1, ... (OUT/reward_model, OUT/reward_model-seedK), combined per copy by the online config's
    ``reward_ensemble`` (``--online-set reward_ensemble=min``: pessimistic). The proxy column is always the
    first member's score."""
    generator: str = "default"
    """Base generator (a tiny local model makes a smoke run)."""
    decoder: str = "rlopt"
    """Sampling loop for the evaluation copies: rlopt's (rlopt.generation.decode) or transformers'."""


def parse_args() -> Args:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for f in dataclasses.fields(Args):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        if isinstance(default, list):
            parser.add_argument(f"--{f.name.replace('_', '-')}", nargs="+", default=default)
        elif f.name.endswith("_steps"):
            parser.add_argument(f"--{f.name.replace('_', '-')}", type=int, default=default)
        else:
            parser.add_argument(f"--{f.name.replace('_', '-')}", type=type(default), default=default)
    return Args(**vars(parser.parse_args()))


def split_items(catalog: pd.DataFrame, share: float, seed: int) -> set[str]:
    """Held-out item ids (seeded)."""
    items = np.sort(catalog["item_id"].astype(str).unique())
    n = max(1, int(round(share * len(items))))
    return set(np.random.default_rng(seed).choice(items, size=n, replace=False).tolist())


def open_market(market: str, sim_dir: Path, impressions: int, seed: int):
    """``(name, segments, load_truth)`` of the run's market, simulated into ``sim_dir`` first if needed.

    For rlopt's simulator, ``segments`` are the market's Segment objects (their descriptions go into the
    prompts) and the truth is its Oracle. For ``bazaar`` — an outside shop's logs — rlopt knows only the
    segment labels in the logs, and the truth is bazaar's own ``Truth``.
    """
    if market == "bazaar":
        from experiments.markets import bazaar

        if not (sim_dir / "truth.json").is_file():
            bazaar.simulate(sim_dir, impressions, seed)
        labels = pd.read_parquet(sim_dir / "train.parquet", columns=["segment"])["segment"].unique()
        return "bazaar", {str(x): str(x).replace("_", " ") for x in labels}, lambda: bazaar.Truth.from_dir(sim_dir)
    from rlopt.market import DEFAULT_MARKET, Marketplace
    from rlopt.market.oracle import Oracle  # evaluation only

    if not (sim_dir / "market.toml").is_file():
        market_path = DEFAULT_MARKET if market == "default" else Path(market)
        Marketplace.from_toml(market_path).simulate(impressions, seed=seed).write(sim_dir)
    sim = Marketplace.from_toml(sim_dir / "market.toml")
    return sim.config.name, sim.segments, lambda: Oracle.from_dir(sim_dir)


def eval_contexts(catalog, segments, placements, held: set[str], n: int, seed: int) -> pd.DataFrame:
    """``n`` distinct held-out contexts drawn uniformly from held items x segments x placements."""
    grid = pd.MultiIndex.from_product([sorted(held), sorted(segments), sorted(placements)],
                                      names=["item_id", "segment", "placement"]).to_frame(index=False)
    return grid.sample(n=min(n, len(grid)), random_state=seed).sort_values(list(grid.columns)).reset_index(drop=True)


RATIO_COLUMNS = ("p_click", "p_purchase", "proxy_reward")


def stages(method: str) -> tuple[str, str]:
    """``(first stage, trainer)``: ``"dpo-grpo"`` -> ``("dpo", "grpo")``; ``"dpo"`` -> ``("", "dpo")``.

    >>> stages("dpo-grpo"), stages("rloo")
    (('dpo', 'grpo'), ('', 'rloo'))
    """
    start_from, _, trainer = method.rpartition("-")
    return start_from, trainer


SAME_RUN_ARGS = ("market", "seed", "impressions", "holdout_items", "eval_contexts", "num", "preset", "generator",
                 "decoder", "dpo_set", "online_set", "reward_members")


def different_run_args(earlier_args: dict, args: dict) -> list[str]:
    """The :data:`SAME_RUN_ARGS` on which two runs differ (a key an earlier run lacks: it ran with the default).

    >>> different_run_args({"seed": 0}, {**dataclasses.asdict(Args()), "seed": 1, "online_set": ["seed=1"]})
    ['seed', 'online_set']
    """
    defaults = dataclasses.asdict(Args())
    return [k for k in SAME_RUN_ARGS if earlier_args.get(k, defaults[k]) != args[k]]


def merge_earlier(results: dict, earlier: dict) -> dict:
    """Keep the methods an earlier results file has and this run did not redo (``--methods grpo``).

    Only when the earlier run had the same market, seed, data, evaluation contexts and preset
    (no :func:`different_run_args`), so its base generator copies — the denominator of its ratios —
    were the same seeded copies. Each kept method's record says so under ``"from_earlier_run"``.
    """
    if not earlier or different_run_args(earlier.get("args", {}), results["args"]):
        return results
    done = set(results["args"]["methods"])
    for m, record in earlier.get("tuning", {}).items():
        if m in done or m not in earlier.get("generators", {}):
            continue
        results["generators"][m] = earlier["generators"][m]
        results["ratio_vs_base"][m] = earlier["ratio_vs_base"][m]
        if m in earlier.get("ratio_vs_start", {}):
            results.setdefault("ratio_vs_start", {})[m] = earlier["ratio_vs_start"][m]
        results["tuning"][m] = {**record, "from_earlier_run": True}
        for k in (f"tune_{m}", f"generate_{m}"):  # exact keys: "tune_grpo" is not "tune_dpo-grpo"'s
            if k in earlier.get("timings_seconds", {}):
                results["timings_seconds"].setdefault(k, earlier["timings_seconds"][k])
    return results


def config_overrides(pairs: list[str]) -> dict:
    """``["num_train_pairs=480", "loss_type=[\"sigmoid\"]"]`` -> dict; values read as JSON, else strings.

    >>> config_overrides(["num_train_pairs=480", "reward_pairs=0.5", "generator=runs/x"])
    {'num_train_pairs': 480, 'reward_pairs': 0.5, 'generator': 'runs/x'}
    """
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"config override {pair!r}: write KEY=VALUE")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def same_settings(earlier_config: dict, trainer: str, preset: str, overrides: dict) -> bool:
    """Whether an earlier tuning run (its ``tuning.json`` config) used the settings this run asks for.

    Compared: rlopt's own fields, the preset's fields and the overrides (steps are compared by the
    caller; the base generator's path may differ). A field missing from an older ``tuning.json`` ran
    with its default.
    """
    from trl import DPOConfig, GRPOConfig, RLOOConfig

    from rlopt.tuning.common import config_dict
    from rlopt.tuning.config import CONFIG_CLASSES, PRESET_VALUES, make_config

    trl_config = {"dpo": DPOConfig, "grpo": GRPOConfig, "rloo": RLOOConfig}[trainer]
    project = ({f.name for f in dataclasses.fields(CONFIG_CLASSES[trainer])}
               - {f.name for f in dataclasses.fields(trl_config)})
    default = config_dict(make_config(trainer, preset))
    wanted = config_dict(make_config(trainer, preset, **overrides))
    keys = (project | set(PRESET_VALUES[trainer][preset]) | set(overrides)) - {"generator", "max_steps", "preset"}
    return all(earlier_config.get(k, default[k]) == wanted[k] for k in keys)


def reward_model_names(recorded: str | list[str] | None) -> list[str]:
    """Folder names of the reward model(s) a ``tuning.json`` records (one path, a list, or none), so a
    moved run directory still matches.

    >>> reward_model_names("runs/a/reward_model"), reward_model_names(["x/reward_model", "x/reward_model-seed1"])
    (['reward_model'], ['reward_model', 'reward_model-seed1'])
    """
    paths = [recorded] if isinstance(recorded, str) else recorded or []
    return [Path(d).name for d in paths]


def copies_key(spec: str, contexts: pd.DataFrame, args: Args) -> dict:
    """What a generator's evaluation copies depend on: its weights (a tuned directory's tuning.json
    digest), the contexts and the sampling settings. Equal keys: an earlier run's copies are reused."""
    import hashlib

    tuning = Path(spec) / "tuning.json"
    digest = hashlib.sha256(tuning.read_bytes()).hexdigest() if tuning.is_file() else None
    ctx = hashlib.sha256(contexts.to_csv(index=False).encode()).hexdigest()
    return {"generator": spec, "tuning_sha256": digest, "contexts_sha256": ctx, "num": args.num,
            "seed": args.seed, "decoder": args.decoder}


if __name__ == "__main__":
    args = parse_args()
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from rlopt.data import read_catalog, read_logs, read_placements, read_table, write_jsonl, write_table
    from rlopt.generation.models import resolve_generator
    from rlopt.generation.sample import generate_copies
    from rlopt.io_utils import write_json_atomic
    from rlopt.seeding import seed_everything
    from rlopt.tuning.api import tune_generator
    from rlopt.tuning.config import make_config
    from rlopt.tuning.evaluate import evaluate_copies, paired_ratio

    seed_everything(args.seed)
    out = Path(args.out)
    timings: dict[str, float] = {}
    t0 = time.time()

    # 1. simulate
    sim_dir = out / "sim"
    market_name, market_segments, load_truth = open_market(args.market, sim_dir, args.impressions, args.seed)
    record_to_default = not args.results
    if record_to_default:
        suffix = "" if market_name == "default" else f"-{market_name}"
        args.results = f"experiments/tuning/results{suffix}.json"
    catalog = read_catalog(sim_dir / "catalog.parquet")
    placements = read_placements(sim_dir / "placements.json")
    timings["simulate"] = time.time() - t0

    # 2. hold out items
    held = split_items(catalog, args.holdout_items, args.seed)
    train = read_logs(sim_dir / "train.parquet", catalog, placements)
    train = train[~train["item_id"].astype(str).isin(held)].reset_index(drop=True)
    train_path = out / "train_items.parquet"
    write_table(train, train_path)
    # the tuner reads placements / market.toml next to its logs: keep them together
    for name in ("placements.json", "market.toml"):
        if (sim_dir / name).is_file():  # bazaar ships no market.toml, as an outside shop would not
            (out / name).write_bytes((sim_dir / name).read_bytes())

    # 3. reward model
    t = time.time()
    rm_dir = out / "reward_model"
    # an ensemble's other members differ only in seed
    member_dirs = [rm_dir] + [out / f"reward_model-seed{args.seed + k}" for k in range(1, args.reward_members)]
    for k, member in enumerate(member_dirs):
        if not (member / "reward_config.json").is_file():
            from reward_models import train_reward_model

            train_reward_model(train, catalog, seed=args.seed + k, progress=False).save_pretrained(member)
    timings["reward_model"] = time.time() - t

    # 4. tune
    tuned: dict[str, dict] = {}
    for method in args.methods:
        t = time.time()
        # "dpo-grpo": the online method after the dash, started from this run's DPO-tuned generator
        start_from, trainer = stages(method)
        generator = str(out / f"tuned-{start_from}") if start_from else args.generator
        if start_from and not (out / f"tuned-{start_from}" / "tuning.json").is_file():
            raise SystemExit(f"--methods {method}: {out / f'tuned-{start_from}'} is not tuned yet; "
                             f"put {start_from} before {method}")
        steps = args.dpo_steps if trainer == "dpo" else args.grpo_steps
        extra = config_overrides(args.dpo_set if trainer == "dpo" else args.online_set)
        done = out / f"tuned-{method}" / "tuning.json"
        wanted = steps or make_config(trainer, args.preset).max_steps
        online_rms = [str(d) for d in member_dirs] if trainer != "dpo" else [str(rm_dir)]
        earlier_run = json.loads(done.read_text()) if done.is_file() else None
        if earlier_run and earlier_run["steps"] == wanted and same_settings(  # finished earlier: reuse
                earlier_run["config"], trainer, args.preset, extra) and (
                reward_model_names(earlier_run["data"].get("reward_model")) == reward_model_names(online_rms)):
            tuned[method] = earlier_run
            timings[f"tune_{method}"] = tuned[method]["wall_seconds"]
            continue
        tuned[method] = tune_generator(trainer, logs=train_path, catalog=sim_dir / "catalog.parquet",
                                       out=out / f"tuned-{method}", reward_model=online_rms, preset=args.preset,
                                       generator=generator, max_steps=steps, **{"seed": args.seed, **extra})
        timings[f"tune_{method}"] = time.time() - t

    # 5. generate on held-out contexts
    contexts = eval_contexts(catalog, market_segments, placements, held, args.eval_contexts, args.seed)
    from reward_models import RewardModel

    oracle = load_truth()
    reward_model = RewardModel.from_pretrained(rm_dir)
    # a chained method's first stage is evaluated too (its ratio to the chain is the second stage's gain)
    evaluated = dict.fromkeys(x for m in args.methods for x in (stages(m)[0], m) if x)
    generators = {"base": args.generator, **{m: str(out / f"tuned-{m}") for m in evaluated}}
    evals, frames = {}, {}
    for name, spec in generators.items():
        t = time.time()
        copies_path = out / f"copies-{name}.jsonl"
        meta_path = copies_path.with_suffix(".attrs.json")
        key = copies_key(spec, contexts, args)
        earlier = json.loads(meta_path.read_text()) if meta_path.is_file() and copies_path.is_file() else {}
        if earlier.get("copies_key") == key:  # same generator weights, contexts and sampling: seeded copies
            copies = read_table(copies_path)
            copies.attrs.update(earlier)
            if "generate_seconds" in earlier:
                timings[f"generate_{name}"] = earlier["generate_seconds"]
        else:
            model, tok = resolve_generator(spec)
            copies = generate_copies(model, tok, contexts, catalog, placements, market_segments, num=args.num,
                                     seed=args.seed, generator_name=name, decoder=args.decoder)
            del model
            timings[f"generate_{name}"] = time.time() - t
            copies.attrs.update(copies_key=key, generate_seconds=round(timings[f"generate_{name}"], 1))
            write_jsonl(copies, copies_path)
            write_json_atomic(meta_path, copies.attrs)
        # 6. evaluate
        ev = evaluate_copies(copies, oracle, reward_model, catalog, placements)
        frames[name] = ev.pop("frame")
        ev["title_fallbacks"] = copies.attrs.get("title_fallbacks", 0)
        ev["examples"] = copies["copy_text"].head(6).tolist()
        evals[name] = ev

    ratios, ratios_vs_start = {}, {}
    for m in args.methods:
        ratios[m] = {col: paired_ratio(frames["base"], frames[m], col, seed=args.seed) for col in RATIO_COLUMNS}
        start_from = stages(m)[0]
        if start_from in frames:  # what the second stage added over the first
            ratios_vs_start[m] = {"start": start_from,
                                  **{col: paired_ratio(frames[start_from], frames[m], col, seed=args.seed)
                                     for col in RATIO_COLUMNS}}
    results = {
        "args": dataclasses.asdict(args),
        "held_out_items": sorted(held),
        "train_impressions": int(len(train)),
        "eval_contexts": int(len(contexts)),
        "generators": evals,
        "ratio_vs_base": ratios,
        "ratio_vs_start": ratios_vs_start,
        "tuning": {m: {k: tuned[m][k] for k in ("steps", "wall_seconds", "device", "data", "metrics")}
                   for m in args.methods},
        "timings_seconds": {k: round(v, 1) for k, v in timings.items()},
        "cpu_threads": __import__("torch").get_num_threads(),
    }
    recorded = Path(args.results)
    earlier = json.loads(recorded.read_text()) if recorded.is_file() else {}
    results = merge_earlier(results, earlier)
    write_json_atomic(out / "results.json", results)
    differs = different_run_args(earlier.get("args", {}), results["args"]) if earlier and record_to_default else []
    if differs:  # a one-off run with other settings must not replace the recorded comparison
        print(f"not copied to {recorded}: this run's {', '.join(differs)} differ from the recorded run's; "
              f"pass --results PATH to record it (written to {out / 'results.json'})", file=sys.stderr)
    else:
        write_json_atomic(args.results, results)
    print(json.dumps({"ratio_vs_base": ratios,
                      **{n: {k: e[k] for k in ("ctr", "purchase_rate", "proxy_reward", "misleading_rate",
                                                  "over_limit_rate")} for n, e in evals.items()}}, indent=1))
