"""Power, sample size and minimum detectable effect (MDE) for two-arm tests.

All three solve the same normal-approximation equation. With a standardized effect ``d``,
``n_a`` units in arm A and ``n_b = ratio * n_a`` in arm B, the effective size is
``m = n_a n_b / (n_a + n_b)`` and

    two-sided:  power = Phi(d sqrt(m) - z_{1-alpha/2}) + Phi(-d sqrt(m) - z_{1-alpha/2})
    greater:    power = Phi(d sqrt(m) - z_{1-alpha})
    less:       power = Phi(-d sqrt(m) - z_{1-alpha})

which is what ``statsmodels.stats.power.NormalIndPower`` computes. For means ``d = delta / sd``;
for proportions ``d`` is Cohen's ``h = 2 asin(sqrt(p_b)) - 2 asin(sqrt(p_a))`` (the arcsine
transform stabilizes the variance, as ``statsmodels.stats.proportion.proportion_effectsize``).
Sample sizes are the arm-A size ``n_a`` (round up), MDEs are absolute differences ``B - A``.

References
----------
.. [1] Cohen, J. (1988). Statistical Power Analysis for the Behavioral Sciences, ch. 6.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, stats

from rlopt.ab.results import check_alternative
from rlopt.errors import InputError

__all__ = ["power_means", "sample_size_means", "mde_means",
           "power_proportions", "sample_size_proportions", "mde_proportions", "cohens_h"]

_N_MAX = 1e13


def _power_z(d: float, n_a: float, ratio: float, alpha: float, alternative: str) -> float:
    m = n_a * ratio / (1.0 + ratio)
    shift = d * math.sqrt(m)
    if alternative == "two-sided":
        crit = stats.norm.isf(alpha / 2.0)
        return float(stats.norm.cdf(shift - crit) + stats.norm.cdf(-shift - crit))
    crit = stats.norm.isf(alpha)
    return float(stats.norm.cdf(shift - crit) if alternative == "greater" else stats.norm.cdf(-shift - crit))


def _solve_n(d: float, power: float, ratio: float, alpha: float, alternative: str) -> int:
    """Smallest integer ``n_a`` reaching ``power`` for standardized effect ``d``."""
    if (alternative == "greater" and d <= 0) or (alternative == "less" and d >= 0) or d == 0:
        raise InputError(f"the effect {d!r} cannot be detected with alternative={alternative!r}.",
                         column="mde", rule="effect in the direction of the alternative, non-zero")

    def gap(n):
        return _power_z(d, n, ratio, alpha, alternative) - power

    if gap(_N_MAX) < 0:
        raise InputError(f"power {power} is not reachable for effect {d!r}.", column="power")
    lo = 1e-6
    if gap(lo) >= 0:
        return 1
    return int(math.ceil(optimize.brentq(gap, lo, _N_MAX, xtol=1e-10, rtol=1e-12) - 1e-9))


def _solve_d(n_a: float, power: float, ratio: float, alpha: float, alternative: str) -> float:
    """Standardized effect (>= 0; negated for ``less``) reaching ``power`` with ``n_a`` units."""
    alt = "greater" if alternative == "less" else alternative  # symmetric

    def gap(d):
        return _power_z(d, n_a, ratio, alpha, alt) - power

    hi = 1.0
    while gap(hi) < 0:
        hi *= 2.0
    d = optimize.brentq(gap, 0.0, hi, xtol=1e-14, rtol=1e-12)
    return -d if alternative == "less" else d


def _power_iv(power, alpha, ratio, alternative, positive=None, proportions=None):
    """Validate the shared arguments plus named positive numbers and proportions (one place).

    Returns ``(power, alpha, ratio, alternative, values)`` with ``values`` the cleaned named inputs.
    """
    alternative = check_alternative(alternative)
    for name, val in (("alpha", alpha), ("power", power)):
        if val is not None and not 0 < val < 1:
            raise InputError(f"`{name}` must be in (0, 1); got {val!r}.", column=name, rule=f"0 < {name} < 1")
    if power is not None and power <= alpha:
        raise InputError(f"`power` ({power}) must exceed `alpha` ({alpha}).", column="power",
                         rule="power > alpha")
    if not (math.isfinite(ratio) and ratio > 0):
        raise InputError(f"`ratio` (n_b / n_a) must be positive; got {ratio!r}.", column="ratio")
    values = {}
    for name, value in (positive or {}).items():
        if not (math.isfinite(value) and value > 0):
            raise InputError(f"`{name}` must be a positive number; got {value!r}.", column=name,
                             rule=f"{name} > 0")
        values[name] = float(value)
    for name, value in (proportions or {}).items():
        if not (math.isfinite(value) and 0 < value < 1):
            raise InputError(f"`{name}` must be a proportion in (0, 1); got {value!r}.", column=name,
                             rule=f"0 < {name} < 1")
        values[name] = float(value)
    return (None if power is None else float(power)), float(alpha), float(ratio), alternative, values


# --------------------------------------------------------------------------- means
def power_means(effect: float, sd: float, n_a: float, *, ratio: float = 1.0, alpha: float = 0.05,
                alternative: str = "two-sided") -> float:
    """Power to detect a mean difference ``effect`` (B - A) with per-unit standard deviation ``sd``.

    >>> round(power_means(0.1, 1.0, 1571), 3)
    0.8
    """
    _, alpha, ratio, alternative, v = _power_iv(None, alpha, ratio, alternative, {"sd": sd, "n_a": n_a})
    return _power_z(effect / v["sd"], v["n_a"], ratio, alpha, alternative)


def sample_size_means(effect: float, sd: float, *, power: float = 0.8, alpha: float = 0.05,
                      ratio: float = 1.0, alternative: str = "two-sided") -> int:
    """Units needed in arm A (arm B gets ``ratio`` times as many) to detect ``effect``.

    Approximately ``n_a = (1 + 1/ratio) (z_{1-alpha/2} + z_{power})^2 sd^2 / effect^2``.

    >>> sample_size_means(0.1, 1.0)
    1570
    """
    power, alpha, ratio, alternative, v = _power_iv(power, alpha, ratio, alternative, {"sd": sd})
    return _solve_n(effect / v["sd"], power, ratio, alpha, alternative)


def mde_means(sd: float, n_a: float, *, power: float = 0.8, alpha: float = 0.05, ratio: float = 1.0,
              alternative: str = "two-sided") -> float:
    """Smallest mean difference detectable with ``power`` given ``n_a`` units in arm A.

    >>> round(mde_means(1.0, 1570), 4)
    0.1
    """
    power, alpha, ratio, alternative, v = _power_iv(power, alpha, ratio, alternative, {"sd": sd, "n_a": n_a})
    return v["sd"] * _solve_d(v["n_a"], power, ratio, alpha, alternative)


# --------------------------------------------------------------------------- proportions
def cohens_h(p_a: float, p_b: float) -> float:
    """Cohen's effect size ``h = 2 asin(sqrt(p_b)) - 2 asin(sqrt(p_a))``."""
    return float(2.0 * np.arcsin(np.sqrt(p_b)) - 2.0 * np.arcsin(np.sqrt(p_a)))


