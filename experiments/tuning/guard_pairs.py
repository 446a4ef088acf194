"""Does a tuning option help? Paired compare.py runs, with and without it, graded by the truth.

Each pair is two ``experiments.tuning.compare`` run directories that share the simulation, reward
model(s), evaluation contexts and base copies and differ only in one option (the support guard,
``--online-set support_penalty=1``, in ``support-guard-pairs-*.json``; reward scaling per batch,
``scale_rewards=batch``, in ``scale-batch-pairs-*.json``). For each pair this reads both runs' tuned copies
(``copies-METHOD.jsonl``), grades them with the market's truth on the same contexts and reports

* the paired ratio option / control of true CTR and purchases per impression, with a paired
  bootstrap 95% CI over contexts (:func:`rlopt.tuning.evaluate.paired_ratio`), and
* each run's own ratio to the base generator (from its ``results.json``).

The intervals cover evaluation contexts only, not the training run's variance; that is what the
spread of the per-pair ratios over tuning seeds shows, so the summary lists them, with their
geometric mean, and does not pool them into one interval.

Run: ``python -m experiments.tuning.guard_pairs --market bazaar --pair runs/a:runs/a-support ...
--name support-guard-pairs-bazaar`` (writes ``experiments/results/tuning/NAME.json``; ``--help``:
every field of ``Args``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tyro

from experiments.cli import run
from experiments.results_io import RESULTS, write_result
from rlopt.errors import InputError


@dataclass
class Args:
    pair: list[str]
    """CONTROL_DIR:OPTION_DIR, one per pair (compare.py run directories)."""
    market: str = "default"
    """The runs' market: default, an rlopt market TOML, or bazaar."""
    method: str = "grpo"
    """Tuned generator compared (copies-METHOD.jsonl)."""
    name: str = "guard-pairs"
    """Output file stem: OUT_DIR/NAME.json."""
    out_dir: Path = RESULTS / "tuning"
    """Folder of the summary JSON."""


def run_dirs(spec: str, method: str) -> list[Path]:
    """``"CONTROL:OPTION"`` -> the two run directories, each checked for what the comparison reads."""
    control, sep, option = spec.partition(":")
    if not sep or not control or not option:
        raise InputError(f"--pair {spec!r}: write CONTROL_DIR:OPTION_DIR", key="pair", value=spec)
    dirs = [Path(control), Path(option)]
    for d in dirs:
        for name in ("results.json", f"copies-{method}.jsonl", "sim/catalog.parquet"):
            if not (d / name).is_file():
                raise InputError(f"{d / name} is missing: run experiments.tuning.compare there first "
                                 f"(with --methods {method})", file=str(d / name))
    return dirs


def main(argv: list[str] | None = None) -> dict:
    """Parse ``Args`` from ``argv`` (default: the command line), grade every pair, write the summary."""
    args = tyro.cli(Args, args=argv, description=__doc__)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from experiments.tuning.compare import open_market
    from rlopt.data import read_catalog, read_placements, read_table
    from rlopt.tuning.evaluate import evaluate_copies, paired_ratio

    pairs = []
    for spec in args.pair:
        dirs = run_dirs(spec, args.method)
        _, _, load_truth = open_market(args.market, dirs[0] / "sim")
        truth = load_truth()
        catalog = read_catalog(dirs[0] / "sim" / "catalog.parquet")
        placements = read_placements(dirs[0] / "sim" / "placements.json")
        frames = [evaluate_copies(read_table(d / f"copies-{args.method}.jsonl"), truth, None, catalog,
                                  placements)["frame"] for d in dirs]
        summaries = [json.loads((d / "results.json").read_text()) for d in dirs]
        seed = summaries[0]["args"]["seed"]
        pairs.append({
            "control": str(dirs[0]), "option": str(dirs[1]),
            "online_set": [s["args"]["online_set"] for s in summaries],
            "option_over_control": {col: paired_ratio(frames[0], frames[1], col, seed=seed)
                                    for col in ("p_click", "p_purchase")},
            "vs_base": {which: {col: s["ratio_vs_base"][args.method][col]["ratio"] for col in ("p_click", "p_purchase")}
                        for which, s in zip(("control", "option"), summaries, strict=True)},
        })

    # the per-pair ratios and their geometric mean (not pooled: see the module docstring)
    ratios = np.array([p["option_over_control"]["p_click"]["ratio"] for p in pairs])
    summary = {"market": args.market, "method": args.method, "pairs": pairs,
               "ctr_ratio_per_pair": ratios.round(4).tolist(),
               "ctr_ratio_geometric_mean": float(np.exp(np.log(ratios).mean()))}
    write_result(args.out_dir / f"{args.name}.json", summary)
    print(json.dumps({k: summary[k] for k in ("ctr_ratio_per_pair", "ctr_ratio_geometric_mean")}))
    return summary


if __name__ == "__main__":
    run(main)
