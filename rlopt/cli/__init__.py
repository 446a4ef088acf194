"""The ``rlopt`` command line: one entry point, one module of subcommands per area.

Every command exits 0 on success, 2 on bad input (an :class:`rlopt.errors.InputError`: one
paragraph naming the file, row, column and rule), 3 when ``rlopt check --strict`` flags a copy, and
1 when the environment fails (disk full, permission denied, read-only file system: the path and, for
a full disk, the free space) or on an unexpected error. Either way the user sees one paragraph, never a bare traceback;
``rlopt -v ...`` or ``RLOPT_DEBUG=1`` prints the traceback as well.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from rich.text import Text

from rlopt.cli import (
    ab_cmds,
    bandit_cmds,
    check_cmd,
    data_cmds,
    export_cmd,
    ope_cmds,
    reward_cmds,
    run_cmd,
    simulate_cmd,
    tune_cmds,
)
from rlopt.cli._common import (
    DEBUG_ENV,
    EXIT_INTERRUPTED,
    debug_enabled,
    err_console,
    note_output,
    print_failure,
)
from rlopt.logging_setup import configure_library_output
from rlopt.threads import configure_openmp

app = typer.Typer(
    name="rlopt",
    help="Make marketing copy earn more clicks and purchases, and prove it before real traffic is spent.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)



@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help=f"Print the traceback of a failure too "
                                          f"(same as {DEBUG_ENV}=1), and the libraries' warnings and progress "
                                          "bars (same as RLOPT_VERBOSE=1).")] = False,
) -> None:
    """Make e-commerce marketing copy earn more clicks and purchases, and prove it offline.

    Keeps `rlopt` a command group (subcommands stay subcommands however many are registered).
    """
    note_output(None)  # in-process reruns (tests) start without the previous command's --out
    if verbose:
        os.environ[DEBUG_ENV] = "1"
    configure_library_output(verbose or debug_enabled() or None)  # library warnings/bars only with -v


for _module in (simulate_cmd, data_cmds, reward_cmds, tune_cmds, check_cmd, export_cmd, bandit_cmds, ope_cmds, ab_cmds,
                run_cmd):
    _module.register(app)


def main() -> None:
    """Console-script entry point: run the app; any failure becomes one paragraph and an exit code.

    See :func:`rlopt.cli._common.describe_failure` for the codes (2 bad input, 1 environment or
    unexpected). Click's own usage errors keep click's message and exit 2.
    """
    configure_openmp()  # before any command loads torch (and with it OpenMP)
    try:
        app()
    except KeyboardInterrupt:
        err_console.print(Text.assemble(("interrupted", "bold red"), "; rerun the same command to resume"))
        sys.exit(EXIT_INTERRUPTED)
    except Exception as err:  # the last resort: one paragraph, never a bare traceback
        sys.exit(print_failure(err))
