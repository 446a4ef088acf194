"""The one confidence-interval type: A/B tests (:mod:`rlopt.ab`) and off-policy estimators
(:mod:`rlopt.ope`) both return :class:`ConfidenceInterval`."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["ConfidenceInterval"]


@dataclass(frozen=True)
class ConfidenceInterval:
    """An interval ``[low, high]`` for ``estimate`` at ``confidence_level``.

    It unpacks, indexes and iterates as the pair ``(low, high)``, like SciPy's
    ``ConfidenceInterval``, so ``low, high = ci`` and ``tuple(ci)`` work; the point estimate
    and the level are attributes. A one-sided interval has an infinite end.

    Attributes
    ----------
    low, high : float
        Interval bounds (``-inf`` / ``inf`` for an open side).
    estimate : float
        The point estimate the interval is about (``nan`` when not given).
    confidence_level : float
        E.g. 0.95 (``nan`` when not given).

    Examples
    --------
    >>> ci = ConfidenceInterval(0.1, 0.3, estimate=0.2, confidence_level=0.95)
    >>> low, high = ci
    >>> (low, high), ci[1], ci.covers(0.25), round(ci.width, 3)
    ((0.1, 0.3), 0.3, True, 0.2)
    """

    low: float
    high: float
    estimate: float = math.nan
    confidence_level: float = math.nan

    def covers(self, value: float) -> bool:
        """Whether ``low <= value <= high``."""
        return self.low <= value <= self.high

    @property
    def width(self) -> float:
        """``high - low``."""
        return self.high - self.low

    # The pair protocol: the A/B results returned ``(low, high)`` tuples before this type existed.
    def __iter__(self) -> Iterator[float]:
        return iter((self.low, self.high))

    def __len__(self) -> int:
        return 2

    def __getitem__(self, index: int) -> float:
        return (self.low, self.high)[index]
