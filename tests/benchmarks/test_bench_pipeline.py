"""bench_pipeline's quickstart records: one entry per run, with the machine its manifest recorded."""

from __future__ import annotations

import json

from benchmarks.bench_pipeline import machine_label, merge_quickstarts, quickstart_entry


def test_a_manifest_becomes_one_entry_and_a_rerun_replaces_it(tmp_path):
    manifest = {"config": "experiments/quickstart.toml", "rlopt_version": "0.1.0", "started": "2026-12-06T02:13:00Z",
                "finished": "2026-12-06T02:30:00Z", "total_wall_s": 900.5,
                "machine": {"cpu": "AMD EPYC, AVX512-BF16", "cpus": 2, "torch_cpu_capability": "AVX2"},
                "stages": {"data": {"status": "ran", "compute_wall_s": 1.5}, "report": {"status": "failed"}}}
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    entry = quickstart_entry(path)
    assert entry["stages"] == {"data": 1.5} and entry["machine"]["torch_cpu_capability"] == "AVX2"
    assert machine_label(entry["machine"]) == "AMD EPYC, AVX512-BF16, 2 cores; torch kernels AVX2"
    older = {"started": None, "finished": "2026-12-01T12:00:54Z", "total_wall_s": 823.6, "stages": {}}
    again = {**entry, "total_wall_s": 901.0}
    merged = merge_quickstarts([older, entry], [again])
    assert [r["total_wall_s"] for r in merged] == [823.6, 901.0]  # oldest first; the rerun replaced its run
