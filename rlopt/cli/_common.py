"""Shared pieces of the command line: JSON/table output and the ``--json`` option."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from rlopt.io_utils import _json_default

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of a table.")]

console = Console()
err_console = Console(stderr=True)


def emit(result: dict[str, Any], as_json: bool, title: str = "") -> None:
    """Print ``result`` as JSON (``--json``) or as a two-column table of its flat entries."""
    if as_json:
        print(json.dumps(result, indent=2, default=_json_default))
        return
    table = Table(title=title or None, show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value")
    for key, value in result.items():
        if isinstance(value, float):
            text = f"{value:.6g}"
        elif isinstance(value, (dict, list)):
            text = json.dumps(value, default=_json_default)
        else:
            text = str(value)
        table.add_row(str(key), text)
    console.print(table)
