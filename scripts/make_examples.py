"""Write the sample shop files in ``examples/`` with the packaged marketplace simulator.

The files stand in for a shop's own export: a CSV impression log with ISO-8601 timestamps (the
older 80% of 2,000 impressions in ``logs.csv``, the latest 20% in ``holdout.csv``), a CSV catalog,
a placements TOML, the generation contexts, ``logs_with_errors.csv``: the first rows of the
log with three rows broken on purpose, to show what validation says, and ``copies.csv``: a draft
campaign written by hand, some of it with what ``rlopt check`` catches. They are small so the
README's five-minute tour runs in seconds; the same seed writes the same bytes.

Run ``python scripts/make_examples.py`` from the repository root to rebuild them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from rlopt.data import write_jsonl, write_placements, write_table
from rlopt.market import DEFAULT_MARKET, Marketplace

ROOT = Path(__file__).resolve().parents[1]


def iso_timestamps(ms: pd.Series) -> pd.Series:
    """Epoch milliseconds -> ISO-8601 UTC strings (a shop export rarely carries epoch ms)."""
    return pd.to_datetime(ms, unit="ms", utc=True).dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def broken_rows(logs: pd.DataFrame) -> pd.DataFrame:
    """Break three rows of ``logs``, one contract rule each, so validation has something to say.

    Row 3 gets a propensity outside (0, 1], row 5 a purchase without a click, row 8 repeats row 1's
    ``event_id`` (rows count from 1, as validation messages do).
    """
    bad = logs.reset_index(drop=True).copy()
    bad["propensity"] = bad["propensity"].astype(float)
    bad.loc[2, "propensity"] = 2.0
    bad.loc[4, ["clicked", "converted", "revenue"]] = [0, 1, float(bad.loc[4, "revenue"]) or 19.99]
    bad.loc[7, "event_id"] = bad.loc[0, "event_id"]
    return bad


# A draft campaign: one line per context, cycling through these. {d} is the item's real discount.
DRAFT_TEMPLATES = (
    "{title}: {benefit}. Shop now",  # fine
    "{title} - {d}% off this week",  # fine where the item is discounted, misleading where it is not
    "{title} - 60% off, today only",  # a discount the catalog does not have
    "{title}: loved by 10,000+ shoppers",  # a claim the shop never made of the item
    "{noun} by {brand}, best seller of the season. Free shipping",  # more of them, without a number
    "Sure! Here is a subject line: {title}",  # a leaked instruction
    "{title}, {key_attribute} and {benefit}, made to be worn and used every single day of the year",  # too long for most placements
)


def draft_copies(contexts: pd.DataFrame, catalog: pd.DataFrame, n: int = 14) -> pd.DataFrame:
    """``n`` hand-written copies for the first ``n`` contexts (``DRAFT_TEMPLATES`` in turn)."""
    items = catalog.set_index("item_id")
    rows = []
    for k, ctx in enumerate(contexts.head(n).itertuples(index=False)):
        item = items.loc[ctx.item_id]
        attrs = json.loads(item["attributes"]) if isinstance(item["attributes"], str) else dict(item["attributes"])
        text = DRAFT_TEMPLATES[k % len(DRAFT_TEMPLATES)].format(
            title=item["title"], brand=item["brand"], d=int(round(float(item["discount_pct"]))), **attrs)
        rows.append({"item_id": ctx.item_id, "segment": ctx.segment, "placement": ctx.placement, "copy_text": text})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impressions", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "examples")
    args = parser.parse_args(argv)

    sim = Marketplace.from_toml(DEFAULT_MARKET).simulate(args.impressions, seed=args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    # Propensities to 10 decimals, as a warehouse export writes them: the logging policy's softmax runs
    # on numpy's BLAS, whose kernels differ in the last bit between CPUs (AVX2 or AVX-512), and the
    # shipped files must be the same bytes on every machine (tests/docs/test_examples_files.py).
    train, holdout = (frame.assign(timestamp=iso_timestamps(frame["timestamp"]), propensity=frame["propensity"].round(10))
                      for frame in (sim.train, sim.holdout))
    write_table(train, args.out / "logs.csv")
    write_table(holdout, args.out / "holdout.csv")
    write_table(broken_rows(train.head(12)), args.out / "logs_with_errors.csv")
    write_table(sim.catalog, args.out / "catalog.csv")
    write_placements(sim.placements, args.out / "placements.toml")
    write_jsonl(sim.contexts, args.out / "contexts.jsonl")
    write_table(draft_copies(sim.contexts.iloc[::7], sim.catalog), args.out / "copies.csv")
    print(f"wrote {len(train)} + {len(holdout)} impressions, {len(sim.catalog)} items, {len(sim.placements)} placements, "
          f"{len(sim.contexts)} contexts to {args.out}")


if __name__ == "__main__":
    main()
