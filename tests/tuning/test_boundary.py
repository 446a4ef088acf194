"""Tuning code never imports the oracle; only rlopt/tuning/evaluate.py may (and it only receives one)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PATTERN = re.compile(r"^\s*(from|import)\s+rlopt\.market(\.oracle|\.truth|\s+import\s+.*\b(Oracle|oracle|truth)\b)",
                     re.MULTILINE)


def test_no_oracle_imports_in_tuning_or_generation():
    offenders = []
    scanned = {}
    for folder in ("rlopt/tuning", "rlopt/generation"):
        paths = list((ROOT / folder).rglob("*.py"))
        scanned[folder] = len(paths)
        for path in paths:
            if path.name == "evaluate.py" and path.parent.name == "tuning":
                assert PATTERN.search(path.read_text()) or "market.oracle" in path.read_text()  # the scan sees it
                continue
            if PATTERN.search(path.read_text()) or "market.oracle" in path.read_text():
                offenders.append(str(path.relative_to(ROOT)))
    assert all(n > 3 for n in scanned.values()), scanned  # the folders were read (a move would pass vacuously)
    assert offenders == []


def test_pattern_catches_an_oracle_import():
    assert PATTERN.search("from rlopt.market.oracle import Oracle\n")
    assert PATTERN.search("import rlopt.market.truth\n")
    assert not PATTERN.search("from rlopt.market import DEFAULT_MARKET\n")
