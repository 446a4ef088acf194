"""experiments/tuning/compare.py: its steps are cached by the library's stage cache, and a one-off run
never replaces the recorded comparison."""

from __future__ import annotations

import dataclasses
import json

import pytest

from experiments.tuning.compare import Args, cached_step, config_overrides, different_run_args, weights_key
from rlopt.errors import InputError
from rlopt.pipeline.cache import read_marker


def _builder(calls: list):
    def build(tmp):
        calls.append(tmp.name)
        (tmp / "out.txt").write_text(str(len(calls)))
    return build


def test_a_step_is_reused_only_for_the_same_inputs(tmp_path):
    calls: list[str] = []
    build = _builder(calls)
    first, reused = cached_step(tmp_path, "step", {"seed": 0, "config": {"lr": 5e-4}}, build)
    assert not reused and calls == ["step.tmp"] and (first / "out.txt").read_text() == "1"
    again, reused = cached_step(tmp_path, "step", {"config": {"lr": 5e-4}, "seed": 0}, build)  # key order is no input
    assert reused and again == first and calls == ["step.tmp"]
    _, reused = cached_step(tmp_path, "step", {"seed": 0, "config": {"lr": 2e-4}}, build)  # another setting: redone
    assert not reused and len(calls) == 2 and (first / "out.txt").read_text() == "2"
    assert not (tmp_path / "step.tmp").exists()  # the temporary directory became the step


def test_an_interrupted_step_is_redone(tmp_path):
    def crash(tmp):
        (tmp / "half.txt").write_text("x")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        cached_step(tmp_path, "step", {"seed": 0}, crash)
    assert read_marker(tmp_path / "step") is None  # no stage.json: nothing to reuse
    calls: list[str] = []
    _, reused = cached_step(tmp_path, "step", {"seed": 0}, _builder(calls))
    assert not reused and calls == ["step.tmp"] and not (tmp_path / "step" / "half.txt").exists()


def test_a_folder_rlopt_did_not_make_is_never_replaced(tmp_path):
    (tmp_path / "tuned-dpo").mkdir()
    (tmp_path / "tuned-dpo" / "mine.txt").write_text("keep me")
    with pytest.raises(InputError):
        cached_step(tmp_path, "tuned-dpo", {"seed": 0}, _builder([]))
    assert (tmp_path / "tuned-dpo" / "mine.txt").read_text() == "keep me"


def test_a_chained_step_depends_on_the_weights_it_starts_from(tmp_path):
    cached_step(tmp_path, "tuned-dpo", {"lr": 1}, _builder([]))
    before = weights_key(str(tmp_path / "tuned-dpo"))
    assert len(before) == 64 and weights_key("default") == "default"
    cached_step(tmp_path, "tuned-dpo", {"lr": 2}, _builder([]))
    assert weights_key(str(tmp_path / "tuned-dpo")) != before  # so dpo-grpo is retuned after a new DPO


def test_overrides_are_json_or_strings():
    assert config_overrides(["num_train_pairs=480", "loss_type=[\"sigmoid\"]", "generator=runs/x"]) == {
        "num_train_pairs": 480, "loss_type": ["sigmoid"], "generator": "runs/x"}
    with pytest.raises(InputError, match="KEY=VALUE"):
        config_overrides(["reward_pairs"])


def test_different_run_args_names_what_differs():
    recorded = json.loads(json.dumps(dataclasses.asdict(Args())))
    assert different_run_args(recorded, recorded) == []
    one_off = {**recorded, "seed": 1, "online_set": ["per_device_train_batch_size=16"]}
    assert different_run_args(recorded, one_off) == ["seed", "online_set"]
    older = {k: v for k, v in recorded.items() if k not in ("online_set", "reward_set")}  # before the keys existed
    assert different_run_args(older, recorded) == []
    assert different_run_args(older, {**one_off, "reward_set": ["max_epochs=1"]}) == ["seed", "online_set",
                                                                                       "reward_set"]
    # the methods run and the output folder are not settings: a rerun of some methods still merges
    assert different_run_args(recorded, {**recorded, "methods": ["grpo"], "out": "runs/x"}) == []
