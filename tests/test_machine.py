"""rlopt.machine: what a run manifest and a results file say about the machine."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from rlopt.machine import SPEED_FLAGS, describe


def test_describe_names_the_cpu_and_the_kernels_torch_runs():
    m = describe()
    assert m["cpus"] == os.cpu_count() and isinstance(m["cpu"], str) and m["cpu"]
    assert set(m["cpu_flags"]) <= {flag for flag, _ in SPEED_FLAGS}
    assert m["torch_cpu_capability"] in ("DEFAULT", "NO AVX", "AVX2", "AVX512", "ZVECTOR", "VSX")
    assert isinstance(m["native_bf16"], bool) and m["cuda"] is None or isinstance(m["cuda"], str)


@pytest.mark.skipif("avx2" not in describe(torch_info=False)["cpu_flags"], reason="needs an x86 CPU with AVX2")
def test_a_dispatch_cap_shows_in_the_record():
    # held at AVX2 on a newer CPU: the record says so, next to the CPU's own flags
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
    code = "import json; from rlopt.machine import describe; print(json.dumps(describe()))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    import json

    m = json.loads(out)
    assert m["torch_cpu_capability"] == "AVX2" and m["aten_cpu_capability"] == "avx2"
    assert m["onednn_max_cpu_isa"] == "AVX2" and m["native_bf16"] is False
