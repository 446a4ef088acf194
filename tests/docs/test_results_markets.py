"""The results page's foreign-markets tables (``benchmarks/results/markets.json``) come from the file."""

from __future__ import annotations

import json
import runpy

from tests.docs.markdown_blocks import ROOT

results_markdown = runpy.run_path(str(ROOT / "scripts" / "gen_results_page.py"))["results_markdown"]


def _ratio(r):
    return {"ratio": r, "low": r - 0.1, "high": r + 0.1, "n_contexts": 60}


def test_markets_tables_from_the_file(tmp_path):
    case = {
        "machine": "Test CPU, AVX2", "cpu_count": 2, "contexts": 60, "num": 2, "wall_s": 1234.5,
        "reward_model": {"n_train": 48000, "n_holdout": 12000, "scorer": "blend", "wall_s": 99.0,
                         "load_avg_1m": [1.5, 2.5], "saved": {"click_auc": 0.6789, "purchase_auc": 0.61},
                         "baseline": {"click_auc": 0.6512, "purchase_auc": 0.6}, "oracle": {"click_auc": 0.7011},
                         "health": {"status": "ok"}},
        "dpo": {"steps": 40, "train_pairs": 320, "pairs": 512, "min_confidence": 0.9, "value_metric": "combined",
                "wall_s": 456.0},
        "graded": {"ctr": {"means": {"mean_logged": 0.07, "best_logged": 0.11, "base": 0.04, "tuned": 0.0655},
                           "ratios": {"tuned / base": _ratio(1.637), "tuned / mean_logged": _ratio(0.936)}},
                   "purchase": {"means": {"tuned": 0.012}, "ratios": {"tuned / mean_logged": _ratio(0.871)}}},
        "quality": {"tuned": {"defects": {"any": 0.025, "incomplete": 0.0125}, "misleading": 0.0,
                              "misleading_written": 0.05,
                              "title_fallback_share": 0.1,
                              "diversity": {"distinct_share": 0.4, "top_template_share": 0.55},
                              "unbacked_claim": 0.125}},
        "targets": {"tuned / mean_logged ctr >= 1.0": {"value": 0.936, "low": 0.836, "high": 1.036, "met": False},
                    "rm_click_auc >= baseline": {"value": 0.0277, "met": True}},
        "grpo_seed_spread": {"grpo": {"ctr": {"ratios": [1.17, 1.05, 1.11], "mean": 1.11, "min": 1.05, "max": 1.17}}},
    }
    path = tmp_path / "benchmarks/results/markets.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"markets": {"atelier": case}}))
    page = results_markdown(tmp_path)
    assert "#### atelier" in page and "48,000 training / 12,000 held-out" in page
    assert "| saved (blend) | 0.679 | 0.610 |" in page and "| oracle | 0.701 |  |" in page
    assert "| tuned / mean_logged ctr >= 1.0 | 0.936 [0.836, 1.04] | **no** |" in page
    assert "| rm_click_auc >= baseline | 0.0277 | yes |" in page
    row = next(line for line in page.splitlines() if line.startswith("| tuned |"))
    assert "6.55%" in row and "1.64x [1.54, 1.74]" in row and "0.94x [0.84, 1.04]" in row and "0.87x" in row
    # defects, misleading as written, title, repeats an example (none), distinct copies, top template, unbacked
    assert "2.5%" in row and "5.0%" in row and row.endswith("| 10.0% |  | 40.0% | 55.0% | 12.5% |")
    assert "DPO: 40 steps on 320 training pairs" in page and "load average 1.5-2.5" in page
    assert "`benchmarks/results/markets.json`" in page
    assert "per seed: grpo 1.17, 1.05, 1.11 (mean 1.11, range 0.12)." in page


def test_a_market_whose_dpo_failed_says_so(tmp_path):
    case = {"reward_model": {"n_train": 2400, "n_holdout": 600, "saved": {"click_auc": 0.55},
                             "health": {"status": "weak"}},
            "dpo": {"error": "only 3 confident preference pairs (need min_pairs=16)"},
            "graded": {"ctr": {"means": {"base": 0.05, "mean_logged": 0.07}}}}
    path = tmp_path / "benchmarks/results/markets.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"markets": {"small_shop": case}}))
    page = results_markdown(tmp_path)
    assert "DPO did not run: only 3 confident preference pairs (need min_pairs=16)" in page
    assert "| mean_logged | 7.00% |" in page
