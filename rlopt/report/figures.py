"""The report's figures: matplotlib (Agg) PNGs returned as ``data:`` URIs.

Each function takes plain Python data (lists/dicts, as stage summaries and CSVs hold them) and
returns ``"data:image/png;base64,..."`` so the HTML needs no other file. A function given no data
returns None and the report says "not available" instead.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # after use("Agg"): the backend must be chosen first

_FIGSIZE = (6.4, 3.6)


def to_data_uri(fig) -> str:
    """Render ``fig`` to PNG (100 dpi), close it, and return it as a base64 data URI."""
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def calibration(bins: Sequence[Mapping[str, float]] | None, label: str = "click") -> str | None:
    """Reliability diagram: mean predicted vs observed rate per bin (marker area ~ bin count), with
    each bin's 95% Wilson interval of the observed rate as an error bar.

    ``bins``: ``[{"mean_predicted", "observed", "count"}, ...]``.
    """
    if not bins:
        return None
    from statsmodels.stats.proportion import proportion_confint

    pred = [b["mean_predicted"] for b in bins]
    obs = [b["observed"] for b in bins]
    counts = [b["count"] for b in bins]
    low, high = proportion_confint([round(o * c) for o, c in zip(obs, counts, strict=True)], counts, method="wilson")
    top = max(max(pred), max(high)) * 1.05 or 1.0
    fig, ax = plt.subplots(figsize=_FIGSIZE)
    ax.plot([0, top], [0, top], color="grey", linestyle="--", linewidth=1, label="perfect calibration")
    size = [20 + 200 * c / max(counts) for c in counts]
    # clipped at 0: Wilson's bound for 0 events can come back as 3e-18 above 0, which matplotlib rejects
    ax.errorbar(pred, obs, yerr=[[max(o - lo, 0.0) for o, lo in zip(obs, low, strict=True)],
                                 [max(hi - o, 0.0) for o, hi in zip(obs, high, strict=True)]],
                fmt="none", ecolor="tab:blue", alpha=0.4, capsize=3)
    ax.scatter(pred, obs, s=size, alpha=0.7, label="held-out bins (95% interval)")
    ax.plot(pred, obs, alpha=0.5)
    ax.set(xlabel=f"predicted P({label})", ylabel=f"observed {label} rate", xlim=(0, top), ylim=(0, top),
           title=f"Reward model calibration ({label})")
    ax.legend(loc="upper left")
    return to_data_uri(fig)


def curves(series: Mapping[str, Sequence[float]] | None, x: str = "step", title: str = "", ylabel: str = "") -> str | None:
    """Line plot of every numeric column of ``series`` against ``series[x]`` (one panel each, max 4)."""
    if not series or x not in series:
        return None
    cols = [c for c in series if c != x and any(v == v for v in series[c])][:4]  # v == v drops NaN-only
    if not cols:
        return None
    fig, axes = plt.subplots(1, len(cols), figsize=(3.2 * len(cols) + 0.5, 3.2), squeeze=False)
    for ax, col in zip(axes[0], cols, strict=True):
        pts = [(s, v) for s, v in zip(series[x], series[col], strict=True) if v == v]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="." if len(pts) < 40 else None)
        ax.set(xlabel=x, title=col)
    if title:
        fig.suptitle(title)
    return to_data_uri(fig)


def true_vs_proxy(rows: Sequence[Mapping[str, Any]] | None) -> str | None:
    """Over-optimization check: per generator, mean proxy (reward-model) vs true (oracle) reward.

    ``rows``: ``[{"generator", "proxy_reward", "true_reward"}, ...]`` (one per generator; a
    ``step`` key, if present, is written next to the point).
    """
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=_FIGSIZE)
    for row in rows:
        ax.scatter(row["proxy_reward"], row["true_reward"], s=80, label=row["generator"])
        ax.annotate(str(row["generator"]), (row["proxy_reward"], row["true_reward"]),
                    textcoords="offset points", xytext=(6, 4))
    ax.set(xlabel="proxy reward (reward model)", ylabel="true reward (oracle)",
           title="True vs proxy reward: the proxy rising while the truth does not = over-optimization")
    ax.title.set_fontsize(9)
    ax.margins(0.25)
    ax.legend()
    return to_data_uri(fig)


def ab_lift(metrics: Mapping[str, Mapping[str, float]] | None) -> str | None:
    """Relative lift (tuned vs base) per metric with its 95 % interval; zero line for reference."""
    if not metrics:
        return None
    names = list(metrics)
    rel, lo, hi = [], [], []
    for name in names:
        m = metrics[name]
        base = m["control"] if m["control"] else float("nan")
        rel.append(m["diff"] / base)
        lo.append(m["diff"] / base - m["ci_low"] / base)
        hi.append(m["ci_high"] / base - m["diff"] / base)
    fig, ax = plt.subplots(figsize=_FIGSIZE)
    ax.errorbar(rel, range(len(names)), xerr=[lo, hi], fmt="o", capsize=5)
    ax.axvline(0, color="grey", linestyle="--", linewidth=1)
    ax.set_yticks(range(len(names)), names)
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.set(xlabel="relative lift, tuned vs base (95% CI)", title="Simulated A/B test")
    return to_data_uri(fig)


def regret(curves_by_policy: Mapping[str, Mapping[str, Sequence[float]]] | None) -> str | None:
    """Cumulative regret vs step, one line per policy. ``{policy: {"step": [...], "regret": [...]}}``."""
    if not curves_by_policy:
        return None
    fig, ax = plt.subplots(figsize=_FIGSIZE)
    for policy, c in curves_by_policy.items():
        ax.plot(c["step"], c["regret"], label=policy)
    ax.set(xlabel="step", ylabel="cumulative regret", title="Placement bandit: cumulative regret")
    ax.legend()
    return to_data_uri(fig)


def ope(estimates: Sequence[Mapping[str, float]] | None, truth: float | None) -> str | None:
    """Point estimates with intervals per estimator, and the oracle's true value as a line.

    ``estimates``: ``[{"estimator", "estimate", "low", "high"}, ...]``.
    """
    if not estimates:
        return None
    fig, ax = plt.subplots(figsize=_FIGSIZE)
    ys = range(len(estimates))
    est = [e["estimate"] for e in estimates]
    err = [[e["estimate"] - e["low"] for e in estimates], [e["high"] - e["estimate"] for e in estimates]]
    ax.errorbar(est, ys, xerr=err, fmt="o", capsize=5, label="estimate (CI)")
    if truth is not None:
        ax.axvline(truth, color="tab:red", linestyle="--", label=f"true value {truth:.4g}")
    ax.set_yticks(list(ys), [e["estimator"] for e in estimates])
    ax.set(xlabel="policy value", title="Off-policy estimates vs truth")
    ax.legend()
    return to_data_uri(fig)
