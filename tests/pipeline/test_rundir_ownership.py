"""rlopt deletes only what it made: the run-directory marker, stage-folder markers, and the issue's
probe (``mkdir -p v/data v/report; echo x > v/data/important.txt; rlopt run tiny.toml --out v``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from rlopt.errors import InputError
from rlopt.pipeline import rundir
from rlopt.pipeline.rundir import RUN_MARKER, claim_run_dir, remove_owned_dir
from rlopt.pipeline.runner import run_stages
from rlopt.testing import write_tiny_experiment
from tests.pipeline.test_runner import _config, _stages


def _quiet(_):
    return None


def _files(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


# Each case builds the path given as the run directory; every one must be refused with the path named
# and leave every byte that was there.
def _file(run):
    run.write_text("not a directory")


def _under_file(run):
    run.parent.mkdir(parents=True, exist_ok=True)
    (run.parent / "blocker").write_text("x")


def _user_dir(run):
    (run / "data").mkdir(parents=True)
    (run / "report").mkdir()
    (run / "data" / "important.txt").write_text("x")


def _hidden_file(run):
    run.mkdir()
    (run / ".env").write_text("SECRET=1")


def _fake_manifest(run):
    run.mkdir()
    (run / "manifest.json").write_text(json.dumps({"name": "my own manifest"}))


@pytest.mark.parametrize(("make", "target", "pattern"), [
    (_file, "run", "names an existing file"),
    (_under_file, "blocker/run", "which is a file"),
    (_user_dir, "run", r"not empty \(data, report\) and was not made by rlopt"),
    (_hidden_file, "run", r"not empty \(\.env\)"),
    (_fake_manifest, "run", r"not empty \(manifest\.json\)"),
])
def test_refuses_a_path_rlopt_did_not_make(tmp_path, make, target, pattern):
    make(tmp_path / "run")
    before = _files(tmp_path)
    cfg = _config(tmp_path, run={"out_dir": str(tmp_path / target)})
    with pytest.raises(InputError, match=pattern) as info:
        run_stages(cfg, _stages(), log=_quiet)
    assert str(tmp_path / target) in str(info.value)
    assert _files(tmp_path) == before


@pytest.mark.parametrize("setup", ["absent", "empty", "legacy", "lock_only"])
def test_adopts_new_empty_and_own_directories(tmp_path, setup):
    run = tmp_path / "run"
    if setup != "absent":
        run.mkdir()
    if setup == "legacy":  # a run directory of an rlopt from before the marker
        (run / "manifest.json").write_text(json.dumps({"rlopt_version": "0.0.9", "stage_order": [], "stages": {}}))
    if setup == "lock_only":  # a claim that died between taking the lock and writing the marker
        (run / rundir.LOCK_FILE).write_text("12345\n")
    result = run_stages(_config(tmp_path), _stages(), log=_quiet)
    assert set(result.statuses().values()) == {"ran"}
    assert json.loads((run / RUN_MARKER).read_text())["made_by"] == "rlopt"
    assert run_stages(_config(tmp_path), _stages(), log=_quiet).statuses()["report"] == "cached"


@pytest.mark.parametrize("name", ["b", "b.tmp"])
def test_refuses_to_replace_a_stage_folder_without_rlopt_marker(tmp_path, name):
    run_stages(_config(tmp_path), _stages(), log=_quiet)
    run = tmp_path / "run"
    if name == "b":
        (run / "b" / "stage.json").unlink()
        (run / "b" / ".attempt.json").unlink(missing_ok=True)
    else:
        (run / "b.tmp").mkdir()
    (run / name / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not made by rlopt") as info:
        run_stages(_config(tmp_path, reward={"max_epochs": 9}), _stages(), log=_quiet)
    assert str(run / name) in str(info.value)
    assert (run / name / "notes.txt").read_text() == "mine"
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["stages"]["b"]["status"] == "failed" and "not made by rlopt" in manifest["stages"]["b"]["reason"]


def test_a_symlinked_stage_folder_is_not_followed(tmp_path):
    run_stages(_config(tmp_path), _stages(), log=_quiet)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "stage.json").write_text("{}")
    (outside / "keep.txt").write_text("keep")
    run = tmp_path / "run"
    remove_owned_dir(run / "b")
    (run / "b").symlink_to(outside)
    with pytest.raises(InputError, match="a file or a link"):
        run_stages(_config(tmp_path, reward={"max_epochs": 9}), _stages(), log=_quiet)
    assert (outside / "keep.txt").read_text() == "keep"


def test_a_removal_cut_short_leaves_a_folder_rlopt_still_owns(tmp_path, monkeypatch):
    """Markers go last: a crash mid-removal must not turn rlopt's folder into a 'foreign' one."""
    run_stages(_config(tmp_path), _stages(), log=_quiet)
    stage = tmp_path / "run" / "b"
    (stage / "sub").mkdir()
    (stage / "sub" / "x.bin").write_bytes(b"x")
    real_rmtree = rundir.shutil.rmtree

    def crash(path, *args, **kwargs):
        raise OSError("simulated crash while removing")

    monkeypatch.setattr(rundir.shutil, "rmtree", crash)
    with pytest.raises(OSError, match="simulated crash"):
        remove_owned_dir(stage)
    assert not (stage / "stage.json").exists() and (stage / ".attempt.json").is_file()
    monkeypatch.setattr(rundir.shutil, "rmtree", real_rmtree)
    result = run_stages(_config(tmp_path), _stages(), log=_quiet)
    assert result.statuses()["b"] == "ran"


def test_claim_writes_nothing_into_a_refused_directory(tmp_path):
    _user_dir(tmp_path / "v")
    with pytest.raises(InputError), claim_run_dir(tmp_path / "v"):
        pass
    assert sorted(p.name for p in (tmp_path / "v").iterdir()) == ["data", "report"]


def test_issue_probe_rlopt_run_into_a_users_folder_exits_2(tmp_path, tiny_causal_lm_dir, tiny_encoder_dir):
    """The issue's probe through the real CLI: exit 2, one paragraph naming the folder, file kept."""
    cfg = write_tiny_experiment(tmp_path / "tiny.toml", tiny_causal_lm_dir, tiny_encoder_dir)
    _user_dir(tmp_path / "v")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-c", "from rlopt.cli import main; main()", "run", str(cfg),
                           "--out", str(tmp_path / "v")], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    message = " ".join(proc.stderr.split())
    assert "not made by rlopt" in message and str(tmp_path / "v") in message and "Traceback" not in proc.stderr
    assert (tmp_path / "v" / "data" / "important.txt").read_text() == "x"
    assert sorted(p.name for p in (tmp_path / "v").iterdir()) == ["data", "report"]
