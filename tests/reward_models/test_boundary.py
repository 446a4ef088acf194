"""reward_models/ never reads the simulator's truth, except the one evaluation-only module."""

from __future__ import annotations

from tests._scan import ROOT, boundary_violations, forbidden_uses

ALLOWED = "reward_models/oracle_compare.py"
FORBIDDEN = ("rlopt.market.oracle", "rlopt.market.truth")


def test_no_oracle_import_outside_oracle_compare():
    assert boundary_violations(["reward_models"], FORBIDDEN, allowed=[ALLOWED], min_files=10) == []
    assert forbidden_uses(ROOT / ALLOWED, FORBIDDEN)  # the scan does see the allowed module's import
