"""Shared fixtures: tiny random models (real tokenizers, toy networks) built once per session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny_causal_lm_dir(tmp_path_factory):
    """Directory of a 2-layer random Llama with the SmolLM2 tokenizer."""
    from rlopt.testing import build_tiny_causal_lm

    return build_tiny_causal_lm(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_encoder_dir(tmp_path_factory):
    """Directory of a 2-layer random BERT with the MiniLM tokenizer."""
    from rlopt.testing import build_tiny_encoder

    return build_tiny_encoder(tmp_path_factory.mktemp("tiny-bert"))
