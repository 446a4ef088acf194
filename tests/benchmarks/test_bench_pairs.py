"""``benchmarks/bench_pairs``: pairs graded by a truth, and the results page's section from its JSON."""

from __future__ import annotations

import json
import runpy

import pandas as pd

from benchmarks.bench_pairs import grade
from tests.docs.markdown_blocks import ROOT


def _truth(frame: pd.DataFrame) -> pd.DataFrame:
    """Click rate = 0.1 for 'good' copy, 0.05 otherwise; purchases 0; the same in every context."""
    out = frame.copy()
    out["p_click"] = [0.1 if "good" in t else 0.05 for t in frame["copy_text"]]
    out["p_purchase"] = 0.0
    return out


def test_grade_counts_right_rows_weighted_and_distinct_pairs():
    pairs = pd.DataFrame({"item_id": ["a", "a", "a", "b"], "segment": ["s", "t", "u", "s"],
                          "placement": "p", "chosen": ["good 1", "good 1", "good 1", "plain"],
                          "rejected": ["plain", "plain", "plain", "good 2"], "weight": [0.1, 0.1, 0.1, 0.7]})
    g = grade(pairs, _truth)
    assert (g["pairs"], g["accuracy"], g["weighted_accuracy"], g["ties"]) == (4, 0.75, 0.3, 0.0)
    assert (g["item_pairs"], g["item_pair_accuracy"]) == (2, 0.5)
    assert grade(pairs.iloc[:0], _truth)["accuracy"] is None


def test_results_page_has_a_pairs_section(tmp_path):
    cell = {"pairs": 157, "accuracy": 0.8535, "weighted_accuracy": 0.856}
    data = {"settings": {"confidences": [0.9]}, "machine": {"cpus": 2},
            "markets": {"small_shop_seed0": {"scopes": {"item": {"groups": 30, "comparable_groups": 30,
                                                                 "group": "item", "0.9": cell}}}}}
    path = tmp_path / "benchmarks/results/pairs.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(data))
    page = runpy.run_path(str(ROOT / "scripts" / "gen_results_page.py"))["results_markdown"](tmp_path)
    assert "| small_shop_seed0 | item | 30 of 30 item | 157 (85.4% / 85.6%) |" in page
