"""Tuning on a cluster stays on TRL's engine: GRPO/RLOO take TRL's vLLM generation keys from ``[tuning]``
and from ``rlopt tune`` flags unchanged (docs/guides/engine.md), and rlopt's own sampler stands aside
when they are on."""

from __future__ import annotations

import types

import pytest

from rlopt.pipeline.config import config_from_dict
from rlopt.tuning.sampling import rlopt_sampling_applies

VLLM_KEYS = {"use_vllm": True, "vllm_mode": "server", "vllm_server_base_url": "http://10.0.0.6:8000",
             "vllm_gpu_memory_utilization": 0.3}


@pytest.mark.parametrize("method", ["grpo", "rloo"])
def test_vllm_keys_reach_the_trainers_config(method, monkeypatch):
    # vLLM is not installed here (it needs CUDA); the keys must still pass through unchanged where it is.
    monkeypatch.setattr("rlopt.tuning.config.vllm_installed", lambda: True)
    built = config_from_dict({"tuning": {"method": method, "preset": "full", **VLLM_KEYS}}).tuning.build(seed=0)
    for key, value in VLLM_KEYS.items():
        assert getattr(built, key) == value, key


def test_vllm_keys_are_flags_of_rlopt_tune():
    from typer.testing import CliRunner

    from rlopt.cli import app

    out = CliRunner().invoke(app, ["tune", "--method", "grpo", "--help"], terminal_width=200).output
    assert "--use-vllm" in out and "--vllm-mode" in out and "--vllm-server-base-url" in out


def test_dpo_has_no_vllm_key():
    from rlopt.errors import InputError

    with pytest.raises(InputError, match="unknown key 'use_vllm'"):
        config_from_dict({"tuning": {"method": "dpo", "use_vllm": True}}).tuning.build(seed=0)


def test_rlopt_sampler_stands_aside_for_vllm():
    def trainer(use_vllm):
        args = types.SimpleNamespace(use_transformers_paged=False, generation_kwargs=None)
        return types.SimpleNamespace(args=args, use_vllm=use_vllm, accelerator=types.SimpleNamespace(num_processes=1),
                                     min_p=None, repetition_penalty=1.0)

    assert rlopt_sampling_applies(trainer(False)) and not rlopt_sampling_applies(trainer(True))
