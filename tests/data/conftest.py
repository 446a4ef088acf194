"""Fixtures for the data-contract tests: a valid dataset on disk and an in-process CLI runner."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlopt.data import write_placements, write_table
from tests._cli import one_line, run_rlopt
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
    from rlopt.cli import app

    def run(*args: str) -> tuple[int, str, str]:
        # Typer runs a lone command without its name; the full app has many (see rlopt.cli).
        name = ["validate"] if len(app.registered_commands) + len(app.registered_groups) > 1 else []
        code, out, err = run_rlopt(monkeypatch, capsys, *name, *args)
        return code, out, one_line(err)

    return run
