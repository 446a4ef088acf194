"""One local 2-CPU Ray for the engine tests (started once, shut down after), and small inputs.

Every test here has a 5-minute limit (pytest-timeout; the default suite's limit is longer): a Ray
task or actor that waits for resources which never free would otherwise stall the whole run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ENGINE_TEST_TIMEOUT_S = 300
_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if _HERE in Path(str(item.path)).resolve().parents and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(ENGINE_TEST_TIMEOUT_S))


@pytest.fixture(scope="package")
def ray_local():
    """``ray.init(num_cpus=2)`` once for tests/engine; the engines join it and leave it running.

    Small and quiet: no dashboard, a 100 MiB object store (the tests move kilobytes; the default
    takes 30% of memory, which a shared machine may not have), worker output kept in Ray's logs.
    """
    ray = pytest.importorskip("ray")
    if ray.is_initialized():  # started by someone else in this process: use it, do not stop it
        yield ray
        return
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 * 1024 * 1024, log_to_driver=False,
             logging_level="warning")
    yield ray
    from rlopt.engine.ray_engine import RayEngine

    RayEngine.release_all()  # the actors of kept pools die with Ray; forget their handles
    ray.shutdown()


@pytest.fixture(scope="package")
def ray_engine(ray_local):
    from rlopt.engine.ray_engine import RayEngine

    return RayEngine()
