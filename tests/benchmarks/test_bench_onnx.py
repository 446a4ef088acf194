"""The ONNX Runtime scoring benchmark (benchmarks/bench_onnx.py) end to end on a tiny budget: a
subprocess run with the tiny random encoder, down to its JSON and the results page section. Its
numbers are not benchmarks; the test checks that every runtime was scored and compared with torch
fp32 in the same run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_onnx_smoke(tmp_path, tiny_encoder_dir):
    out = tmp_path / "onnx.json"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "RLOPT_CACHE": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_onnx", "--impressions", "6000", "--score-copies", "16",
         "--repeats", "1", "--threads", "1", "--encoder", str(tiny_encoder_dir), "--no-trained-int8",
         "--no-exporters", "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    names = {"torch-fp32", "onnx", "onnx-int8"}
    assert names <= set(result["speed"]) and names <= set(result["quality"])
    assert result["speed"]["torch-fp32"]["ratio_vs_torch_fp32"] == 1.0
    assert all(result["speed"][n]["copies_per_s"] > 0 for n in names)
    q = result["quality"]
    assert (q["onnx"]["compute_precision"], q["onnx-int8"]["compute_precision"]) == ("fp32", "int8")
    assert abs(q["onnx"]["click_auc_diff"]) < 1e-4  # fp32 graph: the same predictions up to rounding
    assert q["onnx-int8"]["embedding_cosine_vs_fp32"]["min"] < 1.0  # int8 really ran
    assert set(result["verdict"]) == set(result["speed"]) - {"torch-fp32"}
    assert result["machine"]["cpu"] and len(result["machine"]["load_avg_at_end"]) == 3
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from gen_results_page import bench_onnx
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    page = bench_onnx(result)
    assert "| onnx-int8 |" in page and "AUC ok" in page
