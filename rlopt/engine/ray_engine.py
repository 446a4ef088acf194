"""The Ray engine: per-batch functions as Ray tasks, per-batch classes on a pool of Ray actors.

Ray is an optional extra (``pip install rlopt[ray]``) and is imported here only, when a
:class:`RayEngine` is built.

Where it connects (``address``, else ``$RAY_ADDRESS``, else ``"local"``):

- ``"local"``: start a Ray on this machine (or use the one this process already started);
- ``"host:port"``: the head node of a running cluster (its GCS port, 6379 by default);
- ``"ray://host:port"``: a cluster through Ray Client (port 10001 by default);
- ``"auto"``: the cluster this machine already belongs to (``ray start`` was run here).

A cluster that cannot be reached is an :class:`~rlopt.errors.InputError` naming the address. A
TCP connection to the address is tried first with a short timeout, because Ray itself keeps
retrying an unreachable head for minutes.

Every node must have rlopt (and the input files, at the same paths or on shared storage) installed:
tasks receive the work unit's *description* (a Parquet file and row groups) and read it there.
"""

from __future__ import annotations

import os
import socket
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from rlopt.engine import Engine, args_key
from rlopt.errors import InputError

CONNECT_TIMEOUT_S = 5.0
# Kept actor pools of every RayEngine in this process, by pool key. One registry, not one per engine:
# a pool kept by one engine holds CPUs (GPUs) that another engine's tasks or actors on the same Ray
# would wait for forever (two engines in one process share one Ray), so whoever needs other work
# released them all first.
_POOLS: dict[Any, tuple[list[Any], tuple[Any, ...]]] = {}
_DEFAULT_PORTS = {"": 6379, "ray": 10001}
_INSTALL = "pip install rlopt[ray]"


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise InputError(f"--engine ray needs Ray, which is not installed here: {_INSTALL} (on every node of "
                         "the cluster), or use --engine local", key="--engine", value="ray") from None
    return ray


