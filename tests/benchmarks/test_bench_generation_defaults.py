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
    variants = {"baseline": _variant(0.04, 200.0), "few_shot+claims": _variant(0.05, 250.0, 0.0)}
    r = ratios_to_baseline(variants)
    assert set(r) == {"few_shot+claims"} and abs(r["few_shot+claims"]["tuned_ctr"] - 1.25) < 1e-12
    assert abs(r["few_shot+claims"]["generation_wall"] - 1.25) < 1e-12
    assert ratios_to_baseline({"x": variants["few_shot+claims"]}) == {}  # no baseline, no ratio
    assert VARIANTS["few_shot+claims"] == (3, True, 0) and VARIANTS["baseline"] == (0, False, 0)


def test_results_page_has_a_generation_defaults_section(tmp_path):
    variants = {"baseline": _variant(0.04, 200.0), "few_shot+claims": _variant(0.05, 250.0, 0.0)}
    variants["few_shot+claims"]["tuned"]["checks"]["unbacked_top"] = {"10000": 1, "loved by": 3}
    data = {"config": "experiments/quickstart.toml", "seed": 0, "machine": "AMD EPYC", "cpu_count": 2,
            "variants": variants, "ratios": ratios_to_baseline(variants)}
    path = tmp_path / "benchmarks/results/generation_defaults.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(data))
    page = runpy.run_path(str(ROOT / "scripts" / "gen_results_page.py"))["results_markdown"](tmp_path)
    assert "### The generation defaults on the packaged market" in page
    row = next(line for line in page.splitlines() if line.startswith("| few_shot+claims |"))
    assert "| on |" in row and "5.00%" in row and "| 1.25 |" in row and "loved by (3), 10000 (1)" in row, row
    assert next(line for line in page.splitlines() if line.startswith("| baseline |")).count("(baseline)") == 1


def test_the_benchmark_runs_its_variants_in_one_run_directory(tmp_path, tiny_causal_lm_dir, tiny_encoder_dir):
    from benchmarks.bench_generation_defaults import main
    from rlopt.testing import write_tiny_experiment

    cfg = write_tiny_experiment(tmp_path / "bench.toml", tiny_causal_lm_dir, tiny_encoder_dir, bandit_steps=200)
    out = tmp_path / "generation_defaults.json"
    main(["--config", str(cfg), "--variants", "few_shot+claims+r1", "--work", str(tmp_path / "run"), "--out", str(out)])
    d = json.loads(out.read_text())
    assert list(d["variants"]) == ["baseline", "few_shot+claims+r1"] and set(d["ratios"]) == {"few_shot+claims+r1"}
    base, defaults = d["variants"]["baseline"], d["variants"]["few_shot+claims+r1"]
    # the second variant reuses the reward model and the tuned generator: only generation and after rerun
    assert defaults["statuses"]["tuning"] == "cached" and defaults["statuses"]["generation"] == "ran"
    assert (base["few_shot"], base["claim_check"], base["resample"]) == (0, False, 0)
    assert (defaults["few_shot"], defaults["claim_check"], defaults["resample"]) == (3, True, 1)
    for v in (base, defaults):
        assert 0 < v["tuned"]["true_ctr"] < 1 and v["tuned / mean_logged"]["ratio"] > 0
        assert 0 <= v["tuned"]["checks"]["unbacked_claim"] <= 1 and v["generation_wall_s"] > 0
    assert d["ratios"]["few_shot+claims+r1"]["tuned_ctr"] > 0
