"""``benchmarks/bench_generation_defaults``: ratios to the baseline variant, and the results page's section."""

from __future__ import annotations

import json
import runpy

from benchmarks.bench_generation_defaults import VARIANTS, ratios_to_baseline
from tests.docs.markdown_blocks import ROOT


def _variant(ctr: float, wall: float, unbacked: float | None = None) -> dict:
    return {"few_shot": 0, "claim_check": unbacked is not None, "generation_wall_s": wall,
            "base": {"true_ctr": 0.03}, "tuned": {"true_ctr": ctr, "true_purchase_rate": ctr / 5, "title_shown": 0.1,
                                                   "checks": {"unbacked_claim": unbacked, "unbacked_top": {"loved by": 3}}},
            "tuned / base": {"ratio": ctr / 0.03, "low": 1.0, "high": 2.0}}


def test_ratios_divide_by_the_baseline_of_the_same_run():
    variants = {"baseline": _variant(0.04, 200.0), "defaults": _variant(0.05, 250.0, 0.0)}
    r = ratios_to_baseline(variants)
    assert set(r) == {"defaults"} and abs(r["defaults"]["tuned_ctr"] - 1.25) < 1e-12
    assert abs(r["defaults"]["generation_wall"] - 1.25) < 1e-12
    assert ratios_to_baseline({"defaults": variants["defaults"]}) == {}  # no baseline, no ratio
    assert VARIANTS["defaults"] == (3, True) and VARIANTS["baseline"] == (0, False)


def test_results_page_has_a_generation_defaults_section(tmp_path):
    variants = {"baseline": _variant(0.04, 200.0), "defaults": _variant(0.05, 250.0, 0.0)}
    data = {"config": "experiments/quickstart.toml", "seed": 0, "machine": "AMD EPYC", "cpu_count": 2,
            "variants": variants, "ratios": ratios_to_baseline(variants)}
    path = tmp_path / "benchmarks/results/generation_defaults.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(data))
    page = runpy.run_path(str(ROOT / "scripts" / "gen_results_page.py"))["results_markdown"](tmp_path)
    assert "### The generation defaults on the packaged market" in page
    row = next(line for line in page.splitlines() if line.startswith("| defaults |"))
    assert "| on |" in row and "5.00%" in row and "| 1.25 |" in row and "loved by (3)" in row, row
    assert next(line for line in page.splitlines() if line.startswith("| baseline |")).count("(baseline)") == 1
