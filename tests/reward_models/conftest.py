"""Fixtures: small synthetic contract logs and one tiny reward model trained on them."""

from __future__ import annotations

import pytest

from reward_models.synthetic import make_synthetic_logs
from reward_models.train import time_split


@pytest.fixture(scope="package", autouse=True)
def _one_torch_thread():
    """One intra-op thread: the tiny models are faster that way on shared 2-core machines."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def synth():
    """6,000 impressions of logs rlopt's simulator did not make, with their truth."""
    return make_synthetic_logs(6000, n_items=30, rng=7)


@pytest.fixture(scope="session")
def synth_split(synth):
    return time_split(synth.logs, 0.25)


@pytest.fixture(scope="session")
def tiny_model(tiny_encoder_dir, synth, synth_split):
    """A frozen-mode reward model on the tiny BERT (seconds to train)."""
    from reward_models import train_reward_model

    train, holdout = synth_split
    return train_reward_model(train, synth.catalog, holdout=holdout, encoder=str(tiny_encoder_dir),
                              max_epochs=8, progress=False, seed=0)
