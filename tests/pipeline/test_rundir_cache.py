"""The cache key covers the code a stage calls and the libraries it runs on, not only its own function."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import rlopt
from rlopt.pipeline import cache
from rlopt.pipeline.runner import run_stages
from tests.pipeline.test_runner import _config, _stages


def _quiet(_):
    return None


def test_source_digest_covers_every_installed_package():
    roots = {p.name for p in cache.package_roots()}
    assert {"rlopt", "reward_models", "envs"} <= roots
    assert cache.source_digest() == cache.tree_digest(cache.package_roots())


def test_editing_a_helper_module_changes_the_digest(tmp_path):
    """A copy of the installed rlopt package: one byte in a helper module (not a stage function) moves it."""
    copy = tmp_path / "rlopt"
    shutil.copytree(Path(rlopt.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = cache.tree_digest([copy])
    assert before == cache.tree_digest([Path(rlopt.__file__).parent])
    helper = copy / "tuning" / "config.py"  # the tuning presets: not a stage function
    helper.write_text(helper.read_text() + "\n# a preset changed\n")
    assert cache.tree_digest([copy]) != before
    edited = cache.tree_digest([copy])
    (copy / "tuning" / "new_module.py").write_text("X = 1\n")  # a new module counts too
    with_new = cache.tree_digest([copy])
    assert with_new not in (before, edited)
    (copy / "tuning" / "notes.txt").write_text("not code")  # non-Python files do not
    assert cache.tree_digest([copy]) == with_new


@pytest.mark.parametrize("change", ["source", "rlopt", "torch", "transformers", "trl", "peft"])
def test_a_code_or_library_change_reruns_every_stage(tmp_path, monkeypatch, change):
    run_stages(_config(tmp_path), _stages(), log=_quiet)
    assert set(run_stages(_config(tmp_path), _stages(), log=_quiet).statuses().values()) == {"cached"}
    if change == "source":
        monkeypatch.setattr("rlopt.pipeline.runner.source_digest", lambda: "edited-" + cache.source_digest())
    else:
        versions = {**cache.library_versions(), change: "999.0"}
        monkeypatch.setattr("rlopt.pipeline.runner.library_versions", lambda: versions)
    assert set(run_stages(_config(tmp_path), _stages(), log=_quiet).statuses().values()) == {"ran"}


def test_library_versions_names_each_library():
    versions = cache.library_versions()
    assert set(versions) == set(cache.LIBRARIES)
    assert versions["rlopt"] == rlopt.__version__ and versions["torch"]
