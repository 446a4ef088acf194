"""What the benchmarks record about the CPU they ran on (scoring and tuning speed depend on its
vector instructions: AVX2, AVX-512, AVX512-BF16, AMX)."""

from __future__ import annotations

import platform
from pathlib import Path

# widest first: the first one present names the machine's kind in cpu_label
SPEED_FLAGS = (("amx_bf16", "AMX-BF16"), ("avx512_bf16", "AVX512-BF16"), ("avx512f", "AVX-512"), ("avx2", "AVX2"))


def _cpuinfo() -> list[str] | None:
    """The lines of /proc/cpuinfo (None when it cannot be read, e.g. not Linux)."""
    try:
        return Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return None


def _field(lines: list[str], name: str) -> str:
    """The value of the first ``name`` line ('' when absent)."""
    return next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith(name)), "")


def cpu_flags() -> list[str]:
    """The speed-deciding SIMD flags the CPU has, sorted (e.g. ``["avx2"]``); empty when unknown."""
    flags = set(_field(_cpuinfo() or [], "flags").split())
    return sorted(flag for flag, _ in SPEED_FLAGS if flag in flags)


def cpu_label() -> str:
    """The CPU's model name and widest vector ISA, e.g. ``AMD EPYC, AVX2``."""
    lines = _cpuinfo()
    if lines is None:
        return platform.processor() or platform.machine()
    flags = set(_field(lines, "flags").split())
    isa = next((label for flag, label in SPEED_FLAGS if flag in flags), "SSE")
    return f"{_field(lines, 'model name') or platform.machine()}, {isa}"
