"""The ``rlopt`` command line: one entry point, one module of subcommands per area.

Every command exits 0 on success and 2 on bad input (an :class:`rlopt.errors.InputError`),
printing one paragraph that names the file, row and column.
"""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from rlopt.cli import (
    ab_cmds,
    bandit_cmds,
    data_cmds,
    ope_cmds,
    reward_cmds,
    run_cmd,
    simulate_cmd,
    tune_cmds,
)
from rlopt.cli._common import err_console
from rlopt.errors import InputError

app = typer.Typer(
    name="rlopt",
    help="Make marketing copy earn more clicks and purchases, and prove it before real traffic is spent.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)



@app.callback()
def _root() -> None:
    """Make e-commerce marketing copy earn more clicks and purchases, and prove it offline.

    Keeps `rlopt` a command group (subcommands stay subcommands however many are registered).
    """


for _module in (simulate_cmd, data_cmds, reward_cmds, tune_cmds, bandit_cmds, ope_cmds, ab_cmds, run_cmd):
    _module.register(app)


def main() -> None:
    """Console-script entry point: run the app, turning bad input into exit code 2."""
    try:
        app()
    except InputError as err:
        err_console.print(f"[bold red]error:[/bold red] {escape(str(err))}", highlight=False, soft_wrap=True)
        sys.exit(2)
