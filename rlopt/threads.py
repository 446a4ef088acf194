"""How many torch CPU threads to use, from the cores that are actually free.

torch's default is one intra-op thread per core. On a machine shared with other jobs that is the
worst choice for the copy generator: a decode step is many small kernels, each ending in a barrier
where every thread waits for the slowest, and a thread the scheduler has handed to another process
stalls the whole step. One thread per core that is really free avoids the stall; training steps
(large matmuls, few barriers per flop) lose less and keep more threads.

The policy, per kind of work::

    free  = usable cores - CPU time other processes used over a short sample (/proc/stat)
    decode threads = free cores (at least 1), i.e. 1 as soon as another job takes a core
    train  threads = free cores rounded up (at least 1)

``[run] threads`` / ``--threads`` (or ``RLOPT_THREADS``) overrides both. Thread counts do not
change what rlopt computes here: the copies sampled with 1 and 2 threads are identical
(``tests/test_threads.py`` checks the decode path), so choosing them from the load keeps
"same seed, same files".

GNU OpenMP's idle threads spin a long while before they sleep, taking cores from the very jobs
they share the machine with; fully passive waiting (``OMP_WAIT_POLICY=PASSIVE``) gives those back
but makes every short gap between decode kernels a sleep and a wake-up, which costs an idle
machine. :func:`configure_openmp` bounds the spin instead (``GOMP_SPINCOUNT``), before torch is
imported, unless the user chose a wait policy; ``benchmarks/bench_contention.py`` compares it with
passive waiting and torch's default, idle and under contention.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

WorkKind = Literal["decode", "train", "score"]
ENV_THREADS = "RLOPT_THREADS"


OPENMP_ENV = {"GOMP_SPINCOUNT": "20000"}  # what configure_openmp sets (benchmarks read it too)


def configure_openmp() -> None:
    """Ask GNU OpenMP to spin only briefly before an idle thread sleeps (``OPENMP_ENV``).

    Must run before torch (and so libgomp) is loaded; later calls have no effect, which is why the
    CLI's entry point calls it first. Values the user already set (``OMP_WAIT_POLICY``,
    ``GOMP_SPINCOUNT``) are kept: any of them means the user chose the wait policy.
    """
    if any(key in os.environ for key in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")):
        return
    os.environ.update(OPENMP_ENV)


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def _cpu_busy_seconds() -> float | None:
    """Busy CPU seconds of the whole machine since boot, from ``/proc/stat`` (None off Linux)."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = fh.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    ticks = [int(v) for v in fields[1:]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    busy = sum(ticks[:8]) - idle  # user nice system idle iowait irq softirq steal; guest is in user
    return busy / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CoreSample:
    """One look at the machine: usable cores and how many of them other processes kept busy."""

    usable: int
    others_busy: float  # cores' worth of CPU that other processes used during the sample

    @property
    def free(self) -> float:
        """Cores' worth of CPU nobody else used (may be fractional; at most ``usable``)."""
        return max(0.0, self.usable - self.others_busy)


def sample_cores(seconds: float = 0.2) -> CoreSample:
    """Measure how busy the machine is over ``seconds``, less this process's own CPU time.

    Off Linux (no ``/proc/stat``) every usable core counts as free.
    """
    usable = usable_cores()
    before = _cpu_busy_seconds()
    if before is None:
        return CoreSample(usable, 0.0)
    own_before, t0 = time.process_time(), time.perf_counter()
    time.sleep(seconds)
    after, own_after, wall = _cpu_busy_seconds(), time.process_time(), time.perf_counter() - t0
    machine_busy = (after - before) / wall  # cores' worth, all CPUs (not only ours)
    own = (own_after - own_before) / wall
    # Busy cores outside our affinity set don't compete with us; scale to our share of the machine.
    total = os.cpu_count() or usable
    others = max(0.0, machine_busy - own) * min(1.0, usable / total)
    return CoreSample(usable, others)


def override_threads() -> int | None:
    """The user's fixed thread count from ``RLOPT_THREADS`` (None when unset or 0)."""
    raw = os.environ.get(ENV_THREADS, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if value > 0 else None


def choose_threads(kind: WorkKind, sample: CoreSample | None = None) -> int:
    """Threads for ``kind`` of work given the free cores (``sample``, measured when None).

    >>> choose_threads("decode", CoreSample(usable=2, others_busy=0.0))
    2
    >>> choose_threads("decode", CoreSample(usable=2, others_busy=1.5))
    1
    >>> choose_threads("train", CoreSample(usable=4, others_busy=1.6))
    3
    """
    fixed = override_threads()
    if fixed is not None:
        return fixed
    sample = sample or sample_cores()
    # A core counts as free for decoding only when nearly idle (a half-busy core stalls barriers);
    # training tolerates partly busy cores, so it rounds up.
    free = math.floor(sample.free + 0.25) if kind == "decode" else math.ceil(sample.free - 0.25)
    return int(min(sample.usable, max(1, free)))


@contextmanager
def threads_for(kind: WorkKind, threads: int = 0, *, device: str = "cpu") -> Iterator[int]:
    """Run a block with a chosen number of torch CPU threads, restoring the count afterwards.

    Parameters
    ----------
    kind : {"decode", "train", "score"}
        What the block does (see :func:`choose_threads`).
    threads : int, default 0
        0 = choose from the free cores; a positive count is used as it is (``[run] threads``).
    device : str
        The block's device type; on an accelerator torch's CPU threads are left alone.

    Yields
    ------
    int
        The thread count in effect inside the block.
    """
    import torch

    before = torch.get_num_threads()
    if device != "cpu":
        yield before
        return
    chosen = threads if threads > 0 else choose_threads(kind)
    torch.set_num_threads(chosen)
    try:
        yield chosen
    finally:
        torch.set_num_threads(before)
