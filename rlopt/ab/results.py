"""Result objects for A/B statistics, in the style of SciPy's ``BinomTestResult``.

Every test returns a frozen dataclass that echoes its inputs (``n``, ``alternative``), carries the
``statistic`` and ``pvalue``, and computes intervals on demand with
``.confidence_interval(confidence_level=0.95)``. Differences are always *treatment minus control*
(arm B minus arm A), so ``alternative="greater"`` means "B is better than A".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

from rlopt.errors import InputError
from rlopt.intervals import ConfidenceInterval

ALTERNATIVES = ("two-sided", "less", "greater")


def check_alternative(alternative: str) -> str:
    """Return ``alternative`` if it is one of :data:`ALTERNATIVES`, else raise ``InputError``.

    ``InputError`` is a ``ValueError``, as in SciPy, and the CLI turns it into exit code 2.

    >>> check_alternative("greater")
    'greater'
    >>> check_alternative("bigger")
    Traceback (most recent call last):
    ...
    rlopt.errors.InputError: `alternative` must be one of 'two-sided', 'less', 'greater'; got 'bigger'.
    """
    if alternative not in ALTERNATIVES:
        choices = ", ".join(repr(a) for a in ALTERNATIVES)
        raise InputError(f"`alternative` must be one of {choices}; got {alternative!r}.")
    return alternative


def check_confidence_level(confidence_level: float) -> float:
    """Return ``confidence_level`` as a float if it lies strictly in (0, 1), else raise ``InputError``."""
    level = float(confidence_level)
    if not 0.0 < level < 1.0:
        raise InputError(f"`confidence_level` must be in (0, 1); got {confidence_level!r}.")
    return level


def _critical(confidence_level: float, alternative: str, df: float) -> float:
    """Quantile of N(0, 1) (``df`` infinite) or Student's t for a one- or two-sided interval."""
    tail = 1.0 - confidence_level
    q = 1.0 - tail / 2.0 if alternative == "two-sided" else 1.0 - tail
    return float(stats.norm.ppf(q)) if math.isinf(df) else float(stats.t.ppf(q, df))


def _interval(center: float, se: float, crit: float, alternative: str, level: float) -> ConfidenceInterval:
    """``center +/- crit * se``, open on one side for a one-sided ``alternative``."""
    low = -math.inf if alternative == "less" else center - crit * se
    high = math.inf if alternative == "greater" else center + crit * se
    return ConfidenceInterval(low, high, estimate=center, confidence_level=level)


@dataclass(frozen=True)
class StatTestResult:
    """Result of a two-sample comparison (arm B = treatment vs arm A = control).

    Attributes
    ----------
    test : str
        Which test produced it (``"two_proportion_ztest"``, ``"welch_ttest"``, ...).
    statistic : float
        The z or t statistic.
    pvalue : float
        The p-value for ``alternative``.
    estimate : float
        The absolute difference ``mean_b - mean_a``.
    std_error : float
        Standard error of ``estimate`` (used for the interval; for the z-test on proportions this
        is the unpooled Wald SE, while ``statistic`` uses the pooled SE under H0).
    n : tuple of int
        Sample sizes ``(n_a, n_b)`` (impressions or users, depending on the test).
    alternative : str
        ``"two-sided"``, ``"less"`` (B < A) or ``"greater"`` (B > A).
    mean_a, mean_b : float
        The per-arm estimates (control, treatment).
    df : float
        Degrees of freedom for t-based intervals; ``inf`` means normal.
    relative_se : float
        Delta-method standard error of the relative lift ``mean_b / mean_a - 1``:
        ``Var(b/a) ~= Var(b)/a^2 + b^2 Var(a)/a^4`` for independent arms.
    """

    test: str
    statistic: float
    pvalue: float
    estimate: float
    std_error: float
    n: tuple[int, int]
    alternative: str
    mean_a: float
    mean_b: float
    df: float = math.inf
    relative_se: float = math.nan

    @property
    def relative(self) -> float:
        """Relative lift ``mean_b / mean_a - 1`` (``nan`` when ``mean_a`` is 0)."""
        return self.mean_b / self.mean_a - 1.0 if self.mean_a != 0 else math.nan

    def confidence_interval(self, confidence_level: float = 0.95) -> ConfidenceInterval:
        """Interval for ``estimate`` (one-sided for one-sided alternatives).

        ``estimate +/- q * std_error`` with ``q`` the normal or Student-t (``df``) quantile.
        """
        level = check_confidence_level(confidence_level)
        crit = _critical(level, self.alternative, self.df)
        return _interval(self.estimate, self.std_error, crit, self.alternative, level)

    def relative_interval(self, confidence_level: float = 0.95) -> ConfidenceInterval:
        """Delta-method interval for the relative lift ``mean_b / mean_a - 1``."""
        level = check_confidence_level(confidence_level)
        crit = _critical(level, self.alternative, self.df)
        return _interval(self.relative, self.relative_se, crit, self.alternative, level)

    def to_dict(self, confidence_level: float = 0.95) -> dict:
        """Plain dict (JSON-ready) with the intervals at ``confidence_level``."""
        ci = self.confidence_interval(confidence_level)
        rci = self.relative_interval(confidence_level)
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["n"] = list(self.n)
        out.update(relative=self.relative, ci=[ci.low, ci.high], relative_ci=[rci.low, rci.high],
                   confidence_level=confidence_level)
        return out

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(test={self.test!r}, statistic={self.statistic:.4g}, "
                f"pvalue={self.pvalue:.4g}, estimate={self.estimate:.4g}, relative={self.relative:.4g}, "
                f"n={self.n}, alternative={self.alternative!r})")


@dataclass(frozen=True, repr=False)
class CupedResult(StatTestResult):
    """A :class:`StatTestResult` on CUPED-adjusted outcomes, plus the adjustment itself.

    Attributes
    ----------
    theta : float
        ``Cov(Y, X) / Var(X)`` pooled over both arms.
    variance_reduction : float
        ``1 - Var(Y_adj) / Var(Y)`` = ``corr(Y, X)^2`` on the pooled sample.
    """

    theta: float = math.nan
    variance_reduction: float = math.nan


@dataclass(frozen=True)
class SRMResult:
    """Sample-ratio-mismatch check: chi-square goodness of fit of arm counts to the planned split.

    Attributes
    ----------
    statistic, pvalue : float
        Pearson chi-square statistic and its p-value (``df = k - 1``).
    observed : tuple of int
        Units per arm.
    expected : tuple of float
        Units per arm expected under the planned split.
    threshold : float
        ``mismatch`` is ``pvalue < threshold`` (0.001 by convention: SRM checks run on every test,
        so a strict threshold keeps false alarms rare).
    """

    statistic: float
    pvalue: float
    observed: tuple[int, ...]
    expected: tuple[float, ...]
    threshold: float = 0.001

    @property
    def mismatch(self) -> bool:
        """True when the split is implausible under the plan (``pvalue < threshold``)."""
        return bool(self.pvalue < self.threshold)

    def to_dict(self) -> dict:
        return {"statistic": self.statistic, "pvalue": self.pvalue, "observed": list(self.observed),
                "expected": list(self.expected), "threshold": self.threshold, "mismatch": self.mismatch}
