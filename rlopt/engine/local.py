"""The in-process engine: each unit in turn, in this process (no extra dependency)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from rlopt.engine import Engine, args_key


class LocalEngine(Engine):
    """Run ``fn`` on each unit here, one after the other.

    A class ``fn`` is built once and kept until :meth:`close`: a later call with the same class and
    the same constructor argument objects reuses it (as the Ray engine reuses its actors).
    """

    name = "local"

    def __init__(self) -> None:
        self._instances: dict[Any, tuple[Any, tuple[Any, ...]]] = {}

    def close(self) -> None:
        self._instances.clear()

    def map_batches(self, fn: Callable[..., Any] | type, units: Iterable[Any], *,
                    fn_kwargs: Mapping[str, Any] | None = None,
                    fn_constructor_args: tuple[Any, ...] = (),
                    concurrency: int | None = None, num_cpus: float = 1, num_gpus: float = 0) -> Iterator[Any]:
        call = self._instance(fn, fn_constructor_args) if isinstance(fn, type) else fn
        kwargs = dict(fn_kwargs or {})
        for unit in units:
            yield call(unit, **kwargs)

    def _instance(self, cls: type, args: tuple[Any, ...]) -> Any:
        key = (cls, args_key(args))
        if key not in self._instances:
            self._instances[key] = (cls(*args), args)  # args kept: their ids stay theirs
        return self._instances[key][0]
