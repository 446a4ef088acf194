"""Who owns a run directory, and who is using it: the ``.rlopt-run`` marker and the run lock.

rlopt deletes only what it made. A run directory is rlopt's when it carries the marker file
``.rlopt-run``, written when rlopt creates the directory or adopts an **empty** one (or one holding
a ``manifest.json`` of an earlier rlopt, which predates the marker). :func:`claim_run_dir` refuses,
with one paragraph naming the path (an :class:`~rlopt.errors.InputError`, exit 2):

- a path that is an existing file (or lies under one);
- a non-empty directory without the marker: it holds someone's files, and a run would replace
  ``data/``, ``report/``, ... in it;
- a directory another live rlopt process is running in.

The lock is ``fcntl.flock`` on ``<run>/.rlopt-lock``, held for the whole run. The kernel releases
a ``flock`` when its process ends however it ends (exit, exception, ``kill -9``), so a lock file
left by a killed run never blocks the next one: there are no stale locks to detect, only a file
whose pid names the last holder. The file is never deleted (deleting a lock file lets two
processes lock two different files of the same name).

Inside an owned run directory, :func:`remove_owned_dir` removes a stage directory only when it
carries one of rlopt's stage markers (``stage.json`` of a finished stage, ``.attempt.json`` of an
attempt) or is empty, and removes the markers **last**, so a removal cut short by a crash still
leaves a directory rlopt recognises as its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from rlopt.errors import InputError
from rlopt.io_utils import write_json_atomic

RUN_MARKER = ".rlopt-run"
LOCK_FILE = ".rlopt-lock"
STAGE_MARKER = "stage.json"  # a finished stage (written last by the runner)
ATTEMPT_MARKER = ".attempt.json"  # an attempt in progress (written first by the runner)
OWNER_MARKERS = (STAGE_MARKER, ATTEMPT_MARKER)
_LEGACY_MANIFEST_KEYS = {"rlopt_version", "stage_order", "stages"}


def _is_legacy_run(path: Path) -> bool:
    """A run directory written by an rlopt from before the marker: its ``manifest.json`` says so."""
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and _LEGACY_MANIFEST_KEYS <= set(manifest)


def _check_claimable(path: Path, option: str) -> None:
    """Raise unless ``path`` is absent, an empty directory, or a directory rlopt owns."""
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(f"the run directory lies under {parent}, which is a file, not a directory",
                                 file=str(path), column=option, rule="the run directory is a directory")
            break
    if not path.exists():
        return
    if not path.is_dir():
        raise InputError("the run directory names an existing file; give a directory (new, empty, or one rlopt "
                         "made before)", file=str(path), column=option, rule="the run directory is a directory")
    if (path / RUN_MARKER).is_file() or _is_legacy_run(path):
        return
    entries = sorted(p.name for p in path.iterdir() if p.name != LOCK_FILE)
    if entries:
        shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
        raise InputError(
            f"the run directory is not empty ({shown}) and was not made by rlopt (no {RUN_MARKER} marker); "
            "rlopt writes only into a new or empty directory or one it made, so it never replaces files it "
            f"did not write. Choose another {option}, or empty this one", file=str(path), column=option,
            rule="rlopt writes only into its own run directories")


class RunLock:
    """An exclusive ``flock`` on ``<run>/.rlopt-lock`` for one run (see the module docstring).

    Parameters
    ----------
    run_dir : Path
        An existing directory.
    option : str
        How the user named the directory (for the message).
    """

    def __init__(self, run_dir: Path, option: str = "out_dir") -> None:
        self.path = Path(run_dir) / LOCK_FILE
        self.option = option
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`InputError` naming the directory and the holder's pid."""
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").split()
            os.close(fd)
            pid = holder[0] if holder else "unknown"
            raise InputError(
                f"the run directory is in use by another rlopt run (pid {pid}); two runs writing into one "
                f"directory would corrupt it. Wait for that run to finish, or choose another {self.option}",
                file=str(self.path.parent), column=self.option, rule="one run per run directory") from None
        except BaseException:
            os.close(fd)
            raise
        # Who holds it, for the message above; the lock itself is the flock, not this text.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Release the lock (also released by the kernel if the process dies first)."""
        if self._fd is not None:
            import fcntl

            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


@contextlib.contextmanager
def claim_run_dir(path: str | os.PathLike[str], option: str = "out_dir") -> Iterator[Path]:
    """Create or adopt ``path`` as a run directory and hold its lock while the ``with`` body runs.

    Checks ownership before writing anything into ``path``, takes the lock, checks again under it
    (another process may have filled the directory in between), then writes the ``.rlopt-run``
    marker if it is missing.

    Raises
    ------
    InputError
        ``path`` is a file, a non-empty directory rlopt did not make, or in use by another run.
    """
    run_dir = Path(path)
    _check_claimable(run_dir, option)
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = RunLock(run_dir, option)
    lock.acquire()
    try:
        _check_claimable(run_dir, option)
        if not (run_dir / RUN_MARKER).is_file():
            import rlopt

            write_json_atomic(run_dir / RUN_MARKER, {
                "made_by": "rlopt", "rlopt_version": rlopt.__version__,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "note": "rlopt owns this directory: it may replace its stage folders on a rerun"})
        yield run_dir
    finally:
        lock.release()


def is_owned_dir(path: Path) -> bool:
    """True when ``path`` carries a stage marker rlopt wrote, or is an empty directory."""
    return any((path / m).is_file() for m in OWNER_MARKERS) or not any(path.iterdir())


def remove_owned_dir(path: Path) -> None:
    """Remove a stage directory (``<run>/<stage>`` or ``<stage>.tmp``) that rlopt made.

    The directory must carry ``stage.json`` or ``.attempt.json`` (or be empty), else
    :class:`InputError` names it and nothing is removed. Order: mark it as an attempt (so it stays
    recognisable), drop ``stage.json`` (so it can never read as a finished stage again), remove the
    rest, then the attempt marker, then the directory. A crash at any point leaves a directory
    that :func:`is_owned_dir` still accepts.
    """
    if not path.exists():
        return
    if path.is_symlink() or not path.is_dir():
        raise InputError("rlopt expected its own stage folder here but found a file or a link; it removes only "
                         "what it made. Move it away and rerun", file=str(path),
                         rule="rlopt deletes only what it made")
    if not is_owned_dir(path):
        raise InputError(f"this folder was not made by rlopt (no {STAGE_MARKER} or {ATTEMPT_MARKER} in it), so "
                         "rlopt will not replace it. Move it out of the run directory and rerun", file=str(path),
                         rule="rlopt deletes only what it made")
    if not (path / ATTEMPT_MARKER).is_file():
        write_json_atomic(path / ATTEMPT_MARKER, {"removing": True})
    (path / STAGE_MARKER).unlink(missing_ok=True)
    for child in path.iterdir():
        if child.name == ATTEMPT_MARKER:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    (path / ATTEMPT_MARKER).unlink(missing_ok=True)
    path.rmdir()
