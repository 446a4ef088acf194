"""Thread policy (rlopt.threads): free-core sampling, the choice per kind of work, the override, and
that the copies do not depend on the thread count (so choosing it from the load keeps seeds exact)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from rlopt import threads
from rlopt.threads import CoreSample, choose_threads, sample_cores, threads_for


@pytest.mark.parametrize(("kind", "usable", "others", "expected"), [
    ("decode", 2, 0.0, 2),    # idle: every core
    ("decode", 2, 0.4, 1),    # a core 40% taken no longer counts for decoding
    ("decode", 2, 2.0, 1),    # fully taken: still at least one thread
    ("decode", 8, 3.0, 5),
    ("train", 2, 0.4, 2),     # training tolerates a partly busy core
    ("train", 2, 1.0, 1),
    ("train", 4, 1.6, 3),
    ("score", 2, 5.0, 1),
])
def test_choice_follows_the_free_cores(kind, usable, others, expected, monkeypatch):
    monkeypatch.delenv(threads.ENV_THREADS, raising=False)
    assert choose_threads(kind, CoreSample(usable, others)) == expected


def test_override_wins_and_bad_values_are_ignored(monkeypatch):
    monkeypatch.setenv(threads.ENV_THREADS, "3")
    assert choose_threads("decode", CoreSample(2, 2.0)) == 3
    for bad in ("0", "x", ""):
        monkeypatch.setenv(threads.ENV_THREADS, bad)
        assert choose_threads("decode", CoreSample(2, 0.0)) == 2


def test_threads_for_sets_and_restores(monkeypatch):
    before = torch.get_num_threads()
    with threads_for("decode", 1) as n:
        assert n == 1 and torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with threads_for("decode", 1, device="cuda") as n:  # an accelerator's block leaves the CPU pool alone
        assert n == before == torch.get_num_threads()
    monkeypatch.setattr(threads, "sample_cores", lambda seconds=0.2: CoreSample(2, 2.0))
    monkeypatch.delenv(threads.ENV_THREADS, raising=False)
    with threads_for("decode") as n:
        assert n == 1
    assert torch.get_num_threads() == before


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/stat")
def test_sampling_sees_another_process_working():
    idle = sample_cores(0.3)
    assert 0.0 <= idle.free <= idle.usable
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        seen = max(sample_cores(0.5).others_busy for _ in range(3))
    finally:
        busy.kill()
        busy.wait()
    # one spinning process is about one core's worth; allow for the scheduler and our own share
    assert seen > 0.5


def test_copies_do_not_depend_on_the_thread_count(tiny_causal_lm_dir):
    from rlopt.generation.models import resolve_generator
    from rlopt.generation.sample import generate_copies
    from tests.tuning.tuning_data import CATALOG, PLACEMENTS, SEGMENTS

    model, tok = resolve_generator(str(tiny_causal_lm_dir))
    contexts = CATALOG[["item_id"]].assign(segment="bargain", placement="home_banner")
    runs = [generate_copies(model, tok, contexts, CATALOG, PLACEMENTS, SEGMENTS, num=3, seed=5, threads=n)
            for n in (1, 2)]
    assert runs[0]["raw_copy_text"].tolist() == runs[1]["raw_copy_text"].tolist()


@pytest.mark.parametrize("preset", [{}, {"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "5000"}])
def test_configure_openmp_keeps_the_users_wait_policy(monkeypatch, preset):
    for key in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
        monkeypatch.delenv(key, raising=False)
    for key, value in preset.items():
        monkeypatch.setenv(key, value)
    threads.configure_openmp()
    wait_keys = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
    got = {k: os.environ[k] for k in wait_keys if k in os.environ}
    assert got == (preset or threads.OPENMP_ENV)
