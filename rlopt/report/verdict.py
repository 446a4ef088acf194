"""The ship / do-not-ship decision, kept apart from the report so it can be tested on its own.

Primary metric: **purchase rate** (purchases per impression) by default. The generator changes
the copy, not which item is shown or its price, so revenue per impression is purchase rate times
the (unchanged) price mix plus price noise: both measure the same effect, and purchase rate, a
Bernoulli outcome, does so with less variance, hence more power per impression. Revenue per
impression can be chosen instead (``[ab] primary_metric``) and is always reported.

Rules, in order:

1. no A/B result -> **inconclusive** (nothing measured);
2. a guard fails -> **do not ship**: CTR significantly down (two-sided test at ``alpha``), the
   tuned copy's misleading-claim rate above the limit (1 % by default), any copy over its
   placement's character limit, or (when measured) the share of tuned copy stating a claim its
   item's catalog row and the shop's logged copy do not back above its limit (1 % by default;
   :mod:`rlopt.generation.claims`);
3. the primary lift is significantly negative -> **do not ship**;
4. the primary lift is significantly positive and every guard was measured and holds -> **ship**;
5. otherwise (not significant, or a guard not measured) -> **inconclusive**.

On the user's own logs there is no simulated A/B: :func:`decide_predicted` decides from the
reward model's predicted CTR lift of the tuned copy over the shop's logged copy instead —
**candidate** (the interval is above 0 and the reward model is healthy: confirm with an A/B of the
given size), **do not ship** (the interval is below 0), or **inconclusive** (the interval
includes 0, or the reward model's health is ``weak`` / ``no_signal``, said with its reasons); a
tuned copy that states unbacked claims above the limit is **do not ship** there too, whatever the
predicted lift (it would rest on claims the shop cannot make).

Every verdict carries its reason with the numbers. When the generated copy went through the
compliance filter (:mod:`rlopt.generation.compliance`), the guard reads the misleading-claim rate of
the *shown* copy, and the reason also says what the tuned model itself wrote (its raw rate) and how
many copies the filter changed, so a filtered rate is not mistaken for a model that learned honesty.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DECISIONS = ("ship", "do not ship", "inconclusive", "candidate")


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
    unbacked: dict[str, Any] | None = None,
    max_unbacked_rate: float = 0.01,
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
    unbacked : dict, optional
        ``{"rate", "top"}``: the share of tuned copies stating a claim their item's facts do not
        back and the claims made up most (``{claim: copies}``); None: not measured (no guard).
    max_unbacked_rate : float
        Largest acceptable ``unbacked["rate"]``.

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
    >>> v = decide(ab, misleading_rate=0.0, over_limit=0, unbacked={"rate": 0.2, "top": {"loved by": 51}})
    >>> v.decision, "20.0% of tuned copies state a claim" in v.reason, "loved by (51)" in v.reason
    ('do not ship', True, True)
    """
    verdict = _decide(ab, misleading_rate=misleading_rate, over_limit=over_limit, alpha=alpha,
                      max_misleading_rate=max_misleading_rate, unavailable_reason=unavailable_reason,
                      unbacked=unbacked, max_unbacked_rate=max_unbacked_rate)
    if not compliance or misleading_rate is None:
        return verdict
    note = (f"(the misleading-claim rate is of the shown copy after the compliance filter, which changed "
            f"{compliance['changed']} of {compliance['n_copies']} tuned copies; the tuned model itself wrote "
            f"{compliance['misleading_rate_raw']:.1%} misleading copy)")
    return Verdict(verdict.decision, f"{verdict.reason} {note}")


def claim_counts_text(top: dict[str, int] | None) -> str:
    """``{"10000": 3, "loved by": 12}`` -> ``"loved by (12), 10000 (3)"``: most first (a JSON round trip
    sorts the keys), empty for none."""
    return ", ".join(f"{k} ({n})" for k, n in sorted((top or {}).items(), key=lambda kv: (-kv[1], kv[0])))


def unbacked_failure(unbacked: dict[str, Any] | None, limit: float) -> str | None:
    """The guard's failure text when the unbacked-claim share is over ``limit`` (None when it holds or is unknown)."""
    rate = (unbacked or {}).get("rate")
    if rate is None or rate != rate or rate <= limit:  # rate != rate: NaN (no copies)
        return None
    top = claim_counts_text(unbacked.get("top"))
    return (f"{rate:.1%} of tuned copies state a claim neither the item's catalog row nor your logged copy backs"
            f"{f' (most: {top})' if top else ''}, above the {limit:.0%} limit ([generation] claim_check = true "
            "keeps them from being shown; a fact true of every item belongs in a catalog column)")


