"""Shared pieces of the command line: JSON/table output, the ``--json`` option, ``--out`` checks and
the one place that turns an exception into a paragraph and an exit code (:func:`describe_failure`)."""

from __future__ import annotations

import errno
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from rlopt.engine import ENGINE_HELP, RAY_ADDRESS_HELP
from rlopt.errors import InputError, clean_message, show_controls
from rlopt.io_utils import json_default

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of a table.")]
# --engine / --ray-address: where per-batch work runs (rlopt/engine); the help texts live with the engines
EngineOpt = Annotated[str, typer.Option("--engine", help=ENGINE_HELP)]
RayAddressOpt = Annotated[str | None, typer.Option("--ray-address", help=RAY_ADDRESS_HELP)]


class SafeConsole(Console):
    """A rich console that prints strings as they are: no markup, control characters shown.

    File names, column names and values reach the terminal through tables, titles and status
    lines. With rich's default markup a file named ``[red]x[/a].csv`` is recoloured or makes
    rich raise ``MarkupError``; an ``ESC [2J`` in a CSV header clears the screen. Styled text is
    built with :class:`rich.text.Text` instead (see :func:`print_failure`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("markup", False)
        super().__init__(*args, **kwargs)

    def render_str(self, text: str, **kwargs: Any) -> Text:
        return super().render_str(show_controls(text), **kwargs)

    def status(self, status: Any, **kwargs: Any) -> Any:
        """A spinner line; a plain string is shown as text (rich's spinner would parse it as markup)."""
        return super().status(Text(show_controls(status)) if isinstance(status, str) else status, **kwargs)


console = SafeConsole()
err_console = SafeConsole(stderr=True)


def emit(result: dict[str, Any], as_json: bool, title: str = "") -> None:
    """Print ``result`` as JSON (``--json``) or as a two-column table of its flat entries."""
    if as_json:
        print(json.dumps(result, indent=2, default=json_default))
        return
    table = Table(title=title or None, show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value")
    for key, value in result.items():
        if isinstance(value, float):
            text = f"{value:.6g}"
        elif isinstance(value, (dict, list)):
            text = json.dumps(value, default=json_default)
        else:
            text = str(value)
        table.add_row(str(key), text)  # SafeConsole: no markup, control characters shown
    console.print(table)


# --------------------------------------------------------------------------- failures
DEBUG_ENV = "RLOPT_DEBUG"
EXIT_INPUT, EXIT_ENVIRONMENT, EXIT_INTERRUPTED = 2, 1, 130
_DEBUG_HINT = f"rerun with `rlopt -v ...` or {DEBUG_ENV}=1 for the traceback"
# How libraries that do their own I/O (Arrow, safetensors, torch) spell a full disk.
_DISK_FULL_TEXT = ("no space left on device", "storagefull", "errno 28", "disk quota exceeded")


def debug_enabled() -> bool:
    """True when ``-v`` was given or ``RLOPT_DEBUG`` is set to anything but ``""``/``0``."""
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


def _human_bytes(n: float) -> str:
    """``"512 B"``, ``"1.5 KiB"`` ... ``"3.2 TiB"``."""
    if n < 1024:
        return f"{n:.0f} B"
    for unit in ("KiB", "MiB", "GiB"):
        n /= 1024
        if n < 1024:
            return f"{n:.1f} {unit}"
    return f"{n / 1024:.1f} TiB"


def free_space(path: str | os.PathLike[str] | None) -> str:
    """``"<free> free of <total> on the file system holding <dir>"`` for ``path``'s nearest existing folder."""
    import shutil

    probe = Path(path).absolute() if path else Path.cwd()
    while not probe.is_dir() and probe != probe.parent:  # a file, or not made yet: its folder
        probe = probe.parent
    try:
        usage = shutil.disk_usage(probe)
    except OSError:
        return f"free space on {probe} unknown"
    return f"{_human_bytes(usage.free)} free of {_human_bytes(usage.total)} on the file system holding {probe}"


def _is_disk_full(err: BaseException) -> bool:
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(err).lower()
    return any(t in text for t in _DISK_FULL_TEXT)


_OUTPUTS: list[Path] = []  # the output named by the running command's --out (see check_out_dir)


def note_output(path: str | os.PathLike[str] | None) -> None:
    """Remember where the running command writes, for failures that name no file (a full disk in a
    library's own write, say): :func:`describe_failure` then reports that place and its free space.
    None forgets it (each command starts afresh)."""
    _OUTPUTS[:] = [] if path is None else [Path(path)]


def describe_failure(err: BaseException, where: str | os.PathLike[str] | None = None) -> tuple[str, int]:
    """One printable paragraph (control characters shown, not obeyed) and the exit code; see :func:`_describe`."""
    message, code = _describe(err, where)
    return clean_message(message), code


def _describe(err: BaseException, where: str | os.PathLike[str] | None = None) -> tuple[str, int]:
    """One printable paragraph and the exit code for an exception that reached the command line.

    ``where`` is the directory being written when ``err`` names no file (e.g. a run directory);
    by default the command's ``--out`` (:func:`note_output`).

    - :class:`~rlopt.errors.InputError` (bad input): its message, exit 2.
    - Disk full (``ENOSPC``/``EDQUOT``, or a library's message saying so): the path and the free
      space (:func:`shutil.disk_usage`), exit 1 -- the environment, not the input, is at fault.
    - Any other :class:`OSError` (permission denied, read-only file system, ...): the path and the
      system's reason, exit 1.
    - ``UnicodeDecodeError`` escaping a reader: the byte and offset, exit 2.
    - Anything else: the exception's type and message and how to see the traceback, exit 1.
    """
    if isinstance(err, InputError):
        return str(err), EXIT_INPUT
    filename = getattr(err, "filename", None)
    if where is None and _OUTPUTS:
        where = _OUTPUTS[0]
    if _is_disk_full(err):
        place = (f" while writing {filename}" if filename else f" while writing under {where}" if where
                 else " (the library did not say which file)")
        return (f"no space left on the device{place} ({free_space(filename or where)}); free some space or write to "
                f"another disk (--out), then rerun ({_short(err)})"), EXIT_ENVIRONMENT
    if isinstance(err, OSError):
        reason = err.strerror or _short(err)
        target = filename or (f"a file under {where}" if where else "(path not reported)")
        if getattr(err, "filename2", None):
            target = f"{target} -> {err.filename2}"
        hint = {errno.EACCES: "check the permissions of that path or choose another",
                errno.EPERM: "check the permissions of that path or choose another",
                errno.EROFS: "the file system is read-only; write to another location (--out)"}.get(
                    err.errno or -1, _DEBUG_HINT)
        return f"cannot access {target}: {reason} ({type(err).__name__}); {hint}", EXIT_ENVIRONMENT
    if isinstance(err, UnicodeDecodeError):
        return (f"a file is not valid UTF-8 text: byte {err.object[err.start:err.start + 1]!r} at offset "
                f"{err.start}; re-save it as UTF-8 (rule: UTF-8 encoding)"), EXIT_INPUT
    return (f"unexpected {type(err).__name__}: {_short(err) or '(no message)'}. This is not a problem rlopt "
            f"knows how to explain; {_DEBUG_HINT}"), EXIT_ENVIRONMENT


def _short(err: BaseException, limit: int = 600) -> str:
    text = " ".join(str(err).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def print_failure(err: BaseException) -> int:
    """Print ``err`` as one paragraph on stderr (its traceback first when debugging); return the exit code."""
    message, code = describe_failure(err)
    if debug_enabled():
        import traceback

        traceback.print_exception(type(err), err, err.__traceback__, file=sys.stderr)
    err_console.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False, soft_wrap=True)
    return code


# --------------------------------------------------------------------------- --out checks
def _parent_file(out: Path) -> Path | None:
    for parent in out.absolute().parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def check_out_dir(out: Path, option: str = "--out") -> Path:
    """Fail (exit 2) before any work when ``out``, an output *directory*, is an existing file or lies under one."""
    note_output(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{option} names an existing file; it must be a directory (new, or one rlopt wrote "
                         "before)", file=str(out), column=option, rule=f"{option} is a directory")
    blocker = _parent_file(out)
    if blocker is not None:
        raise InputError(f"{option} lies under {blocker}, which is a file, not a directory", file=str(out),
                         column=option, rule=f"{option} is a directory")
    return out


def check_out_file(out: Path, option: str = "--out") -> Path:
    """Fail (exit 2) before any work when ``out``, an output *file*, is an existing directory or lies under a file."""
    note_output(out)
    if out.is_dir():
        raise InputError(f"{option} names an existing directory; give a file path", file=str(out),
                         column=option, rule=f"{option} is a file")
    blocker = _parent_file(out)
    if blocker is not None:
        raise InputError(f"{option} lies under {blocker}, which is a file, not a directory", file=str(out),
                         column=option, rule=f"{option} is a file")
    return out
