"""Hardware asked for but absent: ``use_vllm`` without vLLM, CUDA without a GPU -> InputError (exit 2), before any load."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

from rlopt.cli import app
from rlopt.cli._common import EXIT_INPUT, describe_failure
from rlopt.data import write_table
from rlopt.errors import InputError
from rlopt.pipeline.config import config_from_dict
from rlopt.tuning import config as tuning_config
from tests.tuning.tuning_data import CATALOG

runner = CliRunner()
no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")


def _input_error(result) -> InputError:
    """The command's InputError, checked to be exit code 2 in ``rlopt``'s entry point."""
    assert isinstance(result.exception, InputError), result.output
    assert describe_failure(result.exception)[1] == EXIT_INPUT
    return result.exception


@pytest.fixture
def tune_args(tmp_path):
    write_table(CATALOG, tmp_path / "catalog.jsonl")
    (tmp_path / "rm").mkdir()
    return ["tune", "--logs", "l.csv", "--catalog", str(tmp_path / "catalog.jsonl"), "--out", str(tmp_path / "o"),
            "--reward-model", str(tmp_path / "rm")]


@pytest.mark.parametrize("method", ["grpo", "rloo"])
def test_use_vllm_without_vllm_names_the_key(monkeypatch, tmp_path, tune_args, method):
    monkeypatch.setattr(tuning_config, "vllm_installed", lambda: False)
    err = _input_error(runner.invoke(app, [*tune_args, "--method", method, "--use-vllm", "true"]))
    assert err.key == "use_vllm" and "vLLM is not installed" in str(err)
    assert "install vllm" in str(err) and "use_vllm = false" in str(err)
    assert not (tmp_path / "o").exists()


def test_use_vllm_in_an_experiment_names_the_tuning_key(monkeypatch, tmp_path):
    monkeypatch.setattr(tuning_config, "vllm_installed", lambda: False)
    with pytest.raises(InputError, match="vLLM is not installed") as info:
        config_from_dict({"tuning": {"method": "grpo", "use_vllm": True}}, source="exp.toml", base_dir=tmp_path)
    assert info.value.key == "tuning.use_vllm" and info.value.file == "exp.toml"


@no_gpu
def test_gpu_precision_without_a_gpu_is_bad_input(tmp_path, tune_args):
    err = _input_error(runner.invoke(app, [*tune_args, "--method", "dpo", "--bf16", "true", "--use-cpu", "false"]))
    assert "dpo config:" in str(err) and "no CUDA GPU is visible" in str(err)
    assert not (tmp_path / "o").exists()


@no_gpu
@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_generate_on_cuda_without_a_gpu_names_the_option(tmp_path, device):
    err = _input_error(runner.invoke(app, ["generate", "--contexts", str(tmp_path / "ctx.jsonl"), "--catalog",
                                           str(tmp_path / "c.jsonl"), "--out", str(tmp_path / "copies.jsonl"),
                                           "--device", device]))
    assert err.key == "--device" and "torch sees none" in str(err) and "--device cpu" in str(err)


def test_generate_unknown_device(tmp_path):
    err = _input_error(runner.invoke(app, ["generate", "--contexts", str(tmp_path / "ctx.jsonl"), "--catalog",
                                           str(tmp_path / "c.jsonl"), "--out", str(tmp_path / "copies.jsonl"),
                                           "--device", "gpu"]))
    assert err.key == "--device" and "unknown device" in str(err)
