"""A tuned directory is portable and pickle-free, logs to TensorBoard, shows one progress bar, and
exports to a merged model that plain transformers loads with the same greedy tokens."""

from __future__ import annotations

import contextlib
import io
import json
import shutil

import pytest
import torch

from rlopt.errors import InputError
from rlopt.tuning.config import make_config
from rlopt.tuning.dpo import train_dpo
from rlopt.tuning.export import export_generator, pickle_files, portable_base
from tests.tuning.tuning_data import CATALOG, PLACEMENTS, SEGMENTS, training_logs


@pytest.fixture(scope="module")
def tuned(tiny_causal_lm_dir, tmp_path_factory):
    """Two DPO steps on the tiny model with report_to=tensorboard; (out dir, captured stdout+stderr)."""
    out = tmp_path_factory.mktemp("tuned") / "dpo"
    cfg = make_config("dpo", "quick", generator=str(tiny_causal_lm_dir), min_pairs=2, per_device_train_batch_size=2,
                      save_steps=1, num_train_pairs=8, max_length=128, max_steps=2, report_to="tensorboard")
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        train_dpo(training_logs(), CATALOG, PLACEMENTS, cfg, out, SEGMENTS)
    return out, stdout.getvalue(), stderr.getvalue()


def _greedy(model, tok, n_new=8):
    ids = tok.apply_chat_template([{"role": "user", "content": "Write copy for trail shoes."}],
                                  add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=n_new, do_sample=False, pad_token_id=tok.pad_token_id)
        logits = model(**ids).logits[0, -1]
    return out[0, ids["input_ids"].shape[1]:].tolist(), logits


def test_no_pickle_outside_checkpoints_and_args_as_json(tuned):
    out, _, _ = tuned
    assert pickle_files(out) == []
    assert list(out.glob("checkpoint-*/optimizer.pt"))  # the rule has something to exclude
    args = json.loads((out / "training_args.json").read_text())
    assert args["max_steps"] == 2 and args["activation_checkpointing"] is False


def test_model_card_and_portable_base(tuned, tiny_causal_lm_dir):
    out, _, _ = tuned
    card = (out / "README.md").read_text()
    assert "[None]" not in card and "DPO" in card and str(tiny_causal_lm_dir) in card
    assert "| data: pairs | 12 |" in card and "rlopt version" in card and "checkpoint-*" in card
    assert json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"] == str(tiny_causal_lm_dir)
    assert portable_base("default") == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert portable_base("runs/tuned-dpo") == "runs/tuned-dpo"


def test_one_progress_bar_and_no_log_dicts(tuned):
    _, stdout, stderr = tuned
    assert "{'loss'" not in stdout + stderr  # the Trainer's PrinterCallback is gone
    assert "tune dpo" in stderr and "2/2" in stderr and "loss" in stderr  # the rich bar, on stderr


def test_tensorboard_event_file_has_trl_and_rlopt_metrics(tuned):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out, _, _ = tuned
    (logdir,) = (out / "runs").iterdir()
    events = EventAccumulator(str(logdir))
    events.Reload()
    assert [e.step for e in events.Scalars("train/loss")] == [1, 2]
    (pairs,) = events.Scalars("rlopt/tuning/pairs")
    assert pairs.value == 12 and pairs.step == 2


def test_plain_peft_loads_a_moved_copy(tuned, tmp_path):
    from peft import AutoPeftModelForCausalLM

    out, _, _ = tuned
    moved = tmp_path / "elsewhere"
    shutil.copytree(out, moved, ignore=shutil.ignore_patterns("checkpoint-*", "runs"))
    model = AutoPeftModelForCausalLM.from_pretrained(str(moved))
    assert model.peft_config["default"].base_model_name_or_path == json.loads(
        (out / "adapter_config.json").read_text())["base_model_name_or_path"]


def test_merged_export_loads_with_plain_transformers_and_matches(tuned, tmp_path):
    from peft import AutoPeftModelForCausalLM
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out, _, _ = tuned
    result = export_generator(out, tmp_path / "merged", merge=True)
    merged_dir = tmp_path / "merged"
    assert result["merged"] and "model.safetensors" in result["files"] and "README.md" in result["files"]
    assert not (merged_dir / "adapter_config.json").exists() and pickle_files(merged_dir) == []
    assert "library_name: transformers" in (merged_dir / "README.md").read_text()
    tok = AutoTokenizer.from_pretrained(str(merged_dir))
    merged = AutoModelForCausalLM.from_pretrained(str(merged_dir), dtype=torch.float32).eval()
    adapter = AutoPeftModelForCausalLM.from_pretrained(str(out), dtype=torch.float32).eval()
    tokens_merged, logits_merged = _greedy(merged, tok)
    tokens_adapter, logits_adapter = _greedy(adapter, tok)
    assert tokens_merged == tokens_adapter and len(tokens_merged) == 8
    torch.testing.assert_close(logits_merged, logits_adapter, rtol=1e-4, atol=1e-5)
    base = AutoModelForCausalLM.from_pretrained(str(json.loads((out / "adapter_config.json").read_text())
                                                    ["base_model_name_or_path"]), dtype=torch.float32).eval()
    assert not torch.allclose(_greedy(base, tok)[1], logits_merged)  # the adapter is in the merged weights


