"""One run per run directory: a second run exits 2 naming the directory and the holder's pid; a lock
left by a killed process (``kill -9``) never blocks; the lock is released however the run ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from rlopt.errors import InputError
from rlopt.pipeline.rundir import LOCK_FILE, RunLock
from rlopt.pipeline.runner import FAULT_ENV, InjectedFault, run_stages
from tests.pipeline.test_runner import _config, _stages

HOLDER = textwrap.dedent("""
    import sys, time
    from rlopt.pipeline.rundir import claim_run_dir
    with claim_run_dir(sys.argv[1]):
        print("locked", flush=True)
        time.sleep(120)
""")


def _quiet(_):
    return None


@pytest.fixture
def holder(tmp_path):
    """A child process holding ``tmp_path/run``'s lock (killed with SIGKILL at teardown if still alive)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "run")], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()


def test_a_second_run_is_refused_naming_the_directory_and_pid(tmp_path, holder):
    with pytest.raises(InputError, match=rf"in use by another rlopt run \(pid {holder.pid}\)") as info:
        run_stages(_config(tmp_path), _stages(), log=_quiet)
    assert str(tmp_path / "run") in str(info.value)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [LOCK_FILE, ".rlopt-run"]


def test_a_lock_left_by_a_killed_run_does_not_block(tmp_path, holder):
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    assert (tmp_path / "run" / LOCK_FILE).read_text().split()[0] == str(holder.pid)  # the file stays
    result = run_stages(_config(tmp_path), _stages(), log=_quiet)
    assert set(result.statuses().values()) == {"ran"}
    assert (tmp_path / "run" / LOCK_FILE).read_text().split()[0] == str(os.getpid())


def test_the_lock_is_released_after_success_and_after_a_failure(tmp_path, monkeypatch):
    run_stages(_config(tmp_path), _stages(), log=_quiet)
    lock = RunLock(tmp_path / "run")
    lock.acquire()  # free again
    lock.release()
    monkeypatch.setenv(FAULT_ENV, "c")
    with pytest.raises(InjectedFault):
        run_stages(_config(tmp_path, reward={"max_epochs": 3}), _stages(), log=_quiet)
    lock.acquire()
    lock.release()


def test_two_locks_in_one_process_exclude_each_other(tmp_path):
    (tmp_path / "run").mkdir()
    first = RunLock(tmp_path / "run")
    first.acquire()
    try:
        with pytest.raises(InputError, match=f"pid {os.getpid()}"):
            RunLock(tmp_path / "run").acquire()
    finally:
        first.release()
