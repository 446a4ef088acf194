"""Grade a finished compare.py run's copies again after today's post-processing.

When :func:`rlopt.generation.postprocess.clean_copy` learns a new rule, copies sampled before it
can be cleaned again and re-graded without sampling again: for DPO and the base model the sampled
tokens do not depend on the cleaner, so re-cleaning the stored shown copy gives what a new run would
show (up to the rare copy that was cut at its limit inside the text the new rule removes). For
GRPO/RLOO it does not: their rewards saw the old cleaner during training, so only a new run says
what they would learn.

For each generator of the run: the share of copies the new rule changes, and the tuned / base
ratios (true CTR, purchases, proxy; paired bootstrap over contexts, as compare.py) before and after.

Run: ``python -m experiments.tuning.reclean --out runs/DIR [--market bazaar] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from experiments.tuning.compare import RATIO_COLUMNS, open_market


def reclean(copies: pd.DataFrame, catalog: pd.DataFrame, placements) -> pd.DataFrame:
    """``copies`` with ``copy_text`` (and ``raw_copy_text``) cleaned again by today's :func:`clean_copy`.

    A copy the new rule empties shows the item's title, as :func:`rlopt.generation.sample.generate_copies`
    does. The input frame is not changed.

    >>> from types import SimpleNamespace
    >>> copies = pd.DataFrame({"item_id": ["a", "a"], "placement": ["p", "p"],
    ...                        "copy_text": ["Kettle - 10% off - - -", "- -"]})
    >>> catalog = pd.DataFrame({"item_id": ["a"], "title": ["Steel Kettle"]})
    >>> reclean(copies, catalog, {"p": SimpleNamespace(max_chars=40)})["copy_text"].tolist()
    ['Kettle - 10% off', 'Steel Kettle']
    """
    from rlopt.generation.postprocess import cap_length, clean_copy
    from rlopt.generation.prompts import max_chars_for

    titles = catalog.set_index("item_id")["title"].astype(str)
    limits = [max_chars_for(placements, p) for p in copies["placement"]]
    again = copies.copy()
    for col in ("copy_text", "raw_copy_text"):
        if col in again:
            again[col] = [clean_copy(str(t), lim) for t, lim in zip(again[col], limits, strict=True)]
    again["copy_text"] = [text or cap_length(titles[item], lim)
                          for text, item, lim in zip(again["copy_text"], again["item_id"], limits, strict=True)]
    return again


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="a finished compare.py run directory")
    parser.add_argument("--market", default="default", help="the run's --market")
    parser.add_argument("--json", default="", help="also write the result here")
    args = parser.parse_args(argv)

    from reward_models import RewardModel
    from rlopt.data import read_catalog, read_placements, read_table
    from rlopt.io_utils import write_json_atomic
    from rlopt.tuning.evaluate import evaluate_copies, paired_ratio

    out = Path(args.out)
    _, _, load_truth = open_market(args.market, out / "sim", 0, 0)  # already simulated: loads only
    truth, reward_model = load_truth(), RewardModel.from_pretrained(out / "reward_model")
    catalog = read_catalog(out / "sim" / "catalog.parquet")
    placements = read_placements(out / "sim" / "placements.json")

    frames: dict[str, dict[str, object]] = {"before": {}, "after": {}}
    changed = {}
    for path in sorted(out.glob("copies-*.jsonl")):
        name = path.stem.removeprefix("copies-")
        copies = read_table(path)
        frames["before"][name] = evaluate_copies(copies, truth, reward_model, catalog, placements)["frame"]
        again = reclean(copies, catalog, placements)
        changed[name] = float((again["copy_text"] != copies["copy_text"]).mean())
        frames["after"][name] = evaluate_copies(again, truth, reward_model, catalog, placements)["frame"]
    result = {"run": str(out), "changed_share": changed}
    for when, by_name in frames.items():
        result[f"ratio_vs_base_{when}"] = {
            name: {col: paired_ratio(by_name["base"], frame, col, seed=0) for col in RATIO_COLUMNS}
            for name, frame in by_name.items() if name != "base"}
    if args.json:
        write_json_atomic(args.json, result)
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
