"""A tuning run cut short at any checkpoint boundary -- or with a half-written checkpoint -- resumes to
the same step count, adapter, ``curves.csv`` and ``adapter_config.json`` as an uninterrupted run
(tiny random Llama, real TRL DPO, 3 optimizer steps with a checkpoint after each)."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import TrainerCallback

import rlopt.tuning.dpo as dpo
from rlopt.tuning import common
from rlopt.tuning.common import CheckpointWarning, checkpoint_problem
from rlopt.tuning.config import make_config
from tests.tuning.tuning_data import CATALOG, PLACEMENTS, SEGMENTS, training_logs

STEPS = 3
TIMING = {"train_runtime", "train_samples_per_second", "train_steps_per_second", "epoch"}


class Crash(RuntimeError):
    pass


class CrashAfterSave(TrainerCallback):
    """Raise right after checkpoint-``step`` is complete on disk (the kill the issue describes)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_save(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise Crash(f"killed after checkpoint-{self.step}")


def _train(llm, out, monkeypatch=None, crash_step=None):
    cfg = make_config("dpo", "quick", generator=str(llm), min_pairs=2, per_device_train_batch_size=2,
                      num_train_pairs=8, max_length=128, seed=3, save_steps=1, max_steps=STEPS)
    if crash_step is not None:
        real = common.train_resuming

        def with_crash(trainer, cfg, out_dir):
            trainer.add_callback(CrashAfterSave(crash_step))
            return real(trainer, cfg, out_dir)

        monkeypatch.setattr(common, "train_resuming", with_crash)  # progress.py calls it from common
    try:
        return dpo.train_dpo(training_logs(), CATALOG, PLACEMENTS, cfg, out, SEGMENTS)
    finally:
        if monkeypatch is not None:
            monkeypatch.undo()


def _outputs(out):
    meta = json.loads((out / "tuning.json").read_text())
    return {
        "steps": meta["steps"],
        "metrics": {k: v for k, v in meta["metrics"].items() if k not in TIMING},
        "curves": (out / "curves.csv").read_text(),
        "adapter_config": (out / "adapter_config.json").read_text(),
        "weights": load_file(str(out / "adapter_model.safetensors")),
    }


def _assert_same(got, want):
    assert got["steps"] == want["steps"] == STEPS
    assert got["curves"] == want["curves"]
    assert got["adapter_config"] == want["adapter_config"]
    assert got["metrics"] == want["metrics"]
    assert got["weights"].keys() == want["weights"].keys()
    assert all(torch.equal(got["weights"][k], want["weights"][k]) for k in want["weights"])


@pytest.fixture(scope="module")
def uninterrupted(tiny_causal_lm_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted") / "adapter"
    summary = _train(tiny_causal_lm_dir, out)
    assert summary["resumed_from"] is None
    return _outputs(out)


def _cut(name, keep_bytes):
    def damage(ckpt):
        path = ckpt / name
        path.write_bytes(path.read_bytes()[:keep_bytes])
    return damage


def _delete(name):
    def damage(ckpt):
        (ckpt / name).unlink()
    return damage


# crash after checkpoint-N; then damage the newest checkpoint (a half-written one); expected resume point
@pytest.mark.parametrize(("crash_step", "damage", "resumed"), [
    (1, None, "checkpoint-1"),
    (2, None, "checkpoint-2"),
    (STEPS, None, f"checkpoint-{STEPS}"),  # the final checkpoint: restored, not trained one step more
    (2, _delete("trainer_state.json"), "checkpoint-1"),
    (2, _cut("trainer_state.json", 40), "checkpoint-1"),
    (2, _cut("adapter_model.safetensors", 1000), "checkpoint-1"),
    (2, _cut("optimizer.pt", 2000), "checkpoint-1"),
    (2, _delete("rng_state.pth"), "checkpoint-1"),
    (1, _delete("adapter_model.safetensors"), None),  # no good checkpoint left: a clean start
])
def test_resume_after_a_fault_equals_the_uninterrupted_run(tiny_causal_lm_dir, tmp_path, monkeypatch,
                                                           uninterrupted, crash_step, damage, resumed):
    out = tmp_path / "adapter"
    with pytest.raises(Crash):
        _train(tiny_causal_lm_dir, out, monkeypatch, crash_step)
    newest = out / f"checkpoint-{crash_step}"
    assert checkpoint_problem(newest, crash_step) is None
    if damage is not None:
        damage(newest)
        assert checkpoint_problem(newest, crash_step) is not None
        with pytest.warns(CheckpointWarning, match=f"checkpoint-{crash_step} is incomplete"):
            summary = _train(tiny_causal_lm_dir, out)
    else:
        summary = _train(tiny_causal_lm_dir, out)
    assert (summary["resumed_from"] or "").endswith(resumed or "") and bool(summary["resumed_from"]) == bool(resumed)
    _assert_same(_outputs(out), uninterrupted)


def test_a_crash_after_training_while_writing_outputs_resumes_without_an_extra_step(
        tiny_causal_lm_dir, tmp_path, monkeypatch, uninterrupted):
    """The issue's case: killed once the final checkpoint exists, while the outputs were being written."""
    out = tmp_path / "adapter"

    def killed(history, out_dir):
        raise Crash("killed while writing curves")

    monkeypatch.setattr("rlopt.tuning.curves.write_curves", killed)
    with pytest.raises(Crash):
        _train(tiny_causal_lm_dir, out)
    monkeypatch.undo()
    summary = _train(tiny_causal_lm_dir, out)
    assert summary["resumed_from"].endswith(f"checkpoint-{STEPS}")
    _assert_same(_outputs(out), uninterrupted)


def test_adapter_config_lists_target_modules_sorted(uninterrupted):
    modules = json.loads(uninterrupted["adapter_config"])["target_modules"]
    assert modules == sorted(modules) and len(modules) > 1


def test_no_checkpoint_dir_and_stray_names_are_ignored(tmp_path):
    (tmp_path / "checkpoint-x").mkdir()
    (tmp_path / "checkpoints").mkdir()
    assert common.last_good_checkpoint(tmp_path) is None
    assert common.last_good_checkpoint(tmp_path / "absent") is None
    assert (tmp_path / "checkpoint-x").is_dir()  # not a Trainer checkpoint name: left alone
