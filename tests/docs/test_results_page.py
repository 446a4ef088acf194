"""The results page is made from the JSON files alone: their numbers appear, unknown files are listed."""

from __future__ import annotations

import json
import runpy

from tests.docs.markdown_blocks import ROOT

GEN = runpy.run_path(str(ROOT / "scripts" / "gen_results_page.py"))
results_markdown = GEN["results_markdown"]


def _write(path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


def test_numbers_come_from_the_files(tmp_path):
    _write(tmp_path / "benchmarks/results/market.json",
           {"impressions": 1234567, "simulate_seconds": 7.654321, "machine": {"cpus": 3}})
    _write(tmp_path / "experiments/results/ab/aa.json",
           {"config": {"reps": 10}, "rows": [{"test": "ctr_delta", "fpr": 0.0425, "ci95": [0.03, 0.06],
                                              "rejections": 17}]})
    _write(tmp_path / "experiments/results/tuning/x.json",
           {"args": {"market": "bazaar", "preset": "quick", "online_set": ["seed=3"]},
            "generators": {"base": {}, "dpo": {"misleading_rate_raw": 0.125}},
            "ratio_vs_base": {"dpo": {"p_click": {"ratio": 2.345, "low": 1.5, "high": 3.25}}},
            "timings_seconds": {"tune_dpo": 321.0}})
    _write(tmp_path / "experiments/results/other/mystery.json", {"what": 1})
    _write(tmp_path / "experiments/results/tuning/pairs.json",
           {"market": "bazaar", "method": "grpo", "ctr_ratio_geometric_mean": 1.25,
            "pairs": [{"control": "runs/c", "option": "runs/o", "online_set": [["seed=1"], ["seed=1", "x=1"]],
                       "option_over_control": {"p_click": {"ratio": 1.25, "low": 1.125, "high": 1.5}},
                       "vs_base": {"control": {"p_click": 1.0}, "option": {"p_click": 1.25}}}]})
    page = results_markdown(tmp_path)
    assert "| impressions | 1,234,567 |" in page and "| simulate + write all files (s) | 7.65 |" in page
    assert "Machine: 3 CPUs." in page
    assert "| ctr_delta | 4.25% | [3.00%, 6.00%] | 17 |" in page
    assert "| `x.json` | bazaar | dpo | quick | seed=3 | 2.35x [1.50, 3.25] |" in page
    assert "| `c` | `o` | seed=1 / seed=1, x=1 | 1.25x [1.12, 1.50] |" in page
    assert "- `experiments/results/other/mystery.json`" in page  # listed, not dropped


def test_the_repository_page_covers_every_benchmark_file():
    page = results_markdown(ROOT)
    for path in sorted((ROOT / "benchmarks" / "results").glob("*.json")):
        assert f"`{path.relative_to(ROOT).as_posix()}`" in page
    experiment_jsons = sorted((ROOT / "experiments" / "results").rglob("*.json"))
    assert len(experiment_jsons) > 10  # the folder was read (a move would pass the checks below vacuously)
    tuning_runs = [p for p in experiment_jsons if "ratio_vs_base" in p.read_text()]
    assert tuning_runs
    for path in tuning_runs:  # every recorded tuning run has its rows in the table
        assert f"| `{path.name}` |" in page
    unknown = page.split("## Other result files", 1)[1] if "## Other result files" in page else ""
    assert "`experiments/" not in unknown  # every experiment JSON has a section
    assert "### Tuning: the quick presets on the default market" in page


def test_quickstart_runs_are_shown_with_their_machine(tmp_path):
    runs = [{"finished": "2026-12-06T02:40:00Z", "rlopt_version": "0.1.0", "total_wall_s": 700.25,
             "machine": {"cpu": "AMD EPYC, AVX512-BF16", "cpus": 2, "torch_cpu_capability": "AVX2", "native_bf16": False},
             "stages": {"reward": 100.0, "tuning": 250.0, "generation": 330.0, "ab": 10.0, "ope": 10.25}},
            {"finished": "2026-12-01T12:00:54Z", "total_wall_s": 823.6, "machine": {"cpu_flags": ["avx2"], "cpus": 2},
             "stages": {"reward": 46.3, "tuning": 494.4, "generation": 244.4}, "note": "older defaults"}]
    _write(tmp_path / "benchmarks/results/pipeline.json", {"quickstarts": runs})
    page = results_markdown(tmp_path)
    assert ("| 2026-12-06 | AMD EPYC, AVX512-BF16 (2 cores); torch kernels AVX2, native bf16 no | 700 | 100 | "
            "250 | 330 | 20.2 |  |") in page
    assert "| 2026-12-01 | avx2 (2 cores) | 824 | 46.3 | 494 | 244 | 0 | older defaults |" in page
