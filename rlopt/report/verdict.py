"""The ship / do-not-ship decision, kept apart from the report so it can be tested on its own.

Primary metric: **purchase rate** (purchases per impression) by default. The generator changes
the copy, not which item is shown or its price, so revenue per impression is purchase rate times
the (unchanged) price mix plus price noise: both measure the same effect, and purchase rate, a
Bernoulli outcome, does so with less variance, hence more power per impression. Revenue per
impression can be chosen instead (``[ab] primary_metric``) and is always reported.

Rules, in order:

1. no A/B result -> **inconclusive** (nothing measured);
2. a guard fails -> **do not ship**: CTR significantly down (two-sided test at ``alpha``), the
   tuned copy's misleading-claim rate above the limit (1 % by default), or any copy over its
   placement's character limit;
3. the primary lift is significantly negative -> **do not ship**;
4. the primary lift is significantly positive and every guard was measured and holds -> **ship**;
5. otherwise (not significant, or a guard not measured) -> **inconclusive**.

Every verdict carries its reason with the numbers. When the generated copy went through the
compliance filter (:mod:`rlopt.generation.compliance`), the guard reads the misleading-claim rate of
the *shown* copy, and the reason also says what the tuned model itself wrote (its raw rate) and how
many copies the filter changed, so a filtered rate is not mistaken for a model that learned honesty.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DECISIONS = ("ship", "do not ship", "inconclusive")


@dataclass(frozen=True)
class Verdict:
    """A decision (one of :data:`DECISIONS`) and the reason, with numbers."""

    decision: str
    reason: str

    def sentence(self) -> str:
        """One sentence for the end of the report."""
        return f"Verdict: {self.decision} — {self.reason}."


def _fmt_metric(name: str, m: dict[str, Any]) -> str:
    rel = m.get("relative_lift")
    rel_text = f", {rel:+.1%} relative" if rel is not None and rel == rel else ""  # rel != rel: NaN
    return (f"{name} {m['control']:.4g} -> {m['treatment']:.4g} (diff {m['diff']:+.3g}{rel_text}, "
            f"95% CI [{m['ci_low']:+.3g}, {m['ci_high']:+.3g}], p={m['pvalue']:.3g})")


def decide(
    ab: dict[str, Any] | None,
    *,
    misleading_rate: float | None,
    over_limit: int | None,
    alpha: float = 0.05,
    max_misleading_rate: float = 0.01,
    unavailable_reason: str = "",
    compliance: dict[str, Any] | None = None,
) -> Verdict:
    """Decide from an A/B summary and the guard measurements.

    Parameters
    ----------
    ab : dict or None
        ``{"primary_metric": str, "metrics": {name: {"control", "treatment", "diff", "ci_low",
        "ci_high", "pvalue", "relative_lift"}}}``; ``diff`` is tuned minus base. Must hold the
        primary metric and ``"ctr"``. None when the A/B stage did not run.
    misleading_rate : float or None
        Share of tuned copies making a misleading claim; None when not measured.
    over_limit : int or None
        Number of tuned copies longer than their placement allows; None when not measured.
    alpha : float
        Significance level (two-sided p-values are compared with it).
    max_misleading_rate : float
        Largest acceptable misleading-claim rate.
    unavailable_reason : str
        Why ``ab`` is None, for the reason text.
    compliance : dict, optional
        ``{"misleading_rate_raw", "changed", "n_copies"}`` when the tuned copy went through the
        compliance filter: ``misleading_rate`` is then the shown copy's, and the reason says the raw
        rate and how many copies the filter changed.

    Examples
    --------
    >>> m = lambda d, p: {"control": 0.02, "treatment": 0.02 + d, "diff": d, "ci_low": d - 0.001,
    ...                   "ci_high": d + 0.001, "pvalue": p, "relative_lift": d / 0.02}
    >>> ab = {"primary_metric": "purchase_rate", "metrics": {"purchase_rate": m(0.004, 1e-5), "ctr": m(0.01, 1e-4)}}
    >>> decide(ab, misleading_rate=0.0, over_limit=0).decision
    'ship'
    >>> decide(ab, misleading_rate=0.05, over_limit=0).decision
    'do not ship'
    >>> decide(ab, misleading_rate=None, over_limit=0).decision
    'inconclusive'
    >>> v = decide(ab, misleading_rate=0.0, over_limit=0,
    ...            compliance={"misleading_rate_raw": 0.084, "changed": 43, "n_copies": 512})
    >>> v.decision, "wrote 8.4% misleading copy" in v.reason, "changed 43 of 512" in v.reason
    ('ship', True, True)
    """
    verdict = _decide(ab, misleading_rate=misleading_rate, over_limit=over_limit, alpha=alpha,
                      max_misleading_rate=max_misleading_rate, unavailable_reason=unavailable_reason)
    if not compliance or misleading_rate is None:
        return verdict
    note = (f"(the misleading-claim rate is of the shown copy after the compliance filter, which changed "
            f"{compliance['changed']} of {compliance['n_copies']} tuned copies; the tuned model itself wrote "
            f"{compliance['misleading_rate_raw']:.1%} misleading copy)")
    return Verdict(verdict.decision, f"{verdict.reason} {note}")


def _decide(ab, *, misleading_rate, over_limit, alpha, max_misleading_rate, unavailable_reason) -> Verdict:
    if ab is None:
        why = f": {unavailable_reason}" if unavailable_reason else ""
        return Verdict("inconclusive", f"no A/B result to decide on{why}")
    metrics = ab["metrics"]
    primary_name = ab["primary_metric"]
    primary = metrics[primary_name]
    ctr = metrics.get("ctr")

    failed = []
    if ctr is not None and ctr["pvalue"] < alpha and ctr["diff"] < 0:
        failed.append(f"CTR is significantly down ({_fmt_metric('CTR', ctr)})")
    if misleading_rate is not None and misleading_rate > max_misleading_rate:
        failed.append(f"misleading-claim rate {misleading_rate:.1%} exceeds the {max_misleading_rate:.0%} limit")
    if over_limit is not None and over_limit > 0:
        failed.append(f"{over_limit} tuned cop{'y is' if over_limit == 1 else 'ies are'} over the placement's character limit")
    if failed:
        return Verdict("do not ship", "guard failed: " + "; ".join(failed))

    primary_text = _fmt_metric(primary_name, primary)
    significant = primary["pvalue"] < alpha
    if significant and primary["diff"] < 0:
        return Verdict("do not ship", f"the tuned generator is significantly worse: {primary_text}")
    unmeasured = [name for name, value in (("CTR", ctr), ("misleading-claim rate", misleading_rate),
                                           ("over-limit count", over_limit)) if value is None]
    if significant and primary["diff"] > 0:
        if unmeasured:
            return Verdict("inconclusive", f"{primary_text} is significant, but guard(s) not measured: "
                                           f"{', '.join(unmeasured)}")
        guards = (f"guards hold: CTR diff {ctr['diff']:+.3g} (p={ctr['pvalue']:.3g}), "
                  f"misleading {misleading_rate:.1%}, over-limit {over_limit}")
        return Verdict("ship", f"significant lift on {primary_text}; {guards}")
    return Verdict("inconclusive", f"no significant difference at alpha={alpha:g}: {primary_text}")
