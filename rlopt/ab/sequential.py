"""Sequential testing with always-valid p-values: the mixture SPRT (mSPRT) of Johari et al.

Peeking at a fixed-horizon test after every batch and stopping at the first ``p < alpha``
inflates the false-positive rate far above ``alpha``. The mSPRT instead tracks a mixture
likelihood ratio whose reciprocal, with a running minimum, is a p-value valid at *any* stopping
time, so the experiment can be monitored continuously and stopped as soon as ``p <= alpha``.

For an estimate ``d_k`` of the difference ``B - A`` with variance ``V_k`` at look ``k`` and a
normal mixing prior ``N(0, tau^2)`` on the true difference,

    Lambda_k = sqrt(V_k / (V_k + tau^2)) * exp(tau^2 d_k^2 / (2 V_k (V_k + tau^2)))
    p_k      = min(1, p_{k-1}, 1 / Lambda_k)

and the matching always-valid confidence sequence is ``d_k +/- h_k`` with
``h_k^2 = V_k (V_k + tau^2) / tau^2 * (2 log(1/alpha) + log((V_k + tau^2) / V_k))``.
``V_k`` is the plug-in variance (valid asymptotically, as in the paper's treatment of
unknown variance); a burn-in of ``min_samples`` per arm keeps early noisy variances out.

References
----------
.. [1] Johari, Koomen, Pekelis, Walsh (2017). "Peeking at A/B Tests: Why it matters, and what to
   do about it." KDD. (Extended: "Always Valid Inference", Operations Research 2022.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rlopt.ab.results import check_confidence_level
from rlopt.errors import InputError
from rlopt.intervals import ConfidenceInterval

__all__ = ["SequentialResult", "msprt", "msprt_pvalues", "ratio_looks", "sequential_test"]


def msprt_pvalues(estimates, variances, tau: float) -> np.ndarray:
    """Always-valid mSPRT p-values along the last axis (vectorized over leading axes).

    Parameters
    ----------
    estimates : array_like, shape (..., K)
        Difference estimates ``d_k`` at looks ``k = 1..K``.
    variances : array_like, shape (..., K)
        Their variances ``V_k``; ``nan`` or non-positive entries (burn-in) leave ``p`` unchanged.
    tau : float
        Standard deviation of the normal mixing prior on the difference.

    Returns
    -------
    ndarray, shape (..., K)
        ``p_k = min(1, min_{j <= k} 1 / Lambda_j)``.

    Examples
    --------
    >>> p = msprt_pvalues([0.0, 0.5, 0.1], [1.0, 0.01, 0.01], tau=0.5)
    >>> bool(p[0] == 1.0), bool(p[1] < 1e-3), bool(p[2] == p[1])
    (True, True, True)
    """
    d = np.asarray(estimates, dtype=float)
    v = np.asarray(variances, dtype=float)
    t2 = float(tau) ** 2
    ok = np.isfinite(v) & (v > 0) & np.isfinite(d)
    v_safe = np.where(ok, v, 1.0)
    log_lr = 0.5 * np.log(v_safe / (v_safe + t2)) + t2 * np.where(ok, d, 0.0) ** 2 / (
        2.0 * v_safe * (v_safe + t2))
    p = np.where(ok, np.exp(-np.maximum(log_lr, 0.0)), 1.0)
    return np.minimum.accumulate(p, axis=-1)


def _half_width(variance: float, tau: float, alpha: float) -> float:
    t2 = tau**2
    return math.sqrt(variance * (variance + t2) / t2 * (2.0 * math.log(1.0 / alpha)
                                                        + math.log((variance + t2) / variance)))


@dataclass(frozen=True)
class SequentialResult:
    """Outcome of a continuously monitored mSPRT.

    Attributes
    ----------
    statistic : float
        ``log Lambda`` at the stopping (or last) look.
    pvalue : float
        Always-valid p-value at the stopping (or last) look.
    estimate, std_error : float
        Difference ``B - A`` and ``sqrt(V)`` at that look.
    n : tuple of int
        Units per arm ``(n_a, n_b)`` at that look.
    alternative : str
        Always ``"two-sided"`` (the mixing prior is symmetric).
    alpha, tau : float
        Significance level used for stopping and the mixing-prior standard deviation.
    stopped : bool
        True when ``p <= alpha`` was reached before the data ran out.
    stop_look : int
        1-based index of the stopping look (the last look when not stopped).
    pvalues : tuple of float
        The always-valid p-value path, one per look.
    """

    statistic: float
    pvalue: float
    estimate: float
    std_error: float
    n: tuple[int, int]
    alternative: str
    alpha: float
    tau: float
    stopped: bool
    stop_look: int
    pvalues: tuple[float, ...]

    @property
    def decision(self) -> str:
        """``"B > A"``, ``"B < A"`` or ``"no difference detected"``."""
        if not self.stopped:
            return "no difference detected"
        return "B > A" if self.estimate > 0 else "B < A"

    def confidence_interval(self, confidence_level: float = 0.95) -> ConfidenceInterval:
        """Always-valid interval at the stopping look (the mSPRT confidence sequence)."""
        level = check_confidence_level(confidence_level)
        var = self.std_error**2
        if not var > 0:
            return ConfidenceInterval(-math.inf, math.inf, estimate=self.estimate, confidence_level=level)
        h = _half_width(var, self.tau, 1.0 - level)
        return ConfidenceInterval(self.estimate - h, self.estimate + h, estimate=self.estimate, confidence_level=level)

    def to_dict(self, confidence_level: float = 0.95) -> dict:
        ci = self.confidence_interval(confidence_level)
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out.update(n=list(self.n), pvalues=list(self.pvalues), decision=self.decision,
                   ci=[ci.low, ci.high], confidence_level=confidence_level)
        return out

    def __repr__(self) -> str:
        return (f"SequentialResult(pvalue={self.pvalue:.4g}, estimate={self.estimate:.4g}, n={self.n}, "
                f"stopped={self.stopped}, stop_look={self.stop_look}/{len(self.pvalues)}, "
                f"decision={self.decision!r})")


def _seq_iv(estimates, variances, n_a, n_b, tau, alpha):
    d = np.asarray(estimates, dtype=float).ravel()
    v = np.asarray(variances, dtype=float).ravel()
    na = np.asarray(n_a, dtype=np.int64).ravel()
    nb = np.asarray(n_b, dtype=np.int64).ravel()
    if d.size == 0 or not d.size == v.size == na.size == nb.size:
        raise InputError("estimates, variances, n_a and n_b need one entry per look (at least one).",
                         column="estimates", rule="equal non-zero lengths")
    if not (math.isfinite(tau) and tau > 0):
        raise InputError(f"`tau` must be a positive number; got {tau!r}.", column="tau", rule="tau > 0")
    if not 0 < alpha < 1:
        raise InputError(f"`alpha` must be in (0, 1); got {alpha!r}.", column="alpha", rule="0 < alpha < 1")
    return d, v, na, nb, float(tau), float(alpha)


def sequential_test(estimates, variances, n_a, n_b, *, tau: float, alpha: float = 0.05) -> SequentialResult:
    """Monitor a difference look by look and stop at the first always-valid ``p <= alpha``.

    Parameters
    ----------
    estimates, variances : array_like, shape (K,)
        Difference ``B - A`` and its variance at each look (``nan`` variance = still in burn-in).
    n_a, n_b : array_like of int, shape (K,)
        Units per arm at each look.
    tau : float
        Mixing-prior standard deviation, on the scale of the difference (a plausible effect size).
    alpha : float
        Stopping level; the false-positive rate stays below it however often one looks.

    Returns
    -------
    SequentialResult
    """
    d, v, na, nb, tau, alpha = _seq_iv(estimates, variances, n_a, n_b, tau, alpha)
    p = msprt_pvalues(d, v, tau)
    hits = np.flatnonzero(p <= alpha)
    k = int(hits[0]) if hits.size else d.size - 1
    var = v[k] if np.isfinite(v[k]) and v[k] > 0 else math.nan
    log_lr = (0.5 * math.log(var / (var + tau**2)) + tau**2 * d[k] ** 2 / (2 * var * (var + tau**2))
              if var == var else 0.0)
    return SequentialResult(
        statistic=float(log_lr), pvalue=float(p[k]), estimate=float(d[k]), std_error=math.sqrt(var),
        n=(int(na[k]), int(nb[k])), alternative="two-sided", alpha=alpha, tau=tau,
        stopped=bool(hits.size), stop_look=k + 1, pvalues=tuple(float(x) for x in p),
    )


def _running_mean_var(x: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and ``var(ddof=1) / n`` of the first ``counts[k]`` entries of ``x``, for each ``k``."""
    c1 = np.concatenate([[0.0], np.cumsum(x)])[counts]
    c2 = np.concatenate([[0.0], np.cumsum(x * x)])[counts]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = c1 / counts
        var = (c2 - counts * mean**2) / (counts - 1)
    return mean, np.maximum(var, 0.0) / counts


