"""``<run>/log.txt``: everything a run said, in full, while the console stays short.

The console shows one line per finished stage (done, cached, blocked, failed) and, while a stage
runs, a transient live line under :func:`rlopt.live.live_progress` (the stage's latest detail:
generation's done/total and time left, the tuning bar with loss and reward) that is erased when the
stage ends; library warnings and log records are hidden there unless ``-v``
(:mod:`rlopt.logging_setup`). The run's log file gets all of it: every stage line and detail line,
every record of the ``rlopt`` loggers (tuning steps with their full metric dicts), the libraries'
log records and Python warnings, each with a UTC timestamp. Appended across reruns, so a resumed
run's file tells the whole story.

Without a live display (library use, tests, ``-v``) detail lines are printed like stage lines.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from rlopt import live

LOG_NAME = "log.txt"
#: Loggers whose records go to the file: rlopt's own, the libraries it drives, Python's warnings.
CAPTURED = ("rlopt", "reward_models", "envs", "transformers", "trl", "peft", "accelerate", "py.warnings")
OWN = ("rlopt", "reward_models", "envs")
_FORMAT = "%(asctime)sZ %(levelname)s %(name)s: %(message)s"


def _timestamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())


class RunLog:
    """The log a run's stages write to: ``log(line)`` for the console and the file, ``log.detail(line)``
    for the file and the live status line.

    Parameters
    ----------
    show : callable
        Prints one line on the console.
    fh : text file
        ``<run>/log.txt``, open for appending.
    """

    def __init__(self, show: Callable[[str], None], fh: IO[str]):
        self.show = show
        self.fh = fh
        self._task: Any = None  # the running stage's task in the live display

    def _write(self, line: str) -> None:
        self.fh.write(f"{_timestamp()}Z {line}\n")
        self.fh.flush()

    def __call__(self, line: str) -> None:
        """A line that stays: on the console and in the file."""
        self.show(line)
        self._write(line)

    def detail(self, line: str) -> None:
        """A line for the file, shown on the console only as the live status (or printed, without one)."""
        self._write(line)
        progress = live.active()
        if progress is None:
            self.show(line)
        elif self._task is not None:
            progress.update(self._task, status=line)

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """While the block runs, a live line for stage ``name`` (spinner, elapsed, latest detail)."""
        progress = live.active()
        if progress is None:
            yield
            return
        self._task = progress.add_task(f"[{name}]", total=None, status="")
        try:
            yield
        finally:
            progress.remove_task(self._task)
            self._task = None


@contextlib.contextmanager
def run_log(run_dir: Path, log: Callable[[str], None]) -> Iterator[RunLog]:
    """Open ``<run_dir>/log.txt`` for the run; yield a :class:`RunLog` that also writes each line there.

    Records of :data:`CAPTURED` loggers go to the file only: rlopt's own from INFO up; the
    libraries' at whatever level they are set to (raising them would also reach the console
    handlers the libraries install themselves). Handlers and levels are restored on exit, so a
    second run in the same process starts clean.
    """
    path = Path(run_dir) / LOG_NAME
    with open(path, "a", encoding="utf-8") as fh:
        handler = logging.StreamHandler(fh)
        formatter = logging.Formatter(_FORMAT, datefmt="%Y-%m-%dT%H:%M:%S")
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
        handler.setLevel(logging.INFO)
        saved = []
        for name in CAPTURED:
            logger = logging.getLogger(name)
            saved.append((logger, logger.level))
            if name in OWN and logger.getEffectiveLevel() > logging.INFO:
                logger.setLevel(logging.INFO)
            logger.addHandler(handler)
        logging.captureWarnings(True)
        fh.write(f"{_timestamp()}Z ---- run started in {run_dir}\n")
        try:
            yield RunLog(log, fh)
        finally:
            logging.captureWarnings(False)
            for logger, level in saved:
                logger.removeHandler(handler)
                logger.setLevel(level)
            fh.flush()