def resolve_address(address: str | None) -> str:
    """``address``, else ``$RAY_ADDRESS``, else ``"local"``."""
    if address:
        return address
    return os.environ.get("RAY_ADDRESS") or "local"


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Open (and close) a TCP connection to a ``host:port`` or ``ray://host:port`` address.

    Raises
    ------
    InputError
        Naming the address, when it is malformed or nothing answers within ``timeout`` seconds.
    """
    parts = urlsplit(address if "://" in address else f"//{address}")
    try:
        host, port = parts.hostname, parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:  # a port that is not a number
        host, port = None, None
    if not host or port is None:
        raise InputError(f"cannot read the Ray address {address!r}: expected host:port, ray://host:port, 'auto' or "
                         "'local'", key="--ray-address", value=address)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as err:
        raise InputError(
            f"cannot reach a Ray cluster at {address}: nothing answered on {host}:{port} within {timeout:g} s "
            f"({err.strerror or err}). Start the cluster's head there (`ray start --head`), check the host, "
            "the port and the firewall, or use --engine local (or --ray-address local for a Ray on this "
            "machine)", key="--ray-address", value=address) from None


class _ActorHost:
    """Holds one instance of a per-batch class inside a Ray actor (built once, called per unit)."""

    def __init__(self, cls: type, args: tuple[Any, ...]) -> None:
        # An error here would kill the actor and reach the driver as ActorDiedError, its cause lost in
        # a traceback text; kept and raised by each call instead, it arrives as itself (an InputError
        # naming a missing model file stays one paragraph).
        self.fn, self.error = None, None
        try:
            self.fn = cls(*args)
        except Exception as err:  # re-raised by run()
            self.error = err

    def run(self, unit: Any, **kwargs: Any) -> Any:
        if self.error is not None:
            raise self.error
        return self.fn(unit, **kwargs)


def _call(fn: Callable[..., Any], unit: Any, **kwargs: Any) -> Any:
    return fn(unit, **kwargs)


class RayEngine(Engine):
    """Run per-batch work on Ray; results come back in unit order.

    Parameters
    ----------
    address : str, optional
        See the module docstring; default ``$RAY_ADDRESS``, else ``"local"``.
    num_cpus : int, optional
        CPUs of a Ray this engine starts locally (default: all of this machine's).
    max_in_flight : int, optional
        Units submitted and not yet collected (bounds driver and object-store memory); default twice
        the cluster's CPUs.

    Raises
    ------
    InputError
        Ray is not installed, or the cluster cannot be reached (the message names the address).
    """

    name = "ray"

    def __init__(self, address: str | None = None, *, num_cpus: int | None = None,
                 max_in_flight: int | None = None) -> None:
        self.ray = _import_ray()
        # A failed unit's error is re-raised by map_batches; the units still in flight fail too and
        # Ray would print each of them at exit as an "unhandled error" beside the one paragraph.
        os.environ.setdefault("RAY_IGNORE_UNHANDLED_ERRORS", "1")
        self.address = resolve_address(address)
        self._owns = False
        if self.address not in ("local", "auto"):  # named a cluster: fail fast, even if a Ray runs in-process
            check_reachable(self.address)
        if not self.ray.is_initialized():
            self._connect(num_cpus)
            self._owns = True
        resources = self.ray.cluster_resources()
        self.cpus = max(1, int(resources.get("CPU", 1)))
        self.gpus = int(resources.get("GPU", 0))
        self.max_in_flight = max_in_flight or 2 * self.cpus

    def _connect(self, num_cpus: int | None) -> None:
        ray = self.ray
        # Worker output would mix with the command's own (--json goes to stdout): keep it in Ray's logs.
        common = {"log_to_driver": False, "logging_level": "warning"}
        if self.address == "local":
            ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, **common)
            return
        try:
            ray.init(address=self.address, **common)
        except (ConnectionError, RuntimeError, ValueError) as err:
            raise InputError(f"cannot connect to the Ray cluster at {self.address}: {str(err).splitlines()[0]}. "
                             "Check that it runs the same Ray and Python versions as this machine, or use "
                             "--engine local", key="--ray-address", value=self.address) from None

    def describe(self) -> dict[str, Any]:
        return {"engine": self.name, "ray_address": self.address, "ray_cpus": self.cpus, "ray_gpus": self.gpus}

    def _release_pools(self) -> None:
        self.release_all()

    @staticmethod
    def release_all() -> None:
        """Kill every kept actor pool of this process (whichever engine made it)."""
        import ray

        for actors, _ in _POOLS.values():
            for actor in actors:
                try:
                    ray.kill(actor)
                except Exception:  # already gone (its Ray shut down): nothing holds its CPUs
                    pass
        _POOLS.clear()

    def close(self) -> None:
        self._release_pools()
        if self._owns and self.ray.is_initialized():
            self.ray.shutdown()
        self._owns = False

    def map_batches(self, fn: Callable[..., Any] | type, units: Iterable[Any], *,
                    fn_kwargs: Mapping[str, Any] | None = None,
                    fn_constructor_args: tuple[Any, ...] = (),
                    concurrency: int | None = None, num_cpus: float = 1, num_gpus: float = 0) -> Iterator[Any]:
        ray = self.ray
        # Shared arguments go to the object store once; Ray hands each task the stored value.
        shared = {k: ray.put(v) for k, v in (fn_kwargs or {}).items()}
        if isinstance(fn, type):
            actors = self._actors(fn, fn_constructor_args, concurrency, num_cpus, num_gpus)
            n = len(actors)
            submit = lambda i, unit: actors[i % n].run.remote(unit, **shared)  # noqa: E731
        else:
            self._release_pools()  # kept actors hold CPUs the tasks would wait for
            task = ray.remote(num_cpus=num_cpus, num_gpus=num_gpus)(_call)
            fn_ref = ray.put(fn)
            submit = lambda i, unit: task.remote(fn_ref, unit, **shared)  # noqa: E731
        pending: deque[Any] = deque()
        try:
            for i, unit in enumerate(units):
                pending.append(submit(i, unit))
                if len(pending) >= self.max_in_flight:
                    yield self._get(pending.popleft())
            while pending:
                yield self._get(pending.popleft())
        finally:
            for ref in pending:  # stopped early (an error, or the caller broke off): drop the rest
                try:
                    ray.cancel(ref, force=False)
                except Exception:  # already finished or gone: nothing to cancel
                    pass

    def _actors(self, cls: type, args: tuple[Any, ...], concurrency: int | None, num_cpus: float,
                num_gpus: float) -> list[Any]:
        """The actor pool for ``cls(*args)``, so a model loads once per actor.

        The last pool is kept and reused by the next call with the same class and constructor
        arguments (:func:`rlopt.engine.args_key`); a call that needs anything else (another pool, or
        plain tasks) releases it first, since its actors hold the CPUs (or GPUs) they reserved.
        """
        n = self._pool_size(concurrency, num_cpus, num_gpus)
        key = (cls, args_key(args), n, num_cpus, num_gpus)
        if key not in _POOLS:
            self._release_pools()
            host = self.ray.remote(num_cpus=num_cpus, num_gpus=num_gpus)(_ActorHost)
            # the args are kept with the pool, so the ids in the key cannot be reused by other objects
            _POOLS[key] = ([host.remote(cls, args) for _ in range(n)], args)
        return _POOLS[key][0]

    def _pool_size(self, concurrency: int | None, num_cpus: float, num_gpus: float) -> int:
        """Actors that fit the cluster at once: ``concurrency`` capped by CPUs (and GPUs) per actor.

        More actors than fit would never all start, and the units sent round robin to a waiting
        actor would wait with it -- a hang, not an error.

        Raises
        ------
        InputError
            Not even one actor fits (GPUs asked for on a cluster without them), naming the address.
        """
        fit = int(self.cpus // num_cpus) if num_cpus > 0 else None
        if num_gpus > 0:
            by_gpu = int(self.gpus // num_gpus)
            fit = by_gpu if fit is None else min(fit, by_gpu)
        if fit is not None and fit < 1:
            raise InputError(f"one Ray actor here needs {num_cpus:g} CPU(s) and {num_gpus:g} GPU(s), but the Ray "
                             f"cluster at {self.address} has {self.cpus} CPU(s) and {self.gpus} GPU(s). Use a "
                             "cluster with GPUs, or the CPU path (--device cpu)", key="--ray-address",
                             value=self.address)
        if concurrency is None:
            return max(1, fit or self.cpus)
        return max(1, min(concurrency, fit) if fit is not None else concurrency)

    def _get(self, ref: Any) -> Any:
        """``ray.get`` that re-raises the task's own exception (an InputError stays one paragraph)."""
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as err:
            cause = getattr(err, "cause", None)
            if isinstance(cause, BaseException):
                raise cause from None
            raise
