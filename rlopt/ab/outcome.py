"""What a simulated A/B test returns: per-arm metrics (observed and true) and per-comparison tests."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from rlopt.ab.results import CupedResult, SRMResult, StatTestResult
from rlopt.ab.sequential import SequentialResult

#: Metrics reported per arm; the first three are ratios over impressions (users randomized, so their
#: primary test is the delta method), the last two are per-user means (Welch and CUPED).
METRICS = ("ctr", "purchase_rate", "revenue_per_impression", "clicks_per_user", "revenue_per_user")


@dataclass(frozen=True)
class ArmSummary:
    """Observed and oracle-expected metrics of one arm.

    ``true`` holds the oracle's expected value of every metric for this arm's copy choice over *all*
    experiment impressions and their users (the counterfactual truth, free of assignment noise;
    a ``policy:`` arm, which learns on its own traffic, is measured on that traffic).
    """

    name: str
    spec: str
    label: str
    users: int
    impressions: int
    clicks: int
    conversions: int
    revenue: float
    true: dict[str, float] = field(default_factory=dict)

    @property
    def observed(self) -> dict[str, float]:
        imps, users = max(self.impressions, 1), max(self.users, 1)
        return {"ctr": self.clicks / imps, "purchase_rate": self.conversions / imps,
                "revenue_per_impression": self.revenue / imps, "clicks_per_user": self.clicks / users,
                "revenue_per_user": self.revenue / users}

    def to_dict(self) -> dict:
        return {"name": self.name, "spec": self.spec, "label": self.label, "users": self.users,
                "impressions": self.impressions, "clicks": self.clicks, "conversions": self.conversions,
                "revenue": self.revenue, "observed": self.observed, "true": dict(self.true)}


@dataclass(frozen=True)
class Comparison:
    """Arm ``treatment`` vs arm ``control`` on every metric.

    Attributes
    ----------
    primary : dict
        metric -> the test used for its verdict: delta method for the ratio metrics, CUPED for the
        per-user metrics.
    secondary : dict
        test id -> extra tests for comparison: ``ctr_ztest`` / ``purchase_rate_ztest`` (impression
        level, ignores user clustering), ``revenue_per_user_welch`` (no covariate),
        ``clicks_per_user_welch``.
    sequential : SequentialResult or None
        mSPRT on ``ABResult.primary_metric`` (delta method) monitored at every look.
    true_lift : dict
        metric -> oracle-expected ``treatment - control``.
    adjusted_pvalues : dict
        metric -> Holm-adjusted p-value over all treatment arms (A/B/n tests compare several arms
        with one control; with a single treatment it equals the raw p-value). Verdicts use it.
    """

    control: str
    treatment: str
    primary: dict[str, StatTestResult | CupedResult]
    secondary: dict[str, StatTestResult]
    sequential: SequentialResult | None
    true_lift: dict[str, float]
    adjusted_pvalues: dict[str, float] = field(default_factory=dict)

    def pvalue(self, metric: str) -> float:
        """The p-value behind the verdict (Holm-adjusted when there are several treatment arms)."""
        return self.adjusted_pvalues.get(metric, self.primary[metric].pvalue)

    def verdict(self, metric: str, alpha: float = 0.05) -> str:
        res = self.primary[metric]
        if not self.pvalue(metric) < alpha:
            return "not significant"
        return f"{self.treatment} better" if res.estimate > 0 else f"{self.treatment} worse"

    def _sequential_dict(self, alpha: float) -> dict:
        out = self.sequential.to_dict(1 - alpha)
        if self.sequential.stopped:  # name the arms instead of "B > A"
            sign = ">" if self.sequential.estimate > 0 else "<"
            out["decision"] = f"{self.treatment} {sign} {self.control}"
        return out

    def to_dict(self, alpha: float = 0.05) -> dict:
        return {
            "control": self.control, "treatment": self.treatment,
            "primary": {m: r.to_dict(1 - alpha) for m, r in self.primary.items()},
            "verdict": {m: self.verdict(m, alpha) for m in self.primary},
            "adjusted_pvalues": {m: self.pvalue(m) for m in self.primary},
            "secondary": {k: r.to_dict(1 - alpha) for k, r in self.secondary.items()},
            "sequential": None if self.sequential is None else self._sequential_dict(alpha),
            "true_lift": dict(self.true_lift),
        }


@dataclass(frozen=True)
class ABResult:
    """Result of :func:`rlopt.ab.simulate.simulate_ab`.

    Attributes
    ----------
    arms : tuple of ArmSummary
        The first arm is the control every other arm is compared with.
    comparisons : tuple of Comparison
    srm : SRMResult
        Users per arm against the planned split.
    mde : dict
        Minimum detectable effect of ``primary_metric`` at this traffic (80% power, ``alpha``):
        ``absolute``, ``relative``, the ``design_effect`` of user clustering on CTR, and
        ``by_metric``: every metric's MDE from its measured standard error.
    warnings : tuple of str
        Everything the run warned about (underpowered traffic, sample-ratio mismatch).
    traffic : str
        ``"all"`` or ``"covered"`` (only impressions every ``copies:`` arm covers).
    primary_metric : str
        The decision metric: monitored by the mSPRT and the subject of the MDE warning.
    """

    arms: tuple[ArmSummary, ...]
    comparisons: tuple[Comparison, ...]
    srm: SRMResult
    mde: dict[str, float]
    n_impressions: int
    pre_impressions: int
    seed: int
    split: tuple[float, ...]
    alpha: float = 0.05
    warnings: tuple[str, ...] = ()
    traffic: str = "all"
    primary_metric: str = "ctr"

    def arm(self, name: str) -> ArmSummary:
        for a in self.arms:
            if a.name == name:
                return a
        raise KeyError(name)

    def rows(self) -> list[dict]:
        """One row per (metric, arm): estimate, lift and interval vs control, p-value, verdict."""
        rows = []
        level = 1 - self.alpha
        for metric in METRICS:
            control = self.arms[0]
            rows.append({"metric": metric, "arm": control.name, "estimate": control.observed[metric],
                         "true": control.true.get(metric, math.nan), "lift": None})
            for comp in self.comparisons:
                res = comp.primary[metric]
                arm = self.arm(comp.treatment)
                rows.append({
                    "metric": metric, "arm": arm.name, "estimate": arm.observed[metric],
                    "true": arm.true.get(metric, math.nan), "lift": res.estimate,
                    "ci": tuple(res.confidence_interval(level)), "relative": res.relative,
                    "relative_ci": tuple(res.relative_interval(level)), "pvalue": res.pvalue,
                    "pvalue_adjusted": comp.pvalue(metric),
                    "test": res.test, "verdict": comp.verdict(metric, self.alpha),
                })
        return rows

    def to_dict(self) -> dict:
        return {
            "n_impressions": self.n_impressions, "pre_impressions": self.pre_impressions, "seed": self.seed,
            "split": list(self.split), "alpha": self.alpha, "traffic": self.traffic,
            "primary_metric": self.primary_metric,
            "arms": [a.to_dict() for a in self.arms],
            "comparisons": [c.to_dict(self.alpha) for c in self.comparisons],
            "srm": self.srm.to_dict(), "mde": dict(self.mde), "warnings": list(self.warnings),
        }
