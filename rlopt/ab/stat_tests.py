"""Fixed-horizon two-sample tests for A/B experiments (arm A = control, arm B = treatment).

Each public function validates its inputs in one ``_*_iv`` helper and then does only math. All
return :class:`~rlopt.ab.results.StatTestResult` (or a subclass) whose ``estimate`` is B minus A.

References
----------
.. [1] Deng, Knoblich, Lu (2018). "Applying the Delta Method in Metric Analytics." KDD.
.. [2] Deng, Xu, Kohavi, Walker (2013). "Improving the Sensitivity of Online Controlled
   Experiments by Utilizing Pre-Experiment Data" (CUPED). WSDM.
.. [3] Fabijan et al. (2019). "Diagnosing Sample Ratio Mismatch in Online Controlled Experiments." KDD.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from rlopt.ab.results import CupedResult, SRMResult, StatTestResult, check_alternative
from rlopt.errors import InputError

__all__ = ["two_proportion_ztest", "welch_ttest", "ratio_delta_method", "cuped", "srm_check", "z_pvalue"]


def z_pvalue(z: float | np.ndarray, alternative: str = "two-sided") -> float | np.ndarray:
    """p-value of a standard-normal statistic ``z`` (vectorized).

    >>> round(float(z_pvalue(1.96)), 4)
    0.05
    """
    if alternative == "two-sided":
        return 2.0 * stats.norm.sf(np.abs(z))
    return stats.norm.sf(z) if alternative == "greater" else stats.norm.cdf(z)


def _relative_se(mean_a: float, mean_b: float, var_mean_a: float, var_mean_b: float) -> float:
    """Delta-method SE of ``mean_b / mean_a`` for independent arms (``nan`` if ``mean_a == 0``)."""
    if mean_a == 0:
        return math.nan
    return math.sqrt(var_mean_b / mean_a**2 + mean_b**2 * var_mean_a / mean_a**4)


def _array_iv(x, name: str, min_size: int = 2) -> np.ndarray:
    arr = np.asarray(x, dtype=float).ravel()
    if arr.size < min_size:
        raise InputError(f"`{name}` needs at least {min_size} observations; got {arr.size}.",
                         column=name, rule=f"size >= {min_size}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise InputError(f"`{name}` has a non-finite value at index {bad}.", column=name,
                         rule="finite values", value=float(arr[bad]))
    return arr


# --------------------------------------------------------------------------- two proportions
def _ztest_iv(x_a, n_a, x_b, n_b, alternative):
    alternative = check_alternative(alternative)
    vals = []
    for name, x, n in (("a", x_a, n_a), ("b", x_b, n_b)):
        if int(n) != n or n < 1:
            raise InputError(f"n_{name} must be a positive integer; got {n!r}.", column=f"n_{name}",
                             rule="n >= 1")
        if int(x) != x or not 0 <= x <= n:
            raise InputError(f"x_{name} must be an integer count in [0, n_{name}={n}]; got {x!r}.",
                             column=f"x_{name}", rule="0 <= x <= n")
        vals += [int(x), int(n)]
    return (*vals, alternative)


def two_proportion_ztest(x_a: int, n_a: int, x_b: int, n_b: int, *,
                         alternative: str = "two-sided") -> StatTestResult:
    """Two-proportion z-test of ``p_b - p_a`` (e.g. CTR = clicks / impressions).

    ``z = (p_b - p_a) / sqrt(p (1 - p) (1/n_a + 1/n_b))`` with the pooled ``p = (x_a + x_b) / (n_a + n_b)``
    under H0 (as ``statsmodels.stats.proportion.proportions_ztest``); the interval uses the unpooled
    Wald SE ``sqrt(p_a (1 - p_a) / n_a + p_b (1 - p_b) / n_b)``.

    Parameters
    ----------
    x_a, n_a : int
        Successes and trials in arm A (control).
    x_b, n_b : int
        Successes and trials in arm B (treatment).
    alternative : {"two-sided", "less", "greater"}
        ``"greater"``: H1 is ``p_b > p_a``.

    Returns
    -------
    StatTestResult

    Notes
    -----
    Treats trials as independent. When users (not impressions) are randomized and a user sees
    several impressions, use :func:`ratio_delta_method` on per-user counts instead.

    Examples
    --------
    >>> res = two_proportion_ztest(100, 2000, 140, 2000)
    >>> round(res.estimate, 4), round(res.pvalue, 4)
    (0.02, 0.0077)
    >>> [round(v, 4) for v in res.confidence_interval(0.95)]
    [0.0053, 0.0347]
    """
    x_a, n_a, x_b, n_b, alternative = _ztest_iv(x_a, n_a, x_b, n_b, alternative)
    p_a, p_b = x_a / n_a, x_b / n_b
    pooled = (x_a + x_b) / (n_a + n_b)
    se0 = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n_a + 1.0 / n_b))
    var_a, var_b = p_a * (1 - p_a) / n_a, p_b * (1 - p_b) / n_b
    diff = p_b - p_a
    z = diff / se0 if se0 > 0 else 0.0  # both arms all-0 or all-1: no evidence either way
    return StatTestResult(
        test="two_proportion_ztest", statistic=float(z), pvalue=float(z_pvalue(z, alternative)),
        estimate=diff, std_error=math.sqrt(var_a + var_b), n=(n_a, n_b), alternative=alternative,
        mean_a=p_a, mean_b=p_b, relative_se=_relative_se(p_a, p_b, var_a, var_b),
    )


# --------------------------------------------------------------------------- Welch
def _welch_iv(a, b, alternative):
    return _array_iv(a, "a"), _array_iv(b, "b"), check_alternative(alternative)


def welch_ttest(a, b, *, alternative: str = "two-sided") -> StatTestResult:
    """Welch's unequal-variance t-test of ``mean(b) - mean(a)`` (e.g. revenue per user).

    ``t = (mean_b - mean_a) / sqrt(s_a^2/n_a + s_b^2/n_b)`` with Welch-Satterthwaite degrees of
    freedom; computed by :func:`scipy.stats.ttest_ind` with ``equal_var=False``.

    Parameters
    ----------
    a, b : array_like, shape (n_a,), (n_b,)
        Per-unit outcomes in arm A (control) and arm B (treatment).
    alternative : {"two-sided", "less", "greater"}

    Returns
    -------
    StatTestResult
        With ``df`` set, so intervals use Student's t.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> res = welch_ttest(rng.normal(0, 1, 500), rng.normal(0.3, 2, 400))
    >>> res.pvalue < 0.05, res.estimate > 0
    (True, True)
    """
    a, b, alternative = _welch_iv(a, b, alternative)
    var_a, var_b = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    mean_a, mean_b = float(a.mean()), float(b.mean())
    if var_a + var_b > 0:
        res = stats.ttest_ind(b, a, equal_var=False, alternative=alternative)
        stat, pval, df = float(res.statistic), float(res.pvalue), float(res.df)
    else:  # both arms constant: no evidence either way (SciPy would warn and return nan)
        stat, pval, df = 0.0, 1.0, math.inf
    return StatTestResult(
        test="welch_ttest", statistic=stat, pvalue=pval, estimate=mean_b - mean_a,
        std_error=math.sqrt(var_a + var_b), n=(a.size, b.size), alternative=alternative,
        mean_a=mean_a, mean_b=mean_b, df=df, relative_se=_relative_se(mean_a, mean_b, var_a, var_b),
    )


# --------------------------------------------------------------------------- delta method ratio
def _ratio_iv(num_a, den_a, num_b, den_b, alternative):
    arrays = []
    for arm, num, den in (("a", num_a, den_a), ("b", num_b, den_b)):
        num, den = _array_iv(num, f"num_{arm}"), _array_iv(den, f"den_{arm}")
        if num.shape != den.shape:
            raise InputError(f"num_{arm} and den_{arm} must have the same length; got {num.size} and "
                             f"{den.size}.", column=f"den_{arm}", rule="one numerator per denominator")
        if np.any(den < 0) or den.sum() <= 0:
            raise InputError(f"den_{arm} must be >= 0 with a positive total.", column=f"den_{arm}",
                             rule="den >= 0 and sum(den) > 0")
        arrays += [num, den]
    return (*arrays, check_alternative(alternative))


def _ratio_and_var(num: np.ndarray, den: np.ndarray) -> tuple[float, float]:
    """Ratio ``R = sum(num) / sum(den)`` and its delta-method variance.

    ``Var(R) ~= (s_y^2 - 2 R s_xy + R^2 s_x^2) / (n mean_x^2)`` over the ``n`` randomization units.
    """
    n = num.size
    ratio = num.sum() / den.sum()
    cov = np.cov(num, den, ddof=1)
    var = (cov[0, 0] - 2.0 * ratio * cov[0, 1] + ratio**2 * cov[1, 1]) / (n * den.mean() ** 2)
    return float(ratio), float(max(var, 0.0))


def ratio_delta_method(num_a, den_a, num_b, den_b, *, alternative: str = "two-sided") -> StatTestResult:
    """z-test of a ratio metric whose unit of analysis differs from the randomization unit.

    CTR with users randomized: ``R = sum_i clicks_i / sum_i impressions_i`` over users ``i``.
    Impressions of one user are correlated, so the binomial variance is wrong; the delta method
    [1]_ gives ``Var(R) ~= (s_y^2 - 2 R s_xy + R^2 s_x^2) / (n mean_x^2)`` per arm, and
    ``z = (R_b - R_a) / sqrt(Var(R_a) + Var(R_b))``.

    Parameters
    ----------
    num_a, den_a : array_like, shape (n_a,)
        Per-user numerators (e.g. clicks) and denominators (e.g. impressions), arm A.
    num_b, den_b : array_like, shape (n_b,)
        The same for arm B.
    alternative : {"two-sided", "less", "greater"}

    Returns
    -------
    StatTestResult
        ``n`` counts users.

    Examples
    --------
    >>> res = ratio_delta_method([1, 0, 2, 1], [3, 2, 4, 3], [2, 1, 3, 2], [3, 2, 4, 3])
    >>> round(res.mean_a, 4), round(res.mean_b, 4), res.n
    (0.3333, 0.6667, (4, 4))
    """
    num_a, den_a, num_b, den_b, alternative = _ratio_iv(num_a, den_a, num_b, den_b, alternative)
    r_a, v_a = _ratio_and_var(num_a, den_a)
    r_b, v_b = _ratio_and_var(num_b, den_b)
    se = math.sqrt(v_a + v_b)
    z = (r_b - r_a) / se if se > 0 else 0.0
    return StatTestResult(
        test="ratio_delta_method", statistic=float(z), pvalue=float(z_pvalue(z, alternative)),
        estimate=r_b - r_a, std_error=se, n=(num_a.size, num_b.size), alternative=alternative,
        mean_a=r_a, mean_b=r_b, relative_se=_relative_se(r_a, r_b, v_a, v_b),
    )


# --------------------------------------------------------------------------- CUPED
def _cuped_iv(y_a, x_a, y_b, x_b, alternative):
    arrays = []
    for arm, y, x in (("a", y_a, x_a), ("b", y_b, x_b)):
        y, x = _array_iv(y, f"y_{arm}"), _array_iv(x, f"x_{arm}")
        if y.shape != x.shape:
            raise InputError(f"y_{arm} and x_{arm} must have the same length; got {y.size} and {x.size}.",
                             column=f"x_{arm}", rule="one pre-period covariate per unit")
        arrays += [y, x]
    return (*arrays, check_alternative(alternative))


def cuped(y_a, x_a, y_b, x_b, *, alternative: str = "two-sided") -> CupedResult:
    """Welch's t-test on CUPED-adjusted outcomes [2]_.

    ``theta = Cov(Y, X) / Var(X)`` on both arms pooled (valid because randomization makes the
    pre-period covariate ``X`` independent of the arm), ``Y_adj = Y - theta (X - mean(X))``, then
    :func:`welch_ttest` on ``Y_adj``. The mean difference keeps its expectation while its
    variance shrinks by the factor ``1 - corr(Y, X)^2``.

    Parameters
    ----------
    y_a, x_a : array_like, shape (n_a,)
        Outcome and pre-period covariate per unit in arm A.
    y_b, x_b : array_like, shape (n_b,)
        The same for arm B.
    alternative : {"two-sided", "less", "greater"}

    Returns
    -------
    CupedResult

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> x = rng.normal(10, 3, 2000)
    >>> y = x + rng.normal(0, 1, 2000) + np.r_[np.zeros(1000), np.full(1000, 0.2)]
    >>> res = cuped(y[:1000], x[:1000], y[1000:], x[1000:])
    >>> res.variance_reduction > 0.8, res.pvalue < 0.001
    (True, True)
    """
    y_a, x_a, y_b, x_b, alternative = _cuped_iv(y_a, x_a, y_b, x_b, alternative)
    x_all, y_all = np.concatenate([x_a, x_b]), np.concatenate([y_a, y_b])
    var_x = x_all.var(ddof=1)
    theta = float(np.cov(y_all, x_all, ddof=1)[0, 1] / var_x) if var_x > 0 else 0.0
    mu_x = x_all.mean()
    adj_a, adj_b = y_a - theta * (x_a - mu_x), y_b - theta * (x_b - mu_x)
    base = welch_ttest(adj_a, adj_b, alternative=alternative)
    var_y = y_all.var(ddof=1)
    adj_var = np.concatenate([adj_a, adj_b]).var(ddof=1)
    reduction = float(1.0 - adj_var / var_y) if var_y > 0 else 0.0
    fields = {k: getattr(base, k) for k in base.__dataclass_fields__}
    fields["test"] = "cuped"
    return CupedResult(**fields, theta=theta, variance_reduction=reduction)


# --------------------------------------------------------------------------- SRM
def _srm_iv(observed, expected_split, threshold):
    obs = np.asarray(observed)
    if obs.ndim != 1 or obs.size < 2:
        raise InputError("`observed` needs one count per arm (at least 2 arms).", column="observed",
                         rule="len(observed) >= 2")
    if not np.issubdtype(obs.dtype, np.integer) and not np.all(np.mod(obs, 1) == 0):
        raise InputError("`observed` must hold integer counts.", column="observed", rule="integer counts")
    obs = obs.astype(np.int64)
    if np.any(obs < 0) or obs.sum() == 0:
        raise InputError("`observed` counts must be >= 0 with a positive total.", column="observed",
                         rule="counts >= 0")
    split = np.full(obs.size, 1.0 / obs.size) if expected_split is None else np.asarray(expected_split, float)
    if split.shape != obs.shape or np.any(split <= 0) or not np.all(np.isfinite(split)):
        raise InputError(f"`expected_split` must have {obs.size} positive weights; got {expected_split!r}.",
                         column="expected_split", rule="one positive weight per arm")
    if not 0 < threshold < 1:
        raise InputError(f"`threshold` must be in (0, 1); got {threshold!r}.", column="threshold")
    return obs, split / split.sum(), float(threshold)


def srm_check(observed, expected_split=None, *, threshold: float = 0.001) -> SRMResult:
    """Sample-ratio-mismatch check [3]_: Pearson chi-square of arm sizes against the planned split.

    ``chi2 = sum_k (O_k - E_k)^2 / E_k`` with ``E_k = N w_k``, ``k - 1`` degrees of freedom
    (:func:`scipy.stats.chisquare`). A mismatch means the assignment or the logging is broken and
    the experiment's other results should not be trusted.

    Parameters
    ----------
    observed : array_like of int, shape (k,)
        Randomization units (users) per arm.
    expected_split : array_like of float, shape (k,), optional
        Planned traffic weights (normalized); equal split by default.
    threshold : float
        p-value below which ``mismatch`` is flagged.

    Examples
    --------
    >>> srm_check([5000, 5100]).mismatch
    False
    >>> srm_check([5000, 5600]).mismatch
    True
    """
    obs, split, threshold = _srm_iv(observed, expected_split, threshold)
    expected = obs.sum() * split
    res = stats.chisquare(obs, expected)
    return SRMResult(statistic=float(res.statistic), pvalue=float(res.pvalue),
                     observed=tuple(int(v) for v in obs), expected=tuple(float(v) for v in expected),
                     threshold=threshold)