def power_proportions(p_a: float, p_b: float, n_a: float, *, ratio: float = 1.0, alpha: float = 0.05,
                      alternative: str = "two-sided") -> float:
    """Power of the two-proportion test for true rates ``p_a`` (control) and ``p_b`` (treatment).

    >>> round(power_proportions(0.05, 0.06, 8000), 3)
    0.793
    """
    _, alpha, ratio, alternative, v = _power_iv(None, alpha, ratio, alternative, {"n_a": n_a},
                                                {"p_a": p_a, "p_b": p_b})
    return _power_z(cohens_h(v["p_a"], v["p_b"]), v["n_a"], ratio, alpha, alternative)


def sample_size_proportions(p_a: float, mde: float, *, relative: bool = False, power: float = 0.8,
                            alpha: float = 0.05, ratio: float = 1.0, alternative: str = "two-sided") -> int:
    """Units needed in arm A to detect a change ``mde`` of a baseline rate ``p_a``.

    Parameters
    ----------
    p_a : float
        Baseline (control) rate, e.g. CTR.
    mde : float
        The effect to detect: ``p_b - p_a`` (or ``p_b / p_a - 1`` with ``relative=True``).

    Examples
    --------
    >>> sample_size_proportions(0.05, 0.10, relative=True)
    31218
    """
    target = p_a * (1.0 + mde) if relative else p_a + mde
    power, alpha, ratio, alternative, v = _power_iv(power, alpha, ratio, alternative, None,
                                                    {"p_a": p_a, "p_a + mde": target})
    return _solve_n(cohens_h(v["p_a"], v["p_a + mde"]), power, ratio, alpha, alternative)


def mde_proportions(p_a: float, n_a: float, *, power: float = 0.8, alpha: float = 0.05, ratio: float = 1.0,
                    alternative: str = "two-sided") -> float:
    """Smallest absolute change ``p_b - p_a`` detectable with ``power`` and ``n_a`` units in arm A.

    Inverts Cohen's h: ``p_b = sin(asin(sqrt(p_a)) + h / 2)^2``. For ``two-sided`` and
    ``greater`` it is the upward change (> 0), for ``less`` the downward one (< 0); the two
    differ because the binomial variance depends on ``p``. Returns ``nan`` when even ``p_b = 1``
    (or 0 for ``less``) is not detectable.

    >>> round(mde_proportions(0.05, 31218) / 0.05, 3)
    0.1
    """
    power, alpha, ratio, alternative, v = _power_iv(power, alpha, ratio, alternative, {"n_a": n_a}, {"p_a": p_a})
    h = _solve_d(v["n_a"], power, ratio, alpha, alternative)
    angle = math.asin(math.sqrt(v["p_a"])) + h / 2.0
    if not 0.0 <= angle <= math.pi / 2:
        return math.nan
    return math.sin(angle) ** 2 - v["p_a"]
