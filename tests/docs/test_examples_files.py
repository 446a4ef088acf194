"""The sample files in ``examples/`` are what ``scripts/make_examples.py`` writes, and the README's
tour quotes what ``rlopt validate`` really says about the broken one."""

from __future__ import annotations

import re
import runpy
import sys

import pytest

from rlopt.cli import main
from tests.docs.markdown_blocks import ROOT

EXAMPLES = ROOT / "examples"


def test_the_shipped_examples_are_reproducible(tmp_path):
    make = runpy.run_path(str(ROOT / "scripts" / "make_examples.py"))["main"]
    make(["--out", str(tmp_path)])
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(p.name for p in EXAMPLES.iterdir())
    for name in written:
        assert (tmp_path / name).read_bytes() == (EXAMPLES / name).read_bytes(), f"examples/{name} is stale"


def _quoted_error(readme: str) -> str:
    """The indented ``error: ...`` paragraph of the README's tour, joined into one line."""
    lines = re.search(r"\n((?: {4}error: .*\n)(?: {4}\S.*\n)*)", readme).group(1).splitlines()
    return " ".join(ln.strip() for ln in lines).removesuffix("...").strip()


def test_the_tour_quotes_the_real_validation_error(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)  # the README's paths are relative to the repository root
    monkeypatch.setattr(sys, "argv", ["rlopt", "validate", "--logs", "examples/logs_with_errors.csv",
                                      "--catalog", "examples/catalog.csv"])
    with pytest.raises(SystemExit) as exc:
        main()
    err = " ".join(capsys.readouterr().err.split())
    assert exc.value.code == 2
    quoted = _quoted_error((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(quoted) > 200 and err.startswith(quoted)
