"""One rich progress bar for a tuning run, in place of the Trainer's printed log dicts.

The Trainer adds ``PrinterCallback`` (with ``disable_tqdm``: prints ``{'loss': '2.339', ...}``
every logging step) or ``ProgressCallback`` (a tqdm bar that also prints the dicts).
:func:`attach_progress` removes both and adds :class:`RichProgressCallback`: one bar on stderr
(so ``--json`` on stdout stays clean) with the step, loss and reward, and every logged dict
written in full to the ``rlopt.tuning`` logger at INFO (a run's ``log.txt`` handler keeps them;
nothing reaches the console through it unless the application configures logging so).

Inside a command's live display (:func:`rlopt.live.live_progress`, e.g. ``rlopt run``) the bar is
a task of that display, removed when training ends (rich allows one live display at a time);
alone (``rlopt tune``) it is its own display, which stays on the console when it stops.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from transformers import TrainerCallback
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from rlopt import live

LOGGER = logging.getLogger("rlopt.tuning")
# What the bar shows as "reward": GRPO/RLOO log the mean total reward as ``reward``; DPO logs the
# implicit reward margin (chosen minus rejected, beta-scaled log-ratio) as ``rewards/margins``.
REWARD_KEYS = ("reward", "rewards/margins")


def _fmt(value: Any) -> str:
    """A short number for the bar (``-`` when missing or not finite)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "-"
    return f"{number:.4g}" if math.isfinite(number) else "-"


class RichProgressCallback(TrainerCallback):
    """A rich progress bar over ``max_steps`` with the last logged loss and reward.

    Parameters
    ----------
    description : str
        The bar's label (e.g. ``"tune dpo"``).
    console : rich.console.Console, optional
        Where the bar goes; default a stderr console. On a non-terminal (a pipe, a log file)
        rich draws the bar once, when it stops, instead of redrawing it.
    """

    def __init__(self, description: str = "tune", console=None):
        self.description = description
        self.console = console
        self.progress = None
        self.task = None
        self.shared = False  # a task of the command's live display, not a display of its own
        self.last: dict[str, str] = {"loss": "-", "reward": "-", "reward_name": "reward"}

    def _ensure_bar(self, state) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        if self.progress is not None:
            return
        if self.console is None and (shared := live.active()) is not None:
            self.progress, self.shared = shared, True
            self.task = shared.add_task(self.description, total=state.max_steps or None, completed=state.global_step,
                                        status=self._status())
            return
        console = self.console or Console(stderr=True)
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("steps"),
            TimeElapsedColumn(), TextColumn("loss {task.fields[loss]}"),
            TextColumn("{task.fields[reward_name]} {task.fields[reward]}"), console=console)
        self.progress.start()
        self.task = self.progress.add_task(self.description, total=state.max_steps or None,
                                           completed=state.global_step, **self.last)

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self._ensure_bar(state)  # a resumed run starts at its checkpoint's step

    def on_step_end(self, args, state, control, **kwargs):
        if self.progress is not None:
            self.progress.update(self.task, completed=state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        LOGGER.info("step %s %s", state.global_step, json.dumps(logs, default=str, sort_keys=True))
        if "loss" in logs:
            self.last["loss"] = _fmt(logs["loss"])
        key = next((k for k in REWARD_KEYS if k in logs), None)
        if key is not None:
            self.last.update(reward=_fmt(logs[key]), reward_name="reward" if key == "reward" else "margin")
        if self.progress is not None:
            fields = {"status": self._status()} if self.shared else self.last
            self.progress.update(self.task, completed=state.global_step, **fields)

    def _status(self) -> str:
        return f"loss {self.last['loss']} {self.last['reward_name']} {self.last['reward']}"

    def on_train_end(self, args, state, control, **kwargs):
        self.close()

    def close(self) -> None:
        """Stop the bar (idempotent; also called when training fails, by :func:`attach_progress`'s user)."""
        if self.progress is not None:
            if self.shared:
                self.progress.remove_task(self.task)
            else:
                self.progress.stop()
            self.progress = None


def attach_progress(trainer, description: str) -> RichProgressCallback:
    """Replace the Trainer's printing callbacks with one :class:`RichProgressCallback`; return it."""
    for callback in list(trainer.callback_handler.callbacks):
        if isinstance(callback, (PrinterCallback, ProgressCallback)) or \
                type(callback).__name__ == "NotebookProgressCallback":
            trainer.remove_callback(callback)
    callback = RichProgressCallback(description)
    trainer.add_callback(callback)
    return callback


def train_with_progress(trainer, cfg, out_dir, description: str) -> tuple[str | None, bool]:
    """:func:`rlopt.tuning.common.train_resuming` with one progress bar (:func:`attach_progress`).

    The bar is stopped even when training fails, so the terminal is left clean for the error.
    """
    from rlopt.tuning.common import train_resuming

    callback = attach_progress(trainer, description)
    try:
        return train_resuming(trainer, cfg, out_dir)
    finally:
        callback.close()