def test_unmerged_export_carries_its_base_and_loads_after_a_move(tuned, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from rlopt.generation.models import resolve_generator

    out, _, _ = tuned
    result = export_generator(out, tmp_path / "export")
    assert result["base"] == "base" and not result["merged"] and "base/model.safetensors" in result["files"]
    moved = tmp_path / "moved"
    (tmp_path / "export").rename(moved)
    assert pickle_files(moved) == [] and json.loads((moved / "tuning.json").read_text())["generator"] == "base"
    ours, tok = resolve_generator(str(moved), device="cpu", dtype=torch.float32)
    plain = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(str(moved / "base")), str(moved)).eval()
    torch.testing.assert_close(_greedy(ours, tok)[1], _greedy(plain, tok)[1], rtol=1e-4, atol=1e-5)


def test_export_refuses_a_plain_directory_and_an_existing_out(tuned, tiny_causal_lm_dir, tmp_path):
    with pytest.raises(InputError, match="not a tuned generator directory"):
        export_generator(tiny_causal_lm_dir, tmp_path / "x")
    (tmp_path / "taken").mkdir()
    with pytest.raises(InputError, match="already exists"):
        export_generator(tuned[0], tmp_path / "taken")


def test_export_command_merges(tuned, tmp_path):
    from typer.testing import CliRunner

    from rlopt.cli import app

    out = tmp_path / "served"
    result = CliRunner().invoke(app, ["export", "--merge", str(tuned[0]), str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["merged"] is True and (out / "model.safetensors").is_file()
    again = CliRunner().invoke(app, ["export", str(tuned[0]), str(out)])
    assert isinstance(again.exception, InputError) and "already exists" in str(again.exception)


def test_trackers_are_checked_before_training():
    from rlopt.tracking import trackers

    assert trackers("none") == [] and trackers(["none"]) == [] and trackers("tensorboard") == ["tensorboard"]
    with pytest.raises(InputError, match="not a tracker rlopt supports"):
        trackers("wandb")
    import importlib.util

    if importlib.util.find_spec("mlflow") is None:
        with pytest.raises(InputError, match="pip install mlflow"):
            trackers("mlflow")


_WARN_SCRIPT = """
import warnings
from rlopt.logging_setup import configure_library_output
configure_library_output()
from trl import DPOConfig
from rlopt.tuning.common import CheckpointWarning
DPOConfig(output_dir="{out}", use_cpu=True, bf16=False)  # TRL's default gradient_checkpointing=True warns
warnings.warn("ours", CheckpointWarning)
"""


@pytest.mark.parametrize("verbose", ["0", "1"])
def test_library_warnings_hidden_unless_verbose(verbose, tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "RLOPT_VERBOSE": verbose}
    done = subprocess.run([sys.executable, "-c", _WARN_SCRIPT.format(out=tmp_path)], env=env, capture_output=True,
                          text=True, timeout=300, check=True)
    assert ("gradient_checkpointing` is deprecated" in done.stderr) == (verbose == "1")
    assert "CheckpointWarning: ours" in done.stderr  # rlopt's own warnings always show


def test_a_chain_exports_whole(tuned, tmp_path):
    """DPO on the DPO-tuned generator: plain PEFT cannot stack the two adapters; both exports carry the chain."""
    from transformers import AutoModelForCausalLM

    from rlopt.generation.models import resolve_generator

    first, _, _ = tuned
    second = tmp_path / "dpo-on-dpo"
    cfg = make_config("dpo", "quick", generator=str(first), min_pairs=2, per_device_train_batch_size=2,
                      save_steps=1, num_train_pairs=4, max_length=128, max_steps=1, learning_rate=5e-2)
    with contextlib.redirect_stderr(io.StringIO()):
        train_dpo(training_logs(), CATALOG, PLACEMENTS, cfg, second, SEGMENTS)
    assert "rlopt export --merge" in (second / "README.md").read_text()
    chain, tok = resolve_generator(str(second), device="cpu", dtype=torch.float32)
    export_generator(second, tmp_path / "merged", merge=True)
    export_generator(second, tmp_path / "adapter")
    merged = AutoModelForCausalLM.from_pretrained(str(tmp_path / "merged"), dtype=torch.float32).eval()
    moved, _ = resolve_generator(str(tmp_path / "adapter"), device="cpu", dtype=torch.float32)
    reference = _greedy(chain, tok)[1]
    torch.testing.assert_close(_greedy(merged, tok)[1], reference, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(_greedy(moved, tok)[1], reference, rtol=1e-4, atol=1e-5)
    only_first, _ = resolve_generator(str(first), device="cpu", dtype=torch.float32)
    assert not torch.allclose(_greedy(only_first, tok)[1], reference)  # the second adapter is in there


def test_card_of_a_default_base_names_the_hub_id_and_the_quantization():
    from rlopt.tuning.model_card import model_card

    summary = {"method": "grpo", "generator": "default", "steps": 40, "seed": 0, "preset": "quick",
               "data": {"logs": "<DataFrame>", "catalog": "shop/items.csv", "placements": "given", "contexts": 240},
               "metrics": {"last_reward": 0.5, "train_runtime": 12.3}, "config": {"lora_r": 16}}
    card = model_card(summary, portable_base("default"))
    assert 'base_model: "HuggingFaceTB/SmolLM2-135M-Instruct"' in card and "Q4_1" in card
    assert "`shop/items.csv`" in card and "DataFrame" not in card and "given" not in card
    assert "| last_reward | 0.5 |" in card and "train_runtime" not in card
