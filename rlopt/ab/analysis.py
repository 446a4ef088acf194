"""Per-user analysis of a simulated A/B test: the tests behind each verdict, the sequential look, the MDE.

Everything here works on plain frames (one row per impression or per user) and returns
:mod:`rlopt.ab.results` objects; :func:`rlopt.ab.simulate.simulate_ab` wires it to the market.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from rlopt.ab.power import mde_proportions
from rlopt.ab.results import StatTestResult
from rlopt.ab.sequential import ratio_looks, sequential_test
from rlopt.ab.stat_tests import cuped, ratio_delta_method, two_proportion_ztest, welch_ttest


def per_user(df: pd.DataFrame, pre: pd.DataFrame) -> pd.DataFrame:
    """Per-user impressions, clicks, conversions, revenue and pre-period covariates (0 if unseen before)."""
    g = df.groupby("user_id", sort=False).agg(impressions=("clicked", "size"), clicks=("clicked", "sum"),
                                              conversions=("converted", "sum"), revenue=("revenue", "sum"))
    g = g.join(pre, how="left")
    return g.fillna({"pre_clicks": 0.0, "pre_revenue": 0.0})


def compare(a: pd.DataFrame, b: pd.DataFrame) -> tuple[dict, dict]:
    """Primary (verdict) and secondary tests of per-user frames ``a`` (control) and ``b``."""
    col = {k: (a[k].to_numpy(float), b[k].to_numpy(float)) for k in
           ("impressions", "clicks", "conversions", "revenue", "pre_clicks", "pre_revenue")}
    (ia, ib), (ca, cb), (va, vb), (ra, rb) = (col[k] for k in ("impressions", "clicks", "conversions", "revenue"))
    primary = {
        "ctr": ratio_delta_method(ca, ia, cb, ib),
        "purchase_rate": ratio_delta_method(va, ia, vb, ib),
        "revenue_per_impression": ratio_delta_method(ra, ia, rb, ib),
        "clicks_per_user": cuped(ca, col["pre_clicks"][0], cb, col["pre_clicks"][1]),
        "revenue_per_user": cuped(ra, col["pre_revenue"][0], rb, col["pre_revenue"][1]),
    }
    secondary = {
        "ctr_ztest": two_proportion_ztest(int(ca.sum()), int(ia.sum()), int(cb.sum()), int(ib.sum())),
        "purchase_rate_ztest": two_proportion_ztest(int(va.sum()), int(ia.sum()), int(vb.sum()), int(ib.sum())),
        "clicks_per_user_welch": welch_ttest(ca, cb),
        "revenue_per_user_welch": welch_ttest(ra, rb),
    }
    return primary, secondary


#: Ratio metrics over impressions and the impression column that is their numerator.
RATIO_COLUMNS = {"ctr": "clicked", "purchase_rate": "converted", "revenue_per_impression": "revenue"}


def sequential_ratio(df: pd.DataFrame, control: str, treatment: str, looks: int, tau: float, alpha: float,
                     metric: str = "ctr", min_users: int = 50):
    """mSPRT on a ratio metric's difference (delta method over users) at ``looks`` equal batches in time.

    ``metric`` is one of :data:`RATIO_COLUMNS`; returns None when ``tau`` is undefined (no baseline).
    """
    if not np.isfinite(tau) or tau <= 0:
        return None
    df = df[df["arm"].isin([control, treatment])].sort_values("_arrival", kind="stable")
    look = (np.arange(len(df)) * looks) // len(df)  # impressions split into `looks` equal batches
    stats_ = []
    for arm in (control, treatment):
        mine = (df["arm"] == arm).to_numpy()
        codes, _ = pd.factorize(df["user_id"].to_numpy()[mine])
        stats_.append(ratio_looks(codes, look[mine], df[RATIO_COLUMNS[metric]].to_numpy(float)[mine],
                                  np.ones(mine.sum()),
                                  int(codes.max()) + 1 if codes.size else 0, looks))
    (r_a, v_a, n_a), (r_b, v_b, n_b) = stats_
    var = np.where((n_a >= min_users) & (n_b >= min_users), v_a + v_b, np.nan)
    return sequential_test(np.nan_to_num(r_b - r_a), var, n_a, n_b, tau=tau, alpha=alpha)


def mde_summary(primary: dict[str, StatTestResult], naive_ctr: StatTestResult, alpha: float,
                metric: str = "ctr") -> dict:
    """MDE (80% power) of ``metric`` at this traffic, plus every metric's in ``by_metric``.

    For CTR: Cohen's h at the impression counts, inflated by the design effect of user clustering
    ``deff = Var_delta / Var_binomial`` (clustering acts like ``n / deff`` independent impressions).
    For other metrics: ``(z_{1-alpha/2} + z_power) * SE`` with the SE measured in this run.
    """
    ctr = primary["ctr"]
    n_a, n_b = naive_ctr.n
    deff = (ctr.std_error / naive_ctr.std_error) ** 2 if naive_ctr.std_error > 0 else 1.0
    deff = max(deff, 1.0) if np.isfinite(deff) else 1.0
    by_metric = mde_by_metric(primary, alpha)
    out = {"metric": metric, "design_effect": deff, "impressions_control": n_a, "by_metric": by_metric,
           "baseline": primary[metric].mean_a}
    if metric != "ctr":
        return {**out, **by_metric[metric]}
    p = ctr.mean_a
    if not 0 < p < 1:
        return {**out, "absolute": math.nan, "relative": math.nan}
    mde = mde_proportions(p, n_a / deff, ratio=n_b / n_a, alpha=alpha)
    return {**out, "absolute": mde, "relative": mde / p}


def mde_by_metric(primary: dict[str, StatTestResult], alpha: float, power: float = 0.8) -> dict[str, dict[str, float]]:
    """MDE of every metric from its test's standard error: ``(z_{1-alpha/2} + z_power) * SE``.

    The normal approximation behind :func:`rlopt.ab.power.mde_means`, with the SE measured in this
    run (so it already includes user clustering and, for CUPED metrics, the variance reduction).
    """
    from scipy import stats

    k = stats.norm.isf(alpha / 2) + stats.norm.ppf(power)
    out = {}
    for metric, res in primary.items():
        absolute = float(k * res.std_error)
        out[metric] = {"absolute": absolute, "relative": absolute / res.mean_a if res.mean_a else math.nan}
    return out


def holm(primaries: dict[str, dict[str, StatTestResult]]) -> dict[str, dict[str, float]]:
    """Holm-adjusted p-values per metric across the treatment arms (family = one metric)."""
    from statsmodels.stats.multitest import multipletests

    names = list(primaries)
    out: dict[str, dict[str, float]] = {name: {} for name in names}
    for metric in next(iter(primaries.values())):
        raw = np.array([primaries[name][metric].pvalue for name in names])
        adj = multipletests(raw, method="holm")[1] if len(raw) > 1 else raw
        for name, p in zip(names, adj, strict=True):
            out[name][metric] = float(p)
    return out


def truth(scored: pd.DataFrame) -> dict[str, float]:
    """Oracle-expected metrics of a frame of impressions with their copy (``oracle.evaluate`` columns)."""
    users = max(scored["user_id"].nunique(), 1)
    return {"ctr": float(np.mean(scored["p_click"])), "purchase_rate": float(np.mean(scored["p_purchase"])),
            "revenue_per_impression": float(np.mean(scored["expected_revenue"])),
            "clicks_per_user": float(scored["p_click"].sum() / users),
            "revenue_per_user": float(scored["expected_revenue"].sum() / users)}
