"""Fixtures for the data-contract tests: a valid dataset on disk and an in-process CLI runner."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from rlopt.data import write_placements, write_table
from tests.data._datafixtures import PLACEMENTS, make_catalog, make_logs


@pytest.fixture
def dataset(tmp_path: Path) -> dict[str, Path]:
    """A valid set: catalog.parquet, logs.parquet, placements.toml (as paths)."""
    return {
        "catalog": write_table(make_catalog(), tmp_path / "catalog.parquet"),
        "logs": write_table(make_logs(), tmp_path / "logs.parquet"),
        "placements": write_placements(PLACEMENTS, tmp_path / "placements.toml"),
    }


@pytest.fixture
def run_cli(capsys, monkeypatch):
    """Run ``rlopt validate ARGS`` in-process through ``rlopt.cli.main``; return (exit code, stdout, stderr)."""
    from rlopt.cli import app, main

    def run(*args: str) -> tuple[int, str, str]:
        # Typer runs a lone command without its name; the full app has many (see rlopt.cli).
        name = ["validate"] if len(app.registered_commands) + len(app.registered_groups) > 1 else []
        monkeypatch.setattr(sys, "argv", ["rlopt", *name, *map(str, args)])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out = capsys.readouterr()
        return code, out.out, " ".join(out.err.split())

    return run
