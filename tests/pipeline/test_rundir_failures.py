"""Environment failures inside a stage are recorded in manifest.json as ``failed`` with a reason a
person can act on, the manifest write never hides them, and the next run recovers. Plus resume rules:
``--force`` never resumes, a corrupt attempt marker never blocks."""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import time

import pytest

from rlopt.pipeline import runner
from rlopt.pipeline.runner import Stage, Terminated, run_stages
from tests.pipeline.test_runner import _config, _stage_b, _stages


def _quiet(_):
    return None


def _disk_full(ctx):
    raise OSError(errno.ENOSPC, "No space left on device", str(ctx.work_dir / "model.safetensors"))


def _out_of_memory(ctx):
    raise MemoryError()


def _ctrl_c(ctx):
    raise KeyboardInterrupt


def _sigterm(ctx):
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(5)  # the handler raises before this ends
    raise AssertionError("SIGTERM was not turned into an exception")


@pytest.mark.parametrize(("fault", "raised", "reason"), [
    (_disk_full, OSError, r"no space left on the device while writing .*b\.tmp/model\.safetensors \(.* free of .*\)"),
    (_out_of_memory, MemoryError, r"out of memory \(MemoryError\)"),
    (_ctrl_c, KeyboardInterrupt, r"interrupted \(Ctrl-C\)"),
    (_sigterm, Terminated, r"interrupted: the process received SIGTERM"),
])
def test_an_environment_failure_is_recorded_and_the_next_run_recovers(tmp_path, fault, raised, reason):
    stages = _stages()
    stages[1] = Stage("b", fault, sections=("reward",), deps=("a",))
    handler = signal.getsignal(signal.SIGTERM)
    with pytest.raises(raised):
        run_stages(_config(tmp_path), stages, log=_quiet)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["stages"]["a"]["status"] == "ran"
    assert manifest["stages"]["b"]["status"] == "failed"
    assert re.search(reason, manifest["stages"]["b"]["reason"]), manifest["stages"]["b"]["reason"]
    assert signal.getsignal(signal.SIGTERM) == handler  # the run's SIGTERM handler is gone
    again = run_stages(_config(tmp_path), _stages(), log=_quiet)
    assert again.statuses() == {"a": "cached", "b": "ran", "c": "ran", "side": "ran", "report": "ran"}


def test_a_failing_manifest_write_does_not_hide_the_stage_error(tmp_path, monkeypatch, capsys):
    def no_space(path, obj):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    stages = _stages()
    stages[1] = Stage("b", _disk_full, sections=("reward",), deps=("a",))
    real = runner.write_json_atomic

    def manifest_fails(path, obj):
        return no_space(path, obj) if str(path).endswith("manifest.json") else real(path, obj)

    monkeypatch.setattr(runner, "write_json_atomic", manifest_fails)
    with pytest.raises(OSError, match="model.safetensors"):  # the stage's error, not the manifest's
        run_stages(_config(tmp_path), stages, log=_quiet)
    err = " ".join(capsys.readouterr().err.split())
    assert "could not write" in err and "manifest.json" in err and "free of" in err


def test_the_manifest_says_running_while_a_stage_runs(tmp_path):
    """What a run killed with SIGKILL leaves: the stage it was in, 'running', with its pid."""
    seen = {}

    def peek(ctx):
        seen.update(json.loads((ctx.run_dir / "manifest.json").read_text())["stages"]["b"])
        return _stage_b(ctx)

    stages = _stages()
    stages[1] = Stage("b", peek, sections=("reward",), deps=("a",))
    run_stages(_config(tmp_path), stages, log=_quiet)
    assert seen["status"] == "running" and seen["pid"] == os.getpid()


def _resumable(ctx):
    """Counts the attempts it finds in its work dir (a stand-in for tuning's checkpoints)."""
    marks = sorted(ctx.work_dir.glob("attempt-*"))
    (ctx.work_dir / f"attempt-{len(marks)}").write_text("x")
    if os.environ.get("CRASH_RESUMABLE"):
        raise RuntimeError("crash")
    return {"attempts_seen": len(marks)}


def _resumable_stages():
    return [*_stages()[:1], Stage("r", _resumable, sections=("tuning",), deps=("a",), resumable=True)]


@pytest.mark.parametrize(("force", "corrupt", "seen"), [
    ((), False, 1),  # resumes: finds the crashed attempt's file
    (("r",), False, 0),  # --force: a fresh .tmp, never resumed
    (("a",), False, 0),  # forced upstream forces it too
    ((), True, 0),  # a corrupt attempt marker: a fresh .tmp, not an error
])
def test_resume_rules(tmp_path, monkeypatch, force, corrupt, seen):
    monkeypatch.setenv("CRASH_RESUMABLE", "1")
    with pytest.raises(RuntimeError):
        run_stages(_config(tmp_path), _resumable_stages(), log=_quiet)
    if corrupt:
        (tmp_path / "run" / "r.tmp" / ".attempt.json").write_text('{"fingerprint": "ab')
    monkeypatch.delenv("CRASH_RESUMABLE")
    result = run_stages(_config(tmp_path), _resumable_stages(), force=force, log=_quiet)
    assert result.results["r"].summary == {"attempts_seen": seen}
    assert not (tmp_path / "run" / "r.tmp").exists()
    assert not (tmp_path / "run" / "r" / ".attempt.json").exists()
