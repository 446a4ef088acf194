"""One randomness convention: library code takes ``rng``; experiments call ``seed_everything``."""

from __future__ import annotations

import random

import numpy as np

RNGLike = np.random.Generator | int | None


def as_rng(rng: RNGLike) -> np.random.Generator:
    """Normalize ``rng`` (a Generator, an int seed or None) to a ``np.random.Generator``.

    >>> bool(as_rng(3).integers(0, 100) == as_rng(3).integers(0, 100))
    True
    """
    return np.random.default_rng(rng)


def seed_everything(seed: int) -> None:
    """Seed ``random``, NumPy's legacy global state and torch (CPU and CUDA) with ``seed``."""
    random.seed(seed)
    np.random.seed(seed % (2**32))  # noqa: NPY002 - third-party code (sklearn, peft) still reads the global state
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
