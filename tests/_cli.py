"""Run the ``rlopt`` command line in-process, as the console script does, for the CLI tests."""

from __future__ import annotations

import sys
from typing import NamedTuple


class CliRun(NamedTuple):
    """Exit code, stdout and stderr of one ``rlopt`` call."""

    code: int
    out: str
    err: str


def run_rlopt(monkeypatch, capsys, *args: object) -> CliRun:
    """``rlopt ARGS`` through ``rlopt.cli.main`` (the entry point).

    The exit code follows :class:`SystemExit`: an int as is, ``None`` is 0, anything else
    (a message) is 1. ``monkeypatch`` and ``capsys`` are the calling test's fixtures; the
    environment (``RLOPT_DEBUG`` included) is the test's.
    """
    from rlopt.cli import main

    monkeypatch.setattr(sys, "argv", ["rlopt", *map(str, args)])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out = capsys.readouterr()
    return CliRun(code, out.out, out.err)


def one_line(text: str) -> str:
    """``text`` with every run of whitespace as one space (rich wraps long paragraphs)."""
    return " ".join(text.split())
