"""Training code must never see the truth: an AST scan of every training module.

Forbidden in reward_models/, rlopt/tuning/ and rlopt/policies/: importing ``rlopt.market.oracle`` or
``rlopt.market.truth`` (statically, or by naming them in a string for importlib), and importing the
allow-listed evaluation modules (which may use the oracle), so the truth cannot leak in through them.
"""

from __future__ import annotations

import pytest

from tests._scan import boundary_violations

TRAINING_DIRS = ("reward_models", "rlopt/tuning", "rlopt/policies")
#: Evaluation modules inside the training folders: they may use the oracle; training code may not use them.
ALLOWED = {"rlopt/tuning/evaluate.py": "rlopt.tuning.evaluate",
           "reward_models/oracle_compare.py": "reward_models.oracle_compare"}
FORBIDDEN = ("rlopt.market.oracle", "rlopt.market.truth", *ALLOWED.values())


def _violations(root):
    return boundary_violations(TRAINING_DIRS, FORBIDDEN, allowed=ALLOWED, root=root)


def test_training_code_never_imports_the_oracle():
    # min_files: each training folder is really there (a move would otherwise pass with nothing read)
    assert boundary_violations(TRAINING_DIRS, FORBIDDEN, allowed=ALLOWED, min_files=5) == [], \
        "training code must learn from logs only (see rlopt/market/oracle.py)"


def test_the_scan_catches_violations(tmp_path):
    files = {
        "rlopt/policies/cheat.py": "from rlopt.market import oracle\n",
        "reward_models/peek.py": "import rlopt.market.truth as t\n",
        "reward_models/sneak.py": "import importlib\nm = importlib.import_module('rlopt.market.oracle')\n",
        "rlopt/tuning/trainer.py": "from rlopt.tuning.evaluate import evaluate_copies\n",
        "rlopt/tuning/evaluate.py": "from rlopt.market.oracle import Oracle\n",           # allowed
        "reward_models/oracle_compare.py": "from rlopt.market.oracle import Oracle\n",     # allowed
        "rlopt/tuning/clean.py": '"""Never imports rlopt.market.oracle."""\nimport numpy\n',  # prose is fine
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    bad = " ".join(_violations(tmp_path))
    for name in ("cheat.py", "peek.py", "sneak.py", "trainer.py"):
        assert name in bad
    for name in ("evaluate.py", "oracle_compare.py", "clean.py"):
        assert name not in bad


def test_the_scan_fails_on_a_missing_folder(tmp_path):
    with pytest.raises(AssertionError, match="rlopt/policies: 0 Python files read"):
        boundary_violations(["rlopt/policies"], FORBIDDEN, root=tmp_path)
