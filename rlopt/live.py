"""The one live progress display of a command: transient, shared by rlopt's loops and TRL's callback.

rich allows one live display per console at a time, and a command's long steps nest (the pipeline's
stage line, and inside it the tuning bar). So a command opens one transient
:class:`rich.progress.Progress` with :func:`live_progress`, and every loop that wants a bar adds a
task to it (:func:`active`) instead of starting its own. ``transient=True``: when the display stops
its lines are erased, and on a non-terminal (a pipe, a file) it is never drawn, so what stays on
the console is the command's own summary lines; the full story goes to ``<run>/log.txt``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

_stack: list[Any] = []  # the open displays, innermost last (one per command in practice)


def active() -> Any | None:
    """The open :class:`rich.progress.Progress` of this process, or None."""
    return _stack[-1] if _stack else None


@contextlib.contextmanager
def live_progress(console: Any) -> Iterator[Any]:
    """Open a transient progress display on ``console`` for the block; yield it.

    Columns: spinner, description, a bar (blank for a task without a total), done/total where the
    task has a total, elapsed time, and the task's ``status`` field (free text: the latest detail
    line, the loss).
    """
    from rich.progress import (
        BarColumn,
        Progress,
        SpinnerColumn,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    # markup=False: descriptions and status lines hold "[stage]" and user text, not rich markup.
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}", markup=False), BarColumn(bar_width=24),
                        TaskProgressColumn(show_speed=False), TimeElapsedColumn(),
                        TextColumn("{task.fields[status]}", markup=False), console=console, transient=True)
    # Not a terminal (a pipe, a file): never started, so nothing is drawn, not even the blank line
    # rich's Live leaves behind; tasks are still tracked, for the loops that update them.
    with progress if console.is_terminal else contextlib.nullcontext():
        _stack.append(progress)
        try:
            yield progress
        finally:
            _stack.remove(progress)
