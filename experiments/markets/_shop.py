"""What the independently written shops (``bazaar.py``, ``atelier.py``) do alike: the hidden item
parameters on disk, response probabilities from the two logits, the click and purchase draws, the
files an outside shop hands over, and the command line.

Like the shops, this module imports nothing from rlopt: a shop's truth must not share code with the
library it tests. Each shop keeps its own catalog, copy pools, logging policy and logits.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HIDDEN = "truth.json"


def read_hidden(sim_dir: str | Path) -> tuple[pd.DataFrame, dict[str, float], dict[str, float]]:
    """``(catalog, appeal, buy)`` a shop's :func:`write_shop` left in ``sim_dir`` (for its ``Truth``)."""
    sim_dir = Path(sim_dir)
    hidden = json.loads((sim_dir / HIDDEN).read_text())
    return pd.read_parquet(sim_dir / "catalog.parquet"), hidden["appeal"], hidden["buy"]


def probabilities(df: pd.DataFrame, exam: np.ndarray, z: np.ndarray, net_price: np.ndarray) -> pd.DataFrame:
    """``df`` with ``p_click, p_purchase_given_click, p_purchase, expected_revenue`` added.

    ``p_click = exam * sigmoid(z[:, 0])``, ``p_purchase_given_click = sigmoid(z[:, 1])``,
    ``p_purchase = p_click * p_purchase_given_click``, ``expected_revenue = p_purchase * net_price``;
    ``exam`` and ``net_price`` have shape (n,), ``z`` shape (n, 2).
    """
    out = df.copy()
    out["p_click"] = exam / (1.0 + np.exp(-z[:, 0]))
    out["p_purchase_given_click"] = 1.0 / (1.0 + np.exp(-z[:, 1]))
    out["p_purchase"] = out["p_click"] * out["p_purchase_given_click"]
    out["expected_revenue"] = out["p_purchase"] * net_price
    return out


def draw_outcomes(logs: pd.DataFrame, probs: pd.DataFrame, net_price: np.ndarray, rng: np.random.Generator) -> None:
    """Add ``clicked``, ``converted`` and ``revenue`` (the net price of a purchase) to ``logs`` in place.

    Draws a click per row from ``probs["p_click"]``, then a purchase per click from
    ``probs["p_purchase_given_click"]`` (two ``rng.random(n)`` calls, in that order).
    """
    n = len(logs)
    clicked = rng.random(n) < probs["p_click"].to_numpy()
    converted = clicked & (rng.random(n) < probs["p_purchase_given_click"].to_numpy())
    logs["clicked"] = clicked.astype(int)
    logs["converted"] = converted.astype(int)
    logs["revenue"] = np.where(converted, net_price, 0.0).round(2)


def write_shop(out: str | Path, catalog: pd.DataFrame, logs: pd.DataFrame, placements: Mapping[str, Mapping[str, Any]],
               appeal: Mapping[str, float], buy: Mapping[str, float]) -> Path:
    """Write ``catalog.parquet``, ``train.parquet``, ``placements.json`` (the contract's ``max_chars``,
    ``slots``, ``examination`` of each placement) and the hidden ``truth.json`` to ``out``; return ``out``.

    Written to temporary names and renamed, so an interrupted run leaves no half file.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    places = {p: {"max_chars": v["max_chars"], "slots": len(v["examination"]), "examination": v["examination"]}
              for p, v in placements.items()}
    writes = {"catalog.parquet": lambda f: catalog.to_parquet(f, index=False),
              "train.parquet": lambda f: logs.to_parquet(f, index=False),
              "placements.json": lambda f: f.write_text(json.dumps(places, indent=1)),
              HIDDEN: lambda f: f.write_text(json.dumps({"appeal": dict(appeal), "buy": dict(buy)}))}
    for name, write in writes.items():
        tmp = out / f".{name}.tmp"
        write(tmp)
        tmp.replace(out / name)
    return out


def main(simulate: Callable[[str, int, int], Path], doc: str | None, out: str, impressions: int) -> None:
    """``python -m experiments.markets.<shop> [--out DIR] [--impressions N] [--seed S]``: run ``simulate``."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=out)
    parser.add_argument("--impressions", type=int, default=impressions)
    parser.add_argument("--seed", type=int, default=0)
    a = parser.parse_args()
    print(simulate(a.out, a.impressions, a.seed))