def _decide(ab, *, misleading_rate, over_limit, alpha, max_misleading_rate, unavailable_reason,
            unbacked=None, max_unbacked_rate=0.01) -> Verdict:
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
    if claims := unbacked_failure(unbacked, max_unbacked_rate):
        failed.append(claims)
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
                  f"misleading {misleading_rate:.1%}, over-limit {over_limit}"
                  + (f", unbacked claims {unbacked['rate']:.1%}" if (unbacked or {}).get("rate") is not None else ""))
        return Verdict("ship", f"significant lift on {primary_text}; {guards}")
    return Verdict("inconclusive", f"no significant difference at alpha={alpha:g}: {primary_text}")


def _fmt_lift(lift: dict[str, Any]) -> str:
    return f"{lift['lift']:+.1%} CTR [{lift['low']:+.1%}, {lift['high']:+.1%}]"


def decide_predicted(lift: dict[str, Any] | None, health: dict[str, Any] | None, *, best: dict[str, Any] | None = None,
                     unavailable_reason: str = "", unbacked: dict[str, Any] | None = None,
                     max_unbacked_rate: float = 0.01) -> Verdict:
    """Decide on the user's logs (no simulator) from the reward model's predicted lift.

    Parameters
    ----------
    lift : dict or None
        :func:`rlopt.pipeline.logged_compare.lift_and_sample_size` over the mean logged copy:
        ``lift, low, high`` (relative, 95% bootstrap over contexts), ``n_contexts``,
        ``ab_sample_size_per_arm`` (None when the lift is not positive). None when not computed.
    health : dict or None
        The reward model's health (``status``, ``auc``, ``auc_low``, ``reasons``), None if unknown.
    best : dict, optional
        The same over the best logged copy per context (said in the reason when given).
    unavailable_reason : str
        Why ``lift`` is None.
    unbacked, max_unbacked_rate
        As :func:`decide`: over the limit, the verdict is **do not ship** whatever the lift.

    Examples
    --------
    >>> up = {"lift": 0.12, "low": 0.05, "high": 0.2, "n_contexts": 40, "ab_sample_size_per_arm": 52000}
    >>> v = decide_predicted(up, {"status": "ok"})
    >>> v.decision, "A/B of 52,000 impressions per arm" in v.reason
    ('candidate', True)
    >>> decide_predicted(up, {"status": "no_signal", "auc": 0.51, "auc_low": 0.47, "reasons": ["flat"]}).decision
    'inconclusive'
    >>> decide_predicted({**up, "low": -0.01}, {"status": "ok"}).decision
    'inconclusive'
    >>> decide_predicted({**up, "lift": -0.2, "low": -0.3, "high": -0.1}, {"status": "ok"}).decision
    'do not ship'
    >>> decide_predicted(up, {"status": "ok"}, unbacked={"rate": 0.05, "top": {"free shipping": 9}}).decision
    'do not ship'
    """
    if claims := unbacked_failure(unbacked, max_unbacked_rate):
        return Verdict("do not ship", f"guard failed: {claims}")
    if lift is None or lift.get("lift") is None:
        why = f": {unavailable_reason}" if unavailable_reason else ""
        return Verdict("inconclusive", f"no predicted lift over your logged copy to decide on{why}")
    text = (f"the reward model predicts {_fmt_lift(lift)} for the tuned copy over your logged copy "
            f"({lift['n_contexts']} contexts, 95% bootstrap over contexts)")
    if best is not None and best.get("lift") is not None:
        text += f" and {_fmt_lift(best)} over your best logged copy per context"
    status = (health or {}).get("status")
    if status in ("weak", "no_signal"):
        auc = health.get("auc")
        auc_text = f" (held-out click AUC {auc:.3f}, low {health.get('auc_low', float('nan')):.3f})" if auc else ""
        return Verdict("inconclusive", f"THE REWARD MODEL IS {status.upper().replace('_', ' ')} on your logs{auc_text}: "
                                       f"{'; '.join(health.get('reasons', []))} — so its prediction cannot be "
                                       f"trusted: {text}")
    if lift["high"] < 0:
        return Verdict("do not ship", f"{text}: the tuned copy is predicted to do worse than what you show now")
    if lift["low"] <= 0:
        return Verdict("inconclusive", f"{text}: the interval includes 0, so the logs cannot tell the tuned copy "
                                       "from yours")
    n = lift.get("ab_sample_size_per_arm")
    confirm = f"; confirm with an A/B of {n:,} impressions per arm" if n else ""
    unknown = "" if status == "ok" else " (the reward model's health was not recorded)"
    return Verdict("candidate", f"predicted {_fmt_lift(lift)} over your logged copy{unknown} — {text}{confirm}")
