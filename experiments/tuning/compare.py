"""Does tuning make copy that earns more? Base vs DPO vs GRPO under the simulator's oracle.

Reads top to bottom: Args, the helpers, then the run. Steps:

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
7. write ``results.json`` (and the copies) under ``out``, and the summary to
   ``experiments/results/tuning/compare-MARKET.json`` (see ``results``).

Steps 1, 3 and 4 are cached the way ``rlopt run`` caches its stages (:mod:`rlopt.pipeline.cache`):
each writes ``OUT/<step>/`` through a temporary directory and a ``stage.json`` fingerprint of its
inputs, settings and rlopt's code, and a rerun reuses a step only when that fingerprint matches; the
evaluation copies carry the same kind of fingerprint. A tuning run killed midway starts that
method again (its temporary directory is replaced).

Run: ``python -m experiments.tuning.compare --out runs/tuning-compare`` (``--help`` for the knobs).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tyro

from experiments.cli import run
from experiments.results_io import RESULTS, ROOT, machine
from rlopt.errors import InputError
from rlopt.pipeline.cache import (
    commit_stage,
    file_digest,
    fingerprint,
    fresh_tmp_dir,
    library_versions,
    read_marker,
    source_digest,
)

BAZAAR_SOURCE = Path(__file__).resolve().parents[1] / "markets" / "bazaar.py"


@dataclass
class Args:
    out: str = "runs/tuning-compare"
    """Run directory (simulation, reward model, tuned generators, copies, results.json)."""
    market: str = "default"
    """Market: 'default', an rlopt market TOML (experiments/markets/harbor.toml), or 'bazaar' (a shop
    simulator rlopt did not write: experiments/markets/bazaar.py)."""
    results: str = ""
    """Where the summary JSON is copied (default: experiments/results/tuning/compare-MARKET.json, and only when
    this run's settings (SAME_RUN_ARGS) match the run recorded there; else it stays in OUT/results.json)."""
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
    reward_set: list[str] = field(default_factory=list)
    """Reward-model training fields (``reward_models.TrainConfig``) over the defaults, as KEY=VALUE, e.g.
    ``max_epochs=1`` or ``encoder=PATH`` (a tiny local encoder makes a smoke run)."""
    generator: str = "default"
    """Base generator (a tiny local model makes a smoke run)."""
    decoder: str = "rlopt"
    """Sampling loop for the evaluation copies: rlopt's (rlopt.generation.decode) or transformers'."""


def split_items(catalog: pd.DataFrame, share: float, seed: int) -> set[str]:
    """Held-out item ids (seeded)."""
    items = np.sort(catalog["item_id"].astype(str).unique())
    n = max(1, int(round(share * len(items))))
    return set(np.random.default_rng(seed).choice(items, size=n, replace=False).tolist())


def simulate_market(market: str, into: Path, impressions: int, seed: int) -> None:
    """Write the market's logs, catalog and truth into ``into``: rlopt's simulator, or bazaar's."""
    if market == "bazaar":
        from experiments.markets import bazaar

        bazaar.simulate(into, impressions, seed)
        return
    from rlopt.market import DEFAULT_MARKET, Marketplace

    market_path = DEFAULT_MARKET if market == "default" else Path(market)
    Marketplace.from_toml(market_path).simulate(impressions, seed=seed).write(into)


def market_inputs(market: str) -> dict[str, Any]:
    """What a simulation depends on besides its size and seed: the market file's or bazaar's source digest
    (bazaar.py and the shops' shared _shop.py)."""
    if market == "bazaar":
        return {"market": "bazaar", "source": file_digest(BAZAAR_SOURCE),
                "shared": file_digest(BAZAAR_SOURCE.with_name("_shop.py"))}
    from rlopt.market import DEFAULT_MARKET

    return {"market": market, "file": file_digest(DEFAULT_MARKET if market == "default" else Path(market))}


def open_market(market: str, sim_dir: Path):
    """``(name, segments, load_truth)`` of a market simulated into ``sim_dir``.

    For rlopt's simulator, ``segments`` are the market's Segment objects (their descriptions go into the
    prompts) and the truth is its Oracle. For ``bazaar`` — an outside shop's logs — rlopt knows only the
    segment labels in the logs, and the truth is bazaar's own ``Truth``.
    """
    if market == "bazaar":
        from experiments.markets import bazaar

        labels = pd.read_parquet(sim_dir / "train.parquet", columns=["segment"])["segment"].unique()
        return "bazaar", {str(x): str(x).replace("_", " ") for x in labels}, lambda: bazaar.Truth.from_dir(sim_dir)
    from rlopt.market import Marketplace
    from rlopt.market.oracle import Oracle  # evaluation only

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
                 "decoder", "dpo_set", "online_set", "reward_members", "reward_set")


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
            raise InputError(f"config override {pair!r}: write KEY=VALUE", key="set", value=pair)
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def cached_step(out: Path, name: str, inputs: dict[str, Any], build: Callable[[Path], Any]) -> tuple[Path, bool]:
    """``OUT/name``, built by ``build(tmp)`` unless its ``stage.json`` fingerprint equals that of ``inputs``.

    The library's stage cache (:mod:`rlopt.pipeline.cache`): ``inputs`` plus rlopt's source digest and
    library versions are hashed; ``build`` writes into a fresh ``OUT/name.tmp/``, which replaces
    ``OUT/name`` only when it returns. A directory rlopt did not make is never replaced (an error
    names it). Returns the directory and whether it was reused.
    """
    key = fingerprint({"step": name, "inputs": inputs, "code": source_digest(), "libraries": library_versions()})
    final = out / name
    marker = read_marker(final)
    if marker is not None and marker.get("fingerprint") == key:
        return final, True
    tmp = fresh_tmp_dir(out, name, {"fingerprint": key})
    started = time.time()
    build(tmp)
    commit_stage(out, name, tmp, {"fingerprint": key, "inputs": inputs, "wall_seconds": round(time.time() - started, 1)})
    return final, False


