"""What a run or a benchmark records about the machine it ran on.

Speed on a CPU depends most on its vector instructions (AVX2, AVX-512, AVX512-BF16, AMX) and on
which of them torch actually dispatches to: ``ATEN_CPU_CAPABILITY`` and ``ONEDNN_MAX_CPU_ISA`` can
hold torch below what the CPU has, which is how an AVX2-only machine is approximated on a newer one.
So a timing is only readable next to both: the CPU's flags (``/proc/cpuinfo``) and torch's kernels
(``torch_cpu_capability``, ``native_bf16``). Run manifests (``manifest.json``) and the benchmarks'
JSONs carry :func:`describe`.

Examples
--------
>>> sorted(describe(torch_info=False))
['cpu', 'cpu_flags', 'cpus', 'python']
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

#: Speed-deciding CPU flags, widest first: the first one present names the machine's kind in :func:`cpu_label`.
SPEED_FLAGS = (("amx_bf16", "AMX-BF16"), ("avx512_bf16", "AVX512-BF16"), ("avx512f", "AVX-512"), ("avx2", "AVX2"))
#: Environment variables that hold torch's CPU kernels below what the CPU has.
DISPATCH_ENV = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")


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


def describe(torch_info: bool = True) -> dict[str, Any]:
    """The machine in a few keys, for a run manifest or a results file.

    Parameters
    ----------
    torch_info : bool
        Add what torch runs on (imports torch): ``torch``, ``torch_cpu_capability`` (the kernels
        ATen dispatches to: ``"AVX512"``, ``"AVX2"``, ...), ``native_bf16`` (:mod:`rlopt.precision`),
        ``cuda`` (the GPU's name, or None), and any :data:`DISPATCH_ENV` variable that is set.

    Returns
    -------
    dict
        ``cpu`` (:func:`cpu_label`), ``cpus`` (logical cores), ``cpu_flags`` (:func:`cpu_flags`),
        ``python``, and with ``torch_info`` the keys above.
    """
    out: dict[str, Any] = {"cpu": cpu_label(), "cpus": os.cpu_count(), "cpu_flags": cpu_flags(),
                           "python": platform.python_version()}
    if not torch_info:
        return out
    import torch

    from rlopt.precision import native_bf16

    out["torch"] = torch.__version__
    out["torch_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    out["native_bf16"] = native_bf16("cpu")
    out["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    out.update({name.lower(): os.environ[name] for name in DISPATCH_ENV if os.environ.get(name)})
    return out


__all__ = ["DISPATCH_ENV", "SPEED_FLAGS", "cpu_flags", "cpu_label", "describe"]
