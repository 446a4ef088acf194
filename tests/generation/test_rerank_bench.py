"""The beat-the-logged-copy benchmark (benchmarks/bench_beat_logged.py) end to end with ``--tiny``: a
subprocess run with a tiny random generator and encoder, down to its JSON. Its numbers are not
benchmarks; the test checks that every variant was made and graded by the market's own truth."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
VARIANTS = ("base", "base+best-of-4", "base+truth-best-of-4", "base+few-shot", "base+few-shot+best-of-4",
            "dpo", "dpo+best-of-4", "dpo+truth-best-of-4", "dpo+few-shot", "dpo+few-shot+best-of-4")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bench-beat-logged")
    out, work = tmp / "beat_logged.json", tmp / "work"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run([sys.executable, "-m", "benchmarks.bench_beat_logged", "--tiny", "--contexts", "4",
                           "--work", str(work), "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=900, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(out.read_text()), work / "bazaar"


def test_every_variant_is_graded_against_base_and_logged_copy(smoke):
    result, _ = smoke
    case = result["markets"]["bazaar"]
    assert case["machine"] and len(case["loadavg_start"]) == 3 and case["args"]["tiny"]
    assert case["contexts"] == 4 and case["contexts_with_examples"] >= 1 and case["dpo"]["steps"] == 2
    for variant in VARIANTS:
        assert 0.0 < case["true_ctr"][variant] < 1.0
        assert case["true_purchases_per_impression"][variant] <= case["true_ctr"][variant]
        for den in ("/ base", "/ mean_logged", "/ best_logged"):
            r = case["ratios_ctr"][variant][den]
            assert r["low"] <= r["ratio"] <= r["high"] and r["n_contexts"] == case["contexts_with_logged_copy"]
    assert case["true_ctr"]["best_logged"] >= case["true_ctr"]["mean_logged"]
    assert 0.0 <= case["copies"]["base+few-shot"]["verbatim_rate"] <= 1.0


def test_grading_is_the_markets_truth_and_the_truth_pick_is_the_best_sample(smoke):
    from experiments.markets.bazaar import Truth
    from rlopt.data import read_table
    from rlopt.generation.rerank import eligible

    result, work = smoke
    case = result["markets"]["bazaar"]
    truth = Truth.from_dir(work / "sim")
    base = read_table(work / "base.jsonl")
    p = truth.evaluate(base)["p_click"].to_numpy().reshape(-1, 4)  # contexts x 4 samples
    assert np.isclose(case["true_ctr"]["base"], p.mean(axis=1).mean())
    # reranking by the truth itself picks, per context, the best eligible sample (the best of all when none is)
    ok = eligible(base).reshape(-1, 4)
    best = np.where(ok.any(axis=1), np.where(ok, p, -np.inf).max(axis=1), p.max(axis=1))
    assert np.isclose(case["true_ctr"]["base+truth-best-of-4"], best.mean())
