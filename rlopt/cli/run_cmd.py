"""CLI commands (placeholder until the owning module lands)."""

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
