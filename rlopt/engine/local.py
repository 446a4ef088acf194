"""The in-process engine: each unit in turn, in this process (no extra dependency)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from rlopt.engine import Engine


class LocalEngine(Engine):
    """Run ``fn`` on each unit here, one after the other; a class ``fn`` is built once."""

    name = "local"

    def map_batches(self, fn: Callable[..., Any] | type, units: Iterable[Any], *,
                    fn_kwargs: Mapping[str, Any] | None = None,
                    fn_constructor_args: tuple[Any, ...] = (),
                    concurrency: int | None = None, num_cpus: float = 1, num_gpus: float = 0) -> Iterator[Any]:
        call = fn(*fn_constructor_args) if isinstance(fn, type) else fn
        kwargs = dict(fn_kwargs or {})
        for unit in units:
            yield call(unit, **kwargs)
