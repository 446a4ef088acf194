"""Training code must never see the truth: an AST scan of every training module's imports."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("rlopt.market.oracle", "rlopt.market.truth")
TRAINING_DIRS = ("reward_models", "rlopt/tuning", "rlopt/policies")
ALLOWED = {"rlopt/tuning/evaluate.py"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _violations(root: Path) -> list[str]:
    bad = []
    for folder in TRAINING_DIRS:
        for path in sorted((root / folder).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            if rel in ALLOWED:
                continue
            hits = [n for n in _imports(path) if any(n == f or n.startswith(f + ".") for f in FORBIDDEN)]
            if hits:
                bad.append(f"{rel} imports {', '.join(sorted(hits))}")
    return bad


def test_training_code_never_imports_the_oracle():
    assert _violations(ROOT) == [], "training code must learn from logs only (see rlopt/market/oracle.py)"


def test_the_scan_catches_a_violation(tmp_path):
    (tmp_path / "rlopt" / "policies").mkdir(parents=True)
    (tmp_path / "rlopt" / "policies" / "cheat.py").write_text("from rlopt.market import oracle\n")
    (tmp_path / "reward_models").mkdir()
    (tmp_path / "reward_models" / "peek.py").write_text("import rlopt.market.truth as t\n")
    (tmp_path / "rlopt" / "tuning").mkdir(parents=True)
    (tmp_path / "rlopt" / "tuning" / "evaluate.py").write_text("from rlopt.market.oracle import Oracle\n")
    bad = _violations(tmp_path)
    assert len(bad) == 2 and "cheat.py" in bad[0] + bad[1] and "peek.py" in bad[0] + bad[1]
