"""reward_models/ never reads the simulator's truth, except the one evaluation-only module."""

from __future__ import annotations

import re
from pathlib import Path

import reward_models

ALLOWED = {"oracle_compare.py"}
FORBIDDEN = re.compile(r"rlopt\.market\.(oracle|truth)|from rlopt\.market import .*\b(Oracle|truth)\b")


def test_no_oracle_import_outside_oracle_compare():
    root = Path(reward_models.__file__).parent
    offenders = [p.name for p in root.rglob("*.py") if p.name not in ALLOWED and FORBIDDEN.search(p.read_text())]
    assert offenders == []
    assert FORBIDDEN.search((root / "oracle_compare.py").read_text())  # the scan does see imports
