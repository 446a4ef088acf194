"""Project only the scored positions through TRL's fused LM head on the CPU as well.

TRL's trainers (DPO, GRPO, RLOO) call the model with ``fused_lm_head=True``: the LM head and the
log-softmax run in tiles over the positions whose label is not ``-100`` (the completion), and the
``(batch, seq, vocab)`` logits are never materialized. On CUDA/XPU with Triton, TRL keeps only those
positions (``hidden[mask]``); elsewhere it projects *every* position and zeroes the prompt's
afterwards, so that a compiler for fixed tile shapes (e.g. Neuron) does not recompile per batch.
The CPU has no such compiler, and here prompts are ~80% of each sequence, so the head ran ~5x the
rows it needed in the forward, the backward's recomputation and the reference forward.

:func:`compact_lm_head` makes TRL take its compact branch on the CPU too. Only the rows fed to the
projection change; each row's log-probability and gradient come from the same torch ops, so losses
and gradients agree to float rounding (``tests/tuning/test_lm_head.py``). Measured on 2 AVX2 cores
(``benchmarks/bench_tuning.py --tuning-only``): DPO quick steps 1.77x faster, GRPO 1.34x.

The switch is TRL's module-level ``trl.trainer.utils._use_triton`` (TRL 1.16), which decides
nothing else in that module; where a TRL release lacks it, the context changes nothing and yields
False (``tuning.json`` records it as ``data.compact_lm_head``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


def _trl_utils():
    import trl.trainer.utils as trl_utils

    return trl_utils


def compact_lm_head_available() -> bool:
    """True when the installed TRL has the switch :func:`compact_lm_head` sets."""
    return callable(getattr(_trl_utils(), "_use_triton", None))


@contextlib.contextmanager
def compact_lm_head(enabled: bool = True) -> Iterator[bool]:
    """Within the block, TRL's fused LM head projects only labelled positions on CPU devices.

    Yields whether the compact path is in effect (False when ``enabled`` is False or the installed
    TRL lacks the switch). The previous switch is restored on exit, also after an exception.
    """
    trl_utils = _trl_utils()
    original = getattr(trl_utils, "_use_triton", None)
    if not enabled or not callable(original):
        yield False
        return

    def compact_on_cpu(device) -> bool:
        return device.type == "cpu" or original(device)

    trl_utils._use_triton = compact_on_cpu
    try:
        yield True
    finally:
        trl_utils._use_triton = original
