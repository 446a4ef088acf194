"""Tuning and generation code never uses the simulator's truth.

``rlopt/tuning/evaluate.py`` grades copies with an oracle it is *given*; it imports neither
``rlopt.market.oracle`` nor ``rlopt.market.truth``, so no file in these folders is exempt. The scan is the
shared one (:mod:`tests._scan`: imports and importlib strings, parsed with ``ast``), and it fails when a
folder holds too few files, so a moved folder cannot pass with nothing read.
"""

from __future__ import annotations

import pytest

from tests._scan import ROOT, boundary_violations, used_names

FOLDERS = ("rlopt/tuning", "rlopt/generation")
FORBIDDEN = ("rlopt.market.oracle", "rlopt.market.truth")


def test_no_oracle_imports_in_tuning_or_generation():
    assert boundary_violations(FOLDERS, FORBIDDEN, min_files=8) == [], \
        "tuning and generation learn from logs and the reward model only (see rlopt/market/oracle.py)"


def test_the_scan_reads_the_tuning_code():
    # the module that grades with the oracle is among the files read, and the scan sees real imports in it
    assert "rlopt.tuning.evaluate" not in FORBIDDEN
    assert any(n.startswith("rlopt.") for n in used_names(ROOT / "rlopt" / "tuning" / "evaluate.py"))


@pytest.mark.parametrize(("line", "name"), [
    ("from rlopt.market.oracle import Oracle\n", "rlopt.market.oracle"),
    ("import rlopt.market.truth\n", "rlopt.market.truth"),
    ("from rlopt.market import oracle\n", "rlopt.market.oracle"),
    ("def f():\n    from rlopt.market.truth import GroundTruth\n", "rlopt.market.truth"),
    ("import importlib\nimportlib.import_module('rlopt.market.oracle')\n", "rlopt.market.oracle"),
])
def test_the_scan_catches_an_oracle_import(tmp_path, line, name):
    for folder in FOLDERS:  # files that mention the oracle only in prose, or import what is allowed
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "ok.py").write_text('"""Graded by rlopt.market.oracle."""\nfrom rlopt.market import DEFAULT_MARKET\n')
    (tmp_path / "rlopt/tuning/bad.py").write_text(line)
    found = boundary_violations(FOLDERS, FORBIDDEN, root=tmp_path)
    assert len(found) == 1 and found[0].startswith("rlopt/tuning/bad.py imports ") and name in found[0], found