def weights_key(spec: str) -> str:
    """What a generator's weights are: a cached step's fingerprint, or the name/path it was given."""
    marker = read_marker(Path(spec))
    return marker["fingerprint"] if marker and "fingerprint" in marker else spec


def copies_fingerprint(spec: str, contexts: pd.DataFrame, args: Args) -> str:
    """What a generator's evaluation copies depend on: its weights, the contexts, the sampling settings and
    rlopt's code. Equal fingerprints: an earlier run's copies are reused."""
    return fingerprint({"weights": weights_key(spec), "contexts": contexts.to_dict(orient="list"), "num": args.num,
                        "seed": args.seed, "decoder": args.decoder, "code": source_digest()})


def main(argv: list[str] | None = None) -> dict:
    """Parse ``Args`` from ``argv`` (default: the command line) and run the comparison; returns the summary."""
    args = tyro.cli(Args, args=argv, description=__doc__)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from reward_models import RewardModel, train_reward_model
    from rlopt.data import read_catalog, read_logs, read_placements, read_table, write_jsonl, write_table
    from rlopt.generation.models import resolve_generator
    from rlopt.generation.sample import generate_copies
    from rlopt.io_utils import write_json_atomic
    from rlopt.seeding import seed_everything
    from rlopt.tuning.api import tune_generator
    from rlopt.tuning.common import config_dict
    from rlopt.tuning.config import make_config
    from rlopt.tuning.evaluate import evaluate_copies, paired_ratio

    seed_everything(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    reused: dict[str, bool] = {}
    t0 = time.time()

    # 1. simulate
    sim_dir, reused["sim"] = cached_step(
        out, "sim", {**market_inputs(args.market), "impressions": args.impressions, "seed": args.seed},
        lambda tmp: simulate_market(args.market, tmp, args.impressions, args.seed))
    market_name, market_segments, load_truth = open_market(args.market, sim_dir)
    record_to_default = not args.results
    if record_to_default:
        args.results = (RESULTS / "tuning" / f"compare-{market_name}.json").relative_to(ROOT).as_posix()
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

    # 3. reward model(s): an ensemble's other members differ only in seed
    t = time.time()
    reward_overrides = config_overrides(args.reward_set)
    data_inputs = {"logs": file_digest(train_path), "catalog": file_digest(sim_dir / "catalog.parquet")}
    member_dirs = []
    for k in range(args.reward_members):
        name = "reward_model" if k == 0 else f"reward_model-seed{args.seed + k}"
        member, reused[name] = cached_step(
            out, name, {**data_inputs, "seed": args.seed + k, "overrides": reward_overrides},
            lambda tmp, k=k: train_reward_model(train, catalog, seed=args.seed + k, progress=False,
                                                **reward_overrides).save_pretrained(tmp))
        member_dirs.append(member)
    rm_dir = member_dirs[0]
    timings["reward_model"] = time.time() - t

    # 4. tune
    tuned: dict[str, dict] = {}
    for method in args.methods:
        t = time.time()
        # "dpo-grpo": the online method after the dash, started from this run's DPO-tuned generator
        start_from, trainer = stages(method)
        generator = str(out / f"tuned-{start_from}") if start_from else args.generator
        if start_from and read_marker(out / f"tuned-{start_from}") is None:
            raise InputError(f"{out / f'tuned-{start_from}'} is not tuned yet; put {start_from} before {method}",
                             key="methods", value=method)
        steps = args.dpo_steps if trainer == "dpo" else args.grpo_steps
        extra = {"seed": args.seed, **config_overrides(args.dpo_set if trainer == "dpo" else args.online_set)}
        online_rms = [str(d) for d in member_dirs] if trainer != "dpo" else [str(rm_dir)]
        settings = config_dict(make_config(trainer, args.preset, generator=generator, max_steps=steps, **extra))
        settings.pop("output_dir", None)  # the temporary directory's name, not a setting
        inputs = {"trainer": trainer, "config": settings, "start": weights_key(generator), **data_inputs,
                  "reward_models": [weights_key(d) for d in online_rms]}
        tuned_dir, reused[f"tuned-{method}"] = cached_step(
            out, f"tuned-{method}", inputs,
            lambda tmp, trainer=trainer, generator=generator, steps=steps, extra=extra, rms=online_rms:
            tune_generator(trainer, logs=train_path, catalog=sim_dir / "catalog.parquet", out=tmp, reward_model=rms,
                           preset=args.preset, generator=generator, max_steps=steps, **extra))
        tuned[method] = json.loads((tuned_dir / "tuning.json").read_text())
        timings[f"tune_{method}"] = tuned[method]["wall_seconds"] if reused[f"tuned-{method}"] else time.time() - t

    # 5. generate on held-out contexts
    contexts = eval_contexts(catalog, market_segments, placements, held, args.eval_contexts, args.seed)
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
        key = copies_fingerprint(spec, contexts, args)
        earlier = json.loads(meta_path.read_text()) if meta_path.is_file() and copies_path.is_file() else {}
        reused[f"copies-{name}"] = earlier.get("fingerprint") == key
        if reused[f"copies-{name}"]:  # same generator weights, contexts and sampling: the same seeded copies
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
            copies.attrs.update(fingerprint=key, generate_seconds=round(timings[f"generate_{name}"], 1))
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

    # 7. record
    import torch

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
        "reused": reused,
        "timings_seconds": {k: round(v, 1) for k, v in timings.items()},
        "cpu_threads": torch.get_num_threads(),
        "machine": machine(),
    }
    recorded = ROOT / args.results if record_to_default else Path(args.results)
    earlier = json.loads(recorded.read_text()) if recorded.is_file() else {}
    results = merge_earlier(results, earlier)
    write_json_atomic(out / "results.json", results)
    differs = different_run_args(earlier.get("args", {}), results["args"]) if earlier and record_to_default else []
    if differs:  # a one-off run with other settings must not replace the recorded comparison
        print(f"not copied to {recorded}: this run's {', '.join(differs)} differ from the recorded run's; "
              f"pass --results PATH to record it (written to {out / 'results.json'})", file=sys.stderr)
    else:
        recorded.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(recorded, results)
    print(json.dumps({"ratio_vs_base": ratios,
                      **{n: {k: e[k] for k in ("ctr", "purchase_rate", "proxy_reward", "misleading_rate",
                                                  "over_limit_rate")} for n, e in evals.items()}}, indent=1))
    return results


if __name__ == "__main__":
    run(main)
