"""One rule for numeric precision across rlopt: bf16 where the hardware does bf16 natively.

bf16 halves memory traffic and, on hardware with native bf16 arithmetic, roughly doubles matmul
throughput. That hardware is a CUDA GPU with bf16 support (Ampere and later) or a CPU whose oneDNN
kernels have native bf16 (AVX512-BF16 or AMX: recent Xeon and EPYC). Elsewhere bf16 is emulated
and *slower* than fp32, so fp32 stays the default there.

Used by the reward model's encoder (no-grad scoring), the generator (sampling) and the TRL
trainers (mixed precision), so all three agree on one answer per machine.
"""

from __future__ import annotations

from functools import cache

PRECISIONS = ("auto", "fp32", "bf16")


@cache
def native_bf16(device: str = "cpu") -> bool:
    """True when ``device`` ("cpu", "cuda", "cuda:1", ...) computes in bf16 natively.

    >>> isinstance(native_bf16("cpu"), bool)
    True
    """
    import torch

    if device.startswith("cuda"):
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if device != "cpu":
        return False
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a build without oneDNN
        return False


def use_bf16(precision: str, device: str = "cpu") -> bool:
    """Resolve a precision setting: ``"auto"`` -> :func:`native_bf16`, ``"bf16"`` -> True, ``"fp32"`` -> False.

    Raises
    ------
    ValueError
        ``precision`` is not one of :data:`PRECISIONS`.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")
    if precision == "auto":
        return native_bf16(device)
    return precision == "bf16"