def ratio_looks(unit, look, num, den, n_units: int, n_looks: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative ratio metric and its delta-method variance at every look, for one arm.

    Events (impressions) become visible at their look; at look ``k`` unit ``i`` has totals
    ``Y_ik = sum num``, ``X_ik = sum den`` over its events with ``look <= k``. Over the ``n_k``
    units with ``X_ik > 0``: ``R_k = sum_i Y_ik / sum_i X_ik`` and
    ``Var(R_k) = (s_Y^2 - 2 R_k s_XY + R_k^2 s_X^2) / (n_k mean(X)^2)`` (see
    :func:`rlopt.ab.stat_tests.ratio_delta_method`), all looks at once via one ``bincount``.

    Parameters
    ----------
    unit, look : array_like of int, shape (n_events,)
        Unit index in ``[0, n_units)`` and look index in ``[0, n_looks)`` of each event.
    num, den : array_like of float, shape (n_events,)
        Per-event numerator (e.g. clicked) and denominator (e.g. 1).
    n_units, n_looks : int

    Returns
    -------
    ratio, variance : ndarray, shape (n_looks,)
        ``nan`` where fewer than 2 units are active.
    n_active : ndarray of int, shape (n_looks,)

    Examples
    --------
    >>> r, v, n = ratio_looks([0, 1, 0, 2], [0, 0, 1, 1], [1, 0, 0, 1], [1, 1, 1, 1], 3, 2)
    >>> r.tolist(), n.tolist()
    ([0.5, 0.5], [2, 3])
    """
    flat = np.asarray(look, dtype=np.int64) * n_units + np.asarray(unit, dtype=np.int64)
    size = n_looks * n_units
    y = np.bincount(flat, weights=np.asarray(num, float), minlength=size).reshape(n_looks, n_units).cumsum(0)
    x = np.bincount(flat, weights=np.asarray(den, float), minlength=size).reshape(n_looks, n_units).cumsum(0)
    n = (x > 0).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        sy, sx = y.sum(1), x.sum(1)
        ratio = sy / sx
        my, mx = sy / n, sx / n
        var_y = ((y * y).sum(1) - n * my**2) / (n - 1)
        var_x = ((x * x).sum(1) - n * mx**2) / (n - 1)
        cov = ((x * y).sum(1) - n * mx * my) / (n - 1)
        var = np.maximum(var_y - 2 * ratio * cov + ratio**2 * var_x, 0.0) / (n * mx**2)
    bad = n < 2
    return np.where(bad, np.nan, ratio), np.where(bad, np.nan, var), n


def _msprt_iv(a, b, looks, min_samples):
    a = np.asarray(a, dtype=float).ravel()
    b = np.asarray(b, dtype=float).ravel()
    if a.size < 2 or b.size < 2:
        raise InputError("each arm needs at least 2 observations.", column="a", rule="size >= 2")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise InputError("outcomes must be finite.", column="a", rule="finite values")
    if int(looks) != looks or looks < 1:
        raise InputError(f"`looks` must be a positive integer; got {looks!r}.", column="looks")
    k = np.arange(1, int(looks) + 1, dtype=np.int64)
    # ceil(k * n / looks) in integers (floats give ceil(7 / 50 * 5000) = 701)
    na = np.maximum((k * a.size + looks - 1) // looks, 1)
    nb = np.maximum((k * b.size + looks - 1) // looks, 1)
    return a, b, na, nb, max(int(min_samples), 2)


def msprt(a, b, *, tau: float, alpha: float = 0.05, looks: int = 20, min_samples: int = 100) -> SequentialResult:
    """mSPRT on the difference of means ``mean(b) - mean(a)``, looking ``looks`` times.

    At look ``k`` the first ``ceil(k / looks * n)`` units of each arm (arrival order) are used;
    ``V_k = s_a^2 / n_a + s_b^2 / n_b``. Looks before ``min_samples`` units per arm are skipped.

    Parameters
    ----------
    a, b : array_like, shape (n_a,), (n_b,)
        Per-unit outcomes in arrival order.
    tau, alpha : float
        See :func:`sequential_test`.
    looks : int
        Number of evenly spaced interim analyses (continuous monitoring = one per batch).
    min_samples : int
        Burn-in per arm before the first look counts.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> res = msprt(rng.normal(0, 1, 5000), rng.normal(0.2, 1, 5000), tau=0.1, looks=50)
    >>> res.stopped, res.decision, res.n[0] < 5000
    (True, 'B > A', True)
    """
    a, b, na, nb, min_samples = _msprt_iv(a, b, looks, min_samples)
    mean_a, var_a = _running_mean_var(a, na)
    mean_b, var_b = _running_mean_var(b, nb)
    var = np.where((na >= min_samples) & (nb >= min_samples), var_a + var_b, np.nan)
    return sequential_test(mean_b - mean_a, var, na, nb, tau=tau, alpha=alpha)
