"""Where experiment scripts write their JSON, and what each file records about the machine.

Every script writes ``experiments/results/<area>/<name>.json`` (the docs' results page is generated
from these files by ``scripts/gen_results_page.py``), atomically (temporary file, then rename), with
a ``machine`` record: timings in one file are comparable only with timings taken on the same kind of
machine under a similar load.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from rlopt.io_utils import write_json_atomic
from rlopt.machine import describe

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results"
"""``experiments/results/``: one folder per area (ab, bandits, ope, tuning)."""


def result_path(area: str, name: str) -> Path:
    """``experiments/results/<area>/<name>.json`` (absolute, so a script may run from any folder).

    >>> result_path("ab", "aa_fpr").relative_to(ROOT).as_posix()
    'experiments/results/ab/aa_fpr.json'
    """
    return RESULTS / area / f"{name}.json"


def args_record(args: Any) -> dict[str, Any]:
    """A script's ``Args`` as JSON values; paths inside the repository relative to it, so a results file
    does not carry one machine's checkout location.

    >>> from dataclasses import make_dataclass
    >>> args_record(make_dataclass("A", [("out", Path), ("n", int)])(ROOT / "experiments" / "x.json", 3))
    {'out': 'experiments/x.json', 'n': 3}
    """
    def value(v: Any) -> Any:
        if not isinstance(v, Path):
            return v
        return v.resolve().relative_to(ROOT).as_posix() if v.resolve().is_relative_to(ROOT) else str(v)

    return {k: value(v) for k, v in dataclasses.asdict(args).items()}


def machine() -> dict[str, Any]:
    """The machine (:func:`rlopt.machine.describe`: CPU, cores, flags, torch's kernels) and the 1-minute
    load average, for a results file.

    Keys match what the results page reads (``cpus``, ``cpu_flags``, ``load_avg_1m``).
    """
    try:
        load = os.getloadavg()[0]
    except OSError:  # not available on every platform
        load = None
    return {**describe(), "load_avg_1m": load}


def write_result(path: str | os.PathLike[str], record: dict[str, Any]) -> Path:
    """Write ``record`` plus ``machine`` (taken now, at the end of the run) to ``path`` atomically."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out, {**record, "machine": machine()})
    return out


__all__ = ["RESULTS", "ROOT", "args_record", "machine", "result_path", "write_result"]
