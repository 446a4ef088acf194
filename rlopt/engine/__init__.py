"""Engines: where per-batch work runs -- in this process, or on a Ray cluster.

A per-batch function knows nothing of its executor. It takes one *work unit* (a batch of rows, or
a description of where to read one: :mod:`rlopt.engine.units`) and returns a small result; the
engine applies it to every unit and hands the results back **in unit order**, so whatever the
driver reduces from them (counts, the first offending rows, an output file written batch by
batch) is the same on every engine.

- :class:`~rlopt.engine.local.LocalEngine` runs the function in this process, one unit after the
  other (today's behaviour, no extra dependency).
- :class:`~rlopt.engine.ray_engine.RayEngine` runs it as Ray tasks, or on a pool of Ray actors when
  the function is a class whose ``__init__`` loads something once (a reward model).

Both take the same call::

    with make_engine("ray", address="local") as engine:
        for result in engine.map_batches(fn, units, fn_kwargs={"catalog_ids": ids}):
            ...

Users reach this through ``--engine local|ray`` and ``--ray-address`` on ``rlopt validate`` and
``rlopt reward score`` (:mod:`rlopt.engine.validation`, :mod:`rlopt.engine.scoring`).
"""

from __future__ import annotations

import abc
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from rlopt.errors import InputError

ENGINE_CHOICES = ("local", "ray")
ENGINE_HELP = ("Where the per-batch work runs: local (this process) | ray (Ray tasks/actors; a local Ray "
               "starts unless --ray-address or RAY_ADDRESS names a cluster).")
RAY_ADDRESS_HELP = ("Ray cluster for --engine ray: host:port of its head (GCS, default port 6379), "
                    "ray://host:10001 (Ray Client), 'auto' (the cluster this machine already belongs to) or "
                    "'local' (start a Ray here). Default: $RAY_ADDRESS, else 'local'.")


class Engine(abc.ABC):
    """Apply a per-batch function to work units; results come back in unit order.

    Subclasses implement :meth:`map_batches` (and :meth:`close` when they hold resources).
    """

    name: str = "engine"

    @abc.abstractmethod
    def map_batches(self, fn: Callable[..., Any] | type, units: Iterable[Any], *,
                    fn_kwargs: Mapping[str, Any] | None = None,
                    fn_constructor_args: tuple[Any, ...] = (),
                    concurrency: int | None = None, num_cpus: float = 1, num_gpus: float = 0) -> Iterator[Any]:
        """Yield ``fn(unit, **fn_kwargs)`` for each unit, in the order of ``units``.

        Parameters
        ----------
        fn : callable or class
            A function of one unit, or a class: then each worker builds
            ``fn(*fn_constructor_args)`` once (e.g. loads a model) and calls it on many units.
        units : iterable
            Work units; consumed lazily (a bounded number is in flight at a time).
        fn_kwargs : mapping, optional
            Read-only keyword arguments shared by every call (sent to each worker once).
        concurrency : int, optional
            Workers (actors) for a class ``fn``; default: the CPUs the engine has.
        num_cpus, num_gpus : float
            Resources one call (or one actor) reserves on a Ray cluster; ignored locally.
        """

    def close(self) -> None:  # noqa: B027 -- an optional hook: the local engine holds nothing
        """Release what the engine holds (a Ray connection it opened)."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def describe(self) -> dict[str, Any]:
        """What the engine ran on, for --json output and benchmark records."""
        return {"engine": self.name}


def args_key(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """A key for constructor arguments: plain values (str, numbers, None, paths) by value, anything
    else (a DataFrame) by identity -- the caller keeps those objects alive with the cached instance."""
    plain = (str, int, float, bool, type(None), os.PathLike)
    return tuple(("value", str(a) if isinstance(a, os.PathLike) else a) if isinstance(a, plain) else ("id", id(a))
                 for a in args)


def check_engine_name(name: str) -> str:
    """``name`` if it is one of :data:`ENGINE_CHOICES`, else an InputError naming ``--engine``."""
    if name not in ENGINE_CHOICES:
        raise InputError(f"--engine must be one of {', '.join(ENGINE_CHOICES)}, got {name!r}", key="--engine",
                         value=name)
    return name


def check_engine_options(name: str, address: str | None) -> None:
    """Check ``--engine`` and ``--ray-address`` before any work (an address needs ``--engine ray``)."""
    check_engine_name(name)
    if name != "ray" and address is not None:
        raise InputError("--ray-address is only used with --engine ray", key="--ray-address", value=address)


def make_engine(name: str = "local", *, address: str | None = None, num_cpus: int | None = None) -> Engine:
    """The engine called ``name`` (``local`` or ``ray``).

    Parameters
    ----------
    name : {"local", "ray"}
    address : str, optional
        Ray only: the cluster to join (see :class:`~rlopt.engine.ray_engine.RayEngine`).
    num_cpus : int, optional
        Ray only, when it starts a local Ray: the CPUs it may use (default: all).

    Raises
    ------
    InputError
        Unknown name, Ray not installed, or a Ray cluster that cannot be reached (naming the address).
    """
    check_engine_options(name, address)
    if name == "local":
        from rlopt.engine.local import LocalEngine

        return LocalEngine()
    from rlopt.engine.ray_engine import RayEngine

    return RayEngine(address=address, num_cpus=num_cpus)


def engine_for_run(name: str, address: str, source: str | None = None) -> Engine:
    """:func:`make_engine` for the pipeline's ``[run] engine`` / ``ray_address`` (empty: none given).

    Raises
    ------
    InputError
        As :func:`make_engine`, naming the config keys (``run.ray_address`` in ``source``) instead of
        the command-line options.
    """
    try:
        return make_engine(name, address=address or None)
    except InputError as err:
        if err.key not in ("--engine", "--ray-address"):
            raise
        key = "run.engine" if err.key == "--engine" else "run.ray_address"
        message = (err.message.replace("--engine local", "run.engine = 'local'")
                   .replace("--ray-address local", "run.ray_address = 'local'").replace("--engine ray", "engine = 'ray'")
                   .replace("--ray-address", "run.ray_address").replace("--engine", "run.engine"))
        raise InputError(message, file=source, key=key, value=err.value, rule=err.rule) from None


__all__ = ["ENGINE_CHOICES", "Engine", "check_engine_name", "check_engine_options", "engine_for_run", "make_engine"]
