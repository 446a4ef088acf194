"""``<run>/log.txt``: everything a run said, in full, while the console stays short.

The console shows rlopt's one-line stage messages and progress bars; library warnings and log
records are hidden there unless ``-v`` (:mod:`rlopt.logging_setup`). The run's log file gets all of
it: every stage line, every record of the ``rlopt`` loggers (tuning steps with their full metric
dicts), the libraries' log records and Python warnings, each with a UTC timestamp. Appended across
reruns, so a resumed run's file tells the whole story.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

LOG_NAME = "log.txt"
#: Loggers whose records go to the file: rlopt's own, the libraries it drives, Python's warnings.
CAPTURED = ("rlopt", "reward_models", "envs", "transformers", "trl", "peft", "accelerate", "py.warnings")
OWN = ("rlopt", "reward_models", "envs")
_FORMAT = "%(asctime)sZ %(levelname)s %(name)s: %(message)s"


def _timestamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())


@contextlib.contextmanager
def run_log(run_dir: Path, log: Callable[[str], None]) -> Iterator[Callable[[str], None]]:
    """Open ``<run_dir>/log.txt`` for the run; yield a ``log`` that also writes each line there.

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

        def log_both(line: str) -> None:
            log(line)
            fh.write(f"{_timestamp()}Z {line}\n")
            fh.flush()

        fh.write(f"{_timestamp()}Z ---- run started in {run_dir}\n")
        try:
            yield log_both
        finally:
            logging.captureWarnings(False)
            for logger, level in saved:
                logger.removeHandler(handler)
                logger.setLevel(level)
            fh.flush()
