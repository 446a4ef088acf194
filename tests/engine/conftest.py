"""One local 2-CPU Ray for the engine tests (started once, shut down after), and small inputs."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="package")
def ray_local():
    """``ray.init(num_cpus=2)`` once for tests/engine; the engines join it and leave it running."""
    ray = pytest.importorskip("ray")
    if ray.is_initialized():  # started by someone else in this process: use it, do not stop it
        yield ray
        return
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="warning")
    yield ray
    ray.shutdown()


@pytest.fixture(scope="package")
def ray_engine(ray_local):
    from rlopt.engine.ray_engine import RayEngine

    return RayEngine()
