"""How an experiment script ends on bad input: one paragraph and exit code 2, as rlopt's commands do."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from rlopt.errors import InputError, clean_message

EXIT_INPUT = 2


def run(main: Callable[[], Any]) -> None:
    """Call ``main()``; an :class:`~rlopt.errors.InputError` (it names the file, row, column or key
    and the rule) is printed to stderr as one paragraph and the process exits 2, without a traceback."""
    try:
        main()
    except InputError as err:
        print(f"error: {clean_message(str(err))}", file=sys.stderr)
        raise SystemExit(EXIT_INPUT) from None


__all__ = ["EXIT_INPUT", "run"]
