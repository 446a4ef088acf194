"""The engine contract: results in unit order, a class built once per worker, errors as raised,
and an unreachable Ray cluster as one paragraph naming the address (exit 2)."""

from __future__ import annotations

import os
import socket

import pytest

from rlopt.engine import check_engine_options, make_engine
from rlopt.engine.local import LocalEngine
from rlopt.errors import InputError
from tests._cli import one_line, run_rlopt


def _square(x, *, offset=0):
    return x * x + offset


class _Counter:
    """Counts its own calls: one instance per worker, so the pids it reports are the workers'."""

    def __init__(self, base):
        self.base = base
        self.calls = 0

    def __call__(self, x, *, scale=1):
        self.calls += 1
        return (self.base + x * scale, os.getpid(), self.calls)


def _fails(x):
    if x == 3:
        raise InputError("unit 3 is bad", row=3)
    return x


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the socket is: nothing listens there


def test_local_engine_keeps_order_and_builds_a_class_once():
    engine = LocalEngine()
    assert list(engine.map_batches(_square, range(5), fn_kwargs={"offset": 1})) == [1, 2, 5, 10, 17]
    out = list(engine.map_batches(_Counter, range(4), fn_constructor_args=(10,), fn_kwargs={"scale": 2}))
    assert [o[0] for o in out] == [10, 12, 14, 16]
    assert [o[2] for o in out] == [1, 2, 3, 4]  # one instance saw every unit


def test_ray_engine_matches_local(ray_engine):
    units = list(range(23))
    assert list(ray_engine.map_batches(_square, units, fn_kwargs={"offset": 1})) == \
        list(LocalEngine().map_batches(_square, units, fn_kwargs={"offset": 1}))
    out = list(ray_engine.map_batches(_Counter, units, fn_constructor_args=(10,), fn_kwargs={"scale": 2},
                                      concurrency=2))
    assert [o[0] for o in out] == [10 + 2 * u for u in units]  # in unit order
    pids = {o[1] for o in out}
    assert len(pids) == 2 and os.getpid() not in pids  # two actors, not this process
    # each actor built its instance once and called it on every unit it got (round robin: 12 + 11)
    assert sorted(max(o[2] for o in out if o[1] == pid) for pid in pids) == [11, 12]


def test_ray_engine_reraises_the_workers_input_error(ray_engine):
    with pytest.raises(InputError, match="unit 3 is bad") as info:
        list(ray_engine.map_batches(_fails, range(6)))
    assert info.value.row == 3


class _BadModel:
    def __init__(self, path):
        raise InputError("model file not found", file=path)

    def __call__(self, x):
        return x


def test_ray_engine_reraises_an_actor_constructor_error(ray_engine):
    """A model that cannot load on a worker is the worker's InputError, not a dead-actor traceback."""
    with pytest.raises(InputError, match="model file not found") as info:
        list(ray_engine.map_batches(_BadModel, range(4), fn_constructor_args=("runs/none/model.safetensors",)))
    assert info.value.file == "runs/none/model.safetensors"


def test_engine_options_are_checked():
    with pytest.raises(InputError, match="--engine must be one of local, ray"):
        check_engine_options("spark", None)
    with pytest.raises(InputError, match="only used with --engine ray"):
        make_engine("local", address="10.0.0.1:6379")


def test_malformed_address_is_an_input_error():
    from rlopt.engine.ray_engine import check_reachable

    with pytest.raises(InputError, match="cannot read the Ray address 'head:port'"):
        check_reachable("head:port")


def test_unreachable_cluster_is_one_paragraph_and_exit_2(monkeypatch, capsys, tmp_path):
    """No Ray starts: the TCP check fails first (Ray itself would retry for minutes)."""
    pytest.importorskip("ray")
    address = f"127.0.0.1:{_closed_port()}"
    run = run_rlopt(monkeypatch, capsys, "validate", "--logs", "examples/logs.csv", "--catalog",
                    "examples/catalog.csv", "--engine", "ray", "--ray-address", address)
    assert run.code == 2, run
    err = one_line(run.err)
    assert f"cannot reach a Ray cluster at {address}" in err
    assert "Traceback" not in run.err


def test_unreachable_cluster_from_ray_address_env(monkeypatch, capsys, tmp_path):
    pytest.importorskip("ray")
    address = f"127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("RAY_ADDRESS", address)
    from rlopt.engine.ray_engine import RayEngine

    with pytest.raises(InputError, match=f"cannot reach a Ray cluster at {address}") as info:
        RayEngine()
    assert info.value.key == "--ray-address" and info.value.value == address


@pytest.mark.timeout(120)
def test_a_pool_kept_by_one_engine_does_not_starve_another(ray_engine):
    """Two engines on one Ray (a fixture's and a command's): the first keeps a pool on every CPU; the
    second's tasks and actors would wait for those CPUs forever unless the pool is released."""
    from rlopt.engine.ray_engine import RayEngine

    list(ray_engine.map_batches(_Counter, range(4), fn_constructor_args=(0,), concurrency=2))
    other = RayEngine()  # joins the running Ray
    assert list(other.map_batches(_square, range(5))) == [0, 1, 4, 9, 16]
    list(ray_engine.map_batches(_Counter, range(4), fn_constructor_args=(0,), concurrency=2))
    out = list(other.map_batches(_Counter, range(4), fn_constructor_args=(5,), concurrency=2))
    assert [o[0] for o in out] == [5, 6, 7, 8]


@pytest.mark.timeout(120)
def test_pool_is_capped_by_the_clusters_resources(ray_engine):
    """More actors than the cluster can hold would never all start (their units would wait with them)."""
    out = list(ray_engine.map_batches(_Counter, range(6), fn_constructor_args=(0,), concurrency=5))
    assert len({o[1] for o in out}) == ray_engine.cpus == 2
    with pytest.raises(InputError, match=r"needs 1 CPU\(s\) and 1 GPU\(s\).*has 2 CPU\(s\) and 0 GPU\(s\)"):
        list(ray_engine.map_batches(_Counter, range(2), fn_constructor_args=(0,), num_gpus=1))
