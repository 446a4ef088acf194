"""Do other reward models agree with the one a generator was tuned against?

For a finished ``compare.py`` run directory, train reward models on the same training logs that differ
from the run's own (``OUT/reward_model``) only in seed, or in seed and data (each half of the users),
and report each one's ratio of mean predicted value, tuned copy over base copy, next to the truth's
ratio. A generator that exploits its reward model's errors scores well under that model and less well
under the others; one that learned what shoppers respond to scores alike under all of them. This is
the measurement behind ``reward_ensemble`` (README, "Reward-model ensembles"). It also reports the share
of copies that name their item (a title word of 4+ letters, or the brand) — logged, base and tuned — and
each reward model's mean score of the copies that do and do not: copy outside what the logs show is
where reward models extrapolate.

The extra reward models are trained with the run's own reward-model settings (its ``--reward-set``)
and cached like the run's steps (:func:`experiments.tuning.compare.cached_step`, under
``OUT/rm-agreement/``).

Run: ``python -m experiments.tuning.rm_agreement --out runs/tuning-compare-grpo80 --generator grpo``
(writes ``OUT/rm_agreement-GENERATOR.json`` and, with ``--name NAME``, a copy to
``experiments/results/tuning/NAME.json``; ``--help``: every field of ``Args``).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tyro

from experiments.cli import run
from experiments.results_io import RESULTS, write_result

_WORD = re.compile(r"[a-z0-9']+")


@dataclass
class Args:
    out: Path
    """A compare.py run directory (its results.json, train_items.parquet, copies-*.jsonl)."""
    generator: str = "grpo"
    """Tuned generator name (copies-NAME.jsonl)."""
    seed: int = 7
    """Seed of the user split."""
    name: str = ""
    """When given, the summary is also written to OUT_DIR/NAME.json (e.g. rm-agreement-grpo-80-steps)."""
    out_dir: Path = RESULTS / "tuning"
    """Folder of the recorded copy (with --name)."""


def user_halves(user_ids: np.ndarray, seed: int) -> np.ndarray:
    """A boolean mask, True for rows whose user is in a seeded random half of the distinct users.

    >>> user_halves(np.array(["a", "b", "a", "c", "d"]), 0).tolist().count(True) in (2, 3)
    True
    """
    users = np.unique(user_ids)
    half = np.random.default_rng(seed).choice(users, len(users) // 2, replace=False)
    return np.isin(user_ids, half)


def names_item(text: str, title: str, brand: str) -> bool:
    """Whether ``text`` names its item: a word of 4+ letters from the title, or the brand.

    >>> names_item("Halvorsen Edge Earbuds, light", "Halvorsen Edge Earbuds", "Halvorsen"), names_item("Here is the copy:", "Edge Earbuds", "Halvorsen")
    (True, False)
    """
    words = set(_WORD.findall(text.lower()))
    return bool(words & {w for w in _WORD.findall(title.lower()) if len(w) >= 4}) or (
        bool(brand) and brand.lower() in text.lower())


def naming(frame, catalog) -> np.ndarray:
    """:func:`names_item` per row of a frame with ``item_id`` and ``copy_text``."""
    items = catalog.set_index(catalog["item_id"].astype(str))
    brand = items["brand"] if "brand" in items.columns else None
    return np.array([names_item(str(t), str(items.at[str(i), "title"]), "" if brand is None else str(brand[str(i)]))
                     for t, i in zip(frame["copy_text"], frame["item_id"], strict=True)])


def main(argv: list[str] | None = None) -> dict:
    """Parse ``Args`` from ``argv`` (default: the command line), score both generators' copies, write the summary."""
    args = tyro.cli(Args, args=argv, description=__doc__)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from experiments.tuning.compare import cached_step, config_overrides
    from reward_models import RewardModel, train_reward_model
    from rlopt.data import read_catalog, read_table
    from rlopt.io_utils import write_json_atomic
    from rlopt.pipeline.cache import file_digest

    out = Path(args.out)
    catalog = read_catalog(out / "sim" / "catalog.parquet")
    train = read_table(out / "train_items.parquet")
    half = user_halves(train["user_id"].astype(str).to_numpy(), args.seed)
    variants = {"other seed, all users": (train, 1), "other seed, users half A": (train[half], 2),
                "other seed, users half B": (train[~half], 3)}
    # the run's own reward model(s): reward_model, and an ensemble's reward_model-seedK
    models = {f"tuned against: {d.name}": RewardModel.from_pretrained(d)
              for d in sorted(out.glob("reward_model*")) if (d / "reward_config.json").is_file()}
    results = json.loads((out / "results.json").read_text())
    overrides = config_overrides(results["args"].get("reward_set", []))  # the run's own reward-model settings
    cache = out / "rm-agreement"
    cache.mkdir(exist_ok=True)
    for name, (logs, seed) in variants.items():
        if logs is train and f"tuned against: reward_model-seed{seed}" in models:
            continue  # an ensemble member is this model already (all training users, this seed)
        inputs = {"logs": file_digest(out / "train_items.parquet"), "users": "all" if logs is train else name,
                  "split_seed": args.seed, "seed": seed, "overrides": overrides}
        member, _ = cached_step(cache, f"seed{seed}", inputs,
                                lambda tmp, logs=logs, seed=seed: train_reward_model(
                                    logs.reset_index(drop=True), catalog, seed=seed, progress=False,
                                    **overrides).save_pretrained(tmp))
        models[name] = RewardModel.from_pretrained(member)
    cols = ["item_id", "segment", "placement", "copy_text"]
    base = read_table(out / "copies-base.jsonl")[cols]
    tuned = read_table(out / f"copies-{args.generator}.jsonl")[cols]
    scores = {name: (m.score(base, catalog)["reward"].to_numpy(), m.score(tuned, catalog)["reward"].to_numpy())
              for name, m in models.items()}
    ratios = {name: float(t.mean() / b.mean()) for name, (b, t) in scores.items()}
    named_base, named_tuned = naming(base, catalog), naming(tuned, catalog)
    logged = train.drop_duplicates(["item_id", "copy_text"])
    by_naming = {name: {"base named": float(b[named_base].mean()), "base unnamed": float(b[~named_base].mean()),
                        "tuned named": float(t[named_tuned].mean()), "tuned unnamed": float(t[~named_tuned].mean())}
                 for name, (b, t) in scores.items()}
    truth = results["ratio_vs_base"][args.generator]["p_click"]["ratio"]
    summary = {"run": str(out), "generator": args.generator, "proxy_ratio_tuned_over_base": ratios,
               "true_ctr_ratio": truth,
               "share_naming_the_item": {"logged copies": float(naming(logged, catalog).mean()),
                                         "base": float(named_base.mean()), "tuned": float(named_tuned.mean())},
               "mean_score_by_naming": by_naming}
    write_json_atomic(out / f"rm_agreement-{args.generator}.json", summary)
    if args.name:
        write_result(args.out_dir / f"{args.name}.json", summary)
    print(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    run(main)
