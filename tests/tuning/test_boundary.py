"""Tuning code never imports the oracle; only rlopt/tuning/evaluate.py may (and it only receives one)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PATTERN = re.compile(r"^\s*(from|import)\s+rlopt\.market(\.oracle|\.truth|\s+import\s+.*\b(Oracle|oracle|truth)\b)",
                     re.MULTILINE)


def test_no_oracle_imports_in_tuning_or_generation():
    offenders = []
    for folder in ("rlopt/tuning", "rlopt/generation"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "evaluate.py" and path.parent.name == "tuning":
                continue
            if PATTERN.search(path.read_text()) or "market.oracle" in path.read_text():
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_pattern_catches_an_oracle_import():
    assert PATTERN.search("from rlopt.market.oracle import Oracle\n")
    assert PATTERN.search("import rlopt.market.truth\n")
    assert not PATTERN.search("from rlopt.market import DEFAULT_MARKET\n")
